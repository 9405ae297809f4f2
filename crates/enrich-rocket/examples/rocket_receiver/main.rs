//! A complete webhook receiver: `POST /webhook` on `127.0.0.1:$PORT` (default 3000).
//!
//! ```text
//! SURFE_WEBHOOK_SECRET=whsec_… cargo run -p enrich-rocket --example rocket_receiver
//! cargo run -p enrich-rocket --example rocket_receiver -- --insecure-skip-verification
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
//! Each accepted delivery is answered `200` and printed on stdout as one line of JSON (the typed
//! event re-serialized; `500` if it cannot be printed). Logs, Rocket's included, go to stderr.
//! Other methods on `/webhook` are answered `405` with `Allow: POST`.
//!
//! Server limits: HTTP/1.1 only (this workspace builds Rocket without its `http2` feature), and the
//! pipeline's body limit bounds each body. Rocket 0.5.2 has no header-read, body or idle timeout
//! and no connection cap, and none can be set from outside: on a public URL, put a reverse proxy
//! that has them in front (see the README, "Running on a public URL").
//!
//! With `--inbox URL` (or `ENRICH_INBOX_URL`; `sqlite:PATH` or `postgres://…`), each delivery is
//! stored before it is answered (`503` when it cannot be), and a worker prints it once processed.
//! `ENRICH_INBOX_WORKER=off` only stores (a web tier); `ENRICH_INBOX_WORKER=only` only processes
//! (a worker tier, no server). Health, metrics and the inbox opened in the background are in
//! `ops.rs`.

mod ops;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use enrich_inbox::{InboxHandle, Job, Worker};
use enrich_rocket::WebhookEvent;
use enrich_rocket::{Refusal, Webhook, WebhookDelivery, WebhookRefusal};
use rocket::http::Status;
use rocket::{State, post, routes};

#[post("/webhook", data = "<delivery>")]
async fn webhook(
    inbox: &State<Option<InboxHandle>>,
    delivery: WebhookDelivery,
) -> Result<Status, WebhookRefusal> {
    let Webhook(delivery) = delivery;
    if let Some(inbox) = inbox.inner() {
        // Answered only once stored; a duplicate is answered 200 too, so the sender stops.
        inbox.store(&delivery).await.map_err(Refusal::from)?;
        return Ok(Status::Ok);
    }
    if let Err(error) = print(delivery.event()) {
        eprintln!("rocket_receiver: cannot print the event: {error}");
        return Ok(Status::InternalServerError);
    }
    Ok(Status::Ok)
}

/// Prints `event`, re-serialized, as one line of JSON on stdout.
fn print(event: &WebhookEvent) -> std::io::Result<()> {
    let line = serde_json::to_string(event)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").and_then(|()| stdout.flush())
}

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Also receives Rocket's `log` records, so nothing but the JSON lines reaches stdout.
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info,rocket::server=warn".into());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(filter)?)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let insecure = args.iter().any(|arg| arg == "--insecure-skip-verification");
    let inbox_flag = args.windows(2).find(|pair| pair[0] == "--inbox");
    let inbox_url = inbox_flag.map(|pair| pair[1].clone());
    let inbox_url = inbox_url.or_else(|| std::env::var("ENRICH_INBOX_URL").ok());
    let inbox = ops::open_inbox(inbox_url).await;
    // No secret yet: quarantine with an inbox, unless insecure mode is asked for explicitly.
    let config = enrich_inbox::webhook_config_at_start(inbox.as_ref(), insecure)
        .map_err(|error| format!("rocket_receiver: refusing to start: {error}"))?;
    ops::serve_metrics(inbox.as_ref())?;
    // Prints each stored delivery once it is processed; runs as long as `main`.
    let worker_mode = std::env::var("ENRICH_INBOX_WORKER").unwrap_or_default();
    let worker = (worker_mode != "off").then(|| inbox.clone()).flatten();
    let handler = |job: Job| async move { print(job.event()) };
    let worker = worker.map(|inbox| {
        rocket::tokio::spawn(async move { Worker::new(inbox.opened().await, handler).spawn() })
    });
    if worker_mode == "only" {
        rocket::tokio::signal::ctrl_c().await?;
        // A worker that never started (the inbox never opened) has nothing to finish.
        if let Some(worker) = worker.filter(|worker| worker.is_finished()) {
            worker.await?.shutdown(Duration::from_secs(30)).await;
        }
        return Ok(());
    }
    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |port| port.parse())?;
    let figment = rocket::Config::figment()
        .merge(("address", "127.0.0.1"))
        .merge(("port", port))
        .merge(("log_level", "off"))
        .merge(("cli_colors", false));
    rocket::custom(figment)
        .manage(config)
        .manage(inbox)
        .mount("/", routes![webhook])
        .mount("/", ops::routes())
        .mount("/", enrich_rocket::post_only("/webhook"))
        .register("/", enrich_rocket::catchers())
        .launch()
        .await?;
    Ok(())
}
