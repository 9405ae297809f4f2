//! A complete webhook receiver: `POST /webhook` on `127.0.0.1:$PORT` (default 3000).
//!
//! ```text
//! SURFE_WEBHOOK_SECRET=whsec_… cargo run -p enrich-rocket --example rocket_receiver
//! cargo run -p enrich-rocket --example rocket_receiver -- --insecure-skip-verification
//! ```
//!
//! Each accepted delivery is answered `200` and printed on stdout as one line of JSON (the typed
//! event re-serialized). Logs, Rocket's included, go to stderr. Other methods on `/webhook` are
//! answered `405` with `Allow: POST`.
//!
//! Server limits: HTTP/1.1 only (this workspace builds Rocket without its `http2` feature), and the
//! pipeline's body limit bounds each body. Rocket 0.5.2 has no header-read, body or idle timeout
//! and no connection cap, and none can be set from outside: it turns hyper's header-read timeout
//! off, its `keep_alive` setting only switches HTTP/1.1 keep-alive on or off, and its listener is
//! not public. On a public URL, put a reverse proxy that has them in front (see the README,
//! "Running on a public URL").

use std::io::{IsTerminal, Write};

use enrich_rocket::enrich_webhook::ConfigError;
use enrich_rocket::{WebhookConfig, WebhookDelivery};
use rocket::{post, routes};

#[post("/webhook", data = "<delivery>")]
fn webhook(delivery: WebhookDelivery) {
    match serde_json::to_string(delivery.0.event()) {
        Ok(line) => {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
        }
        Err(error) => eprintln!("rocket_receiver: cannot re-serialize the event: {error}"),
    }
}

#[rocket::main]
async fn main() {
    // Also receives Rocket's `log` records, so nothing but the JSON lines reaches stdout.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rocket::server=warn".into()),
        )
        .init();

    let config = config_from_env_or_flag()
        .unwrap_or_else(|error| exit(&format!("refusing to start: {error}")));
    let port: u16 = match std::env::var("PORT").map(|port| port.parse()) {
        Err(_) => 3000,
        Ok(Ok(port)) => port,
        Ok(Err(_)) => exit("PORT is not a port number"),
    };
    let figment = rocket::Config::figment()
        .merge(("address", "127.0.0.1"))
        .merge(("port", port))
        .merge(("log_level", "off"))
        .merge(("cli_colors", false));
    let launched = rocket::custom(figment)
        .manage(config)
        .mount("/", routes![webhook])
        .mount("/", enrich_rocket::post_only("/webhook"))
        .register("/", enrich_rocket::catchers())
        .launch()
        .await;
    if let Err(error) = launched {
        eprintln!("rocket_receiver: {error}");
        std::process::exit(1);
    }
}

fn exit(message: &str) -> ! {
    eprintln!("rocket_receiver: {message}");
    std::process::exit(2)
}

/// The receiver's configuration: the secrets from `SURFE_WEBHOOK_SECRET`; without it, skipping
/// verification only when the command line says so (`--insecure-skip-verification`), so that
/// running unverified is a choice written in the command that started the process.
fn config_from_env_or_flag() -> Result<WebhookConfig, ConfigError> {
    match WebhookConfig::from_env() {
        Err(ConfigError::EnvVarMissing)
            if std::env::args().any(|arg| arg == "--insecure-skip-verification") =>
        {
            Ok(WebhookConfig::insecure_skip_verification())
        }
        result => result,
    }
}
