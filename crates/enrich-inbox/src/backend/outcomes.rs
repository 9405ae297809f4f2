//! Outcomes recorded in groups, as River's completer does: every outcome waiting — a success, a
//! retry or a dead letter, from any worker of the inbox — is written by one statement in one
//! commit (one sync), instead of a statement and a commit each.
//!
//! A caller queues its outcome and waits for the answer, which comes only after the commit that
//! recorded it: "done" is never answered before it is durable, so the worker's promise that a
//! success is never thrown away holds. The group is taken from the queue at the last moment, when
//! its statement is about to run (on SQLite, inside the group writer's next batch, so that the
//! outcomes that arrived while the writer was busy — committing a claim, say — all go in one
//! statement, in the same commit as whatever else waited): a lone outcome pays no wait, and a
//! busy database gets bigger groups. Each outcome applies only while its claim still holds the
//! delivery, so one group may answer `true` to some callers and `false` (the claim was lost) to
//! others. A group that fails answers every caller in it with the error (each retries, as after a
//! single statement; the retries meet in a later group).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

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

/// Writes, in one statement and one commit, the group it takes with [`Group::take`] when the
/// statement is about to run; the ids it changed (those whose claim still held them).
pub type RecordMany =
    Box<dyn Fn(Group) -> BoxFuture<'static, Result<Vec<i64>, Error>> + Send + Sync>;

/// Where a caller's answer goes.
type Answer = oneshot::Sender<Result<bool, Error>>;

/// The outcomes waiting, and those taken by the statement in flight.
#[derive(Default)]
struct Queue {
    waiting: Vec<(Recording, Answer)>,
    /// Taken by the statement running now: answered once it has committed or failed.
    taken: Vec<(i64, Answer)>,
    /// Whether a flush (the task that runs the statements) is under way.
    flushing: bool,
}

/// The handle a [`RecordMany`] takes its group with.
pub struct Group(Arc<Mutex<Queue>>);

impl Group {
    /// Takes the outcomes waiting now (at most [`MAX_GROUP`]) for the statement about to run.
    pub fn take(&self) -> Vec<Recording> {
        let mut queue = lock(&self.0);
        let count = queue.waiting.len().min(MAX_GROUP);
        let taken: Vec<(Recording, Answer)> = queue.waiting.drain(..count).collect();
        let mut recordings = Vec::with_capacity(count);
        for (recording, answer) in taken {
            queue.taken.push((recording.id, answer));
            recordings.push(recording);
        }
        recordings
    }
}

fn lock(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    // Every change to the queue is a whole push or drain: a panic elsewhere cannot leave it
    // half-changed.
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The outcome group of an inbox. Its flush runs on a task of its own while outcomes wait, so
/// that no caller's cancellation can stop a statement or lose an answer.
pub struct OutcomeGroup {
    queue: Arc<Mutex<Queue>>,
    record_many: Arc<RecordMany>,
}

impl std::fmt::Debug for OutcomeGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutcomeGroup").finish_non_exhaustive()
    }
}

impl OutcomeGroup {
    /// A group whose statements `record_many` writes (on the Tokio runtime of the first
    /// outcome's caller).
    pub fn new(record_many: RecordMany) -> Self {
        Self {
            queue: Arc::default(),
            record_many: Arc::new(record_many),
        }
    }

    /// Records `outcome` for delivery `id` while claim `token` still holds it; `false` when it
    /// no longer does. Answered once committed.
    pub async fn record(&self, id: i64, token: i64, outcome: Outcome) -> Result<bool, Error> {
        let (answer, answered) = oneshot::channel();
        let start_flush = {
            let mut queue = lock(&self.queue);
            queue
                .waiting
                .push((Recording { id, token, outcome }, answer));
            !std::mem::replace(&mut queue.flushing, true)
        };
        if start_flush {
            tokio::spawn(flush(self.queue.clone(), self.record_many.clone()));
        }
        // The flush answers every outcome queued; a dropped answer means its task was stopped
        // (the runtime is shutting down).
        answered.await.unwrap_or(Err(Error::Closed))
    }
}

/// Runs statements until no outcome waits: each takes what waits when it is about to run.
async fn flush(queue: Arc<Mutex<Queue>>, record_many: Arc<RecordMany>) {
    loop {
        let recorded = record_many(Group(queue.clone()))
            .await
            .map(|ids| ids.into_iter().collect::<HashSet<i64>>());
        let (answers, done) = {
            let mut queue = lock(&queue);
            let mut answers: Vec<(i64, Answer)> = std::mem::take(&mut queue.taken);
            // A statement that failed before taking its group (the batch it was in failed
            // first, or the inbox closed) fails every outcome waiting, so that a lasting failure
            // cannot keep the flush going round; each caller retries, or stops on `Closed`.
            let fails_all = match &recorded {
                Err(Error::Closed) => true,
                Err(_) => answers.is_empty(),
                Ok(_) => false,
            };
            if fails_all {
                answers.extend(
                    queue
                        .waiting
                        .drain(..)
                        .map(|(recording, answer)| (recording.id, answer)),
                );
            }
            let done = queue.waiting.is_empty();
            if done {
                queue.flushing = false;
            }
            (answers, done)
        };
        for (id, answer) in answers {
            // A caller that stopped waiting needs no answer.
            let _ = answer.send(match &recorded {
                Ok(ids) => Ok(ids.contains(&id)),
                Err(error) => Err(error.clone()),
            });
        }
        if done {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
