//! The inbox: open, store, and operate.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use enrich_webhook::Delivery;
use enrich_webhook::enrich_types::WebhookEvent;
use enrich_webhook::signature::{self, SigningKeys, Tolerance};
use tokio::sync::Notify;

use crate::backend::{Backend, ConnectSettings, NewRecord};
use crate::clock::ProcessClock;
use crate::config::{InboxConfig, SqliteDurability};
use crate::error::{Error, StoreError};
use crate::metrics::Stopwatch;
use crate::record::{Counts, DeliveryId, PurgeReport, Source, State, Stored, StoredDelivery};
use crate::retention::Retention;
use crate::seal::Sealer;
use crate::verify::Verification;

/// A durable, deduplicating inbox of webhook deliveries. Cloning is cheap: clones share one
/// connection pool (and, on SQLite, one group writer).
///
/// ```no_run
/// # async fn run(delivery: enrich_webhook::Delivery) -> Result<(), Box<dyn std::error::Error>> {
/// use enrich_inbox::{Inbox, Stored};
///
/// let inbox = Inbox::open("sqlite:inbox.db").await?;
/// match inbox.store(&delivery).await? {
///     Stored::New(id) => println!("stored as {id}"),
///     Stored::Duplicate => println!("already stored"),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Inbox {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    options: InboxConfig,
    /// Seals bodies and error texts on write, opens them on read (encryption at rest).
    sealer: Sealer,
    /// The only wall clock the inbox reads (nothing about leases or due times).
    clock: ProcessClock,
    stored: Notify,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("engine", &self.inner.backend.engine())
            .field("options", &self.inner.options)
            .finish()
    }
}

impl Inbox {
    /// Opens the inbox at `url` with the default [`InboxConfig`]: `sqlite:PATH` (the file is
    /// created if missing, in WAL mode; the `sqlite` feature, on by default; `sqlite::memory:` is
    /// a new in-memory database, gone when the inbox closes) or `postgres://…` (the `postgres`
    /// feature: without it, this fails with [`Error::BackendNotCompiled`]). Migrations are
    /// applied on open, safely when several processes open the same database at once.
    pub async fn open(url: &str) -> Result<Self, Error> {
        Self::open_with(url, InboxConfig::default()).await
    }

