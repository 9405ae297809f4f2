//! A complete receiver: `POST /webhook` on `127.0.0.1:$PORT` (default 3000).
//!
//! Verifies with `SURFE_WEBHOOK_SECRET` (comma-separated while rotating); without it, refuses to
//! start unless given `--insecure-skip-verification`. Prints each accepted event, re-serialized,
//! as one line of JSON on stdout; logs go to stderr.
//!
//! With `--inbox URL` (or `ENRICH_INBOX_URL`; `sqlite:PATH` or `postgres://…`), each accepted
//! delivery is stored before it is answered (`200` for new and duplicate deliveries, `503` when
//! it cannot be stored), and an in-process worker prints the line once per processed delivery,
//! including deliveries stored before a restart.
//!
//! ```text
//! SURFE_WEBHOOK_SECRET=whsec_… cargo run -p enrich-axum --example axum_receiver
//! SURFE_WEBHOOK_SECRET=whsec_… cargo run -p enrich-axum --example axum_receiver -- --inbox sqlite:inbox.db
//! ```

use std::io::{IsTerminal, Write};

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Extension, Router};
use enrich_axum::enrich_webhook::ConfigError;
use enrich_axum::enrich_webhook::enrich_types::WebhookEvent;
use enrich_axum::{Rejection, WebhookConfig, WebhookDelivery, WebhookRejection};
use enrich_inbox::{Inbox, Job, Worker, WorkerOptions};

async fn webhook(
    Extension(inbox): Extension<Option<Inbox>>,
    WebhookDelivery(delivery): WebhookDelivery,
) -> Result<StatusCode, WebhookRejection> {
    if let Some(inbox) = inbox {
        // Answered only once stored; a duplicate is answered 200 too, so the sender stops.
        inbox.store(&delivery).await.map_err(Rejection::from)?;
        return Ok(StatusCode::OK);
    }
    match print_event(delivery.event()) {
        Ok(()) => Ok(StatusCode::OK),
        Err(error) => {
            eprintln!("could not print the event: {error}");
            Ok(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// Prints `event`, re-serialized, as one line of JSON on stdout.
fn print_event(event: &WebhookEvent) -> std::io::Result<()> {
    let line = serde_json::to_string(event)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
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
    let inbox = match inbox_url() {
        Some(url) => Some(Inbox::open(&url).await?),
        None => None,
    };
    // Prints each stored delivery once it is processed; runs as long as `main`.
    let _worker = match &inbox {
        Some(inbox) => Some(
            Worker::new(
                inbox.clone(),
                |job: Job| async move { print_event(job.event()) },
            )
            .options(WorkerOptions::from_env()?)
            .spawn(),
        ),
        None => None,
    };
    let app = Router::new()
        .route("/webhook", post(webhook))
        .layer(Extension(inbox))
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
