//! The outcome of verifying a stored delivery again.

use enrich_webhook::{SignatureError, SignatureTimestamp};

/// What [`Inbox::verify`](crate::Inbox::verify) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verification {
    /// The stored body and signature verify under one of the keys.
    Genuine {
        /// When the sender signed it.
        signed_at: SignatureTimestamp,
    },
    /// They do not (another secret, or the stored bytes changed).
    Invalid(SignatureError),
    /// The delivery carries no signature (it was reconciled, or received with verification
    /// skipped and no signature header).
    Unsigned,
    /// The body was purged; nothing is left to verify.
    BodyPurged,
}
