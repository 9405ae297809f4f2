//! Group commit on a task of its own: callers queue their writes and await the answer; the
//! writer task takes everything queued (up to [`MAX_BATCH`]), commits it in one transaction
//! with one sync, and answers each caller. A write that finds the queue empty is committed at
//! once, alone; writes that arrive while a commit is syncing share the next one.
//!
//! It runs every SQLite write of the process — stores, claims, outcomes, operations — on one
//! connection of a pool of its own (which reconnects after a failure), so that writes never wait
//! on each other for SQLite's write lock (other processes on the same file take turns with it
//! through the lock and its busy timeout).
//!
//! The task owns the connection, and no caller can cancel it: a caller that gives up (its
//! request was dropped) only stops listening. Its write is skipped if its batch has not started
//! yet, else committed with the others; nobody else's answer changes. No caller hears back before
//! the `COMMIT` that holds its write has returned, so nothing is acknowledged before it is
//! durable. A batch that fails is rolled back, every caller in it gets the error, and the
//! connection is closed rather than reused (the driver's idea of the transaction may no longer
//! be the database's: SQLite ends a transaction by itself on a full disk or an I/O error); the
//! next batch opens a fresh one. A lone write runs without `BEGIN`/`COMMIT` only on a connection
//! that is not inside a transaction.

use sqlx::pool::{Pool, PoolConnection};
use sqlx::{Connection, Database};
use tokio::sync::{mpsc, oneshot};

use super::BoxFuture;
use crate::error::Error;

/// The most writes one transaction takes (a bound on how long the write lock is held).
const MAX_BATCH: usize = 512;

/// One write waiting for its batch: it runs inside the batch's transaction, and hears the
/// outcome once the transaction has committed (or failed).
trait Write<C>: Send {
    /// Whether the caller still waits for the answer (a write nobody waits for is skipped).
    fn is_awaited(&self) -> bool;

    /// Runs the write's statement; an error fails (rolls back) the whole batch.
    fn run<'c>(&'c mut self, connection: &'c mut C) -> BoxFuture<'c, Result<(), Error>>;

    /// Answers the caller: its result if the batch committed, else the batch's error.
    fn finish(self: Box<Self>, committed: Result<(), Error>);
}

struct Pending<T, F> {
    work: Option<F>,
    result: Option<Result<T, Error>>,
    reply: oneshot::Sender<Result<T, Error>>,
}

impl<C, T, F> Write<C> for Pending<T, F>
where
    C: Send,
    T: Send,
    F: for<'c> FnOnce(&'c mut C) -> BoxFuture<'c, Result<T, Error>> + Send,
{
    fn is_awaited(&self) -> bool {
        !self.reply.is_closed()
    }

    fn run<'c>(&'c mut self, connection: &'c mut C) -> BoxFuture<'c, Result<(), Error>> {
        Box::pin(async move {
            let Some(work) = self.work.take() else {
                return Ok(());
            };
            let result = work(connection).await;
            let outcome = match &result {
                Ok(_) => Ok(()),
                Err(error) => Err(error.clone()),
            };
            self.result = Some(result);
            outcome
        })
    }

    fn finish(self: Box<Self>, committed: Result<(), Error>) {
        let this = *self;
        let answer = match committed {
            Err(error) => Err(error),
            Ok(()) => this.result.unwrap_or(Err(Error::Closed)),
        };
        // A caller that stopped listening needs no answer.
        let _ = this.reply.send(answer);
    }
}

/// The connection type of engine `DB`.
type Conn<DB> = <DB as Database>::Connection;

/// A queued write of engine `DB`.
type Queued<DB> = Box<dyn Write<Conn<DB>>>;

/// What clones of one writer share.
struct Shared<DB: Database> {
    /// The queue into the writer task; `None` once closing.
    queue: std::sync::Mutex<Option<mpsc::UnboundedSender<Queued<DB>>>>,
    /// The writer task, until [`GroupWriter::close`] has waited for it.
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The group writer of engine `DB`. Cloning is cheap.
pub struct GroupWriter<DB: Database> {
    shared: std::sync::Arc<Shared<DB>>,
}

impl<DB: Database> Clone for GroupWriter<DB> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<DB: Database> std::fmt::Debug for GroupWriter<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupWriter").finish_non_exhaustive()
    }
}

impl<DB: Database> GroupWriter<DB> {
    /// Starts the writer task (on the current Tokio runtime), which runs each batch on a
    /// connection of `pool` (its own: one connection is enough) in a transaction opened with
    /// `begin` (SQLite: `BEGIN IMMEDIATE`, to take the write lock first).
    pub fn new(pool: Pool<DB>, begin: &'static str) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(pool, begin, receiver));
        Self {
            shared: std::sync::Arc::new(Shared {
                queue: std::sync::Mutex::new(Some(sender)),
                task: tokio::sync::Mutex::new(Some(task)),
            }),
        }
    }

