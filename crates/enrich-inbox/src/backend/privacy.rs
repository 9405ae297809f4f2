//! The engine side of retention and erasure: bounded batches, the search for a person's
//! deliveries, and the scrub that follows (SQLite's WAL checkpointed and truncated, Postgres's
//! table vacuumed).

use super::{Backend, sql};
use crate::error::Error;
use crate::record::{DeliveryId, State};

/// The longest an SQLite scrub waits for readers to move to the newest snapshot (it keeps new
/// writers out meanwhile), in milliseconds.
#[cfg(feature = "sqlite")]
const SCRUB_WAIT_MS: i64 = 100;

/// One kind of bounded batch of a retention pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetentionStep {
    /// Delete processed rows (done or purged) finished long enough ago: keys forgotten.
    ForgetKeys,
    /// Drop the bodies of done rows finished long enough ago.
    DropBodies,
    /// Drop the bodies and error texts of dead letters finished long enough ago.
    DropDeadLetters,
}

/// A delivery found for an erasure: its id and state, and whether it holds a body and an
/// error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub id: DeliveryId,
    pub state: State,
    pub has_body: bool,
    pub has_error: bool,
}

impl Found {
    fn read(id: i64, state: &str, has_body: bool, has_error: bool) -> Result<Self, Error> {
        Ok(Self {
            id: DeliveryId(id),
            state: State::parse(state).ok_or(Error::CorruptRow { column: "state" })?,
            has_body,
            has_error,
        })
    }
}

/// Which column an erasure matches by id: the external ID or the enrichment ID.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IdColumn {
    ExternalId,
    EnrichmentId,
}

impl Backend {
    /// Runs one batch of `step`: at most `limit` rows finished at least `age_ms` ago (by the
    /// database's clock), from `cursor` on (`i64::MIN` at the start of a pass). On SQLite it is
    /// one write of the group writer, so a store waiting behind it waits for one batch at
    /// most; on Postgres one statement and one commit. The cursor each row changed gives back
    /// (see [`sql::sqlite::FORGET_KEYS`]): as many as the rows changed.
    pub async fn retention_batch(
        &self,
        step: RetentionStep,
        age_ms: i64,
        limit: i64,
        cursor: i64,
    ) -> Result<Vec<i64>, Error> {
        write!(self, executor, sql => sqlx::query_scalar(match step {
                RetentionStep::ForgetKeys => sql::FORGET_KEYS,
                RetentionStep::DropBodies => sql::DROP_BODIES,
                RetentionStep::DropDeadLetters => sql::DROP_DEAD_LETTERS,
            })
            .bind(age_ms)
            .bind(limit)
            .bind(cursor)
            .fetch_all(executor)
            .await?)
    }

    /// At most `limit` deliveries whose `column` is `value`, with an id above `after`, by id
    /// (on a read connection: SQLite's writer is not held).
    pub async fn find_by_id_column(
        &self,
        column: IdColumn,
        value: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Found>, Error> {
        let statement = match column {
            IdColumn::ExternalId => sql::FIND_EXTERNAL_ID,
            IdColumn::EnrichmentId => sql::FIND_ENRICHMENT,
        };
        let rows: Vec<(i64, String, bool, bool)> = read!(self, pool => sqlx::query_as(statement)
            .bind(value)
            .bind(limit)
            .bind(after)
            .fetch_all(pool)
            .await?);
        rows.into_iter()
            .map(|(id, state, body, error)| Found::read(id, &state, body, error))
            .collect()
    }

    /// At most `limit` deliveries that hold a body, with an id above `after`, by id, each with
    /// its body as stored (sealed or not) and its idempotency key (on a read connection).
    pub async fn scan_bodies(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(Found, Vec<u8>, String)>, Error> {
        let rows: Vec<(i64, String, Vec<u8>, bool, String)> = read!(self, pool => sqlx::query_as(sql::SCAN_BODIES)
                .bind(limit)
                .bind(after)
                .fetch_all(pool)
                .await?);
        rows.into_iter()
            .map(|(id, state, body, error, key)| {
                Ok((Found::read(id, &state, true, error)?, body, key))
            })
            .collect()
    }

    /// Erases the deliveries `ids` ([`sql::sqlite::ERASE_SQLITE`], [`sql::postgres::ERASE_POSTGRES`]),
    /// marking each with `reason`; one statement (on SQLite, one write of the group writer).
    /// How many rows it changed.
    pub async fn erase_ids(&self, ids: &[DeliveryId], reason: &str) -> Result<u64, Error> {
        let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
        let reason = reason.to_owned();
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(engine) => {
                let ids = serde_json::Value::from(ids).to_string();
                engine
                    .writer
                    .write(move |connection| {
                        Box::pin(async move {
                            Ok(sqlx::query(sql::sqlite::ERASE_SQLITE)
                                .bind(ids)
                                .bind(reason)
                                .execute(connection)
                                .await?
                                .rows_affected())
                        })
                    })
                    .await
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(engine) => Ok(sqlx::query(sql::postgres::ERASE_POSTGRES)
                .bind(ids)
                .bind(reason)
                .execute(&engine.pool)
                .await?
                .rows_affected()),
        }
    }

    /// Makes what was just deleted unreadable in the database's files, as far as the engine
    /// allows; whether it did.
    ///
    /// SQLite (`secure_delete` is on for every connection, so a deleted or overwritten value is
    /// zeroed in its page): `PRAGMA wal_checkpoint(TRUNCATE)` copies the WAL's pages into the
    /// database file and truncates the WAL to zero bytes, so the older copies of the pages,
    /// which still held the values, are gone too. `false` when a reader's open snapshot kept
    /// the checkpoint from finishing within [`SCRUB_WAIT_MS`] (the next one finishes the job).
    ///
    /// Postgres: `VACUUM` of the table (and its TOAST table) removes the dead row versions that
    /// still held the values and makes their space reusable; it is not overwritten until it is
    /// reused, and the WAL and any backup keep the values (see the README, "Personal data").
    /// `false` when the server refused it (the inbox's role does not own the table): a warning
    /// says so, and autovacuum does it later.
    pub async fn scrub(&self) -> Result<bool, Error> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(engine) => {
                // While it waits for readers, a TRUNCATE checkpoint keeps new writers out: it
                // waits at most `SCRUB_WAIT_MS` (then reports `false`), not the busy timeout.
                let mut connection = engine.pool.acquire().await?;
                let busy_timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
                    .fetch_one(&mut *connection)
                    .await?;
                sqlx::query(&format!("PRAGMA busy_timeout = {SCRUB_WAIT_MS}"))
                    .execute(&mut *connection)
                    .await?;
                let checkpoint: Result<(i64, i64, i64), sqlx::Error> =
                    sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                        .fetch_one(&mut *connection)
                        .await;
                sqlx::query(&format!("PRAGMA busy_timeout = {busy_timeout}"))
                    .execute(&mut *connection)
                    .await?;
                let (busy, _log, _checkpointed) = checkpoint?;
                if busy != 0 {
                    tracing::warn!(
                        "enrich-inbox: a reader kept the WAL checkpoint from finishing; purged values may stay in the WAL file until the next one"
                    );
                }
                Ok(busy == 0)
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(engine) => {
                match sqlx::query("VACUUM enrich_inbox_deliveries")
                    .execute(&engine.pool)
                    .await
                {
                    Ok(_) => Ok(true),
                    Err(error) => {
                        tracing::warn!(
                            %error,
                            "enrich-inbox: VACUUM after an erasure failed; the erased values stay in dead row versions until autovacuum removes them"
                        );
                        Ok(false)
                    }
                }
            }
        }
    }
}
