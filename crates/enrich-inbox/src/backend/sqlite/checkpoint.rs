//! WAL checkpoints beside the writer, not inside its commits.
//!
//! Left to its default (`wal_autocheckpoint = 1000` pages), SQLite checkpoints inside the
//! `COMMIT` of whichever connection takes the WAL past the threshold: here always the group
//! writer, so every store, claim and outcome queued behind it waits while the checkpoint copies
//! the WAL into the database file and syncs it. The writer's connection is instead opened with
//! [`WRITER_AUTOCHECKPOINT_PAGES`] (a safety valve, reached only if the checkpoints below fall
//! behind), and after its commits a [`Checkpointer`] runs `PRAGMA wal_checkpoint(PASSIVE)` on a
//! connection of the read pool, at most once per [`INTERVAL`]. A passive checkpoint takes no
//! lock the writer needs: the writer keeps committing while it runs, and starts the WAL over
//! from its beginning once a checkpoint has copied all of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::Notify;

use crate::backend::group_writer::AfterCommit;

/// The writer connection's own `wal_autocheckpoint`, in pages: past this many WAL pages it
/// checkpoints inside its commit, as SQLite does by default past 1,000.
pub(super) const WRITER_AUTOCHECKPOINT_PAGES: u32 = 8_000;

/// The shortest time between two checkpoints (commits in between share the next one).
const INTERVAL: Duration = Duration::from_millis(20);

/// Runs WAL checkpoints on a task of its own, on a connection of the read pool, when the writer
/// asks for one (see [`Checkpointer::after_commit`]).
#[derive(Debug)]
pub(super) struct Checkpointer {
    wanted: Arc<Notify>,
    stopping: Arc<AtomicBool>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Checkpointer {
    /// Starts the checkpoint task (on the current Tokio runtime), checkpointing on `pool`.
    pub(super) fn start(pool: SqlitePool) -> Self {
        let wanted = Arc::new(Notify::new());
        let stopping = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(run(pool, wanted.clone(), stopping.clone()));
        Self {
            wanted,
            stopping,
            task: tokio::sync::Mutex::new(Some(task)),
        }
    }

    /// The group writer's hook: asks for a checkpoint, without waiting for it.
    pub(super) fn after_commit(&self) -> AfterCommit {
        let wanted = self.wanted.clone();
        Box::new(move || wanted.notify_one())
    }

    /// Stops the task, after the checkpoint it is running (if any).
    pub(super) async fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.wanted.notify_one();
        if let Some(task) = self.task.lock().await.take()
            && let Err(error) = task.await
        {
            tracing::error!(%error, "enrich-inbox: the WAL checkpoint task ended abnormally");
        }
    }
}

/// The checkpoint task: one passive checkpoint per request (requests made while one runs, or
/// within [`INTERVAL`] of it, share the next), until stopped.
async fn run(pool: SqlitePool, wanted: Arc<Notify>, stopping: Arc<AtomicBool>) {
    loop {
        wanted.notified().await;
        if stopping.load(Ordering::Acquire) {
            return;
        }
        // A failed checkpoint loses nothing (the WAL holds every commit): the next one, or the
        // writer's own past its threshold, copies what this one did not.
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::debug!(%error, "enrich-inbox: a WAL checkpoint failed");
        }
        tokio::time::sleep(INTERVAL).await;
    }
}
