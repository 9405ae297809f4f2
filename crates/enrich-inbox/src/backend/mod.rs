//! The two database engines behind one set of operations.
//!
//! Every statement but the claim is the same text on both engines (`$N` placeholders read the
//! same in SQLite and Postgres), so it lives once, in [`sql`]. `read!` runs a read on the
//! engine's pool; `write!` runs a write on SQLite's group writer (one transaction and one sync
//! for all the writes waiting) or on the Postgres pool (each its own commit; the server groups
//! the WAL flushes of concurrent commits). Stores, the busiest write, are grouped on Postgres
//! too: every store waiting goes in one statement and one commit ([`group`]). What differs
//! lives in each engine's module: the schema, how a migration takes its lock, and the claim.

#[cfg(feature = "postgres")]
mod group;
#[cfg(feature = "sqlite")]
mod group_writer;
mod outcomes;
#[cfg(feature = "postgres")]
mod postgres;
mod rows;
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

pub(crate) use outcomes::Outcome;
#[cfg(feature = "postgres")]
pub(crate) use postgres::KNOWN_VERSION as POSTGRES_KNOWN_VERSION;
#[cfg(feature = "sqlite")]
pub(crate) use sqlite::KNOWN_VERSION as SQLITE_KNOWN_VERSION;

use crate::error::Error;
use crate::record::{Counts, DeliveryId, Source, State, Stored, StoredDelivery};

/// A boxed `Send` future that may borrow for `'c`.
pub(crate) type BoxFuture<'c, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'c>>;

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("enrich-inbox needs at least one of its features `sqlite` and `postgres`");

/// Settings the engines read when connecting.
#[derive(Debug, Clone)]
pub(crate) struct ConnectSettings {
    pub max_connections: u32,
    pub busy_timeout: std::time::Duration,
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub sqlite_synchronous_full: bool,
    /// More `PRAGMA`s for every SQLite connection (tests only: a small `max_page_count` makes a
    /// full disk).
    #[cfg(test)]
    pub sqlite_test_pragmas: Vec<(&'static str, String)>,
}

/// A delivery about to be stored.
#[derive(Debug)]
pub(crate) struct NewRecord {
    pub key: String,
    pub source: Source,
    pub event_type: String,
    pub enrichment_id: Option<String>,
    pub external_id: Option<String>,
    pub raw_body: bytes::Bytes,
    pub signature_header: Option<String>,
    pub signed_at_ms: Option<i64>,
    pub verified: bool,
    /// The receive span's W3C `traceparent` (feature `opentelemetry`).
    pub traceparent: Option<String>,
}

#[cfg(test)]
impl NewRecord {
    /// A delivery of a person stored under `key`, with a body of `body_len` bytes (not an
    /// event: the tests of the engines do not decode it).
    pub fn for_test(key: &str, body_len: usize) -> Self {
        Self {
            key: key.to_owned(),
            source: Source::Webhook,
            event_type: "person.enrichment.completed".to_owned(),
            enrichment_id: Some("batch".to_owned()),
            external_id: Some(key.to_owned()),
            raw_body: bytes::Bytes::from(vec![b'x'; body_len]),
            signature_header: None,
            signed_at_ms: None,
            verified: false,
            traceparent: None,
        }
    }
}

/// A row that does not read back (a `source` written by a newer version, a manual edit); a
/// claimed one becomes a dead letter with `error` as its reason.
#[derive(Debug)]
pub(crate) struct Undecodable {
    pub id: DeliveryId,
    pub error: Error,
}

impl From<Undecodable> for Error {
    fn from(undecodable: Undecodable) -> Self {
        undecodable.error
    }
}

/// The engine an inbox runs on.
#[derive(Debug)]
pub(crate) enum Backend {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlite::SqliteBackend),
    #[cfg(feature = "postgres")]
    Postgres(postgres::PostgresBackend),
}

