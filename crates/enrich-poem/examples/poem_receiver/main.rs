//! A complete webhook receiver: `POST /webhook` on `127.0.0.1:$PORT` (default 3000).
//!
//! ```sh
//! SURFE_WEBHOOK_SECRET=whsec_... cargo run -p enrich-poem --example poem_receiver
//! cargo run -p enrich-poem --example poem_receiver -- --insecure-skip-verification
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
//! `RUST_LOG`, default `info`; colour only on a terminal). Other methods on `/webhook` are
//! answered `405` with `Allow: POST`. The server limits are in `limits.rs`.
//!
//! Health, metrics and the inbox opened in the background are in `ops.rs`.
//!
//! With `--inbox URL` (or `ENRICH_INBOX_URL`; `sqlite:PATH` or `postgres://…`), each delivery is
//! stored before it is answered (`503` when it cannot be), and a worker prints it once processed.
//! `ENRICH_INBOX_WORKER=off` only stores (a web tier); `ENRICH_INBOX_WORKER=only` only processes
//! (a worker tier, no server).

mod limits;
mod ops;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use enrich_inbox::{InboxHandle, Job, Worker};
use enrich_poem::WebhookEvent;
use enrich_poem::{Refusal, Webhook, WebhookDelivery, WebhookRefusal};
use poem::error::{InternalServerError, MethodNotAllowedError};
use poem::listener::{Listener, TcpListener};
use poem::{EndpointExt, Response, Route, handler, http::StatusCode, post, web::Data};
use tracing_subscriber::EnvFilter;

#[handler]
async fn receive(
    Data(inbox): Data<&Option<InboxHandle>>,
    Webhook(delivery): WebhookDelivery,
) -> poem::Result<()> {
    let Some(inbox) = inbox else {
        return print_line(delivery.event()).map_err(InternalServerError);
    };
    // Answered only once stored; a duplicate is answered 200 too, so the sender stops.
    match inbox.store(&delivery).await {
        Ok(_) => Ok(()),
        Err(error) => Err(WebhookRefusal::from(Refusal::from(error)).into()),
    }
}

/// Prints `event`, re-serialized, as one line of JSON on stdout (line-buffered: flushed at once).
fn print_line(event: &WebhookEvent) -> std::io::Result<()> {
    let printed = writeln!(std::io::stdout(), "{}", serde_json::to_string(event)?);
    printed.inspect_err(|error| eprintln!("poem_receiver: cannot print the event: {error}"))
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
    let inbox = ops::open_inbox(inbox_url).await;
    // No secret yet: quarantine with an inbox, unless insecure mode is asked for explicitly.
    let config = enrich_inbox::webhook_config_at_start(inbox.as_ref(), insecure)
        .map_err(|error| format!("refusing to start: {error}"))?;
    ops::serve_metrics(inbox.as_ref())?;
    let worker_setting = std::env::var("ENRICH_INBOX_WORKER").unwrap_or_default();
    let handler = |job: Job| async move { print_line(job.event()) };
    let worker = inbox.clone().filter(|_| worker_setting != "off");
    let mut worker = worker.map(|inbox| {
        tokio::spawn(async move { Worker::new(inbox.opened().await, handler).spawn() })
    });
    if let Some(worker) = worker.take_if(|_| worker_setting == "only") {
        tokio::signal::ctrl_c().await?;
        // A worker that never started (the inbox never opened) has nothing to finish.
        if worker.is_finished() {
            worker.await?.shutdown(Duration::from_secs(30)).await;
        }
        return Ok(());
    }
    let app = ops::routes(Route::new())
        .at("/webhook", post(receive))
        .data(config)
        .data(inbox)
        .catch_error(|_: MethodNotAllowedError| async {
            let answer = Response::builder().status(StatusCode::METHOD_NOT_ALLOWED);
            answer.header("allow", "POST").finish()
        });
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let acceptor = TcpListener::bind(format!("127.0.0.1:{port}"));
    let acceptor = acceptor.into_acceptor().await?;
    eprintln!("listening on http://127.0.0.1:{port}/webhook");
    let limits = limits::ServerLimits {
        idle: Duration::from_secs(10),
        request: Duration::from_secs(30),
        http2_streams: 32,
        max_connections: 1024,
    };
    Ok(limits::serve(acceptor, app, limits).await?)
}
