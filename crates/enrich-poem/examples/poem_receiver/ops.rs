//! Operating the receiver: its inbox opened in the background when the database is unreachable
//! at start, `GET /healthz` and `GET /readyz` on the webhook port (where a load balancer
//! probes), and `GET /metrics` (Prometheus text) on a listener of its own, off by default:
//! `--metrics-listen ADDR` or `ENRICH_METRICS_LISTEN=ADDR` (e.g. `127.0.0.1:9464`) turns it on.
//! The inbox's gauges and readiness are refreshed every `ENRICH_METRICS_INTERVAL` seconds
//! (default 15) while it serves.

use std::time::Duration;

use enrich_inbox::{InboxConfig, InboxHandle, MetricsListener, Readiness};
use poem::{Response, Route, get, handler, http::StatusCode, web::Data};

/// How long a readiness probe waits for the inbox's health check.
const READINESS_DEADLINE: Duration = Duration::from_secs(2);

/// The inbox at `url`, if given: opened now, or, when that fails, in the background (the
/// receiver serves meanwhile, unready, answering `503`).
pub async fn open_inbox(url: Option<String>) -> Option<InboxHandle> {
    Some(InboxHandle::open(&url?, InboxConfig::default()).await)
}

#[handler]
fn healthz() -> &'static str {
    "ok"
}

#[handler]
async fn readyz(Data(inbox): Data<&Option<InboxHandle>>) -> Response {
    let answer = match inbox {
        Some(inbox) => inbox.readiness(READINESS_DEADLINE).await,
        None => Readiness::without_inbox(),
    };
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let response = Response::builder().status(status);
    response.content_type(answer.content_type).body(answer.body)
}

/// `GET /healthz` (200 while the process serves) and `GET /readyz` (the inbox's health).
pub fn routes(route: Route) -> Route {
    route
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz))
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