/// Runs the read `$body` with `$pool` bound to the engine's connection pool: the same statement
/// text, type-checked once per engine.
macro_rules! read {
    ($backend:expr, $pool:ident => $body:expr) => {
        match $backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(engine) => {
                let $pool = &engine.pool;
                $body
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(engine) => {
                let $pool = &engine.pool;
                $body
            }
        }
    };
}

/// Runs the write `$body` (which may use `?`) with `$executor` bound to SQLite's group writer
/// connection, or to the Postgres pool, and `$sql` to the engine's copy of the statements
/// ([`sql::sqlite`] or [`sql::postgres`]). Its value once durable, as a `Result<_, Error>`.
macro_rules! write {
    ($backend:expr, $executor:ident, $sql:ident => $body:expr) => {
        match $backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(engine) => {
                use sql::sqlite as $sql;
                engine
                    .writer
                    .write(move |$executor| Box::pin(async move { Ok::<_, Error>($body) }))
                    .await
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(engine) => {
                use sql::postgres as $sql;
                let $executor = &engine.pool;
                Ok::<_, Error>($body)
            }
        }
    };
}

/// Runs `$statement`, a query built from `$item`, once for each of `$items`, all in one commit:
/// SQLite in one write of the group writer, Postgres in one transaction. With `$sql =>`, `$sql`
/// is bound to the engine's copy of the statements (as in [`write!`]). How many rows the
/// statements changed, as a `Result<u64, Error>`.
macro_rules! write_each {
    ($backend:expr, $items:expr, $item:ident, $sql:ident => $statement:expr) => {
        match $backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(engine) => {
                use sql::sqlite as $sql;
                write_each!(@sqlite engine, $items, $item => $statement)
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(engine) => {
                use sql::postgres as $sql;
                write_each!(@postgres engine, $items, $item => $statement)
            }
        }
    };
    ($backend:expr, $items:expr, $item:ident => $statement:expr) => {
        match $backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(engine) => write_each!(@sqlite engine, $items, $item => $statement),
            #[cfg(feature = "postgres")]
            Backend::Postgres(engine) => {
                write_each!(@postgres engine, $items, $item => $statement)
            }
        }
    };
    (@sqlite $engine:ident, $items:expr, $item:ident => $statement:expr) => {{
        let items = $items;
        $engine
            .writer
            .write(move |connection| {
                Box::pin(async move {
                    let mut changed = 0;
                    for $item in &items {
                        changed += $statement.execute(&mut *connection).await?.rows_affected();
                    }
                    Ok::<u64, Error>(changed)
                })
            })
            .await
    }};
    (@postgres $engine:ident, $items:expr, $item:ident => $statement:expr) => {{
        let items = $items;
        let mut transaction = $engine.pool.begin().await?;
        let mut changed = 0;
        for $item in &items {
            changed += $statement.execute(&mut *transaction).await?.rows_affected();
        }
        transaction.commit().await?;
        Ok::<u64, Error>(changed)
    }};
}

impl Backend {
    /// Connects to `url` and applies the migrations.
    pub async fn open(url: &str, settings: &ConnectSettings) -> Result<Self, Error> {
        if url.starts_with("sqlite:") {
            #[cfg(feature = "sqlite")]
            return Ok(Self::Sqlite(
                sqlite::SqliteBackend::open(url, settings).await?,
            ));
            #[cfg(not(feature = "sqlite"))]
            return Err(Error::BackendNotCompiled { feature: "sqlite" });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            return Ok(Self::Postgres(
                postgres::PostgresBackend::open(url, settings).await?,
            ));
            #[cfg(not(feature = "postgres"))]
            return Err(Error::BackendNotCompiled {
                feature: "postgres",
            });
        }
        Err(Error::UnsupportedUrl)
    }

