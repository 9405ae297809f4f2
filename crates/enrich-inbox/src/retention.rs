//! How long the inbox keeps what it stored; the passes that apply it, by hand
//! ([`Inbox::purge`](crate::Inbox::purge)) and on a schedule, by every
//! [`Worker`](crate::Worker), are in `retention_pass`.
//!
//! Every body is personal data (names, emails, phone numbers, LinkedIn URLs, job histories), so
//! the inbox keeps none for ever unless told to: by default the body of a processed delivery is
//! dropped 7 days after it was processed, a dead letter's body and error text 30 days after it
//! died, and a row with its idempotency key 30 days after it was finished (the README, "Personal
//! data", says why these ages). A pass deletes in bounded batches of
//! [`Retention::batch_size`] rows, each its own commit, so it never holds the write lock for
//! long: on SQLite each batch is one write of the group writer, and a store queued behind it
//! waits for that batch only.

use std::time::Duration;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// How long the inbox keeps processed deliveries, dead letters and keys, for [`Inbox::purge`]
/// and the passes a [`Worker`](crate::Worker) runs on a schedule
/// ([`InboxConfig::retention`](crate::InboxConfig::retention)).
///
/// ```
/// use std::time::Duration;
/// use enrich_inbox::Retention;
///
/// let day = Duration::from_secs(24 * 3600);
/// let retention = Retention::default() // bodies 7 days, dead letters 30 days, keys 30 days
///     .bodies(day)
///     .dead_letters(14 * day)
///     .every(Duration::from_secs(600));
/// assert_eq!(retention.keys_age(), Some(30 * day));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    bodies: Option<Duration>,
    dead_letters: Option<Duration>,
    keys: Option<Duration>,
    batch_size: u32,
    every: Duration,
}

impl Default for Retention {
    /// Bodies of processed deliveries 7 days after processing, dead letters (body and error
    /// text) 30 days after they died, keys 30 days after the delivery was finished; batches of
    /// 500 rows; a pass every hour.
    fn default() -> Self {
        Self {
            bodies: Some(7 * DAY),
            dead_letters: Some(30 * DAY),
            keys: Some(30 * DAY),
            batch_size: Self::DEFAULT_BATCH_SIZE,
            every: Duration::from_secs(3600),
        }
    }
}

impl Retention {
    /// Rows per batch by default: on SQLite with `synchronous = FULL` and `secure_delete`, a
    /// batch of 500 rows of 2 KiB bodies commits in a few milliseconds to a few tens of
    /// milliseconds, well under the 50 ms a batch may hold the write lock.
    pub const DEFAULT_BATCH_SIZE: u32 = 500;

    /// The [default](Retention::default) policy, with the body of a processed delivery kept
    /// for `bodies` after it was processed and its key for `keys` (at least `bodies`).
    pub fn new(bodies: Duration, keys: Duration) -> Self {
        Self::default().bodies(bodies).keys(keys)
    }

    /// Keeps everything for ever: a pass changes nothing, and the worker runs none. Explicit,
    /// since every body is personal data.
    pub fn keep_forever() -> Self {
        Self {
            bodies: None,
            dead_letters: None,
            keys: None,
            ..Self::default()
        }
    }

    /// Keeps the body (and signature) of a processed delivery for `age` after it was
    /// processed; its key stays, so a late redelivery is still a duplicate. Raises the key
    /// retention to `age` if it was shorter.
    pub fn bodies(mut self, age: Duration) -> Self {
        self.bodies = Some(age);
        self.keys = self.keys.map(|keys| keys.max(age));
        self
    }

    /// Keeps a dead letter's body, signature and error text for `age` after it died; it then
    /// becomes `purged` (key kept, forgotten with the other keys).
    pub fn dead_letters(mut self, age: Duration) -> Self {
        self.dead_letters = Some(age);
        self
    }

    /// Keeps the row of a finished delivery, with its idempotency key, for `age` after it was
    /// finished (at least the body retention): a redelivery after that is stored anew.
    pub fn keys(mut self, age: Duration) -> Self {
        self.keys = Some(self.bodies.map_or(age, |bodies| age.max(bodies)));
        self
    }

    /// At most `rows` rows per batch (at least 1; [`Retention::DEFAULT_BATCH_SIZE`] by
    /// default). Each batch is one commit; smaller batches hold the write lock for less time.
    pub fn batch_size(mut self, rows: u32) -> Self {
        self.batch_size = rows.max(1);
        self
    }

    /// How often a worker runs a pass (every hour by default; at least 10 ms). The first runs
    /// when the worker starts.
    pub fn every(mut self, interval: Duration) -> Self {
        self.every = interval.max(Duration::from_millis(10));
        self
    }

    /// How long bodies of processed deliveries are kept (`None`: for ever).
    pub fn bodies_age(&self) -> Option<Duration> {
        self.bodies
    }

    /// How long dead letters are kept with their body and error text (`None`: for ever).
    pub fn dead_letters_age(&self) -> Option<Duration> {
        self.dead_letters
    }

    /// How long keys are kept (`None`: for ever).
    pub fn keys_age(&self) -> Option<Duration> {
        self.keys
    }

    /// Rows per batch.
    pub fn rows_per_batch(&self) -> u32 {
        self.batch_size
    }

    /// How often a worker runs a pass.
    pub fn interval(&self) -> Duration {
        self.every
    }

    /// Whether a pass would change nothing ([`Retention::keep_forever`]).
    pub fn keeps_everything(&self) -> bool {
        self.bodies.is_none() && self.dead_letters.is_none() && self.keys.is_none()
    }
}
