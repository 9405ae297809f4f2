//! Postgres: many replicas on one database; each store is its own durable commit.

use sqlx::Connection;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::outcomes::{OutcomeGroup, RecordMany};
use super::{ConnectSettings, sql};
use crate::error::Error;

/// The advisory lock key that serializes migrations across processes ("enrich_inbox" in ASCII,
/// truncated to 8 bytes).
const MIGRATION_LOCK: i64 = i64::from_be_bytes(*b"enrichib");

/// The schema: migrations in order, each a list of statements.
const MIGRATIONS: &[(i64, &[&str])] = &[(
    1,
    &[
        "CREATE TABLE enrich_inbox_deliveries (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            idempotency_key TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('pending', 'processing', 'done', 'dead', 'purged')),
            event_type TEXT NOT NULL,
            enrichment_id TEXT,
            external_id TEXT,
            raw_body BYTEA,
            signature_header TEXT,
            signed_at_ms BIGINT,
            verified BOOLEAN NOT NULL,
            received_at_ms BIGINT NOT NULL,
            attempts BIGINT NOT NULL,
            due_at_ms BIGINT NOT NULL,
            lease_token BIGINT,
            last_error TEXT,
            finished_at_ms BIGINT
            )",
        "CREATE INDEX enrich_inbox_due ON enrich_inbox_deliveries (due_at_ms, id)
            WHERE state IN ('pending', 'processing')",
        "CREATE INDEX enrich_inbox_finished ON enrich_inbox_deliveries (finished_at_ms)
            WHERE state IN ('done', 'purged')",
        "CREATE INDEX enrich_inbox_state ON enrich_inbox_deliveries (state)",
    ],
)];

/// The Postgres engine: one pool; each store is its own commit; outcomes are recorded in
/// groups ([`OutcomeGroup`]).
#[derive(Debug)]
pub struct PostgresBackend {
    pub pool: PgPool,
    pub outcomes: OutcomeGroup,
}

impl PostgresBackend {
    /// Connects to `url` and migrates the database.
    pub async fn open(url: &str, settings: &ConnectSettings) -> Result<Self, Error> {
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.busy_timeout)
            .connect(url)
            .await?;
        migrate(&pool).await?;
        let outcomes = OutcomeGroup::new(record_many(pool.clone()));
        Ok(Self { pool, outcomes })
    }
}

/// Writes a group of outcomes as one statement and one commit
/// ([`sql::postgres::OUTCOMES_POSTGRES`], over arrays): every outcome that waited while the
/// previous statement ran.
fn record_many(pool: PgPool) -> RecordMany {
    Box::new(move |group| {
        let pool = pool.clone();
        let recordings = group.take();
        let count = recordings.len();
        let (mut ids, mut tokens, mut states, mut due_in_ms, mut errors) = (
            Vec::with_capacity(count),
            Vec::with_capacity(count),
            Vec::with_capacity(count),
            Vec::with_capacity(count),
            Vec::with_capacity(count),
        );
        for recording in recordings {
            ids.push(recording.id);
            tokens.push(recording.token);
            states.push(recording.outcome.state().as_str());
            due_in_ms.push(recording.outcome.due_in_ms());
            errors.push(recording.outcome.error().map(str::to_owned));
        }
        Box::pin(async move {
            Ok(sqlx::query_scalar(sql::postgres::OUTCOMES_POSTGRES)
                .bind(ids)
                .bind(tokens)
                .bind(states)
                .bind(due_in_ms)
                .bind(errors)
                .fetch_all(&pool)
                .await?)
        })
    })
}

/// Applies the migrations this database lacks, under a session advisory lock so that replicas
/// starting together migrate one after the other.
///
/// The lock is taken on its own, before the migration's transaction begins: under
/// `default_transaction_isolation = 'repeatable read'` (or `serializable`) a transaction's
/// snapshot is taken at its first statement, so a lock taken inside it would come after a
/// snapshot that misses what the replica before us applied. The version is read in the
/// transaction that starts once the lock is held.
async fn migrate(pool: &PgPool) -> Result<(), Error> {
    let mut connection = pool.acquire().await?;
    // Should anything below fail, the connection is closed rather than pooled: that ends its
    // session and so releases the lock.
    connection.close_on_drop();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *connection)
        .await?;
    apply_migrations(&mut connection).await?;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Applies the missing migrations in one transaction (its snapshot taken after the lock).
async fn apply_migrations(connection: &mut sqlx::PgConnection) -> Result<(), Error> {
    let mut transaction = connection.begin().await?;
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
        sqlx::query(sql::postgres::RECORD_VERSION)
            .bind(version)
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}
