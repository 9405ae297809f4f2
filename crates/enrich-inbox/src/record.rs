//! What the inbox keeps about a delivery, and the small types that name it.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use enrich_webhook::SignatureTimestamp;

use crate::error::Error;

/// The inbox's own id of a stored delivery (its row id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryId(pub i64);

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The outcome of storing a delivery. Either way it is durable, so the receiver answers `200`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// The first delivery of this idempotency key: stored now, to be processed.
    New(DeliveryId),
    /// A redelivery of a key the inbox already holds: nothing was written.
    Duplicate,
}

impl Stored {
    /// Whether this delivery was new.
    pub fn is_new(&self) -> bool {
        matches!(self, Self::New(_))
    }
}

/// How a delivery reached the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// A webhook request, with its signature header.
    Webhook,
    /// Fetched from the API by reconciliation: no signature, same idempotency keys.
    Reconciled,
}

impl Source {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Reconciled => "reconciled",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "webhook" => Some(Self::Webhook),
            "reconciled" => Some(Self::Reconciled),
            _ => None,
        }
    }
}

/// Where a delivery is in its life.
///
/// `pending` → `processing` (claimed under a lease) → `done`, or back to `pending` with a later
/// due time after a failure, or `dead` after the last allowed attempt. A purge turns `done` into
/// `purged` (the body is dropped, the idempotency key kept) and later deletes the row. A
/// delivery received before the signing secret was known starts `quarantined` (never claimed)
/// until [`Inbox::release`](crate::Inbox::release) makes it `pending` (its stored signature
/// verified) or `dead` (not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Waiting to be processed (first time, or a retry once its due time comes).
    Pending,
    /// Claimed by a worker whose lease has not been released.
    Processing,
    /// Processed successfully.
    Done,
    /// Failed on every allowed attempt: a dead letter, kept until retried.
    Dead,
    /// Processed, then purged: only the idempotency key and metadata remain.
    Purged,
    /// Received with a well-formed, fresh signature that no known secret could verify yet:
    /// stored, never claimed, until released with the secret.
    Quarantined,
}

impl State {
    /// Every state, in life order.
    pub const ALL: [State; 6] = [
        Self::Quarantined,
        Self::Pending,
        Self::Processing,
        Self::Done,
        Self::Dead,
        Self::Purged,
    ];

    /// The state's name as stored (`quarantined`, `pending`, `processing`, `done`, `dead`,
    /// `purged`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Done => "done",
            Self::Dead => "dead",
            Self::Purged => "purged",
            Self::Quarantined => "quarantined",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stored delivery with everything the inbox knows about it.
///
/// Its `Debug` form shows the body's length, not its content.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredDelivery {
    /// The inbox's id.
    pub id: DeliveryId,
    /// The idempotency key it was stored under.
    pub key: String,
    /// How it arrived.
    pub source: Source,
    /// Where it is in its life.
    pub state: State,
    /// The event's `eventType`.
    pub event_type: String,
    /// The event's `enrichmentID`, when it has one.
    pub enrichment_id: Option<String>,
    /// The event's `externalID`, when it has one.
    pub external_id: Option<String>,
    /// The body exactly as received and signed; `None` once purged.
    pub raw_body: Option<Bytes>,
    /// The `x-surfe-signature` header as received (webhook deliveries only).
    pub signature_header: Option<String>,
    /// When the sender signed it (webhook deliveries only).
    pub signed_at: Option<SignatureTimestamp>,
    /// Whether the receiver verified its signature.
    pub verified: bool,
    /// When the inbox stored it.
    pub received_at: SystemTime,
    /// How many times a worker has claimed it.
    pub attempts: u32,
    /// When it is next due (`pending`) or when its lease ends (`processing`).
    pub due_at: SystemTime,
    /// The last handler failure, as the handler's error displayed.
    pub last_error: Option<String>,
    /// When it was last finished (`done`, `dead`, `purged`).
    pub finished_at: Option<SystemTime>,
    /// The W3C `traceparent` of the span that received it, when the inbox stored one (feature
    /// `opentelemetry`, with a `tracing-opentelemetry` layer installed): its processing span is
    /// a child of that span on the first attempt, and links to it on a retry.
    pub traceparent: Option<String>,
}

impl fmt::Debug for StoredDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredDelivery")
            .field("id", &self.id)
            .field("source", &self.source)
            .field("state", &self.state)
            .field("event_type", &self.event_type)
            .field("raw_body_len", &self.raw_body.as_ref().map(Bytes::len))
            .field("signed_at", &self.signed_at)
            .field("verified", &self.verified)
            .field("received_at", &self.received_at)
            .field("attempts", &self.attempts)
            .field("due_at", &self.due_at)
            .field("finished_at", &self.finished_at)
            .field("traceparent", &self.traceparent)
            .finish_non_exhaustive()
    }
}

