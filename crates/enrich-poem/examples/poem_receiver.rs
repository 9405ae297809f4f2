//! A complete webhook receiver: `POST /webhook` on `127.0.0.1:$PORT` (default 3000).
//!
//! ```sh
//! SURFE_WEBHOOK_SECRET=whsec_... cargo run -p enrich-poem --example poem_receiver
//! cargo run -p enrich-poem --example poem_receiver -- --insecure-skip-verification
//! ```
//!
//! Each accepted delivery is answered 200 and printed on stdout as one line of JSON (the typed
//! event re-serialized). Logs go to stderr.
//!
//! With `--inbox URL` (or `ENRICH_INBOX_URL`; `sqlite:PATH` or `postgres://…`), each accepted
//! delivery is stored before it is answered (`200` for new and duplicate deliveries, `503` when
//! it cannot be stored), and an in-process worker prints the line once per processed delivery,
//! including deliveries stored before a restart.

use std::io::Write;

use enrich_inbox::{Inbox, Job, Worker, WorkerOptions};
use enrich_poem::enrich_webhook::ConfigError;
use enrich_poem::enrich_webhook::enrich_types::WebhookEvent;
use enrich_poem::{Rejection, WebhookConfig, WebhookDelivery, WebhookRejection};
use poem::error::InternalServerError;
use poem::web::Data;
use poem::{EndpointExt, Route, Server, handler, listener::TcpListener, post};
use tracing_subscriber::EnvFilter;

#[handler]
async fn receive(
    Data(inbox): Data<&Option<Inbox>>,
    WebhookDelivery(delivery): WebhookDelivery,
) -> poem::Result<()> {
    if let Some(inbox) = inbox {
        // Answered only once stored; a duplicate is answered 200 too, so the sender stops.
        inbox
            .store(&delivery)
            .await
            .map_err(|error| WebhookRejection::from(Rejection::from(error)))?;
        return Ok(());
    }
    print_event(delivery.event()).map_err(InternalServerError)
}

/// Prints `event`, re-serialized, as one line of JSON on stdout.
fn print_event(event: &WebhookEvent) -> std::io::Result<()> {
    let line = serde_json::to_string(event)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let config = config_from_env_or_flag().unwrap_or_else(|error| {
        eprintln!("poem_receiver: refusing to start: {error}");
        std::process::exit(2)
    });
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let inbox = match inbox_url() {
        Some(url) => Some(Inbox::open(&url).await.map_err(std::io::Error::other)?),
        None => None,
    };
    // Prints each stored delivery once it is processed; runs as long as `main`.
    let _worker = match &inbox {
        Some(inbox) => Some(
            Worker::new(
                inbox.clone(),
                |job: Job| async move { print_event(job.event()) },
            )
            .options(WorkerOptions::from_env().map_err(std::io::Error::other)?)
            .spawn(),
        ),
        None => None,
    };
    let app = Route::new()
        .at("/webhook", post(receive))
        .data(config)
        .data(inbox);
    Server::new(TcpListener::bind(format!("127.0.0.1:{port}")))
        .run(app)
        .await
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