    /// Opens the inbox at `url` with `options`.
    pub async fn open_with(url: &str, options: InboxConfig) -> Result<Self, Error> {
        options.check()?;
        let sealer = options.sealer()?;
        let settings = ConnectSettings {
            max_connections: options.max_connections,
            busy_timeout: options.busy_timeout,
            sqlite_synchronous_full: options.sqlite_durability == SqliteDurability::Full,
            #[cfg(test)]
            sqlite_test_pragmas: Vec::new(),
        };
        let backend = Backend::open(url, &settings).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                backend,
                clock: ProcessClock::shifted(options.process_clock_offset),
                options,
                sealer,
                stored: Notify::new(),
            }),
        })
    }

    /// `sqlite` or `postgres`.
    pub fn engine(&self) -> &'static str {
        self.inner.backend.engine()
    }

    /// Stores a verified delivery: its raw body exactly as signed, signature header, signature
    /// time, receive time, event type, ids and idempotency key. Returns only once the write is
    /// durable: [`Stored::New`] the first time its key is seen, [`Stored::Duplicate`] after.
    /// Answer `200` either way; on an error, answer the [`Refusal`](enrich_webhook::Refusal)
    /// it converts into (`503`).
    ///
    /// A [quarantined](Delivery::is_quarantined) delivery (received before the signing secret
    /// was known) is stored as [`State::Quarantined`]: never claimed by a worker until
    /// [`Inbox::release`] verifies its stored signature. While the quarantine holds
    /// [`InboxConfig::max_quarantined`] deliveries, a new one is not stored: the error is
    /// [`Error::QuarantineFull`], answered `503` `quarantine_full`. A redelivery of a key already
    /// stored is a [`Stored::Duplicate`] whatever its state.
    pub async fn store(&self, delivery: &Delivery) -> Result<Stored, StoreError> {
        let event = delivery.event();
        let raw_body = delivery.raw_body().clone();
        let record = NewRecord {
            key: (self.inner.options.key)(event, &raw_body),
            source: Source::Webhook,
            event_type: event.event_type().to_owned(),
            enrichment_id: event.enrichment_id().map(str::to_owned),
            external_id: event.external_id().map(str::to_owned),
            signature_header: delivery.signature_header().map(str::to_owned),
            signed_at_ms: delivery
                .signed_at()
                .map(|at| i64::try_from(at.unix_millis()).unwrap_or(i64::MAX)),
            verified: delivery.is_verified(),
            raw_body,
            traceparent: crate::trace::receipt_of(delivery),
        };
        if delivery.is_quarantined() {
            return self.quarantine(record).await;
        }
        self.insert(record).await
    }

    /// Stores `record` as quarantined (its body sealed when encryption is on), within the bound.
    async fn quarantine(&self, mut record: NewRecord) -> Result<Stored, StoreError> {
        let stopwatch = Stopwatch::start();
        let limit = self.inner.options.max_quarantined;
        let key = record.key.clone();
        let stored = match self.inner.sealer.seal_body(&record.key, record.raw_body) {
            Ok(sealed) => {
                record.raw_body = sealed;
                self.inner
                    .backend
                    .store_quarantined(key, record, i64::try_from(limit).unwrap_or(i64::MAX))
                    .await
                    .and_then(|stored| stored.ok_or(Error::QuarantineFull { limit }))
            }
            Err(error) => Err(error),
        };
        crate::metrics::stored(self.engine(), &stored, stopwatch);
        stored.map_err(|error| self.store_failed(error))
    }

    /// The [`StoreError`] of a store that failed with `error`, logged.
    fn store_failed(&self, error: Error) -> StoreError {
        if matches!(error, Error::QuarantineFull { .. }) {
            tracing::warn!(%error, "enrich-inbox: a delivery was not quarantined");
        } else {
            tracing::error!(%error, "enrich-inbox: a delivery could not be stored");
        }
        StoreError {
            error,
            retry_after_secs: self.inner.options.retry_after_secs,
        }
    }

    /// Stores an event that did not come by webhook (fetched from the API by reconciliation):
    /// `raw_event` is its JSON, `event` the same decoded. It gets the same idempotency key a
    /// webhook of the same event gets, so whichever arrives second is a [`Stored::Duplicate`].
    /// It carries no signature and is marked [`Source::Reconciled`].
    pub async fn store_reconciled(
        &self,
        event: &WebhookEvent,
        raw_event: Bytes,
    ) -> Result<Stored, StoreError> {
        let record = NewRecord {
            key: (self.inner.options.key)(event, &raw_event),
            source: Source::Reconciled,
            event_type: event.event_type().to_owned(),
            enrichment_id: event.enrichment_id().map(str::to_owned),
            external_id: event.external_id().map(str::to_owned),
            signature_header: None,
            signed_at_ms: None,
            verified: false,
            raw_body: raw_event,
            traceparent: None,
        };
        self.insert(record).await
    }

    async fn insert(&self, mut record: NewRecord) -> Result<Stored, StoreError> {
        let stopwatch = Stopwatch::start();
        let stored = match self.inner.sealer.seal_body(&record.key, record.raw_body) {
            Ok(sealed) => {
                record.raw_body = sealed;
                self.inner.backend.store(record).await
            }
            Err(error) => Err(error),
        };
        crate::metrics::stored(self.engine(), &stored, stopwatch);
        match stored {
            Ok(stored) => {
                if stored.is_new() {
                    self.inner.stored.notify_one();
                }
                Ok(stored)
            }
            Err(error) => Err(self.store_failed(error)),
        }
    }

    /// How many deliveries are in each state.
    pub async fn counts(&self) -> Result<Counts, Error> {
        self.inner.backend.counts().await
    }

    /// One delivery by id, if the inbox still holds it.
    ///
    /// Its body and error text are opened when they are sealed (encryption at rest): a value
    /// sealed under a key the keyring lacks is an [`Error::MissingKey`].
    pub async fn get(&self, id: DeliveryId) -> Result<Option<StoredDelivery>, Error> {
        self.inner
            .backend
            .get(id)
            .await?
            .map(|delivery| self.inner.sealer.open_delivery(delivery))
            .transpose()
    }

    /// The first `limit` deliveries in `state`, oldest first, opened as [`Inbox::get`] opens
    /// one.
    pub async fn list(&self, state: State, limit: usize) -> Result<Vec<StoredDelivery>, Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.inner
            .backend
            .list(state, limit)
            .await?
            .into_iter()
            .map(|delivery| self.inner.sealer.open_delivery(delivery))
            .collect()
    }

    /// The first `limit` dead letters (deliveries that failed every allowed attempt), oldest
    /// first, each with its last error.
    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<StoredDelivery>, Error> {
        self.list(State::Dead, limit).await
    }

    /// Puts a dead letter back in line with its attempts reset. `false` when `id` is not a dead
    /// letter.
    pub async fn retry_dead_letter(&self, id: DeliveryId) -> Result<bool, Error> {
        self.requeue(id, State::Dead).await
    }

    /// Puts every dead letter back in line; returns how many.
    pub async fn retry_all_dead_letters(&self) -> Result<u64, Error> {
        let requeued = self.inner.backend.requeue_all(State::Dead).await?;
        if requeued > 0 {
            self.inner.stored.notify_one();
        }
        Ok(requeued)
    }

    /// Processes a done delivery again (its handler runs once more). `false` when `id` is not a
    /// done delivery (a purged one has no body left to replay).
    pub async fn replay(&self, id: DeliveryId) -> Result<bool, Error> {
        self.requeue(id, State::Done).await
    }

    async fn requeue(&self, id: DeliveryId, from: State) -> Result<bool, Error> {
        let requeued = self.inner.backend.requeue(id, from).await?;
        if requeued {
            self.inner.stored.notify_one();
        }
        Ok(requeued)
    }

    /// Runs one retention pass now (as a [`Worker`](crate::Worker) does on a schedule): drops
    /// the body and signature of deliveries processed longer than `retention`'s body age ago
    /// (their key stays, so a redelivery is still a duplicate), the body, signature and error
    /// text of dead letters older than its dead-letter age, and deletes the rows finished
    /// longer than its key age ago (a redelivery after that is stored anew). Pending and
    /// processing deliveries are never purged. Ages are read on the database's clock. It
    /// deletes in bounded batches, each its own commit ([`Retention::batch_size`]).
    pub async fn purge(&self, retention: Retention) -> Result<PurgeReport, Error> {
        crate::retention_pass::apply(&self.inner.backend, retention).await
    }

    /// Verifies a stored delivery again against `keys`: its raw body and signature header, with
    /// no freshness check (it was fresh when received). `None` when the inbox holds no delivery
    /// `id`.
    pub async fn verify(
        &self,
        id: DeliveryId,
        keys: &SigningKeys,
    ) -> Result<Option<Verification>, Error> {
        let Some(delivery) = self.get(id).await? else {
            return Ok(None);
        };
        let (Some(body), Some(header)) = (&delivery.raw_body, &delivery.signature_header) else {
            return Ok(Some(if delivery.raw_body.is_none() {
                Verification::BodyPurged
            } else {
                Verification::Unsigned
            }));
        };
        Ok(Some(
            match signature::verify(
                keys,
                header.as_bytes(),
                body,
                Tolerance::unchecked(),
                self.process_now(),
            ) {
                Ok(signed_at) => Verification::Genuine { signed_at },
                Err(error) => Verification::Invalid(error),
            },
        ))
    }

    /// The database's plan for a worker's claim of up to `limit` deliveries, a line per step
    /// (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on Postgres), without running it: for
    /// checking that a claim reads the due index rather than sorting the backlog.
    #[doc(hidden)]
    pub async fn claim_plan(&self, limit: usize) -> Result<Vec<String>, Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.inner.backend.claim_plan(limit).await
    }

    /// The database's plan for [`Inbox::counts`], a line per step, without running it: for
    /// checking that counting reads no delivery.
    #[doc(hidden)]
    pub async fn counts_plan(&self) -> Result<Vec<String>, Error> {
        self.inner.backend.counts_plan().await
    }

    /// Closes the inbox: waits for the stores already queued, then closes the connections.
    /// Every later operation on it (or a clone) fails with [`Error::Closed`], and a store with
    /// a [`StoreError`] (so a receiver answers `503`).
    pub async fn close(&self) {
        self.inner.backend.close().await;
    }

    /// The process's clock, as this inbox sees it (shifted by
    /// [`InboxConfig::process_clock_offset`]). No lease, due time or recorded time reads it:
    /// those come from the database's clock.
    pub(crate) fn process_now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// Wakes a worker waiting for deliveries to claim.
    pub(crate) fn notify_stored(&self) {
        self.inner.stored.notify_one();
    }

    /// The retention policy the inbox was opened with.
    pub(crate) fn retention(&self) -> Retention {
        self.inner.options.retention
    }

    /// What seals and opens stored bodies and error texts.
    pub(crate) fn sealer(&self) -> &Sealer {
        &self.inner.sealer
    }

    pub(crate) fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    /// Resolves when a delivery was stored or requeued since the last call (or now, if one was).
    pub(crate) async fn stored(&self) {
        self.inner.stored.notified().await;
    }
}
