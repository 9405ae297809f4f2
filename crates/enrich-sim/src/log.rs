//! The log of every delivery attempt and its answer.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast;

/// One delivery attempt (or one delivery the fake chose to drop), and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempt {
    /// The batch the delivery belongs to.
    pub enrichment_id: String,
    /// The event type sent, such as `person.enrichment.completed`.
    pub event_type: String,
    /// The item's `externalID`, when it has one (none for the batch completion event).
    pub external_id: Option<String>,
    /// The item's position in its batch (none for the batch completion event).
    pub item: Option<usize>,
    /// Whether this is the item's first delivery or the deliberate duplicate of it.
    pub copy: DeliveryCopy,
    /// 1 for the first attempt, 2 for the first retry, …; 0 for a dropped delivery.
    pub attempt: u32,
    /// What came of it.
    pub outcome: Outcome,
}

/// Which delivery of an item an attempt belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryCopy {
    /// The item's delivery.
    Original,
    /// The deliberate second delivery of an item already delivered (same body, new signature).
    Duplicate,
}

/// What came of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The receiver answered. Only `200` counts as delivered.
    Answered {
        /// The HTTP status.
        status: u16,
        /// The `code` member of a JSON answer, such as `invalid_signature`.
        code: Option<String>,
    },
    /// The receiver did not answer within the delivery timeout.
    TimedOut,
    /// No connection could be made, or it broke.
    ConnectionFailed(String),
    /// The fake dropped this delivery on purpose (the drop rate): nothing was sent.
    Dropped,
}

impl Outcome {
    /// Whether the attempt delivered the event (answered exactly `200`).
    pub fn is_delivered(&self) -> bool {
        matches!(self, Self::Answered { status: 200, .. })
    }
}

/// One line per attempt: batch, event type, item position, attempt and outcome. The item's
/// `externalID` is left out: it came from the request, and this line goes to logs.
impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.enrichment_id, self.event_type)?;
        if let Some(item) = self.item {
            write!(f, " item {item}")?;
        }
        if self.copy == DeliveryCopy::Duplicate {
            f.write_str(" (duplicate)")?;
        }
        match &self.outcome {
            Outcome::Dropped => f.write_str(": dropped, not sent"),
            outcome => {
                write!(f, " attempt {}: ", self.attempt)?;
                match outcome {
                    Outcome::Answered { status, code } => {
                        write!(f, "{status}")?;
                        code.as_ref().map_or(Ok(()), |code| write!(f, " {code}"))
                    }
                    Outcome::TimedOut => f.write_str("timed out"),
                    Outcome::ConnectionFailed(reason) => write!(f, "connection failed: {reason}"),
                    Outcome::Dropped => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_line_names_the_item_by_position_only() {
        let attempt = Attempt {
            enrichment_id: "b-1".into(),
            event_type: "person.enrichment.completed".into(),
            external_id: Some("crm-secret".into()),
            item: Some(3),
            copy: DeliveryCopy::Duplicate,
            attempt: 2,
            outcome: Outcome::Answered {
                status: 401,
                code: Some("invalid_signature".into()),
            },
        };
        assert_eq!(
            attempt.to_string(),
            "b-1 person.enrichment.completed item 3 (duplicate) attempt 2: 401 invalid_signature"
        );
    }
}

/// The shared log: every attempt in order, and a feed of new ones.
#[derive(Clone)]
pub(crate) struct AttemptLog {
    attempts: Arc<Mutex<Vec<Attempt>>>,
    feed: broadcast::Sender<Attempt>,
}

impl AttemptLog {
    pub(crate) fn new() -> Self {
        Self {
            attempts: Arc::default(),
            feed: broadcast::channel(1024).0,
        }
    }

    pub(crate) fn record(&self, attempt: Attempt) {
        tracing::debug!(%attempt, "delivery attempt");
        // Nobody listening is fine.
        let _ = self.feed.send(attempt.clone());
        self.attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(attempt);
    }

    pub(crate) fn all(&self) -> Vec<Attempt> {
        self.attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Attempt> {
        self.feed.subscribe()
    }
}