    /// Stores `record` unless its key is already there; durable when it returns. On both
    /// engines it shares its commit with the stores waiting alongside it: SQLite's group writer
    /// commits every write waiting in one transaction, Postgres's store group inserts every
    /// store waiting with one statement.
    pub async fn store(&self, record: NewRecord) -> Result<Stored, Error> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(engine) => {
                engine
                    .writer
                    .write(move |connection| {
                        Box::pin(async move {
                            let done = sqlx::query(sql::sqlite::INSERT)
                                .bind(record.key)
                                .bind(record.source.as_str())
                                .bind(record.event_type)
                                .bind(record.enrichment_id)
                                .bind(record.external_id)
                                .bind(record.raw_body.to_vec())
                                .bind(record.signature_header)
                                .bind(record.signed_at_ms)
                                .bind(record.verified)
                                .bind(record.traceparent)
                                .execute(connection)
                                .await?;
                            Ok(if done.rows_affected() == 1 {
                                Stored::New(DeliveryId(done.last_insert_rowid()))
                            } else {
                                Stored::Duplicate
                            })
                        })
                    })
                    .await
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(engine) => engine.stores.call(record).await,
        }
    }

    /// Claims up to `limit` due deliveries (due by the database's clock) under a lease of
    /// `lease_ms` from the database's now. A claimed row that does not read back is returned as
    /// [`Undecodable`], so that it cannot fail the claim of its neighbours (nor, on SQLite, the
    /// writes batched with it).
    pub async fn claim(
        &self,
        lease_ms: i64,
        token: i64,
        limit: i64,
    ) -> Result<Vec<Result<StoredDelivery, Undecodable>>, Error> {
        let rows = match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(engine) => {
                engine
                    .writer
                    .write(move |connection| {
                        Box::pin(async move {
                            Ok(sqlx::query(sql::sqlite::CLAIM_SQLITE)
                                .bind(lease_ms)
                                .bind(token)
                                .bind(limit)
                                .fetch_all(connection)
                                .await?
                                .iter()
                                .map(rows::delivery)
                                .collect::<Vec<_>>())
                        })
                    })
                    .await?
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(engine) => engine
                .claim(lease_ms, token, limit)
                .await?
                .iter()
                .map(rows::delivery)
                .collect(),
        };
        Ok(rows)
    }

    /// The database's plan for a claim of up to `limit` deliveries, a line per step; the claim
    /// itself is not run.
    pub async fn claim_plan(&self, limit: i64) -> Result<Vec<String>, Error> {
        let (lease_ms, token) = (0_i64, 0_i64);
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(engine) => {
                let parameters = [lease_ms, token, limit];
                explain_sqlite(&engine.pool, sql::sqlite::CLAIM_SQLITE, &parameters).await
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(engine) => {
                // From the start of the index: the floor only shortens the range read.
                let parameters = [lease_ms, token, limit, i64::MIN];
                explain_postgres(&engine.pool, sql::postgres::CLAIM_POSTGRES, &parameters).await
            }
        }
    }

    /// The figures of [`Gauges`](crate::Gauges), in one statement ([`sql::sqlite::GAUGES_SQLITE`],
    /// [`sql::postgres::GAUGES_POSTGRES`]): a pure read, on the database's clock.
    pub async fn gauges(&self) -> Result<crate::Gauges, Error> {
        let pairs: Vec<(String, i64)> = match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(engine) => {
                sqlx::query_as(sql::sqlite::GAUGES_SQLITE)
                    .fetch_all(&engine.pool)
                    .await?
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(engine) => {
                sqlx::query_as(sql::postgres::GAUGES_POSTGRES)
                    .fetch_all(&engine.pool)
                    .await?
            }
        };
        crate::Gauges::from_rows(pairs)
    }

    /// The database's plan for [`Backend::gauges`], a line per step.
    pub async fn gauges_plan(&self) -> Result<Vec<String>, Error> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(engine) => {
                explain_sqlite(&engine.pool, sql::sqlite::GAUGES_SQLITE, &[]).await
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(engine) => {
                explain_postgres(&engine.pool, sql::postgres::GAUGES_POSTGRES, &[]).await
            }
        }
    }

    /// The database's plan for [`Backend::counts`], a line per step.
    pub async fn counts_plan(&self) -> Result<Vec<String>, Error> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(engine) => explain_sqlite(&engine.pool, sql::COUNTS_SQLITE, &[]).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(engine) => {
                explain_postgres(&engine.pool, sql::COUNTS_POSTGRES, &[]).await
            }
        }
    }

    /// Extends the lease of a claimed delivery to `lease_ms` from the database's now (a
    /// heartbeat); `false` when the claim under `token` no longer holds it.
    pub async fn extend_lease(
        &self,
        id: DeliveryId,
        token: i64,
        lease_ms: i64,
    ) -> Result<bool, Error> {
        let extended = write!(self, executor, sql => sqlx::query(sql::EXTEND_LEASE)
            .bind(id.0)
            .bind(token)
            .bind(lease_ms)
            .execute(executor)
            .await?
            .rows_affected())?;
        Ok(extended == 1)
    }

    /// Records the outcome of a run of a claimed delivery, if the claim under `token` still
    /// holds it (`false` when it no longer does). Grouped with every outcome waiting, from any
    /// worker of this inbox: one statement and one commit for all of them
    /// ([`outcomes::OutcomeGroup`]); answered once committed.
    pub async fn record(
        &self,
        id: DeliveryId,
        token: i64,
        outcome: Outcome,
    ) -> Result<bool, Error> {
        let group = match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(engine) => &engine.outcomes,
            #[cfg(feature = "postgres")]
            Self::Postgres(engine) => &engine.outcomes,
        };
        group.record(id.0, token, outcome).await
    }

    /// Gives a claim back untouched (for work abandoned at shutdown): due now, attempt not counted.
    pub async fn release(&self, id: DeliveryId, token: i64) -> Result<bool, Error> {
        let released = write!(self, executor, sql => sqlx::query(sql::RELEASE)
            .bind(id.0)
            .bind(token)
            .execute(executor)
            .await?
            .rows_affected())?;
        Ok(released == 1)
    }

    /// How many deliveries are in each state, exactly, without reading a delivery: through the
    /// state index alone on SQLite ([`sql::COUNTS_SQLITE`]), from the counts the triggers keep on
    /// Postgres ([`sql::COUNTS_POSTGRES`]).
    pub async fn counts(&self) -> Result<Counts, Error> {
        let pairs: Vec<(String, i64)> = match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(engine) => {
                sqlx::query_as(sql::COUNTS_SQLITE)
                    .fetch_all(&engine.pool)
                    .await?
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(engine) => {
                sqlx::query_as(sql::COUNTS_POSTGRES)
                    .fetch_all(&engine.pool)
                    .await?
            }
        };
        let mut counts = Counts::default();
        for (state, count) in pairs {
            let state = State::parse(&state).ok_or(Error::CorruptRow { column: "state" })?;
            counts.add(state, u64::try_from(count).unwrap_or(0));
        }
        Ok(counts)
    }

    /// The first `limit` deliveries in `state`, oldest first.
    pub async fn list(&self, state: State, limit: i64) -> Result<Vec<StoredDelivery>, Error> {
        read!(self, pool => sqlx::query(sql::LIST)
            .bind(state.as_str())
            .bind(limit)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|row| rows::delivery(row).map_err(Error::from))
            .collect())
    }

    /// One delivery by id.
    pub async fn get(&self, id: DeliveryId) -> Result<Option<StoredDelivery>, Error> {
        read!(self, pool => sqlx::query(sql::GET)
            .bind(id.0)
            .fetch_optional(pool)
            .await?
            .as_ref()
            .map(|row| rows::delivery(row).map_err(Error::from))
            .transpose())
    }

    /// Puts a delivery in state `from` back to `pending`, due now, with its attempts reset.
    pub async fn requeue(&self, id: DeliveryId, from: State) -> Result<bool, Error> {
        let changed = write!(self, executor, sql => sqlx::query(sql::REQUEUE)
            .bind(id.0)
            .bind(from.as_str())
            .execute(executor)
            .await?
            .rows_affected())?;
        Ok(changed == 1)
    }

    /// Puts every delivery in state `from` back to `pending`; returns how many.
    pub async fn requeue_all(&self, from: State) -> Result<u64, Error> {
        write!(self, executor, sql => sqlx::query(sql::REQUEUE_ALL)
            .bind(from.as_str())
            .execute(executor)
            .await?
            .rows_affected())
    }

    /// Closes the pool (and the SQLite writer); later operations fail with [`Error::Closed`].
    pub async fn close(&self) {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(engine) => engine.close().await,
            #[cfg(feature = "postgres")]
            Self::Postgres(engine) => engine.close().await,
        }
    }

    /// Which engine this is (`sqlite` or `postgres`).
    pub fn engine(&self) -> &'static str {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => "postgres",
        }
    }
}

