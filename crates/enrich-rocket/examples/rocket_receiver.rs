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
//!
//! With `--inbox URL` (or `ENRICH_INBOX_URL`; `sqlite:PATH` or `postgres://…`), each accepted
//! delivery is stored before it is answered (`200` for new and duplicate deliveries, `503` when
//! it cannot be stored), and an in-process worker prints the line once per processed delivery,
//! including deliveries stored before a restart.

use std::io::{IsTerminal, Write};

use enrich_inbox::{Inbox, Job, Worker, WorkerConfig};
use enrich_rocket::enrich_webhook::ConfigError;
use enrich_rocket::enrich_webhook::enrich_types::WebhookEvent;
use enrich_rocket::{Refusal, Webhook, WebhookConfig, WebhookDelivery, WebhookRefusal};
use rocket::{State, post, routes};

#[post("/webhook", data = "<delivery>")]
async fn webhook(
    inbox: &State<Option<Inbox>>,
    delivery: WebhookDelivery,
) -> Result<(), WebhookRefusal> {
    let Webhook(delivery) = delivery;
    if let Some(inbox) = inbox.inner() {
        // Answered only once stored; a duplicate is answered 200 too, so the sender stops.
        inbox.store(&delivery).await.map_err(Refusal::from)?;
        return Ok(());
    }
    if let Err(error) = print_event(delivery.event()) {
        eprintln!("rocket_receiver: cannot print the event: {error}");
    }
    Ok(())
}

/// Prints `event`, re-serialized, as one line of JSON on stdout.
fn print_event(event: &WebhookEvent) -> std::io::Result<()> {
    let line = serde_json::to_string(event)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
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
    let inbox = match inbox_url() {
        Some(url) => Some(
            Inbox::open(&url)
                .await
                .unwrap_or_else(|error| exit(&format!("cannot open the inbox: {error}"))),
        ),
        None => None,
    };
    // Prints each stored delivery once it is processed; runs as long as `main`.
    let _worker = inbox.as_ref().filter(|_| runs_worker()).map(|inbox| {
        let options = WorkerConfig::from_env().unwrap_or_else(|error| exit(&error.to_string()));
        Worker::new(
            inbox.clone(),
            |job: Job| async move { print_event(job.event()) },
        )
        .config(options)
        .spawn()
    });
    let figment = rocket::Config::figment()
        .merge(("address", "127.0.0.1"))
        .merge(("port", port))
        .merge(("log_level", "off"))
        .merge(("cli_colors", false));
    let launched = rocket::custom(figment)
        .manage(config)
        .manage(inbox)
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

/// The inbox URL: `--inbox URL` (or `--inbox=URL`), else `ENRICH_INBOX_URL`.
fn inbox_url() -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--inbox" {
            return args.next();
        }
        if let Some(url) = arg.strip_prefix("--inbox=") {
            return Some(url.to_owned());
        }
    }
    std::env::var(enrich_inbox::INBOX_URL_ENV_VAR).ok()
}

/// Whether this process also processes the inbox: yes unless `ENRICH_INBOX_WORKER=off`, which
/// makes a receiver that only stores (another process, or a later start, processes).
fn runs_worker() -> bool {
    !std::env::var("ENRICH_INBOX_WORKER").is_ok_and(|value| value == "off")
}