/// How many deliveries are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Waiting to be processed.
    pub pending: u64,
    /// Claimed under a lease.
    pub processing: u64,
    /// Processed.
    pub done: u64,
    /// Dead letters.
    pub dead: u64,
    /// Processed and purged (key kept).
    pub purged: u64,
    /// Received before the signing secret was known, waiting to be released.
    pub quarantined: u64,
}

impl Counts {
    /// All deliveries the inbox holds.
    pub fn total(&self) -> u64 {
        self.pending + self.processing + self.done + self.dead + self.purged + self.quarantined
    }

    pub(crate) fn add(&mut self, state: State, count: u64) {
        let slot = match state {
            State::Pending => &mut self.pending,
            State::Processing => &mut self.processing,
            State::Done => &mut self.done,
            State::Dead => &mut self.dead,
            State::Purged => &mut self.purged,
            State::Quarantined => &mut self.quarantined,
        };
        *slot += count;
    }
}

/// What [`Inbox::purge`](crate::Inbox::purge) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PurgeReport {
    /// Processed deliveries whose body and signature were dropped (their key is kept).
    pub bodies_dropped: u64,
    /// Rows deleted with their idempotency key: a redelivery of one of them is stored anew.
    pub keys_forgotten: u64,
    /// Dead letters whose body, signature and error text were dropped (now `purged`).
    pub dead_letters_dropped: u64,
    /// How many bounded batches (each its own commit) changed rows.
    pub batches: u64,
    /// The most rows one batch changed (at most [`Retention::batch_size`](crate::Retention::batch_size)).
    pub largest_batch: u64,
    /// Whether the values dropped were then scrubbed from the database's files as far as the
    /// engine allows (SQLite: zeroed in their pages by `secure_delete`, and the WAL
    /// checkpointed and truncated; Postgres: the table vacuumed). `false` when nothing changed,
    /// or when the scrub could not finish (a warning says why).
    pub scrubbed: bool,
}

/// The instant `millis` milliseconds after the Unix epoch (negative values read as the epoch).
pub(crate) fn from_millis(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// How many deliveries are in each state an operator watches, and the age of the oldest
/// claimable one: one read of the database ([`Inbox::gauges`]), one snapshot.
///
/// `due + backoff` is every pending delivery; `done` counts processed deliveries whether or not
/// their body was purged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Gauges {
    /// Pending and due now: waiting for a worker.
    pub due: u64,
    /// Pending but not due yet: a failed attempt waiting on its backoff.
    pub backoff: u64,
    /// Claimed by a worker (including claims whose lease expired, which a worker takes again).
    pub processing: u64,
    /// Dead letters.
    pub dead: u64,
    /// Processed (with or without their body, after a purge).
    pub done: u64,
    /// Received before the signing secret was known, waiting to be released (never claimed).
    pub quarantined: u64,
    /// How long the claimable delivery that became claimable first has been waiting for a
    /// worker, on the database's clock (the one leases and due times are read on): since its
    /// receipt for a new delivery, since its backoff ended for a retry, since its lease expired
    /// for an abandoned claim. Zero when nothing is claimable. A delivery waiting on its
    /// backoff is not claimable, so it never counts, however old.
    pub oldest_claimable_age: Duration,
}

impl Gauges {
    /// From the `(name, value)` rows of the gauges' statement: a row per state, then `backoff`
    /// and `oldest_claimable_ms`.
    pub(crate) fn from_rows(rows: Vec<(String, i64)>) -> Result<Self, Error> {
        let mut gauges = Self::default();
        let mut pending = 0;
        for (name, value) in rows {
            let count = u64::try_from(value).unwrap_or(0);
            match name.as_str() {
                "backoff" => gauges.backoff = count,
                "oldest_claimable_ms" => gauges.oldest_claimable_age = Duration::from_millis(count),
                state => match State::parse(state).ok_or(Error::CorruptRow { column: "state" })? {
                    State::Pending => pending += count,
                    State::Processing => gauges.processing += count,
                    State::Done | State::Purged => gauges.done += count,
                    State::Dead => gauges.dead += count,
                    State::Quarantined => gauges.quarantined += count,
                },
            }
        }
        // Both from one snapshot; saturating all the same, should a count kept by triggers
        // (Postgres) ever lag.
        gauges.backoff = gauges.backoff.min(pending);
        gauges.due = pending - gauges.backoff;
        Ok(gauges)
    }
}
