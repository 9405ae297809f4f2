//! How an inbox is opened: its idempotency key, its durability on SQLite, its pool.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use enrich_webhook::IdempotencyKey;
use enrich_webhook::enrich_types::WebhookEvent;

use crate::error::Error;
use crate::retention::Retention;
use crate::seal::Sealer;

/// Computes the idempotency key of an event from its decoded form and its raw body.
pub type KeyFn = dyn Fn(&WebhookEvent, &[u8]) -> String + Send + Sync;

/// What a commit on SQLite waits for before a store returns (its `synchronous` setting in WAL
/// mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SqliteDurability {
    /// `synchronous = FULL` (the default): every commit syncs the WAL to disk before it returns,
    /// so an acknowledged delivery survives a process crash **and** a power loss or OS crash.
    #[default]
    Full,
    /// `synchronous = NORMAL`: a commit returns once the WAL is written, without a sync. An
    /// acknowledged delivery survives a process crash (even SIGKILL), but the last commits may be
    /// lost on a power loss or OS crash.
    Normal,
}

/// Options for [`Inbox::open_with`](crate::Inbox::open_with).
///
/// ```
/// use std::time::Duration;
/// use enrich_inbox::{InboxConfig, SqliteDurability};
///
/// let options = InboxConfig::default()
///     .sqlite_durability(SqliteDurability::Full)
///     .retry_after(Duration::from_secs(60))
///     // One delivery per person, whichever enrichment it came from.
///     .idempotency_key(|event, raw_body| match event.external_id() {
///         Some(person) => format!("person/{person}"),
///         None => enrich_inbox::default_key(event, raw_body),
///     });
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct InboxConfig {
    pub(crate) key: Arc<KeyFn>,
    pub(crate) sqlite_durability: SqliteDurability,
    pub(crate) max_connections: u32,
    pub(crate) busy_timeout: Duration,
    pub(crate) retry_after_secs: u32,
    pub(crate) process_clock_offset: i64,
    pub(crate) retention: Retention,
    #[cfg(feature = "encryption")]
    pub(crate) keys: Option<crate::keyring::Keyring>,
    pub(crate) max_quarantined: u64,
}

impl Default for InboxConfig {
    /// The default key, `SqliteDurability::Full`, 8 connections, a 10 s wait for a lock or a
    /// connection, `Retry-After: 30` on a storage failure, [`Retention::default`], and a
    /// quarantine of at most [`InboxConfig::DEFAULT_MAX_QUARANTINED`] deliveries.
    fn default() -> Self {
        Self {
            key: Arc::new(default_key),
            sqlite_durability: SqliteDurability::Full,
            max_connections: 8,
            busy_timeout: Duration::from_secs(10),
            retry_after_secs: 30,
            process_clock_offset: 0,
            retention: Retention::default(),
            #[cfg(feature = "encryption")]
            keys: None,
            max_quarantined: Self::DEFAULT_MAX_QUARANTINED,
        }
    }
}

/// The default idempotency key: [`IdempotencyKey::of`] displayed — (event type, enrichment ID,
/// external ID), else `sha256:` of the raw body — exactly
/// [`Delivery::idempotency_key`](enrich_webhook::Delivery::idempotency_key).
pub fn default_key(event: &WebhookEvent, raw_body: &[u8]) -> String {
    IdempotencyKey::of(event, raw_body).to_string()
}

impl InboxConfig {
    /// The longest [`busy_timeout`](Self::busy_timeout): `i32::MAX` milliseconds (about 24.8
    /// days), the most SQLite's busy handler takes.
    pub const MAX_BUSY_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

    /// Refuses values out of range, before anything is opened.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.busy_timeout > Self::MAX_BUSY_TIMEOUT {
            return Err(Error::InvalidOption {
                option: "busy_timeout",
                expected: "at most InboxConfig::MAX_BUSY_TIMEOUT (2,147,483,647 ms, about 24.8 days)",
            });
        }
        Ok(())
    }

    /// Uses `key` to compute each delivery's idempotency key (from the decoded event and the raw
    /// body), instead of [`default_key`]. Deliveries with equal keys are one delivery.
    pub fn idempotency_key<F>(mut self, key: F) -> Self
    where
        F: Fn(&WebhookEvent, &[u8]) -> String + Send + Sync + 'static,
    {
        self.key = Arc::new(key);
        self
    }

    /// What a SQLite commit waits for ([`SqliteDurability::Full`] by default). Postgres follows
    /// the server's `synchronous_commit`.
    pub fn sqlite_durability(mut self, durability: SqliteDurability) -> Self {
        self.sqlite_durability = durability;
        self
    }

    /// The most database connections the inbox opens (8 by default; SQLite also keeps one more
    /// for its group writer).
    pub fn max_connections(mut self, connections: u32) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// How long an operation waits for SQLite's write lock or for a pooled connection (10 s by
    /// default) before it fails; on Postgres, also how long opening waits for its first
    /// connection to the server. At most [`InboxConfig::MAX_BUSY_TIMEOUT`] (about 24.8 days):
    /// opening with a longer one fails with [`Error::InvalidOption`](crate::Error::InvalidOption).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// The `Retry-After` a storage failure asks of the sender (30 s by default; whole seconds,
    /// at least 1).
    pub fn retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after_secs = u32::try_from(retry_after.as_secs())
            .unwrap_or(u32::MAX)
            .max(1);
        self
    }
}

