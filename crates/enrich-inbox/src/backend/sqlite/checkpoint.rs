//! WAL checkpoints beside the writer, not inside its commits.
//!
//! Left to its default (`wal_autocheckpoint = 1000` pages), SQLite checkpoints inside the
//! `COMMIT` of whichever connection takes the WAL past the threshold: here always the group
//! writer, so every store, claim and outcome queued behind it waits while the checkpoint copies
//! the WAL into the database file and syncs it. The writer's connection is instead opened with
//! [`WRITER_AUTOCHECKPOINT_PAGES`] (a safety valve, reached only if the checkpoints below fall
//! behind), and a [`Checkpointer`] runs `PRAGMA wal_checkpoint(PASSIVE)` on a connection of the
//! read pool once the writer's commits since the last one have written about as many pages as
//! SQLite's default threshold ([`CHECKPOINT_PAGES`]), at most once per [`INTERVAL`]. A passive
//! checkpoint takes no lock the writer needs: the writer keeps committing while it runs, and
//! starts the WAL over from its beginning once a checkpoint has copied all of it.
//!
//! Checkpoints are paced by the pages written, not by time alone: each costs a sync of the WAL
//! and one of the database file, so one every few commits would multiply the syncs of a
//! receiver storing one delivery at a time (measured: a checkpoint at most every 20 ms after
//! every commit cut lone stores to about a tenth of the floor's rate). The writer does not know
//! how many pages a commit wrote; [`pages_of`] estimates it from the writes it held.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::Notify;

use crate::backend::group_writer::AfterCommit;

/// The writer connection's own `wal_autocheckpoint`, in pages: past this many WAL pages it
/// checkpoints inside its commit, as SQLite does by default past 1,000.
pub(super) const WRITER_AUTOCHECKPOINT_PAGES: u32 = 8_000;

/// How many WAL pages (estimated) the writer's commits write before a checkpoint beside it is
/// asked for: SQLite's default `wal_autocheckpoint`.
pub(super) const CHECKPOINT_PAGES: usize = 1_000;

/// The shortest time between two checkpoints (commits in between share the next one).
const INTERVAL: Duration = Duration::from_millis(20);

/// About how many WAL pages a commit of `writes` writes (each a single statement on a row or a
/// group of rows of about 2 KB): a few pages of indexes and the table's last page for a lone
/// write, about a page per write for a large batch.
pub(super) fn pages_of(writes: usize) -> usize {
    4 + writes
}

/// Runs WAL checkpoints on a task of its own, on a connection of the read pool, when the writer
/// asks for one (see [`Checkpointer::after_commit`]).
#[derive(Debug)]
pub(super) struct Checkpointer {
    wanted: Arc<Notify>,
    /// Pages (estimated) written since the last checkpoint was asked for.
    written: Arc<AtomicUsize>,
    /// Checkpoints run so far.
    completed: Arc<AtomicU64>,
    stopping: Arc<AtomicBool>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Checkpointer {
    /// Starts the checkpoint task (on the current Tokio runtime), checkpointing on `pool`.
    pub(super) fn start(pool: SqlitePool) -> Self {
        let wanted = Arc::new(Notify::new());
        let completed = Arc::new(AtomicU64::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(run(
            pool,
            wanted.clone(),
            completed.clone(),
            stopping.clone(),
        ));
        Self {
            wanted,
            written: Arc::new(AtomicUsize::new(0)),
            completed,
            stopping,
            task: tokio::sync::Mutex::new(Some(task)),
        }
    }

    /// The group writer's hook: counts the pages a commit wrote, and asks for a checkpoint
    /// (without waiting for it) once they reach [`CHECKPOINT_PAGES`].
    pub(super) fn after_commit(&self) -> AfterCommit {
        let (wanted, written) = (self.wanted.clone(), self.written.clone());
        Box::new(move |writes| {
            let pages = pages_of(writes);
            if written.fetch_add(pages, Ordering::AcqRel) + pages >= CHECKPOINT_PAGES {
                written.store(0, Ordering::Release);
                wanted.notify_one();
            }
        })
    }

    /// How many checkpoints have run beside the writer.
    #[cfg(test)]
    pub(super) fn completed(&self) -> u64 {
        self.completed.load(Ordering::Acquire)
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
        tracing::debug!(
            checkpoints = self.completed.load(Ordering::Acquire),
            "enrich-inbox: WAL checkpoints beside the writer stopped"
        );
    }
}

/// The checkpoint task: one passive checkpoint per request (requests made while one runs, or
/// within [`INTERVAL`] of it, share the next), until stopped.
async fn run(
    pool: SqlitePool,
    wanted: Arc<Notify>,
    completed: Arc<AtomicU64>,
    stopping: Arc<AtomicBool>,
) {
    loop {
        wanted.notified().await;
        if stopping.load(Ordering::Acquire) {
            return;
        }
        // A failed checkpoint loses nothing (the WAL holds every commit): the next one, or the
        // writer's own past its threshold, copies what this one did not.
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            Ok(_) => {
                completed.fetch_add(1, Ordering::AcqRel);
            }
            Err(error) => tracing::debug!(%error, "enrich-inbox: a WAL checkpoint failed"),
        }
        tokio::time::sleep(INTERVAL).await;
    }
}
