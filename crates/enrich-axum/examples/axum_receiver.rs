//! A complete receiver: `POST /webhook` on `127.0.0.1:$PORT` (default 3000).
//!
//! Verifies with `SURFE_WEBHOOK_SECRET` (comma-separated while rotating); without it, refuses to
//! start unless given `--insecure-skip-verification`. Prints each accepted event, re-serialized,
//! as one line of JSON on stdout; logs go to stderr (filtered by `RUST_LOG`, default `info`).
//!
//! The server is bounded against slow, idle and flooding senders (see [`ServerLimits`]): HTTP/1.1
//! only, a header-read timeout that also closes idle keep-alive connections, a timeout on the
//! whole request (body included), and a cap on open connections. Change them with the
//! environment variables named on [`ServerLimits::from_env`].
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
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Extension, Router};
use enrich_axum::enrich_webhook::ConfigError;
use enrich_axum::enrich_webhook::enrich_types::WebhookEvent;
use enrich_axum::{Refusal, Webhook, WebhookConfig, WebhookDelivery, WebhookRefusal};
use enrich_inbox::{Inbox, Job, Worker, WorkerConfig};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::timeout::TimeoutLayer;
use tracing_subscriber::EnvFilter;

async fn webhook(
    Extension(inbox): Extension<Option<Inbox>>,
    Webhook(delivery): WebhookDelivery,
) -> Result<StatusCode, WebhookRefusal> {
    if let Some(inbox) = inbox {
        // Answered only once stored; a duplicate is answered 200 too, so the sender stops.
        inbox.store(&delivery).await.map_err(Refusal::from)?;
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
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let config = config_from_env_or_flag().unwrap_or_else(|error| {
        eprintln!("axum_receiver: refusing to start: {error}");
        std::process::exit(2)
    });
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 3000,
    };
    let limits = ServerLimits::from_env()?;
    let inbox = match inbox_url() {
        Some(url) => Some(Inbox::open(&url).await?),
        None => None,
    };
    // Prints each stored delivery once it is processed; runs as long as `main`.
    let _worker = match &inbox {
        Some(inbox) if runs_worker() => Some(
            Worker::new(
                inbox.clone(),
                |job: Job| async move { print_event(job.event()) },
            )
            .config(WorkerConfig::from_env()?)
            .spawn(),
        ),
        _ => None,
    };
    let app = Router::new()
        .route("/webhook", post(webhook))
        .layer(Extension(inbox))
        .with_state(config);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("listening on http://{}/webhook", listener.local_addr()?);
    serve(listener, app, limits).await
}

/// The server's limits against hostile senders. Defaults suit a webhook endpoint (small,
/// quick requests from one API); each can be changed through the environment.
#[derive(Debug, Clone, Copy)]
struct ServerLimits {
    /// Time allowed for a request's headers to arrive, counted from the moment the connection
    /// waits for them: it closes slowloris connections and idle keep-alive connections alike.
    header_read: Duration,
    /// Time allowed for a whole request (its body read and the handler run): answered `408`.
    request: Duration,
    /// Connections open at once; further ones wait in the kernel's accept queue.
    max_connections: usize,
}

impl ServerLimits {
    /// The defaults (10 s, 30 s, 1,024 connections), overridden by `HEADER_READ_TIMEOUT_SECS`,
    /// `REQUEST_TIMEOUT_SECS` and `MAX_CONNECTIONS`.
    fn from_env() -> Result<Self, Box<dyn std::error::Error>> {
        Ok(Self {
            header_read: Duration::from_secs(env_number("HEADER_READ_TIMEOUT_SECS", 10)?),
            request: Duration::from_secs(env_number("REQUEST_TIMEOUT_SECS", 30)?),
            max_connections: usize::try_from(env_number("MAX_CONNECTIONS", 1024)?)?,
        })
    }
}

fn env_number(name: &str, default: u64) -> Result<u64, Box<dyn std::error::Error>> {
    match std::env::var(name) {
        Ok(value) => Ok(value
            .parse()
            .map_err(|_| format!("{name} is not a whole number: {value:?}"))?),
        Err(_) => Ok(default),
    }
}

/// Serves `app` over HTTP/1.1 (HTTP/2 is off: a webhook sender does not need it) under `limits`,
/// with hyper's own header-read timeout and tower-http's request timeout.
async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
) -> Result<(), Box<dyn std::error::Error>> {
    let app = app.layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        limits.request,
    ));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let permit = Arc::clone(&slots).acquire_owned().await?;
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, or a connection reset before it was accepted.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed");
            }
            drop(permit);
        });
    }
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