// After the macros, which they use.
mod privacy;
mod quarantine;
#[cfg(feature = "encryption")]
mod rekey;

pub(crate) use privacy::{Found, IdColumn, RetentionStep};
pub(crate) use quarantine::Settlement;
#[cfg(feature = "encryption")]
pub(crate) use rekey::{CurrentPrefixes, Resealed, SealedRow};

/// SQLite's plan for `statement` with `parameters` bound (`EXPLAIN QUERY PLAN`), a line per step.
#[cfg(feature = "sqlite")]
async fn explain_sqlite(
    pool: &sqlx::SqlitePool,
    statement: &str,
    parameters: &[i64],
) -> Result<Vec<String>, Error> {
    let explain = format!("EXPLAIN QUERY PLAN {statement}");
    let mut query = sqlx::query(&explain);
    for parameter in parameters {
        query = query.bind(*parameter);
    }
    query
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| sqlx::Row::try_get::<String, _>(row, "detail").map_err(Error::from))
        .collect()
}

/// Postgres's plan for `statement` with `parameters` bound (`EXPLAIN`), a line per step.
#[cfg(feature = "postgres")]
async fn explain_postgres(
    pool: &sqlx::PgPool,
    statement: &str,
    parameters: &[i64],
) -> Result<Vec<String>, Error> {
    let explain = format!("EXPLAIN {statement}");
    let mut query = sqlx::query_scalar(&explain);
    for parameter in parameters {
        query = query.bind(*parameter);
    }
    Ok(query.fetch_all(pool).await?)
}

