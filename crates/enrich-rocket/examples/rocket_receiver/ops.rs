//! Operating the receiver: its inbox opened in the background when the database is unreachable
//! at start, `GET /healthz` and `GET /readyz` on the webhook port (where a load balancer
//! probes), and `GET /metrics` (Prometheus text) on a listener of its own, off by default:
//! `--metrics-listen ADDR` or `ENRICH_METRICS_LISTEN=ADDR` (e.g. `127.0.0.1:9464`) turns it on.
//! The inbox's gauges and readiness are refreshed every `ENRICH_METRICS_INTERVAL` seconds
//! (default 15) while it serves.

use std::time::Duration;

use enrich_inbox::{InboxConfig, InboxHandle, MetricsListener, Readiness};
use rocket::http::{ContentType, Status};
use rocket::{Route, State, get, routes};

/// How long a readiness probe waits for the inbox's health check.
const READINESS_DEADLINE: Duration = Duration::from_secs(2);

/// The inbox at `url`, if given: opened now, or, when that fails, in the background (the
/// receiver serves meanwhile, unready, answering `503`).
pub async fn open_inbox(url: Option<String>) -> Option<InboxHandle> {
    Some(InboxHandle::open(&url?, InboxConfig::default()).await)
}

#[get("/healthz")]
fn healthz() -> &'static str {
    "ok"
}

#[get("/readyz")]
async fn readyz(inbox: &State<Option<InboxHandle>>) -> (Status, (ContentType, Vec<u8>)) {
    let answer = match inbox.inner() {
        Some(inbox) => inbox.readiness(READINESS_DEADLINE).await,
        None => Readiness::without_inbox(),
    };
    let content_type = ContentType::parse_flexible(answer.content_type);
    let content_type = content_type.unwrap_or(ContentType::JSON);
    (Status::new(answer.status), (content_type, answer.body))
}

/// `GET /healthz` (200 while the process serves) and `GET /readyz` (the inbox's health, from
/// the managed `Option<InboxHandle>`).
pub fn routes() -> Vec<Route> {
    routes![healthz, readyz]
}

/// Serves `GET /metrics` on the address of `--metrics-listen` or `ENRICH_METRICS_LISTEN`, if
/// given, and refreshes the inbox's readiness and gauges every `ENRICH_METRICS_INTERVAL` seconds;
/// logs the URL.
pub fn serve_metrics(inbox: Option<&InboxHandle>) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(listener) = MetricsListener::from_args_and_env()? {
        listener.serve(inbox)?;
    }
    Ok(())
}
