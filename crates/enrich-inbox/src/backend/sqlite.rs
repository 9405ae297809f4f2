//! SQLite: one file, WAL, every write committed by the group writer, WAL checkpoints beside it
//! ([`checkpoint`]).

mod checkpoint;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Connection, Sqlite};

use self::checkpoint::{Checkpointer, WRITER_AUTOCHECKPOINT_PAGES};
use super::group_writer::GroupWriter;
use super::outcomes::{OutcomeGroup, RecordMany};
use super::{ConnectSettings, sql};
use crate::error::Error;
use tokio::time::Instant;

/// The schema version this build migrates to (the last of [`MIGRATIONS`]).
pub const KNOWN_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// The schema: migrations in order, each a list of statements.
const MIGRATIONS: &[(i64, &[&str])] = &[
    (
        1,
        &[
            "CREATE TABLE enrich_inbox_deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            idempotency_key TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('pending', 'processing', 'done', 'dead', 'purged')),
            event_type TEXT NOT NULL,
            enrichment_id TEXT,
            external_id TEXT,
            raw_body BLOB,
            signature_header TEXT,
            signed_at_ms INTEGER,
            verified BOOLEAN NOT NULL,
            received_at_ms INTEGER NOT NULL,
            attempts INTEGER NOT NULL,
            due_at_ms INTEGER NOT NULL,
            lease_token INTEGER,
            last_error TEXT,
            finished_at_ms INTEGER
            )",
            "CREATE INDEX enrich_inbox_due ON enrich_inbox_deliveries (due_at_ms, id)
            WHERE state IN ('pending', 'processing')",
            "CREATE INDEX enrich_inbox_finished ON enrich_inbox_deliveries (finished_at_ms)
            WHERE state IN ('done', 'purged')",
            "CREATE INDEX enrich_inbox_state ON enrich_inbox_deliveries (state)",
        ],
    ),
    (
        // The W3C `traceparent` of the span that received the delivery (feature `opentelemetry`),
        // for its processing span to join: NULL otherwise. Adding a nullable column rewrites no row.
        2,
        &["ALTER TABLE enrich_inbox_deliveries ADD COLUMN traceparent TEXT"],
    ),
    (
        // The state `quarantined`. SQLite cannot change a CHECK constraint in place: the table is
        // rebuilt (new table, copy, drop, rename, indexes again), inside the migration's
        // transaction. The AUTOINCREMENT counter moves with it, so no id is ever given twice.
        3,
        &[
            "CREATE TABLE enrich_inbox_deliveries_rebuilt (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            idempotency_key TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('pending', 'processing', 'done', 'dead', 'purged', 'quarantined')),
            event_type TEXT NOT NULL,
            enrichment_id TEXT,
            external_id TEXT,
            raw_body BLOB,
            signature_header TEXT,
            signed_at_ms INTEGER,
            verified BOOLEAN NOT NULL,
            received_at_ms INTEGER NOT NULL,
            attempts INTEGER NOT NULL,
            due_at_ms INTEGER NOT NULL,
            lease_token INTEGER,
            last_error TEXT,
            finished_at_ms INTEGER,
            traceparent TEXT
            )",
            "INSERT INTO enrich_inbox_deliveries_rebuilt (id, idempotency_key, source, state,
            event_type, enrichment_id, external_id, raw_body, signature_header, signed_at_ms,
            verified, received_at_ms, attempts, due_at_ms, lease_token, last_error, finished_at_ms,
            traceparent)
         SELECT id, idempotency_key, source, state, event_type, enrichment_id, external_id,
            raw_body, signature_header, signed_at_ms, verified, received_at_ms, attempts,
            due_at_ms, lease_token, last_error, finished_at_ms, traceparent
         FROM enrich_inbox_deliveries",
            "DELETE FROM sqlite_sequence WHERE name = 'enrich_inbox_deliveries_rebuilt'",
            "UPDATE sqlite_sequence SET name = 'enrich_inbox_deliveries_rebuilt'
         WHERE name = 'enrich_inbox_deliveries'",
            "DROP TABLE enrich_inbox_deliveries",
            "ALTER TABLE enrich_inbox_deliveries_rebuilt RENAME TO enrich_inbox_deliveries",
            "CREATE INDEX enrich_inbox_due ON enrich_inbox_deliveries (due_at_ms, id)
            WHERE state IN ('pending', 'processing')",
            "CREATE INDEX enrich_inbox_finished ON enrich_inbox_deliveries (finished_at_ms)
            WHERE state IN ('done', 'purged')",
            "CREATE INDEX enrich_inbox_state ON enrich_inbox_deliveries (state)",
        ],
    ),
];

/// The SQLite engine: a pool for reads, and the group writer (on a connection of its own) for
/// every write; outcomes are grouped into one statement before they reach it. The WAL is
/// checkpointed on the read pool, beside the writer.
#[derive(Debug)]
pub struct SqliteBackend {
    pub pool: SqlitePool,
    pub writer: GroupWriter<Sqlite>,
    pub outcomes: OutcomeGroup,
    checkpointer: Checkpointer,
    /// For an in-memory database, the connection that keeps it alive (SQLite drops a shared
    /// in-memory database with its last connection) until [`SqliteBackend::close`].
    keep_alive: tokio::sync::Mutex<Option<SqliteConnection>>,
}