impl InboxConfig {
    /// The default bound of the quarantine: 10,000 deliveries, the most people one enrichment
    /// request may hold, so a first batch sent before the secret is known fits whole. At the
    /// default 1 MiB body limit a full quarantine is at most about 10 GiB; a person event is a
    /// few kilobytes, so a real one is tens of megabytes.
    pub const DEFAULT_MAX_QUARANTINED: u64 = 10_000;

    /// The most deliveries the quarantine holds at once ([`DEFAULT_MAX_QUARANTINED`] by
    /// default, at least 1). A delivery received without a known secret
    /// ([`WebhookConfig::quarantine`](enrich_webhook::WebhookConfig::quarantine)) beyond it is
    /// not stored and is answered `503` `quarantine_full` with `Retry-After`, so that requests
    /// forged with any well-formed signature cannot fill the disk. On SQLite the bound is exact
    /// (stores are serialized); on Postgres concurrent stores may pass it by the number of
    /// stores running at that moment.
    ///
    /// [`DEFAULT_MAX_QUARANTINED`]: InboxConfig::DEFAULT_MAX_QUARANTINED
    pub fn max_quarantined(mut self, deliveries: u64) -> Self {
        self.max_quarantined = deliveries.max(1);
        self
    }

    /// How long the inbox keeps bodies, dead letters and keys ([`Retention::default`]: 7, 30
    /// and 30 days); every [`Worker`](crate::Worker) of the inbox applies it on a schedule.
    /// [`Retention::keep_forever`] turns that off.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }
}

impl InboxConfig {
    /// Seals every body and error text the inbox writes under `keyring`'s current key
    /// (AES-256-GCM), and opens what it reads under any of its keys. Without it, the inbox reads
    /// its keyring from [`Keyring::ENV`](crate::Keyring::ENV) (`ENRICH_INBOX_KEYS`) when that
    /// is set, and otherwise stores plaintext. See the README, "Encryption".
    #[cfg(feature = "encryption")]
    #[cfg_attr(docsrs, doc(cfg(feature = "encryption")))]
    pub fn keys(mut self, keyring: crate::keyring::Keyring) -> Self {
        self.keys = Some(keyring);
        self
    }

    /// What seals and opens the stored values: the keyring given, else the one in
    /// `ENRICH_INBOX_KEYS`, else none. A keyring in the environment that this build cannot use
    /// (no `encryption` feature) is refused rather than ignored: the operator asked for
    /// encryption.
    pub(crate) fn sealer(&self) -> Result<Sealer, Error> {
        #[cfg(feature = "encryption")]
        {
            let keyring = match &self.keys {
                Some(keyring) => Some(keyring.clone()),
                None => crate::keyring::Keyring::from_env()?,
            };
            Ok(keyring.map(Sealer::new).unwrap_or_default())
        }
        #[cfg(not(feature = "encryption"))]
        match std::env::var_os(crate::keys_env::KEYS_ENV) {
            Some(keys) if !keys.is_empty() => Err(Error::InvalidKeys {
                problem: "ENRICH_INBOX_KEYS is set, but this build of enrich-inbox has no \
                          `encryption` feature"
                    .to_owned(),
            }),
            _ => Ok(Sealer::default()),
        }
    }
}

impl InboxConfig {
    /// For tests of clock skew: this inbox sees the process's clock shifted by `offset_ms`
    /// milliseconds (positive: ahead). The inbox reads the process's clock only through that
    /// one shifted clock, and leases, due times and recorded times never read it (they come
    /// from the database's), so this changes none of them; it exists so that a test can prove
    /// it.
    #[doc(hidden)]
    pub fn process_clock_offset(mut self, offset_ms: i64) -> Self {
        self.process_clock_offset = offset_ms;
        self
    }
}

impl InboxConfig {
    /// Whether keys were given ([`InboxConfig::keys`]).
    fn encrypted(&self) -> bool {
        #[cfg(feature = "encryption")]
        return self.keys.is_some();
        #[cfg(not(feature = "encryption"))]
        false
    }
}

impl fmt::Debug for InboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboxConfig")
            .field("sqlite_durability", &self.sqlite_durability)
            .field("max_connections", &self.max_connections)
            .field("busy_timeout", &self.busy_timeout)
            .field("retry_after_secs", &self.retry_after_secs)
            .field("retention", &self.retention)
            .field("encrypted", &self.encrypted())
            .field("max_quarantined", &self.max_quarantined)
            .finish_non_exhaustive()
    }
}