    /// Runs `work` in the next group commit; its result once that commit is durable. `work` must
    /// run a single statement: a write alone in its batch runs without `BEGIN`/`COMMIT`.
    ///
    /// Dropping the returned future only stops waiting: the write is skipped if its batch has not
    /// started, else committed with the others.
    pub async fn write<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn<DB>) -> BoxFuture<'c, Result<T, Error>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let pending: Queued<DB> = Box::new(Pending {
            work: Some(work),
            result: None,
            reply,
        });
        {
            let queue = self.queue();
            let Some(sender) = queue.as_ref() else {
                return Err(Error::Closed);
            };
            // The task is gone only when the runtime that ran it shut down.
            if sender.send(pending).is_err() {
                return Err(Error::Closed);
            }
        }
        // Dropped unanswered only if the writer task itself was dropped mid-batch.
        answer.await.map_err(|_| Error::Interrupted)?
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Option<mpsc::UnboundedSender<Queued<DB>>>> {
        // A panic while holding this lock cannot leave the queue half-changed.
        self.shared
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Commits the writes already queued, then closes the connection and its pool; writes after
    /// this fail with [`Error::Closed`].
    pub async fn close(&self) {
        drop(self.queue().take());
        let mut task = self.shared.task.lock().await;
        if let Some(task) = task.take()
            && let Err(error) = task.await
        {
            tracing::error!(%error, "enrich-inbox: the group writer task ended abnormally");
        }
    }
}

/// The writer task: commits what is queued, batch after batch, until the queue is closed and
/// empty; then closes the pool.
async fn run<DB: Database>(
    pool: Pool<DB>,
    begin: &'static str,
    mut queue: mpsc::UnboundedReceiver<Queued<DB>>,
) {
    let mut connection = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        batch.retain(|write| write.is_awaited());
        if !batch.is_empty() {
            // The group writer serves the SQLite engine only.
            crate::metrics::committed("sqlite", batch.len());
            commit(&pool, &mut connection, begin, &mut batch).await;
        }
        batch.clear();
    }
    drop(connection);
    pool.close().await;
}

/// Runs `batch` in one transaction (a lone write in autocommit) and answers each caller after
/// the commit. After a failure the connection is closed, not reused.
async fn commit<DB: Database>(
    pool: &Pool<DB>,
    connection: &mut Option<PoolConnection<DB>>,
    begin: &'static str,
    batch: &mut Vec<Queued<DB>>,
) {
    let committed = match writable(pool, connection).await {
        Ok(held) => run_all(held, begin, batch).await,
        Err(error) => Err(error),
    };
    if let Err(error) = &committed {
        tracing::error!(
            %error,
            writes = batch.len(),
            "enrich-inbox: a group commit failed and was rolled back"
        );
        discard(connection).await;
    }
    for write in batch.drain(..) {
        write.finish(committed.clone());
    }
}

/// The writer's connection, outside any transaction: the one held, else a fresh one from the
/// pool. A connection found inside a transaction is closed, never written on: a write there
/// would join a transaction nobody commits.
async fn writable<'c, DB: Database>(
    pool: &Pool<DB>,
    connection: &'c mut Option<PoolConnection<DB>>,
) -> Result<&'c mut PoolConnection<DB>, Error> {
    if connection
        .as_ref()
        .is_some_and(|held| held.is_in_transaction())
    {
        tracing::warn!(
            "enrich-inbox: the writer connection was left inside a transaction; replaced"
        );
        discard(connection).await;
    }
    if connection.is_none() {
        let acquired = pool.acquire().await?;
        if acquired.is_in_transaction() {
            let _ = acquired.close().await;
            return Err(sqlx::Error::Protocol(
                "the pool handed the writer a connection inside a transaction".to_owned(),
            )
            .into());
        }
        *connection = Some(acquired);
    }
    connection
        .as_mut()
        .ok_or_else(|| sqlx::Error::PoolClosed.into())
}

/// Closes the writer's connection (its transaction state is unknown), so that the next batch
/// opens a fresh one.
async fn discard<DB: Database>(connection: &mut Option<PoolConnection<DB>>) {
    if let Some(failed) = connection.take()
        && let Err(error) = failed.close().await
    {
        tracing::warn!(%error, "enrich-inbox: closing the writer connection failed");
    }
}

async fn run_all<DB: Database>(
    connection: &mut PoolConnection<DB>,
    begin: &'static str,
    batch: &mut [Queued<DB>],
) -> Result<(), Error> {
    // Every write is a single statement, so a lone write is its own transaction: autocommit
    // saves the round trips of `BEGIN` and `COMMIT` (the connection is outside any transaction,
    // see `writable`).
    if let [write] = batch {
        return write.run(connection).await;
    }
    let mut transaction = connection.begin_with(begin).await?;
    for write in batch.iter_mut() {
        // On an error the transaction is dropped, which rolls it back.
        write.run(&mut transaction).await?;
    }
    transaction.commit().await?;
    Ok(())
}
