//! The inbox's errors: opening and operating it ([`Error`]) and storing a delivery
//! ([`StoreError`], which a receiver answers with `503` and `Retry-After`).

use std::fmt;
use std::sync::Arc;

use enrich_webhook::Refusal;

/// A failure of the database behind the inbox. Its message is the driver's; it never contains
/// a delivery's body.
#[derive(Clone)]
pub struct DatabaseError(pub(crate) Arc<sqlx::Error>);

impl fmt::Debug for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for DatabaseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Why the inbox could not be opened or an operation failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The URL is neither `sqlite:…` nor `postgres://…` (or `postgresql://…`).
    UnsupportedUrl,
    /// The URL names a backend this build leaves out (enable the crate feature of that name).
    BackendNotCompiled {
        /// `sqlite` or `postgres`.
        feature: &'static str,
    },
    /// The database holds a newer schema than this version of the crate knows.
    SchemaTooNew {
        /// The newest migration in the database.
        found: i64,
        /// The newest migration this crate knows.
        known: i64,
    },
    /// An [`InboxConfig`](crate::InboxConfig) value is out of range; nothing was opened.
    InvalidOption {
        /// The option, named as its method.
        option: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// The database failed.
    Database(DatabaseError),
    /// A stored row could not be read back (a value outside what the inbox writes).
    CorruptRow {
        /// The column that did not read.
        column: &'static str,
    },
    /// A stored body or error text is sealed (encryption at rest) under a key the inbox does not
    /// have: the keyring lacks this id, the inbox was opened without a keyring, or this build
    /// has no `encryption` feature. Nothing is read as plaintext and nothing is skipped: add the
    /// key to the keyring (as an older key) and try again.
    MissingKey {
        /// The id of the key the value was sealed under.
        key_id: String,
    },
    /// A stored value sealed under this key id does not open with the keyring's key of that id:
    /// another key was given under the same id, or the stored bytes were altered (or moved to
    /// another row).
    WrongKey {
        /// The id of the key the value was sealed under.
        key_id: String,
    },
    /// The keys given for encryption at rest ([`Keyring`](crate::Keyring)'s constructors,
    /// `ENRICH_INBOX_KEYS`) do not read; nothing was opened. The message never shows a key.
    InvalidKeys {
        /// What is wrong with them.
        problem: String,
    },
    /// A value could not be sealed.
    Encryption {
        /// Why.
        problem: &'static str,
    },
    /// The inbox was closed with [`Inbox::close`](crate::Inbox::close).
    Closed,
    /// The inbox is still being opened in the background
    /// ([`InboxHandle`](crate::InboxHandle)): the database was unreachable so far.
    NotOpen,
    /// A delivery was to be quarantined (no signing secret is known) but the quarantine holds
    /// its [bound](crate::InboxConfig::max_quarantined) already: it was not stored.
    QuarantineFull {
        /// The bound.
        limit: u64,
    },
    /// The commit that held this write was cut short (the task committing it stopped, as when
    /// its Tokio runtime shuts down): the write is not acknowledged, and may or may not be
    /// stored.
    Interrupted,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedUrl => f.write_str(
                "the inbox URL must start with `sqlite:` or `postgres://` (or `postgresql://`)",
            ),
            Self::BackendNotCompiled { feature } => write!(
                f,
                "this build of enrich-inbox has no {feature} backend: enable its `{feature}` feature"
            ),
            Self::SchemaTooNew { found, known } => write!(
                f,
                "the inbox database is at schema version {found}, newer than the {known} this \
                 version of enrich-inbox knows"
            ),
            Self::InvalidOption { option, expected } => {
                write!(
                    f,
                    "the inbox option `{option}` is out of range: it must be {expected}"
                )
            }
            Self::Database(error) => write!(f, "inbox database error: {error}"),
            Self::CorruptRow { column } => {
                write!(f, "a stored delivery has an unreadable `{column}`")
            }
            Self::MissingKey { key_id } => write!(
                f,
                "a stored value is sealed under the key `{key_id}`, which {}",
                if cfg!(feature = "encryption") {
                    "the inbox's keyring lacks (add it as an older key)"
                } else {
                    "this build cannot open: enable enrich-inbox's `encryption` feature and give the key"
                }
            ),
            Self::WrongKey { key_id } => write!(
                f,
                "a stored value sealed under the key `{key_id}` does not open with the keyring's \
                 key of that id (another key under the same id, or the stored bytes were altered)"
            ),
            Self::InvalidKeys { problem } => {
                write!(f, "the inbox's encryption keys are invalid: {problem}")
            }
            Self::Encryption { problem } => write!(f, "a value could not be sealed: {problem}"),
            Self::Closed => f.write_str("the inbox is closed"),
            Self::NotOpen => f.write_str("the inbox is not open yet (opening is retried)"),
            Self::QuarantineFull { limit } => write!(
                f,
                "the quarantine already holds its limit of {limit} unverified deliveries: \
                 release them with the signing secret (`enrich inbox release`)"
            ),
            Self::Interrupted => f.write_str(
                "the commit holding this write was interrupted; it may or may not be stored",
            ),
        }
    }
}

impl std::error::Error for Error {
    /// Defers past what `Display` already printed: the database error's own source, so that a
    /// reporter walking the chain prints each message once.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Database(error) => error.source(),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolClosed => Self::Closed,
            error => Self::Database(DatabaseError(Arc::new(error))),
        }
    }
}

/// A delivery could not be stored. The receiver must not acknowledge it: answer it with
/// [`Refusal::StorageUnavailable`] (`503` with `Retry-After`; [`Refusal::QuarantineFull`] for a
/// full quarantine), which `From` gives:
///
/// ```no_run
/// # async fn handler(inbox: enrich_inbox::Inbox, delivery: enrich_webhook::Delivery)
/// #     -> Result<(), enrich_webhook::Refusal> {
/// use enrich_webhook::Refusal;
///
/// inbox.store(&delivery).await.map_err(Refusal::from)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct StoreError {
    pub(crate) error: Error,
    pub(crate) retry_after_secs: u32,
}

impl StoreError {
    /// What failed.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The `Retry-After` the answer asks for, in seconds
    /// ([`InboxConfig::retry_after`](crate::InboxConfig::retry_after)).
    pub fn retry_after_secs(&self) -> u32 {
        self.retry_after_secs
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the delivery could not be stored: {}", self.error)
    }
}

impl std::error::Error for StoreError {
    /// Defers past what `Display` already printed (the inner [`Error`]'s message): its source.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl From<StoreError> for Refusal {
    /// `storage_unavailable` (`503`) with the inbox's `Retry-After`; `quarantine_full` (`503`,
    /// the same `Retry-After`) when the quarantine is full.
    fn from(error: StoreError) -> Self {
        let retry_after_secs = error.retry_after_secs;
        match error.error {
            Error::QuarantineFull { .. } => Refusal::QuarantineFull { retry_after_secs },
            _ => Refusal::StorageUnavailable { retry_after_secs },
        }
    }
}
