//! A receiver's `GET /metrics` in Prometheus text (feature `prometheus`): the exporter
//! `metrics-exporter-prometheus` installed as the process's recorder, on an HTTP listener of its
//! own, with the histogram buckets the alert rules and the dashboard read, and the inbox's
//! readiness and gauges refreshed on a schedule. One setup for every receiver (the four example
//! receivers, the test fixture), rather than a copy in each.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};

use crate::opener::InboxHandle;

/// How long a refresh waits for the inbox's health check.
const READINESS_DEADLINE: Duration = Duration::from_secs(2);

/// Histogram buckets in seconds (`*_seconds`): 1 ms to 30 s.
const SECONDS: [f64; 13] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Histogram buckets in bytes (`*_bytes`): 256 B to 1 MiB, by fours.
const BYTES: [f64; 7] = [
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
];
/// Histogram buckets of writes per commit (`*_batch_size`).
const WRITES: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// Where a receiver serves `GET /metrics`, and how often it refreshes the inbox's figures.
///
/// ```no_run
/// # async fn run(inbox: enrich_inbox::InboxHandle) -> Result<(), Box<dyn std::error::Error>> {
/// use enrich_inbox::MetricsListener;
///
/// let listener = MetricsListener::new(([127, 0, 0, 1], 9464).into());
/// listener.serve(Some(&inbox))?; // GET http://127.0.0.1:9464/metrics
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsListener {
    address: SocketAddr,
    refresh_every: Duration,
}

/// Why [`MetricsListener`] could not be set up or started.
#[derive(Debug)]
#[non_exhaustive]
pub enum MetricsListenerError {
    /// `--metrics-listen` or `ENRICH_METRICS_LISTEN` is not a socket address (`IP:PORT`).
    Address(String),
    /// `ENRICH_METRICS_INTERVAL` is not a non-negative number of seconds.
    Interval(String),
    /// The exporter could not be installed (a recorder is already installed, or the listener
    /// could not be bound).
    Install(BuildError),
}

impl fmt::Display for MetricsListenerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(value) => write!(
                f,
                "the metrics listen address {value:?} is not IP:PORT (--metrics-listen, \
                 ENRICH_METRICS_LISTEN)"
            ),
            Self::Interval(value) => write!(
                f,
                "the metrics interval {value:?} is not a number of seconds \
                 (ENRICH_METRICS_INTERVAL)"
            ),
            Self::Install(error) => write!(f, "the metrics exporter could not start: {error}"),
        }
    }
}

impl std::error::Error for MetricsListenerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Install(error) => Some(error),
            _ => None,
        }
    }
}

impl MetricsListener {
    /// Serving on `address` (bind it to loopback or a private interface, never the public
    /// webhook port), refreshing every 15 s.
    pub fn new(address: SocketAddr) -> Self {
        Self {
            address,
            refresh_every: Duration::from_secs(15),
        }
    }

    /// The listener the process is asked for, if any: the address after `--metrics-listen` on
    /// the command line, else `ENRICH_METRICS_LISTEN`; the refresh interval from
    /// `ENRICH_METRICS_INTERVAL` (seconds, fractions allowed; 15 by default). `None` when
    /// neither names an address: metrics are served only when asked for.
    pub fn from_args_and_env() -> Result<Option<Self>, MetricsListenerError> {
        let flag = std::env::args()
            .skip_while(|arg| arg != "--metrics-listen")
            .nth(1);
        let Some(listen) = flag.or_else(|| std::env::var("ENRICH_METRICS_LISTEN").ok()) else {
            return Ok(None);
        };
        let address = listen
            .parse()
            .map_err(|_| MetricsListenerError::Address(listen))?;
        let mut listener = Self::new(address);
        if let Ok(every) = std::env::var("ENRICH_METRICS_INTERVAL") {
            listener.refresh_every = every
                .parse()
                .ok()
                .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
                .ok_or(MetricsListenerError::Interval(every))?;
        }
        Ok(Some(listener))
    }

    /// Refreshes the inbox's readiness and gauges every `interval`.
    pub fn refresh_every(mut self, interval: Duration) -> Self {
        self.refresh_every = interval;
        self
    }

    /// The address it serves on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Installs the Prometheus exporter as the process's `metrics` recorder, serving
    /// `GET /metrics` on [`MetricsListener::address`] from a task of the current Tokio runtime,
    /// with explicit histogram buckets (so that histograms aggregate across replicas as
    /// `_bucket` series), and, given an inbox, refreshes its readiness and gauges on the
    /// schedule ([`InboxHandle::record_every`]). Logs the URL it serves at `info`.
    pub fn serve(&self, inbox: Option<&InboxHandle>) -> Result<(), MetricsListenerError> {
        PrometheusBuilder::new()
            .with_http_listener(self.address)
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS)
            .and_then(|builder| {
                builder.set_buckets_for_metric(Matcher::Suffix("_bytes".into()), &BYTES)
            })
            .and_then(|builder| {
                builder.set_buckets_for_metric(Matcher::Suffix("_batch_size".into()), &WRITES)
            })
            .and_then(PrometheusBuilder::install)
            .map_err(MetricsListenerError::Install)?;
        tracing::info!(
            url = %format_args!("http://{}/metrics", self.address),
            "enrich-inbox: serving metrics"
        );
        if let Some(inbox) = inbox {
            inbox.record_every(self.refresh_every, READINESS_DEADLINE);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::BYTES;

    #[test]
    fn the_byte_buckets_are_powers_of_four_from_256_bytes_to_a_mebibyte() {
        let powers: Vec<f64> = (4..=10).map(|power| 4_f64.powi(power)).collect();
        assert_eq!(BYTES.to_vec(), powers);
    }
}
