//! A complete receiver: `POST /webhook` on `127.0.0.1:$PORT` (default 3000).
//!
//! Verifies with `SURFE_WEBHOOK_SECRET` (comma-separated while rotating); without it, refuses to
//! start unless given `--insecure-skip-verification`. Prints each accepted event, re-serialized,
//! as one line of JSON on stdout; logs go to stderr.
//!
//! ```text
//! SURFE_WEBHOOK_SECRET=whsec_… cargo run -p enrich-axum --example axum_receiver
//! ```

use std::io::{IsTerminal, Write};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use enrich_axum::enrich_webhook::ConfigError;
use enrich_axum::{Webhook, WebhookConfig, WebhookDelivery};

async fn webhook(Webhook(delivery): WebhookDelivery) -> StatusCode {
    let printed = serde_json::to_string(delivery.event())
        .map_err(std::io::Error::from)
        .and_then(|line| {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{line}")?;
            stdout.flush()
        });
    match printed {
        Ok(()) => StatusCode::OK,
        Err(error) => {
            eprintln!("could not print the event: {error}");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let config = config_from_env_or_flag().unwrap_or_else(|error| {
        eprintln!("axum_receiver: refusing to start: {error}");
        std::process::exit(2)
    });
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 3000,
    };
    let app = Router::new()
        .route("/webhook", post(webhook))
        .with_state(config);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("listening on http://{}/webhook", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
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
