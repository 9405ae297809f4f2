//! A complete receiver: `POST /webhook` on `127.0.0.1:$PORT` (default 3000).
//!
//! Verifies with `SURFE_WEBHOOK_SECRET` (comma-separated while rotating). Prints each accepted
//! event, re-serialized, as one line of JSON on stdout (answering `500` if it cannot); logs go
//! to stderr (`RUST_LOG`). The server limits are in `limits.rs`.
//!
//! With `--inbox URL` (or `ENRICH_INBOX_URL`; `sqlite:PATH` or `postgres://…`), each delivery is
//! stored before it is answered (`503` when it cannot be), and a worker prints it once processed.
//! `ENRICH_INBOX_WORKER=off` only stores (a web tier); `ENRICH_INBOX_WORKER=only` only processes
//! (a worker tier, no server). An inbox that cannot be opened at start is opened in the
//! background, retried: meanwhile deliveries are answered `503` and `GET /readyz` says why.
//! That, health and metrics (`--metrics-listen 127.0.0.1:9464`) are in `ops.rs`.
//!
//! Without `SURFE_WEBHOOK_SECRET` (the API shows it only after the first delivery), a receiver
//! with an inbox starts in **quarantine**: a delivery with a well-formed, fresh signature is
//! stored unverified and never processed (`401` without one; `503` once the quarantine is full),
//! until `enrich inbox release --inbox URL --secret …` verifies each stored signature, or the
//! receiver restarts with the secret and releases them itself. Without an inbox it refuses to
//! start unless given `--insecure-skip-verification`, which accepts and processes unsigned
//! deliveries (with an inbox too, if given: quarantine is the safe start).
//!
//! ```text
//! SURFE_WEBHOOK_SECRET=whsec_… cargo run -p enrich-axum --example axum_receiver -- --inbox sqlite:inbox.db
//! ```

mod limits;
mod ops;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use enrich_axum::WebhookEvent;
use enrich_axum::{Refusal, Webhook, WebhookDelivery, WebhookRefusal};
use enrich_inbox::{InboxHandle, Job, Worker};
use tracing_subscriber::EnvFilter;

async fn webhook(
    inbox: Option<InboxHandle>,
    Webhook(delivery): WebhookDelivery,
) -> Result<StatusCode, WebhookRefusal> {
    if let Some(inbox) = inbox {
        // Answered only once stored; a duplicate is answered 200 too, so the sender stops.
        inbox.store(&delivery).await.map_err(Refusal::from)?;
        return Ok(StatusCode::OK);
    }
    match print(delivery.event()) {
        Ok(()) => Ok(StatusCode::OK),
        Err(error) => {
            eprintln!("axum_receiver: cannot print the event: {error}");
            Ok(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// Prints `event` as one line of JSON on stdout.
fn print(event: &WebhookEvent) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", serde_json::to_string(event)?)?;
    stdout.flush()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let log = std::io::stderr;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_writer(log)
        .with_ansi(log().is_terminal())
        .with_env_filter(filter)
        .init();
    let insecure = std::env::args().any(|arg| arg == "--insecure-skip-verification");
    let inbox = ops::open_inbox().await;
    // No secret yet: quarantine with an inbox, unless insecure mode is asked for explicitly.
    let config = enrich_inbox::webhook_config_at_start(inbox.as_ref(), insecure)
        .map_err(|error| format!("refusing to start: {error}"))?;
    ops::serve_metrics(inbox.as_ref())?;
    // `off`: this process only stores (a web tier); `only`: it only processes (a worker tier).
    let mode = std::env::var("ENRICH_INBOX_WORKER").unwrap_or_default();
    let worker = inbox.clone().filter(|_| mode != "off").map(|inbox| {
        tokio::spawn(async move {
            let handler = |job: Job| async move { print(job.event()) };
            Worker::new(inbox.opened().await, handler).spawn()
        })
    });
    if mode == "only" {
        tokio::signal::ctrl_c().await?;
        // A worker that never started (the inbox never opened) has nothing to finish.
        if let Some(worker) = worker.filter(|worker| worker.is_finished()) {
            worker.await?.shutdown(Duration::from_secs(30)).await;
        }
        return Ok(());
    }
    // The inbox reaches the handler through this closure: an `Extension` layer would cost every
    // request about 7 % more CPU (benches/ANALYSIS.md).
    let app = ops::routes(inbox.clone())
        .route(
            "/webhook",
            post(move |delivery| webhook(inbox.clone(), delivery)),
        )
        .with_state(config);
    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |port| port.parse())?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("listening on http://{}/webhook", listener.local_addr()?);
    let limits = limits::ServerLimits {
        header_read: Duration::from_secs(10),
        request: Duration::from_secs(30),
        max_connections: 1024,
    };
    Ok(limits::serve(listener, app, limits).await?)
}