impl SqliteBackend {
    /// Opens (creating if missing) the file of `url`, in WAL mode, and migrates it. A
    /// `sqlite::memory:` URL (or one with `mode=memory`) opens one in-memory database shared by
    /// every connection of this inbox, gone when it closes.
    pub async fn open(url: &str, settings: &ConnectSettings) -> Result<Self, Error> {
        let in_memory = is_in_memory(url);
        let mut options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if settings.sqlite_synchronous_full {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(settings.busy_timeout)
            // A deleted or overwritten value (a purged body, an erased person) is zeroed in
            // its page, not left readable in the file's free space.
            .pragma("secure_delete", "ON");
        if in_memory {
            // One database for all the inbox's connections, not one per connection.
            options = options.shared_cache(true);
        }
        #[cfg(test)]
        for (name, value) in &settings.sqlite_test_pragmas {
            options = options.pragma(*name, value.clone());
        }
        let connection = open_migrated(&options, settings.busy_timeout).await?;
        let keep_alive = if in_memory {
            Some(connection)
        } else {
            connection.close().await?;
            None
        };
        // The writer checkpoints inside its own commits only as a safety valve.
        let writer_options = options.clone().pragma(
            "wal_autocheckpoint",
            WRITER_AUTOCHECKPOINT_PAGES.to_string(),
        );
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(settings.busy_timeout)
            .test_before_acquire(false)
            .connect_with(writer_options)
            .await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.busy_timeout)
            .connect_with(options)
            .await?;
        let checkpointer = Checkpointer::start(pool.clone());
        let writer = GroupWriter::new(writer, "BEGIN IMMEDIATE", checkpointer.after_commit());
        Ok(Self {
            pool,
            outcomes: OutcomeGroup::new(record_many(writer.clone())),
            writer,
            checkpointer,
            keep_alive: tokio::sync::Mutex::new(keep_alive),
        })
    }

    /// Stops the writer and the checkpoints, and closes the pool.
    pub async fn close(&self) {
        self.writer.close().await;
        self.checkpointer.stop().await;
        self.pool.close().await;
        if let Some(connection) = self.keep_alive.lock().await.take() {
            let _ = connection.close().await;
        }
    }
}

/// Writes a group of outcomes as one statement ([`sql::sqlite::OUTCOMES_SQLITE`]) on the group
/// writer: the group is taken when the writer runs the statement, in a batch with whatever else
/// waited, so it holds every outcome that arrived while the writer was busy.
fn record_many(writer: GroupWriter<Sqlite>) -> RecordMany {
    Box::new(move |group| {
        let writer = writer.clone();
        Box::pin(async move {
            writer
                .write(move |connection| {
                    Box::pin(async move {
                        let recordings = group.take();
                        // SQLite binds no arrays: the group goes in as one JSON array, read by
                        // `json_each`.
                        let outcomes = serde_json::Value::Array(
                            recordings
                                .iter()
                                .map(|recording| {
                                    let outcome = &recording.outcome;
                                    serde_json::json!([
                                        recording.id,
                                        recording.token,
                                        outcome.state().as_str(),
                                        outcome.due_in_ms(),
                                        outcome.error(),
                                    ])
                                })
                                .collect(),
                        )
                        .to_string();
                        Ok(sqlx::query_scalar(sql::sqlite::OUTCOMES_SQLITE)
                            .bind(outcomes)
                            .fetch_all(connection)
                            .await?)
                    })
                })
                .await
        })
    })
}

/// Whether `url` names an in-memory database rather than a file.
fn is_in_memory(url: &str) -> bool {
    let database = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = database.split_once('?').unwrap_or((database, ""));
    path == ":memory:" || query.split('&').any(|pair| pair == "mode=memory")
}

/// A connection to the database of `options`, migrated. Processes opening one fresh file at
/// once contend for the switch to WAL, which SQLite may refuse at once with "database is
/// locked" (its busy handler does not cover it): a busy open is retried, with backoff, for up
/// to `busy_timeout`.
async fn open_migrated(
    options: &SqliteConnectOptions,
    busy_timeout: Duration,
) -> Result<SqliteConnection, Error> {
    let deadline = Instant::now() + busy_timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        let attempt = async {
            let mut connection = SqliteConnection::connect_with(options).await?;
            migrate(&mut connection).await?;
            Ok::<_, Error>(connection)
        };
        match attempt.await {
            Err(error) if is_busy(&error) && Instant::now() + pause < deadline => {
                tracing::debug!(%error, "enrich-inbox: the SQLite file is busy; opening again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            opened => return opened,
        }
    }
}

/// Whether `error` is SQLite's `SQLITE_BUSY` or `SQLITE_LOCKED` (any extended code of them).
fn is_busy(error: &Error) -> bool {
    let Error::Database(error) = error else {
        return false;
    };
    let sqlx::Error::Database(error) = &*error.0 else {
        return false;
    };
    error
        .code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

/// Applies the migrations this file lacks. `BEGIN IMMEDIATE` takes the database's write lock
/// first, so processes opening one file at once migrate one after the other, and each sees what
/// the previous one applied.
async fn migrate(connection: &mut SqliteConnection) -> Result<(), Error> {
    let mut transaction = connection.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query(sql::MIGRATIONS_TABLE)
        .execute(&mut *transaction)
        .await?;
    let current: Option<i64> = sqlx::query_scalar(sql::CURRENT_VERSION)
        .fetch_one(&mut *transaction)
        .await?;
    let current = current.unwrap_or(0);
    let known = MIGRATIONS.last().map_or(0, |(version, _)| *version);
    if current > known {
        return Err(Error::SchemaTooNew {
            found: current,
            known,
        });
    }
    for &(version, statements) in MIGRATIONS {
        if version <= current {
            continue;
        }
        for statement in statements {
            sqlx::query(statement).execute(&mut *transaction).await?;
        }
        sqlx::query(sql::sqlite::RECORD_VERSION)
            .bind(version)
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests;
