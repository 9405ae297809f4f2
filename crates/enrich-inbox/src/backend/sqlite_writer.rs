//! Group commit for SQLite: one task owns the write connection and runs every write of this
//! process — stores, claims, outcomes, operations. Writes that arrive while a commit is syncing
//! wait in its channel and share the next transaction and its one sync.
//!
//! No caller hears back before the `COMMIT` that holds its write has returned, so nothing is
//! acknowledged before it is on disk (as `synchronous` defines it). A batch that fails is rolled
//! back, and every caller in it gets the error. Within one process, writes never wait on each
//! other for SQLite's write lock; other processes on the same file take turns with the writer
//! through the lock and its busy timeout.

use std::future::Future;
use std::pin::Pin;

use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;
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
trait Write: Send {
    /// Runs the write's statements; an error fails (rolls back) the whole batch.
    fn run<'c>(
        &'c mut self,
        connection: &'c mut SqliteConnection,
    ) -> BoxFuture<'c, Result<(), Error>>;

    /// Answers the caller: its result if the batch committed, else the batch's error.
    fn finish(self: Box<Self>, committed: Result<(), Error>);
}

struct Pending<T, F> {
    work: Option<F>,
    result: Option<Result<T, Error>>,
    reply: oneshot::Sender<Result<T, Error>>,
}

impl<T, F> Write for Pending<T, F>
where
    T: Send,
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, Error>> + Send,
{
    fn run<'c>(
        &'c mut self,
        connection: &'c mut SqliteConnection,
    ) -> BoxFuture<'c, Result<(), Error>> {
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

enum Command {
    Write(Box<dyn Write>),
    Close(oneshot::Sender<()>),
}

/// The handle to the writer task.
#[derive(Debug, Clone)]
pub struct GroupWriter {
    commands: mpsc::Sender<Command>,
}

impl GroupWriter {
    /// Starts the writer task on the current Tokio runtime; it owns `connection`.
    pub fn spawn(connection: SqliteConnection) -> Self {
        let (commands, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(run(connection, receiver));
        Self { commands }
    }

    /// Runs `work` in the next group commit; its result once that commit is durable. `work`
    /// must run a single statement: a write alone in its batch runs without `BEGIN`/`COMMIT`.
    pub async fn write<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, Error>>
            + Send
            + 'static,
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

async fn run(mut connection: SqliteConnection, mut commands: mpsc::Receiver<Command>) {
    let mut batch: Vec<Box<dyn Write>> = Vec::with_capacity(MAX_BATCH);
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
            commit(&mut connection, &mut batch).await;
        }
        if let Some(reply) = closing.take() {
            // Writes queued behind the close get `Closed` when they are dropped unanswered.
            drop(commands);
            let _ = connection.close().await;
            let _ = reply.send(());
            return;
        }
    }
    let _ = connection.close().await;
}

/// Runs `batch` in one `BEGIN IMMEDIATE … COMMIT` (a lone write in autocommit) and answers each
/// caller after the commit.
async fn commit(connection: &mut SqliteConnection, batch: &mut Vec<Box<dyn Write>>) {
    let committed = run_all(connection, batch).await;
    if let Err(error) = &committed {
        tracing::error!(
            %error,
            writes = batch.len(),
            "enrich-inbox: a group commit failed and was rolled back"
        );
    }
    for write in batch.drain(..) {
        write.finish(committed.clone());
    }
}

async fn run_all(
    connection: &mut SqliteConnection,
    batch: &mut [Box<dyn Write>],
) -> Result<(), Error> {
    // Every write is a single statement, so a lone write is its own transaction: autocommit
    // saves the two extra round trips of `BEGIN` and `COMMIT` to SQLite's thread.
    if let [write] = batch {
        return write.run(connection).await;
    }
    let mut transaction = connection.begin_with("BEGIN IMMEDIATE").await?;
    for write in batch.iter_mut() {
        // On an error the transaction is dropped, which rolls it back.
        write.run(&mut transaction).await?;
    }
    transaction.commit().await?;
    Ok(())
}
