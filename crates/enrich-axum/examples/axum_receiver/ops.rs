//! Operating the receiver: its inbox opened in the background when the database is unreachable
//! at start, `GET /healthz` and `GET /readyz` on the webhook port (where a load
//! balancer probes), and `GET /metrics` (Prometheus text) on a listener of its own, off by
//! default: `--metrics-listen ADDR` or `ENRICH_METRICS_LISTEN=ADDR` (e.g. `127.0.0.1:9464`)
//! turns it on. The inbox's gauges and readiness are refreshed every `ENRICH_METRICS_INTERVAL`
//! seconds (default 15) while it serves.

use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Router, routing::get};
use enrich_axum::WebhookConfig;
use enrich_inbox::{InboxConfig, InboxHandle, MetricsListener, Readiness};

/// How long a readiness probe waits for the inbox's health check.
const READINESS_DEADLINE: Duration = Duration::from_secs(2);

/// The inbox of `--inbox URL` or `ENRICH_INBOX_URL`, if given: opened now, or, when that
/// fails, in the background (the receiver serves meanwhile, unready, answering `503`).
pub async fn open_inbox() -> Option<InboxHandle> {
    let url = std::env::args().skip_while(|arg| arg != "--inbox").nth(1);
    let url = url.or_else(|| std::env::var("ENRICH_INBOX_URL").ok())?;
    Some(InboxHandle::open(&url, InboxConfig::default()).await)
}

/// `GET /healthz` (200 while the process serves) and `GET /readyz` (the inbox's health).
pub fn routes(inbox: Option<InboxHandle>) -> Router<WebhookConfig> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || async move {
                let answer = match inbox {
                    Some(inbox) => inbox.readiness(READINESS_DEADLINE).await,
                    None => Readiness::without_inbox(),
                };
                let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
                (
                    status,
                    [(header::CONTENT_TYPE, answer.content_type)],
                    answer.body,
                )
                    .into_response()
            }),
        )
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
