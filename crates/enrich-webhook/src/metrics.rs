//! What the pipeline records through the [`metrics`](https://docs.rs/metrics/0.24) facade (the
//! `metrics` feature): the names of the root README's metrics table, recorded once here for every
//! adapter and the `http` entry point. Without the feature every function is empty and the
//! [`Stopwatch`] holds nothing, so the pipeline pays nothing.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `enrich_webhook_deliveries_total` | counter | `code`, `event_type` |
//! | `enrich_webhook_body_bytes` | histogram | — |
//! | `enrich_webhook_pipeline_duration_seconds` | histogram | — |
//!
//! The names are literals at each macro call, and the labels of the outcomes a busy receiver
//! records most are too: the `metrics` macros then build each key once, in a `static`, rather
//! than allocating one on every delivery.

#![cfg_attr(not(feature = "metrics"), allow(dead_code))]

use enrich_types::WebhookEvent;

use crate::refusal::Refusal;

/// The `event_type` label of a refusal: refused before the event was decoded.
pub(crate) const NO_EVENT_TYPE: &str = "none";
/// The `event_type` label of an event type this version does not know (its text is the
/// sender's: never a label, so that a sender cannot grow the number of series).
pub(crate) const OTHER_EVENT_TYPE: &str = "other";

/// The `event_type` label of `event`: its type for the types this version knows, `other` for
/// an unknown one.
pub(crate) fn event_type_label(event: &WebhookEvent) -> &'static str {
    match event {
        WebhookEvent::PersonEnrichmentCompleted(_) => "person.enrichment.completed",
        WebhookEvent::CompanyEnrichmentCompleted(_) => "company.enrichment.completed",
        WebhookEvent::BatchEnrichmentCompleted(batch) => batch.event_name.as_str(),
        _ => OTHER_EVENT_TYPE,
    }
}

/// Counts a delivery as `code` and `event_type`: through a key built once for each pair listed
/// (the outcomes of genuine deliveries), through a key built now for any other (refusals).
#[cfg(feature = "metrics")]
macro_rules! count_delivery {
    ($code:expr, $event_type:expr; $(($listed_code:literal, $listed_type:literal)),* $(,)?) => {
        match ($code, $event_type) {
            $(
                ($listed_code, $listed_type) => metrics::counter!(
                    "enrich_webhook_deliveries_total",
                    "code" => $listed_code,
                    "event_type" => $listed_type
                )
                .increment(1),
            )*
            (code, event_type) => metrics::counter!(
                "enrich_webhook_deliveries_total",
                "code" => code,
                "event_type" => event_type
            )
            .increment(1),
        }
    };
}

/// Counts `code` and `event_type` (see [`count_delivery!`]).
#[cfg(feature = "metrics")]
fn count(code: &'static str, event_type: &'static str) {
    count_delivery!(code, event_type;
        ("accepted", "person.enrichment.completed"),
        ("accepted", "company.enrichment.completed"),
        ("accepted", "person.batch-enrichment.completed"),
        ("accepted", "batch.enrichment.completed"),
        ("accepted", "other"),
        ("ignored", "person.enrichment.completed"),
        ("ignored", "company.enrichment.completed"),
        ("ignored", "person.batch-enrichment.completed"),
        ("ignored", "batch.enrichment.completed"),
        ("ignored", "other"),
    );
}

/// Counts a refusal (`event_type` `none`).
#[inline]
pub(crate) fn refused(refusal: &Refusal) {
    #[cfg(feature = "metrics")]
    count(refusal.code(), NO_EVENT_TYPE);
    #[cfg(not(feature = "metrics"))]
    let _ = refusal;
}

/// The `code` of a genuine delivery handed to the application.
pub(crate) const ACCEPTED: &str = "accepted";

/// Counts a genuine delivery at its final outcome: `code` is [`ACCEPTED`] (handed to the
/// handler) or `ignored` (acknowledged without calling it); `event_type` is
/// [`event_type_label`]'s.
#[inline]
pub(crate) fn delivered(code: &'static str, event_type: &'static str) {
    #[cfg(feature = "metrics")]
    count(code, event_type);
    #[cfg(not(feature = "metrics"))]
    let _ = (code, event_type);
}

/// Records the size of a body read to its end.
#[inline]
pub(crate) fn body_read(bytes: usize) {
    #[cfg(feature = "metrics")]
    metrics::histogram!("enrich_webhook_body_bytes").record(bytes as f64);
    #[cfg(not(feature = "metrics"))]
    let _ = bytes;
}

/// Measures a receive call, from its start to its outcome
/// (`enrich_webhook_pipeline_duration_seconds`); holds nothing
/// without the `metrics` feature.
pub(crate) struct Stopwatch {
    #[cfg(feature = "metrics")]
    started: std::time::Instant,
}

impl Stopwatch {
    /// Starts measuring.
    #[inline]
    pub(crate) fn start() -> Self {
        Self {
            #[cfg(feature = "metrics")]
            started: std::time::Instant::now(),
        }
    }

    /// Records the time since [`Stopwatch::start`], and passes `outcome` through.
    #[inline]
    pub(crate) fn stop<T>(self, outcome: T) -> T {
        #[cfg(feature = "metrics")]
        metrics::histogram!("enrich_webhook_pipeline_duration_seconds")
            .record(self.started.elapsed().as_secs_f64());
        outcome
    }
}
