//! What the inbox records through the [`metrics`](https://docs.rs/metrics/0.24) facade (the
//! `metrics` feature): the names of the root README's metrics table, each recorded at one place
//! (the store path, the group commits, the worker's claim and outcome paths, reconciliation, the
//! gauges). Without the feature every function here is empty and [`Stopwatch`] holds nothing.
//!
//! Times are measured on the monotonic clock (`std::time::Instant`), never the wall clock; the
//! queue time is the gap between two wall-clock instants the caller passes in.

#![cfg_attr(not(feature = "metrics"), allow(dead_code))]

use std::time::Duration;

use crate::backend::Outcome;
use crate::error::Error;
#[cfg(feature = "metrics")]
use crate::record::Gauges;
use crate::record::Stored;

/// Stores by `result` (`new`, `duplicate`, `failed`, `quarantine_full`) and `engine`.
pub(crate) const STORES: &str = "enrich_inbox_stores_total";
/// From a store's call to its durable answer, by `engine`.
pub(crate) const STORE_DURATION: &str = "enrich_inbox_store_duration_seconds";
/// Writes per group commit, by `engine`.
pub(crate) const COMMIT_BATCH_SIZE: &str = "enrich_inbox_commit_batch_size";
/// Deliveries claimed by workers, by `engine`.
pub(crate) const CLAIMED: &str = "enrich_inbox_claimed_total";
/// One handler run, from its start to its end (or its timeout).
pub(crate) const HANDLER_DURATION: &str = "enrich_inbox_handler_duration_seconds";
/// Attempts by `outcome` (`done`, `retried`, `dead`).
pub(crate) const ATTEMPTS: &str = "enrich_inbox_attempts_total";
/// From a delivery's receipt to the end of the run that processed it (on `done`).
pub(crate) const QUEUE_DURATION: &str = "enrich_inbox_queue_duration_seconds";
/// People looked at by reconciliation, by `result` (`already_stored`, `added`, `unmatched`).
pub(crate) const RECONCILED: &str = "enrich_inbox_reconciled_total";
/// Deliveries by `state` (`due`, `backoff`, `processing`, `dead`, `done`), read from the database.
pub(crate) const DELIVERIES: &str = "enrich_inbox_deliveries";
/// How long the delivery waiting longest for a worker has been claimable.
pub(crate) const OLDEST_CLAIMABLE_AGE: &str = "enrich_inbox_oldest_claimable_age_seconds";

/// 1 when the last [`Inbox::health`](crate::Inbox::health) found the inbox healthy, else 0.
pub(crate) const READY: &str = "enrich_inbox_ready";

/// Measures a call on the monotonic clock; holds nothing without the `metrics` feature.
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

    /// The time since [`Stopwatch::start`], in seconds.
    #[cfg(feature = "metrics")]
    fn seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// A store's result and how long it took to be durable.
#[inline]
pub(crate) fn stored(engine: &'static str, result: &Result<Stored, Error>, stopwatch: Stopwatch) {
    #[cfg(feature = "metrics")]
    {
        let label = match result {
            Ok(Stored::New(_)) => "new",
            Ok(Stored::Duplicate) => "duplicate",
            Err(Error::QuarantineFull { .. }) => "quarantine_full",
            Err(_) => "failed",
        };
        metrics::counter!(STORES, "result" => label, "engine" => engine).increment(1);
        metrics::histogram!(STORE_DURATION, "engine" => engine).record(stopwatch.seconds());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (engine, result, stopwatch);
}

/// A group commit of `writes` writes.
#[inline]
pub(crate) fn committed(engine: &'static str, writes: usize) {
    #[cfg(feature = "metrics")]
    metrics::histogram!(COMMIT_BATCH_SIZE, "engine" => engine).record(writes as f64);
    #[cfg(not(feature = "metrics"))]
    let _ = (engine, writes);
}

/// A claim that took `rows` deliveries.
#[inline]
pub(crate) fn claimed(engine: &'static str, rows: usize) {
    #[cfg(feature = "metrics")]
    if rows > 0 {
        metrics::counter!(CLAIMED, "engine" => engine).increment(rows as u64);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (engine, rows);
}

/// A handler run that ended (returned, panicked or timed out).
#[inline]
pub(crate) fn handler_ran(stopwatch: Stopwatch) {
    #[cfg(feature = "metrics")]
    metrics::histogram!(HANDLER_DURATION).record(stopwatch.seconds());
    #[cfg(not(feature = "metrics"))]
    let _ = stopwatch;
}

/// The outcome of an attempt; `queued` is the time from receipt to the end of the run, for
/// [`Outcome::Done`].
#[inline]
pub(crate) fn attempt(outcome: &Outcome, queued: Option<Duration>) {
    #[cfg(feature = "metrics")]
    {
        let label = match outcome {
            Outcome::Done => "done",
            Outcome::Retry { .. } => "retried",
            Outcome::Dead { .. } => "dead",
        };
        metrics::counter!(ATTEMPTS, "outcome" => label).increment(1);
        if let (Outcome::Done, Some(queued)) = (outcome, queued) {
            metrics::histogram!(QUEUE_DURATION).record(queued.as_secs_f64());
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (outcome, queued);
}

/// What reconciliation did with one person: `already_stored`, `added` or `unmatched`.
#[inline]
pub(crate) fn reconciled(result: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(RECONCILED, "result" => result).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = result;
}

/// Sets the gauges read from the database.
#[cfg(feature = "metrics")]
pub(crate) fn set_gauges(gauges: &Gauges) {
    for (state, count) in [
        ("due", gauges.due),
        ("backoff", gauges.backoff),
        ("processing", gauges.processing),
        ("dead", gauges.dead),
        ("done", gauges.done),
        ("quarantined", gauges.quarantined),
    ] {
        metrics::gauge!(DELIVERIES, "state" => state).set(count as f64);
    }
    metrics::gauge!(OLDEST_CLAIMABLE_AGE).set(gauges.oldest_claimable_age.as_secs_f64());
}

/// The result of a health check (or of a readiness answer before the inbox opened).
#[inline]
pub(crate) fn set_ready(ready: bool) {
    #[cfg(feature = "metrics")]
    metrics::gauge!(READY).set(if ready { 1.0 } else { 0.0 });
    #[cfg(not(feature = "metrics"))]
    let _ = ready;
}
