//! A complete webhook receiver: `POST /webhook` on `127.0.0.1:$PORT` (default 3000).
//!
//! ```sh
//! SURFE_WEBHOOK_SECRET=whsec_... cargo run -p enrich-poem --example poem_receiver
//! cargo run -p enrich-poem --example poem_receiver -- --insecure-skip-verification
//! ```
//!
//! Each accepted delivery is answered 200 and printed on stdout as one line of JSON (the typed
//! event re-serialized). Logs go to stderr.

use std::io::Write;

use enrich_poem::enrich_webhook::ConfigError;
use enrich_poem::{Webhook, WebhookConfig, WebhookDelivery};
use poem::error::InternalServerError;
use poem::{EndpointExt, Route, Server, handler, listener::TcpListener, post};
use tracing_subscriber::EnvFilter;

#[handler]
fn receive(Webhook(delivery): WebhookDelivery) -> poem::Result<()> {
    let line = serde_json::to_string(delivery.event()).map_err(InternalServerError)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(InternalServerError)
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
    let app = Route::new().at("/webhook", post(receive)).data(config);
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
