//! Concurrent calls of one statement grouped into one statement and one commit, on a task of
//! their own.
//!
//! A caller hands its item to the group's task and waits for its answer, which comes only after
//! the commit that holds it. The task takes everything waiting (at most [`MAX_GROUP`]) and runs
//! it as one group on a task of the group's own, so that no caller can cancel a commit: a caller
//! that gives up (its request was dropped) only stops listening. Its item is left out if its
//! group has not started yet, else committed with the others; nobody else's answer changes.
//!
//! Up to `in_flight` groups run at once, each on a pooled connection of its own: while they
//! commit, what arrives waits and forms the next group. A lone item finds no group running and
//! goes at once (no wait for company); several groups in flight keep the server's own grouping
//! of WAL flushes (across connections) at work when only a few callers wait at a time. A group
//! that fails answers every caller in it with the error.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use super::BoxFuture;
use crate::error::Error;

/// At most this many items in one group (a bound on one statement's size).
pub const MAX_GROUP: usize = 512;

/// Runs one group: a result per item, in the items' order (each caller gets its own, so that
/// one item's failure can be its alone), or one error for the whole group.
pub type RunMany<I, A> =
    Arc<dyn Fn(Vec<I>) -> BoxFuture<'static, Result<Vec<Result<A, Error>>, Error>> + Send + Sync>;

/// One item waiting, and where its answer goes.
struct Waiting<I, A> {
    item: I,
    answer: oneshot::Sender<Result<A, Error>>,
}

/// The queue into the group's task, and the task, until [`Group::close`].
pub struct Group<I, A> {
    queue: std::sync::Mutex<Option<mpsc::UnboundedSender<Waiting<I, A>>>>,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

impl<I, A> std::fmt::Debug for Group<I, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group").finish_non_exhaustive()
    }
}

impl<I: Send + 'static, A: Send + 'static> Group<I, A> {
    /// Starts the group's task (on the current Tokio runtime): each group runs with `run_many`,
    /// at most `in_flight` (at least 1) at once.
    pub fn start(in_flight: usize, run_many: RunMany<I, A>) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(in_flight.max(1), run_many, waiting));
        Self {
            queue: std::sync::Mutex::new(Some(queue)),
            task: tokio::sync::Mutex::new(Some(task)),
        }
    }

    /// Runs `item` in the next group; its answer once that group has committed.
    ///
    /// Dropping the returned future only stops waiting: the item is left out if its group has
    /// not started, else committed with the others.
    pub async fn call(&self, item: I) -> Result<A, Error> {
        let (answer, answered) = oneshot::channel();
        {
            let queue = self
                .queue
                .lock()
                // A panic while holding this lock cannot leave the queue half-changed.
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some(sender) = queue.as_ref() else {
                return Err(Error::Closed);
            };
            // The task is gone only when the runtime that ran it shut down.
            sender
                .send(Waiting { item, answer })
                .map_err(|_| Error::Closed)?;
        }
        // Dropped unanswered only if the group's task was dropped mid-group (its runtime shut
        // down): the commit may or may not have happened.
        answered.await.unwrap_or(Err(Error::Interrupted))
    }

    /// Runs the groups already waiting and waits for every group in flight; calls after this
    /// fail with [`Error::Closed`].
    pub async fn close(&self) {
        drop(
            self.queue
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take(),
        );
        if let Some(task) = self.task.lock().await.take()
            && let Err(error) = task.await
        {
            tracing::error!(%error, "enrich-inbox: a group task ended abnormally");
        }
    }
}

/// The group's task: forms groups of what waits, runs up to `in_flight` of them at once, until
/// the queue is closed and empty and every group has answered.
async fn run<I: Send + 'static, A: Send + 'static>(
    in_flight: usize,
    run_many: RunMany<I, A>,
    mut queue: mpsc::UnboundedReceiver<Waiting<I, A>>,
) {
    let mut running = JoinSet::new();
    let mut group = Vec::with_capacity(MAX_GROUP);
    loop {
        // `len` counts groups that finished but were not joined yet: joining them is immediate.
        while running.len() >= in_flight {
            reap(running.join_next().await);
        }
        while let Some(finished) = running.try_join_next() {
            reap(Some(finished));
        }
        if queue.recv_many(&mut group, MAX_GROUP).await == 0 {
            break;
        }
        // A caller that stopped waiting before its group started is left out.
        group.retain(|waiting: &Waiting<I, A>| !waiting.answer.is_closed());
        if group.is_empty() {
            continue;
        }
        let taken = std::mem::replace(&mut group, Vec::with_capacity(MAX_GROUP));
        running.spawn(answer_all(run_many.clone(), taken));
    }
    while let Some(finished) = running.join_next().await {
        reap(Some(finished));
    }
}

/// Logs a group task that panicked (its callers got [`Error::Interrupted`]).
fn reap(finished: Option<Result<(), tokio::task::JoinError>>) {
    if let Some(Err(error)) = finished {
        tracing::error!(%error, "enrich-inbox: a group ended abnormally");
    }
}

/// Runs one group and answers each of its callers.
async fn answer_all<I, A>(run_many: RunMany<I, A>, group: Vec<Waiting<I, A>>) {
    let (items, answers): (Vec<I>, Vec<_>) = group
        .into_iter()
        .map(|waiting| (waiting.item, waiting.answer))
        .unzip();
    let count = items.len();
    // Groups serve the Postgres engine only (its stores, one statement and one commit each).
    crate::metrics::committed("postgres", count);
    let results = match run_many(items).await {
        Ok(results) if results.len() == count => results,
        Ok(results) => {
            let error = Error::from(sqlx::Error::Protocol(format!(
                "a group of {count} got {} answers",
                results.len()
            )));
            (0..count).map(|_| Err(error.clone())).collect()
        }
        Err(error) => {
            tracing::error!(%error, items = count, "enrich-inbox: a group failed");
            (0..count).map(|_| Err(error.clone())).collect()
        }
    };
    for (answer, result) in answers.into_iter().zip(results) {
        // A caller that stopped listening needs no answer.
        let _ = answer.send(result);
    }
}
