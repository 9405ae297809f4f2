//! Group commit: writes queue up, and whichever caller holds the writer's connection commits
//! everything queued in one transaction with one sync. A caller that finds the connection free
//! commits its own write at once (no hand-over to another task); callers that arrive while a
//! commit is syncing queue up, and the first of them to get the connection commits them all.
//!
//! It runs every SQLite write of the process — stores, claims, outcomes, operations — on one
//! connection of a pool of its own (which reconnects after a failure), so that writes never wait
//! on each other for SQLite's write lock (other processes on the same file take turns with it
//! through the lock and its busy timeout).
//!
//! No caller hears back before the `COMMIT` that holds its write has returned, so nothing is
//! acknowledged before it is durable. A batch that fails is rolled back, and every caller in it
//! gets the error. A caller cancelled while committing for others (its request was dropped)
//! leaves them [`Error::Interrupted`]: not acknowledged, maybe stored.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use sqlx::pool::{Pool, PoolConnection};
use sqlx::{Connection, Database};
use tokio::sync::oneshot;

use crate::error::Error;

/// The most writes one transaction takes (a bound on how long the write lock is held).
const MAX_BATCH: usize = 512;

/// A boxed `Send` future borrowing the connection.
pub type BoxFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// One write waiting for its batch: it runs inside the batch's transaction, and hears the
/// outcome once the transaction has committed (or failed).
trait Write<C>: Send {
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
        let _ = this.reply.send(answer);
    }
}

/// The connection type of engine `DB`.
type Conn<DB> = <DB as Database>::Connection;

/// Writes waiting for a commit.
type Queue<DB> = Mutex<Vec<Box<dyn Write<Conn<DB>>>>>;

/// The writer's connection, held by whoever is committing.
struct Slot<DB: Database> {
    connection: Option<PoolConnection<DB>>,
    closed: bool,
}

struct Shared<DB: Database> {
    queue: Queue<DB>,
    slot: tokio::sync::Mutex<Slot<DB>>,
    pool: Pool<DB>,
    begin: &'static str,
}

/// The group writer of engine `DB`. Cloning is cheap.
pub struct GroupWriter<DB: Database> {
    shared: Arc<Shared<DB>>,
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
    /// A writer that runs each batch on a connection of `pool` (its own: one connection is
    /// enough) in a transaction opened with `begin` (SQLite: `BEGIN IMMEDIATE`, to take the
    /// write lock first).
    pub fn new(pool: Pool<DB>, begin: &'static str) -> Self {
        Self {
            shared: Arc::new(Shared {
                queue: Mutex::new(Vec::new()),
                slot: tokio::sync::Mutex::new(Slot {
                    connection: None,
                    closed: false,
                }),
                pool,
                begin,
            }),
        }
    }

    /// Runs `work` in the next group commit; its result once that commit is durable. `work` must
    /// run a single statement: a write alone in its batch runs without `BEGIN`/`COMMIT`.
    pub async fn write<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn<DB>) -> BoxFuture<'c, Result<T, Error>> + Send + 'static,
    {
        let (reply, mut answer) = oneshot::channel();
        let pending = Pending {
            work: Some(work),
            result: None,
            reply,
        };
        self.queue().push(Box::new(pending));
        loop {
            tokio::select! {
                biased;
                answered = &mut answer => return answered.map_err(|_| Error::Interrupted)?,
                mut slot = self.shared.slot.lock() => {
                    let mut batch: Vec<_> = {
                        let mut queue = self.queue();
                        let take = queue.len().min(MAX_BATCH);
                        queue.drain(..take).collect()
                    };
                    if slot.closed {
                        for write in batch {
                            write.finish(Err(Error::Closed));
                        }
                    } else if !batch.is_empty() {
                        let Slot { connection, .. } = &mut *slot;
                        commit(&self.shared.pool, connection, self.shared.begin, &mut batch).await;
                    }
                    // Our write was in this batch or an earlier one: its answer is there now.
                }
            }
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<Box<dyn Write<Conn<DB>>>>> {
        // A panic while holding this lock cannot leave the queue half-changed.
        self.shared
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for the commit in progress, then closes the connection and its pool; writes after
    /// this fail with [`Error::Closed`].
    pub async fn close(&self) {
        let mut slot = self.shared.slot.lock().await;
        slot.closed = true;
        slot.connection = None;
        self.shared.pool.close().await;
        for write in self.queue().drain(..) {
            write.finish(Err(Error::Closed));
        }
    }
}

/// Runs `batch` in one transaction (a lone write in autocommit) and answers each caller after
/// the commit.
async fn commit<DB: Database>(
    pool: &Pool<DB>,
    connection: &mut Option<PoolConnection<DB>>,
    begin: &'static str,
    batch: &mut Vec<Box<dyn Write<Conn<DB>>>>,
) {
    let committed = match connection {
        Some(held) => run_all(held, begin, batch).await,
        None => match pool.acquire().await {
            Ok(acquired) => run_all(connection.insert(acquired), begin, batch).await,
            Err(error) => Err(error.into()),
        },
    };
    if let Err(error) = &committed {
        tracing::error!(
            %error,
            writes = batch.len(),
            "enrich-inbox: a group commit failed and was rolled back"
        );
        // Given back to the pool, which checks it before handing it out again.
        *connection = None;
    }
    for write in batch.drain(..) {
        write.finish(committed.clone());
    }
}

async fn run_all<DB: Database>(
    connection: &mut PoolConnection<DB>,
    begin: &'static str,
    batch: &mut [Box<dyn Write<Conn<DB>>>],
) -> Result<(), Error> {
    // Every write is a single statement, so a lone write is its own transaction: autocommit
    // saves the round trips of `BEGIN` and `COMMIT`.
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
