//! Group commit for SQLite: one task owns the write connection; stores that arrive while a
//! commit is syncing wait in its channel and share the next transaction and its one sync.
//!
//! No caller hears back before the `COMMIT` that holds its row has returned, so nothing is
//! acknowledged before it is on disk (as `synchronous` defines it). A batch that fails is rolled
//! back and every caller in it gets the error.

use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Row};
use tokio::sync::{mpsc, oneshot};

use super::{NewRecord, sql};
use crate::error::Error;
use crate::record::{DeliveryId, Stored};

/// The most stores one transaction takes (a bound on how long the write lock is held).
const MAX_BATCH: usize = 512;

/// How many stores may wait for the writer before callers wait to enqueue.
const QUEUE: usize = 4096;

enum Command {
    Store(NewRecord, oneshot::Sender<Result<Stored, Error>>),
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

    /// Stores `record` in the next group commit.
    pub async fn store(&self, record: NewRecord) -> Result<Stored, Error> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Store(record, reply))
            .await
            .map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Stops the writer after the stores already queued, and closes its connection.
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.commands.send(Command::Close(reply)).await.is_ok() {
            let _ = done.await;
        }
    }
}

async fn run(mut connection: SqliteConnection, mut commands: mpsc::Receiver<Command>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut closing = None;
    while let Some(command) = commands.recv().await {
        match command {
            Command::Store(record, reply) => batch.push((record, reply)),
            Command::Close(reply) => closing = Some(reply),
        }
        while closing.is_none() && batch.len() < MAX_BATCH {
            match commands.try_recv() {
                Ok(Command::Store(record, reply)) => batch.push((record, reply)),
                Ok(Command::Close(reply)) => closing = Some(reply),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit(&mut connection, &mut batch).await;
        }
        if let Some(reply) = closing.take() {
            commands.close();
            // Stores queued behind the close get `Closed` when their reply sender drops.
            drop(commands);
            let _ = connection.close().await;
            let _ = reply.send(());
            return;
        }
    }
    let _ = connection.close().await;
}

/// Writes `batch` in one `BEGIN IMMEDIATE … COMMIT` and answers each caller after the commit.
async fn commit(
    connection: &mut SqliteConnection,
    batch: &mut Vec<(NewRecord, oneshot::Sender<Result<Stored, Error>>)>,
) {
    match insert_all(connection, batch).await {
        Ok(outcomes) => {
            for ((_, reply), outcome) in batch.drain(..).zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(error) => {
            tracing::error!(
                %error,
                stores = batch.len(),
                "enrich-inbox: a group commit failed; its deliveries were not stored"
            );
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

async fn insert_all(
    connection: &mut SqliteConnection,
    batch: &[(NewRecord, oneshot::Sender<Result<Stored, Error>>)],
) -> Result<Vec<Stored>, Error> {
    let mut transaction = connection.begin_with("BEGIN IMMEDIATE").await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for (record, _) in batch {
        let row = sqlx::query(sql::INSERT)
            .bind(&record.key)
            .bind(record.source.as_str())
            .bind(&record.event_type)
            .bind(&record.enrichment_id)
            .bind(&record.external_id)
            .bind(record.raw_body.as_ref())
            .bind(&record.signature_header)
            .bind(record.signed_at_ms)
            .bind(record.verified)
            .bind(record.received_at_ms)
            .bind(record.received_at_ms)
            .fetch_optional(&mut *transaction)
            .await?;
        outcomes.push(match row {
            Some(row) => Stored::New(DeliveryId(row.try_get(0)?)),
            None => Stored::Duplicate,
        });
    }
    transaction.commit().await?;
    Ok(outcomes)
}
