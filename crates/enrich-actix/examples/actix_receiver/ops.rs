//! Operating the receiver: its inbox opened in the background when the database is unreachable
//! at start, `GET /healthz` and `GET /readyz` on the webhook port (where a load balancer
//! probes), and `GET /metrics` (Prometheus text) on a listener of its own, off by default:
//! `--metrics-listen ADDR` or `ENRICH_METRICS_LISTEN=ADDR` (e.g. `127.0.0.1:9464`) turns it on.
//! The inbox's gauges and readiness are refreshed every `ENRICH_METRICS_INTERVAL` seconds
//! (default 15) while it serves.

use std::time::Duration;

use actix_web::{HttpResponse, http::StatusCode, web};
use enrich_inbox::{InboxConfig, InboxHandle, Readiness};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// How long a readiness probe waits for the inbox's health check.
const READINESS_DEADLINE: Duration = Duration::from_secs(2);

/// The inbox at `url`, if given: opened now, or, when that fails, in the background (the
/// receiver serves meanwhile, unready, answering `503`).
pub async fn open_inbox(url: Option<String>) -> Option<InboxHandle> {
    Some(InboxHandle::open(&url?, InboxConfig::default()).await)
}

async fn readyz(inbox: web::Data<Option<InboxHandle>>) -> HttpResponse {
    let answer = match inbox.as_ref() {
        Some(inbox) => inbox.readiness(READINESS_DEADLINE).await,
        None => Readiness::without_inbox(),
    };
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    HttpResponse::build(status)
        .content_type(answer.content_type)
        .body(answer.body)
}

/// `GET /healthz` (200 while the process serves) and `GET /readyz` (the inbox's health, from
/// the app's `web::Data<Option<InboxHandle>>`).
pub fn routes(app: &mut web::ServiceConfig) {
    app.route("/healthz", web::get().to(|| async { "ok" }));
    app.route("/readyz", web::get().to(readyz));
}

/// Serves `GET /metrics` on the address of `--metrics-listen` or `ENRICH_METRICS_LISTEN`, if
/// given, and refreshes the inbox's gauges on a schedule; logs the URL.
pub fn serve_metrics(inbox: Option<&InboxHandle>) -> Result<(), Box<dyn std::error::Error>> {
    let flag = std::env::args()
        .skip_while(|arg| arg != "--metrics-listen")
        .nth(1);
    let Some(listen) = flag.or_else(|| std::env::var("ENRICH_METRICS_LISTEN").ok()) else {
        return Ok(());
    };
    let address: std::net::SocketAddr = listen.parse()?;
    // Explicit buckets, so that the histograms aggregate across replicas (`_bucket` series).
    let seconds = [
        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ];
    let bytes: Vec<f64> = (4..=10).map(|power| 4_f64.powi(power)).collect(); // 256 B to 1 MiB
    let writes = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
    PrometheusBuilder::new()
        .with_http_listener(address)
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)?
        .set_buckets_for_metric(Matcher::Suffix("_bytes".into()), &bytes)?
        .set_buckets_for_metric(Matcher::Suffix("_batch_size".into()), &writes)?
        .install()?;
    eprintln!("metrics on http://{address}/metrics");
    let every: f64 = std::env::var("ENRICH_METRICS_INTERVAL").map_or(Ok(15.0), |s| s.parse())?;
    let every = Duration::try_from_secs_f64(every)?;
    if let Some(inbox) = inbox {
        inbox.record_every(every, READINESS_DEADLINE); // readiness and gauges, while it serves
    }
    Ok(())
}
