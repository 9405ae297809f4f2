//! Group commit: one task runs the writes, each batch on one connection of a pool of its own
//! (which reconnects after a failure); writes that arrive while a commit is syncing wait in its
//! channel and share the next transaction and its one sync.
//!
//! It runs every SQLite write of the process — stores, claims, outcomes, operations — so that
//! writes never wait on each other for SQLite's write lock (other processes on the same file take
//! turns with it through the lock and its busy timeout). It is generic over the engine, but
//! Postgres does not use it: there, statements run one by one on one connection lost to the
//! server's own grouping of concurrent commits.
//!
//! No caller hears back before the `COMMIT` that holds its write has returned, so nothing is
//! acknowledged before it is durable. A batch that fails is rolled back, and every caller in it
//! gets the error.

use std::future::Future;
use std::pin::Pin;

use sqlx::pool::{Pool, PoolConnection};
use sqlx::{Connection, Database};
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;

/// The most writes one transaction takes (a bound on how long the write lock is held).
const MAX_BATCH: usize = 512;

/// How many writes may wait for the writer before callers wait to enqueue.
const QUEUE: usize = 4096;

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

enum Command<DB: Database> {
    Write(Box<dyn Write<Conn<DB>>>),
    Close(oneshot::Sender<()>),
}

/// The handle to the writer task of engine `DB`.
pub struct GroupWriter<DB: Database> {
    commands: mpsc::Sender<Command<DB>>,
}

impl<DB: Database> std::fmt::Debug for GroupWriter<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupWriter").finish_non_exhaustive()
    }
}

impl<DB: Database> GroupWriter<DB> {
    /// Starts the writer task on the current Tokio runtime. It runs each batch on a connection of
    /// `pool` (its own: one connection is enough) in a transaction opened with `begin` (SQLite:
    /// `BEGIN IMMEDIATE`, to take the write lock first), and closes `pool` when closed.
    pub fn spawn(pool: Pool<DB>, begin: &'static str) -> Self {
        let (commands, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, begin, receiver));
        Self { commands }
    }

    /// Runs `work` in the next group commit; its result once that commit is durable. `work` must
    /// run a single statement: a write alone in its batch runs without `BEGIN`/`COMMIT`.
    pub async fn write<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn<DB>) -> BoxFuture<'c, Result<T, Error>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            work: Some(work),
            result: None,
            reply,
        };
        self.commands
            .send(Command::Write(Box::new(pending)))
            .await
            .map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Stops the writer after the writes already queued, and closes its connection.
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.commands.send(Command::Close(reply)).await.is_ok() {
            let _ = done.await;
        }
    }
}

async fn run<DB: Database>(
    pool: Pool<DB>,
    begin: &'static str,
    mut commands: mpsc::Receiver<Command<DB>>,
) {
    let mut batch: Vec<Box<dyn Write<Conn<DB>>>> = Vec::with_capacity(MAX_BATCH);
    // Kept from batch to batch; given back to the pool (which checks it) after a failure.
    let mut connection = None;
    let mut closing = None;
    while let Some(command) = commands.recv().await {
        match command {
            Command::Write(write) => batch.push(write),
            Command::Close(reply) => closing = Some(reply),
        }
        while closing.is_none() && batch.len() < MAX_BATCH {
            match commands.try_recv() {
                Ok(Command::Write(write)) => batch.push(write),
                Ok(Command::Close(reply)) => closing = Some(reply),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit(&pool, &mut connection, begin, &mut batch).await;
        }
        if let Some(reply) = closing.take() {
            // Writes queued behind the close get `Closed` when they are dropped unanswered.
            drop(commands);
            drop(connection);
            pool.close().await;
            let _ = reply.send(());
            return;
        }
    }
    drop(connection);
    pool.close().await;
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
