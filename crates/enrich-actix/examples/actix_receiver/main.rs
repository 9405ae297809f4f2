//! A complete webhook receiver: `POST /webhook` on `127.0.0.1:$PORT` (default 3000).
//!
//! ```sh
//! SURFE_WEBHOOK_SECRET=whsec_... cargo run -p enrich-actix --example actix_receiver
//! cargo run -p enrich-actix --example actix_receiver -- --insecure-skip-verification
//! ```
//!
//! Each accepted delivery is answered 200 and printed on stdout as one line of JSON (the typed
//! event re-serialized; `500` if it cannot be printed). Logs go to stderr (filtered by
//! `RUST_LOG`, default `info`; colour only on a terminal). Other methods on `/webhook` are
//! answered `405` with `Allow: POST`. The server limits are in `limits.rs`.
//!
//! With `--inbox URL` (or `ENRICH_INBOX_URL`; `sqlite:PATH` or `postgres://…`), each delivery is
//! stored before it is answered (`503` when it cannot be), and a worker prints it once processed.
//! `ENRICH_INBOX_WORKER=off` only stores (a web tier); `ENRICH_INBOX_WORKER=only` only processes
//! (a worker tier, no server).

mod limits;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use actix_web::{HttpResponse, error::ErrorInternalServerError, web};
use enrich_actix::{ConfigError, WebhookEvent};
use enrich_actix::{Refusal, Webhook, WebhookConfig, WebhookDelivery, WebhookRefusal};
use enrich_inbox::{Inbox, Job, Worker};
use tracing_subscriber::EnvFilter;

async fn receive(
    inbox: web::Data<Option<Inbox>>,
    Webhook(delivery): WebhookDelivery,
) -> actix_web::Result<HttpResponse> {
    let Some(inbox) = inbox.as_ref() else {
        print_line(delivery.event()).map_err(ErrorInternalServerError)?;
        return Ok(HttpResponse::Ok().finish());
    };
    // Answered only once stored; a duplicate is answered 200 too, so the sender stops.
    match inbox.store(&delivery).await {
        Ok(_) => Ok(HttpResponse::Ok().finish()),
        Err(error) => Err(WebhookRefusal::from(Refusal::from(error)).into()),
    }
}

/// Prints `event`, re-serialized, as one line of JSON on stdout (line-buffered: flushed at once).
fn print_line(event: &WebhookEvent) -> std::io::Result<()> {
    let printed = writeln!(std::io::stdout(), "{}", serde_json::to_string(event)?);
    printed.inspect_err(|error| eprintln!("actix_receiver: cannot print the event: {error}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args: Vec<String> = std::env::args().collect();
    let insecure = args.iter().any(|arg| arg == "--insecure-skip-verification");
    let inbox_url = match args.iter().position(|arg| arg == "--inbox") {
        Some(at) => args.get(at + 1).cloned(),
        None => std::env::var("ENRICH_INBOX_URL").ok(),
    };
    let config = match (WebhookConfig::from_env(), insecure) {
        (Err(ConfigError::EnvVarMissing), true) => WebhookConfig::insecure_skip_verification(),
        (config, _) => config.map_err(|error| format!("refusing to start: {error}"))?,
    };
    let inbox = match inbox_url {
        Some(url) => Some(Inbox::open(&url).await?),
        None => None,
    };
    let worker_setting = std::env::var("ENRICH_INBOX_WORKER").unwrap_or_default();
    let handler = |job: Job| async move { print_line(job.event()) };
    let worker = inbox.as_ref().filter(|_| worker_setting != "off");
    let mut worker = worker.map(|inbox| Worker::new(inbox.clone(), handler).spawn());
    if let Some(worker) = worker.take_if(|_| worker_setting == "only") {
        tokio::signal::ctrl_c().await?;
        worker.shutdown(Duration::from_secs(30)).await;
        return Ok(());
    }
    let inbox = web::Data::new(inbox);
    // A resource, so other methods on the path are answered `405` with `Allow: POST`.
    let routes = move |app: &mut web::ServiceConfig| {
        let webhook = web::resource("/webhook").route(web::post().to(receive));
        app.app_data(config.clone())
            .app_data(inbox.clone())
            .service(webhook);
    };
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listener = std::net::TcpListener::bind(format!("127.0.0.1:{port}"))?;
    eprintln!("listening on http://127.0.0.1:{port}/webhook");
    let limits = limits::ServerLimits {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(10),
        request: Duration::from_secs(30),
        disconnect: Duration::from_secs(1),
        max_connections: 1024,
    };
    Ok(limits::serve(listener, routes, limits).await?)
}
