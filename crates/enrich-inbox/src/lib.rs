//! A durable, deduplicating inbox for Surfe API v2 enrichment webhooks.
//!
//! The sender delivers at least once and retries whatever is not answered `200`. A correct
//! receiver therefore **stores before it acknowledges**, deduplicates redeliveries, and processes
//! later, with retries, surviving crashes. This crate does that, on SQLite (one file, the
//! default) or Postgres (many replicas on one database):
//!
//! - [`Inbox::store`] writes the delivery — raw body exactly as signed, signature header and
//!   time, receive time, event type, ids, idempotency key — and returns [`Stored::New`] or
//!   [`Stored::Duplicate`] only once the write is durable. The key is unique in the database
//!   (`INSERT … ON CONFLICT DO NOTHING`), so storage is exactly once under any concurrency. A
//!   failure is a [`StoreError`], which converts into the `503` `storage_unavailable`
//!   [`Refusal`](enrich_webhook::Refusal) with `Retry-After`.
//! - A [`Worker`] claims due deliveries in batches under a lease, which a heartbeat extends
//!   while your async handler runs with a [`Job`] (the decoded event and the stored metadata),
//!   and marks them done (outcomes are recorded in groups, one commit for all waiting); an error, a panic or a [timeout](WorkerConfig::handler_timeout) is retried with
//!   exponential [`Backoff`] and jitter, and after the last attempt the delivery is a dead
//!   letter. Processing is **at least once** (at most `2 × max_attempts` runs; exactly once
//!   without crashes, freezes or outages): make the handler idempotent. Leases and due times
//!   are read on the database's clock.
//! - Operations: [`Inbox::health`] (for a readiness probe), [`Inbox::counts`], [`Inbox::gauges`] (due, waiting on backoff, processing,
//!   dead, done, and the age of the oldest claimable delivery; with the `metrics` feature, also
//!   recorded as gauges), [`Inbox::dead_letters`], [`Inbox::retry_dead_letter`],
//!   [`Inbox::replay`], [`Inbox::purge`] (a [`Retention`] pass now: bodies first, keys after a
//!   longer window) and [`Inbox::verify`] (a stored delivery against the signing secrets again).
//! - Personal data: a [`Retention`] policy (bodies 7 days after processing, dead letters 30
//!   days, keys 30 days, by default) that every worker applies on a schedule, in bounded
//!   batches; [`Inbox::erase`] of one [`Subject`] (an external ID, an email address, an
//!   enrichment); on SQLite `secure_delete` and a truncated WAL after each, on Postgres a
//!   `VACUUM` (the README's "Personal data" says what each guarantees). With the `encryption`
//!   feature and a `Keyring` (`InboxConfig::keys`, or `ENRICH_INBOX_KEYS`), bodies and error
//!   texts are stored sealed with AES-256-GCM, and `Inbox::rekey` re-seals them under a new key.
//! - [Reconciliation](mod@reconcile): [`Inbox::reconcile_people`] stores, as reconciled deliveries
//!   under the keys their webhooks would have had, the people of an enrichment whose delivery
//!   never arrived; with the `reconcile` feature, `reconcile` fetches them through
//!   `enrich-client` and `reconcile_on_batch_completed` does it when the batch completion event
//!   is processed.
//!
//! ```no_run
//! # async fn run(delivery: enrich_webhook::Delivery) -> Result<(), Box<dyn std::error::Error>> {
//! use enrich_inbox::{Inbox, Job, Worker};
//! use enrich_webhook::Refusal;
//!
//! let inbox = Inbox::open("sqlite:inbox.db").await?;
//! let _worker = Worker::new(inbox.clone(), |job: Job| async move {
//!     println!("processing {}", job.event().event_type());
//!     Ok::<(), std::io::Error>(())
//! })
//! .spawn();
//!
//! // In the webhook handler, after the adapter verified the delivery:
//! inbox.store(&delivery).await.map_err(Refusal::from)?; // then answer 200
//! # Ok(()) }
//! ```
//!
//! ## Durability
//!
//! | engine | process crash (even SIGKILL) | power loss / OS crash |
//! |---|---|---|
//! | SQLite, [`SqliteDurability::Full`] (default) | no acknowledged delivery lost | no acknowledged delivery lost |
//! | SQLite, [`SqliteDurability::Normal`] | no acknowledged delivery lost | the last commits may be lost |
//! | Postgres (`synchronous_commit = on`, the server default) | none lost | none lost (given the server's `fsync`) |
//!
//! On SQLite, concurrent stores share one transaction and one sync (group commit), committed by a
//! task of its own that no caller can cancel; no store returns before the commit holding its row,
//! and a caller that is dropped mid-store changes no other caller's answer. On Postgres each store is its own commit, and the
//! server groups the WAL flushes of concurrent commits.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
mod backoff;
mod clock;
mod config;
mod erase;
mod error;
mod gauges;
mod health;
mod inbox;
#[cfg(feature = "encryption")]
mod keyring;
mod keys_env;
mod metrics;
mod opener;
#[cfg(feature = "prometheus")]
mod prometheus;
pub mod reconcile;
mod record;
#[cfg(feature = "encryption")]
mod rekey;
mod release;
mod retention;
mod retention_pass;
mod seal;
mod trace;
mod verify;
mod worker;