/// What [`crate::Inbox::health`] asks of the engine, each a single round trip.
impl Backend {
    /// A trivial read on the read pool ([`sql::PING`]): the database answers.
    pub async fn ping(&self) -> Result<(), Error> {
        read!(self, pool => {
            sqlx::query(sql::PING).execute(pool).await?;
        });
        Ok(())
    }

    /// The newest migration the database records (0 when none), and the one this build knows.
    pub async fn schema_versions(&self) -> Result<(i64, i64), Error> {
        let found: Option<i64> = read!(self, pool => sqlx::query_scalar(sql::CURRENT_VERSION)
            .fetch_one(pool)
            .await?);
        let known = match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => sqlite::KNOWN_VERSION,
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => postgres::KNOWN_VERSION,
        };
        Ok((found.unwrap_or(0), known))
    }

    /// A write that changes nothing ([`sql::WRITE_PROBE`]), the way every write goes: through
    /// SQLite's group writer (queued behind the writes waiting, and needing the file's write
    /// lock), or on the Postgres pool (needing the row lock stores take on the table).
    pub async fn write_probe(&self) -> Result<(), Error> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(engine) => {
                engine
                    .writer
                    .write(|connection| {
                        Box::pin(async move {
                            sqlx::query(sql::WRITE_PROBE).execute(connection).await?;
                            Ok(())
                        })
                    })
                    .await
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(engine) => {
                sqlx::query(sql::WRITE_PROBE).execute(&engine.pool).await?;
                Ok(())
            }
        }
    }
}
