//! Outcomes recorded in groups, as River's completer does: every outcome waiting — a success, a
//! retry or a dead letter, from any worker of the inbox — is written by one statement in one
//! commit (one sync), instead of a statement and a commit each.
//!
//! A caller hands its outcome to the group's task and waits for the answer, which comes only
//! after the commit that recorded it: "done" is never answered before it is durable, so the
//! worker's promise that a success is never thrown away holds. A group that fails answers every
//! caller in it with the error (each retries, as after a single statement; the retries meet in
//! the next group). Each outcome applies only while its claim still holds the delivery, so one
//! group may answer `true` to some callers and `false` (the claim was lost) to others. The group
//! is whatever waited while the previous statement ran (at most [`MAX_GROUP`]): a lone outcome
//! pays no wait.

use std::collections::HashSet;

use tokio::sync::{mpsc, oneshot};

use super::BoxFuture;
use crate::error::Error;
use crate::record::State;

/// At most this many outcomes in one statement.
pub const MAX_GROUP: usize = 512;

/// What a run of the handler (or a claimed row that cannot run) ends in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Processed: `done`.
    Done,
    /// A failed attempt to try again: `pending`, due `after_ms` from the database's now.
    Retry {
        /// The wait before the next attempt, in milliseconds.
        after_ms: i64,
        /// Why the attempt failed.
        error: String,
    },
    /// A failed last attempt, or a row that cannot be processed: a dead letter.
    Dead {
        /// Why.
        error: String,
    },
}

impl Outcome {
    /// The state the delivery ends in.
    pub fn state(&self) -> State {
        match self {
            Self::Done => State::Done,
            Self::Retry { .. } => State::Pending,
            Self::Dead { .. } => State::Dead,
        }
    }

    /// The delivery's next due time, in milliseconds from the database's now (ignored for
    /// [`Outcome::Done`]).
    pub fn due_in_ms(&self) -> i64 {
        match self {
            Self::Retry { after_ms, .. } => *after_ms,
            Self::Done | Self::Dead { .. } => 0,
        }
    }

    /// The error kept in `last_error` (none for a success).
    pub fn error(&self) -> Option<&str> {
        match self {
            Self::Done => None,
            Self::Retry { error, .. } | Self::Dead { error } => Some(error),
        }
    }
}

/// One outcome to record: the delivery, the token of the claim it was run under, the outcome.
#[derive(Debug, Clone)]
pub struct Recording {
    pub id: i64,
    pub token: i64,
    pub outcome: Outcome,
}

/// Writes a group of outcomes in one statement and one commit; the ids it changed (those whose
/// claim still held them).
pub type RecordMany =
    Box<dyn Fn(Vec<Recording>) -> BoxFuture<'static, Result<Vec<i64>, Error>> + Send + Sync>;

/// One outcome waiting, and where its answer goes.
type Waiting = (Recording, oneshot::Sender<Result<bool, Error>>);

/// The handle of the group's task; the task ends when the handle is dropped.
pub struct OutcomeGroup {
    queue: mpsc::UnboundedSender<Waiting>,
}

impl std::fmt::Debug for OutcomeGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutcomeGroup").finish_non_exhaustive()
    }
}

impl OutcomeGroup {
    /// Starts the group's task (on the current Tokio runtime), which writes each group with
    /// `record_many`.
    pub fn start(record_many: RecordMany) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(run(record_many, waiting));
        Self { queue }
    }

    /// Records `outcome` for delivery `id` while claim `token` still holds it; `false` when it
    /// no longer does. Answered once committed.
    pub async fn record(&self, id: i64, token: i64, outcome: Outcome) -> Result<bool, Error> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send((Recording { id, token, outcome }, answer))
            .map_err(|_| Error::Closed)?;
        // The task answers every outcome it took; a dropped answer means it stopped.
        answered.await.unwrap_or(Err(Error::Closed))
    }
}

async fn run(record_many: RecordMany, mut waiting: mpsc::UnboundedReceiver<Waiting>) {
    let mut group: Vec<Waiting> = Vec::with_capacity(MAX_GROUP);
    while waiting.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (recordings, answers): (Vec<Recording>, Vec<_>) = group
            .drain(..)
            .map(|(recording, answer)| {
                let id = recording.id;
                (recording, (id, answer))
            })
            .unzip();
        let recorded = record_many(recordings)
            .await
            .map(|ids| ids.into_iter().collect::<HashSet<i64>>());
        for (id, answer) in answers {
            // A caller that stopped waiting needs no answer.
            let _ = answer.send(match &recorded {
                Ok(ids) => Ok(ids.contains(&id)),
                Err(error) => Err(error.clone()),
            });
        }
    }
}

#[cfg(test)]
mod tests;