pub use backoff::Backoff;
pub use config::{InboxConfig, KeyFn, SqliteDurability, default_key};
pub use erase::{ERASED, Erasure, Subject};
pub use error::{DatabaseError, Error, StoreError};
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use gauges::GaugeRecorder;
pub use health::{HealthCheck, HealthFailure, HealthProblem, HealthReport, Readiness};
pub use inbox::Inbox;
#[cfg(feature = "encryption")]
#[cfg_attr(docsrs, doc(cfg(feature = "encryption")))]
pub use keyring::Keyring;
pub use opener::{InboxHandle, webhook_config_at_start};
#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub use prometheus::{MetricsListener, MetricsListenerError};
pub use reconcile::Reconciliation;
#[cfg(feature = "reconcile")]
#[cfg_attr(docsrs, doc(cfg(feature = "reconcile")))]
pub use reconcile::{ReconcileError, reconcile, reconcile_on_batch_completed};
pub use record::{Counts, DeliveryId, Gauges, PurgeReport, Source, State, Stored, StoredDelivery};
#[cfg(feature = "encryption")]
#[cfg_attr(docsrs, doc(cfg(feature = "encryption")))]
pub use rekey::RekeyReport;
pub use release::{NOT_RELEASED, RELEASE_BATCH, Release};
pub use retention::Retention;

/// The schema version this build migrates a SQLite inbox to: the newest `version` it records
/// in `enrich_inbox_migrations` (its migrations are numbered from 1, one by one), and the one
/// [`Inbox::health`] expects.
#[cfg(feature = "sqlite")]
pub const SQLITE_SCHEMA_VERSION: i64 = backend::SQLITE_KNOWN_VERSION;

/// The schema version this build migrates a Postgres inbox to: the newest `version` it records
/// in `enrich_inbox_migrations` (its migrations are numbered from 1, one by one), and the one
/// [`Inbox::health`] expects.
#[cfg(feature = "postgres")]
pub const POSTGRES_SCHEMA_VERSION: i64 = backend::POSTGRES_KNOWN_VERSION;
pub use verify::Verification;
pub use worker::{HandlerError, Job, ShutdownReport, Worker, WorkerConfig, WorkerHandle};

/// The integration tests' support (a throwaway database on each engine, faults), shared with the
/// tests inside the crate.
#[cfg(test)]
#[path = "../tests/support/mod.rs"]
mod support;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: T) {}

    /// The futures a server awaits in its handlers and `main` are `Send`, for any lifetime of
    /// their arguments (a `Send` bound that holds for one lifetime only fails in callers).
    #[allow(dead_code, clippy::let_underscore_future)]
    async fn futures_are_send(inbox: Inbox, delivery: enrich_webhook::Delivery) {
        assert_send(async move {
            let opened = Inbox::open("sqlite::memory:").await;
            let _ = inbox.store(&delivery).await;
            let _ = inbox.counts().await;
            opened
        });
    }
}
