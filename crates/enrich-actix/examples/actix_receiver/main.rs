//! A complete webhook receiver: `POST /webhook` on `127.0.0.1:$PORT` (default 3000).
//!
//! ```sh
//! SURFE_WEBHOOK_SECRET=whsec_... cargo run -p enrich-actix --example actix_receiver
//! cargo run -p enrich-actix --example actix_receiver -- --insecure-skip-verification
//! ```
//!
//! Without `SURFE_WEBHOOK_SECRET` (the API shows it only after the first delivery), a receiver
//! with an inbox starts in **quarantine**: a delivery with a well-formed, fresh signature is
//! stored unverified and never processed (`401` without one; `503` once the quarantine is full),
//! until `enrich inbox release --inbox URL --secret …` verifies each stored signature, or the
//! receiver restarts with the secret and releases them itself. Without an inbox it refuses to
//! start unless given `--insecure-skip-verification`, which accepts and processes unsigned
//! deliveries (with an inbox too, if given: quarantine is the safe start).
//!
//! Each accepted delivery is answered 200 and printed on stdout as one line of JSON (the typed
//! event re-serialized; `500` if it cannot be printed). Logs go to stderr (filtered by
//! `RUST_LOG`, default `info`, where actix-web says where it listens; colour only on a terminal). Other methods on `/webhook` are
//! answered `405` with `Allow: POST`. The server limits are in `limits.rs`; health, metrics and the
//! inbox opened in the background in `ops.rs`.
//!
//! With `--inbox URL` (or `ENRICH_INBOX_URL`; `sqlite:PATH` or `postgres://…`), each delivery is
//! stored before it is answered (`503` when it cannot be), and a worker prints it once processed.
//! `ENRICH_INBOX_WORKER=off` only stores (a web tier); `ENRICH_INBOX_WORKER=only` only processes
//! (a worker tier, no server). On `SIGINT` or `SIGTERM` actix-web stops accepting and lets the
//! requests in flight finish (at most the request timeout); then the worker gets 30 s.

mod limits;
mod ops;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use actix_web::{HttpResponse, error::ErrorInternalServerError, web};
use enrich_actix::WebhookRefusal;
use enrich_actix::{Refusal, Webhook, WebhookDelivery, WebhookEvent};
use enrich_inbox::{InboxHandle, Job, Worker};
use tracing_subscriber::EnvFilter;

async fn receive(
    inbox: web::Data<Option<InboxHandle>>,
    Webhook(delivery): WebhookDelivery,
) -> actix_web::Result<HttpResponse> {
    if let Some(inbox) = inbox.as_ref() {
        // Answered only once stored; a duplicate is answered 200 too, so the sender stops.
        let stored = inbox.store(&delivery).await.map_err(Refusal::from);
        stored.map_err(WebhookRefusal::from)?;
    } else {
        print(delivery.event()).map_err(ErrorInternalServerError)?;
    }
    Ok(HttpResponse::Ok().finish())
}

/// Writes `event` as one line of JSON to stdout, serialized first. (Serialized straight into the
/// line-buffered stdout, each of its many small pieces would be searched for a newline and the
/// line written in several system calls: about 14 % of a request's instructions.)
fn print(event: &WebhookEvent) -> std::io::Result<()> {
    let line = serde_json::to_string(event).map_err(std::io::Error::from);
    let printed = line.and_then(|line| writeln!(std::io::stdout().lock(), "{line}"));
    printed.inspect_err(|error| eprintln!("actix_receiver: cannot print the event: {error}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal()) // no colour codes in log files
        .init();
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().position(|arg| arg == name);
    let url = flag("--inbox").and_then(|at| args.get(at + 1).cloned());
    let inbox = ops::open_inbox(url.or_else(|| std::env::var("ENRICH_INBOX_URL").ok())).await;
    let insecure = flag("--insecure-skip-verification").is_some();
    // No secret yet: quarantine with an inbox, unless insecure mode is asked for explicitly.
    let config = enrich_inbox::webhook_config_at_start(inbox.as_ref(), insecure)
        .map_err(|error| format!("refusing to start: {error}"))?;
    ops::serve_metrics(inbox.as_ref())?;
    // `off`: this process only stores (a web tier); `only`: it only processes (a worker tier).
    let mode = std::env::var("ENRICH_INBOX_WORKER").unwrap_or_default();
    let worker = inbox.clone().filter(|_| mode != "off").map(|inbox| {
        tokio::spawn(async move {
            Worker::new(inbox.opened().await, |job: Job| async move {
                print(job.event())
            })
            .spawn()
        })
    });
    if mode == "only" {
        tokio::signal::ctrl_c().await?;
    } else {
        let inbox = web::Data::new(inbox);
        // A resource, so other methods on the path are answered `405` with `Allow: POST`.
        let routes = move |app: &mut web::ServiceConfig| {
            app.app_data(config.clone()).app_data(inbox.clone());
            app.service(web::resource("/webhook").route(web::post().to(receive)));
            ops::routes(app);
        };
        let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
        let listener = std::net::TcpListener::bind(format!("127.0.0.1:{port}"))?;
        let limits = limits::ServerLimits {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(10),
            request: Duration::from_secs(30),
            disconnect: Duration::from_secs(1),
            max_connections: 1024,
        };
        limits::serve(listener, routes, limits).await?; // until SIGINT or SIGTERM
    }
    // A worker that never started (the inbox never opened) has nothing to finish.
    if let Some(worker) = worker.filter(|worker| worker.is_finished()) {
        worker.await?.shutdown(Duration::from_secs(30)).await;
    }
    Ok(())
}
