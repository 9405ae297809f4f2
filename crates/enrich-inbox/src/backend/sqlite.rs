//! SQLite: one file, WAL, every write committed by the group writer.

use std::str::FromStr;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Connection, Sqlite};

use super::group_writer::GroupWriter;
use super::{ConnectSettings, sql};
use crate::error::Error;

/// The schema: migrations in order, each a list of statements.
const MIGRATIONS: &[(i64, &[&str])] = &[(
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
)];

/// The SQLite engine: a pool for reads, and the group writer (on a connection of its own) for
/// every write.
#[derive(Debug)]
pub struct SqliteBackend {
    pub pool: SqlitePool,
    pub writer: GroupWriter<Sqlite>,
}

impl SqliteBackend {
    /// Opens (creating if missing) the file of `url`, in WAL mode, and migrates it.
    pub async fn open(url: &str, settings: &ConnectSettings) -> Result<Self, Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if settings.sqlite_synchronous_full {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(settings.busy_timeout);
        let mut connection = SqliteConnection::connect_with(&options).await?;
        migrate(&mut connection).await?;
        connection.close().await?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections)
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            writer: GroupWriter::new(writer, "BEGIN IMMEDIATE"),
        })
    }

    /// Stops the writer and closes the pool.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
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
