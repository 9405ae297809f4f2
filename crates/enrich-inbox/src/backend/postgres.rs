//! Postgres: many replicas on one database; concurrent stores share one statement and one
//! commit ([`StoreGroup`]).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use tokio::time::Instant;

use super::group::{Group, RunMany};
use super::outcomes::{OutcomeGroup, RecordMany};
use super::{ConnectSettings, NewRecord, sql};
use crate::error::Error;
use crate::record::{DeliveryId, Stored};

/// The advisory lock key that serializes migrations across processes ("enrich_inbox" in ASCII,
/// truncated to 8 bytes).
const MIGRATION_LOCK: i64 = i64::from_be_bytes(*b"enrichib");

/// A trigger function (`$name`) that adds the `(state, slot, change)` rows `$changes` selects to
/// `enrich_inbox_counts`, in the order of the states.
macro_rules! count_function {
    ($name:literal, $changes:literal) => {
        concat!(
            "CREATE FUNCTION ",
            $name,
            "() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                INSERT INTO enrich_inbox_counts AS c (state, slot, n) ",
            $changes,
            " ORDER BY state
                ON CONFLICT (state, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
                RETURN NULL;
             END $$"
        )
    };
}

/// The schema version this build migrates to (the last of [`MIGRATIONS`]).
pub const KNOWN_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// The schema: migrations in order, each a list of statements.
const MIGRATIONS: &[(i64, &[&str])] = &[
    (
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
    ),
    (
        // How many deliveries are in each state, kept by triggers (see `sql::COUNTS_POSTGRES`):
        // each statement that changes rows adds what it changed, per state, to its connection's
        // `slot` (its backend's process id modulo 64), so that concurrent transactions do not
        // queue on one row's lock; a read sums the slots. Each statement adds in the order of
        // the states, so two transactions that share a slot cannot deadlock.
        2,
        &[
            "CREATE TABLE enrich_inbox_counts (
            state TEXT NOT NULL,
            slot INTEGER NOT NULL,
            n BIGINT NOT NULL,
            PRIMARY KEY (state, slot)
            )",
            count_function!(
                "enrich_inbox_count_inserts",
                "SELECT state, pg_backend_pid() % 64, COUNT(*) FROM enrich_inbox_inserted
                 GROUP BY state"
            ),
            count_function!(
                "enrich_inbox_count_updates",
                "SELECT state, pg_backend_pid() % 64, SUM(change) FROM (
                    SELECT state, 1 AS change FROM enrich_inbox_updated
                    UNION ALL
                    SELECT state, -1 AS change FROM enrich_inbox_outdated
                 ) AS changes
                 GROUP BY state HAVING SUM(change) <> 0"
            ),
            count_function!(
                "enrich_inbox_count_deletes",
                "SELECT state, pg_backend_pid() % 64, -COUNT(*) FROM enrich_inbox_deleted
                 GROUP BY state"
            ),
            "CREATE FUNCTION enrich_inbox_count_truncates() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
            DELETE FROM enrich_inbox_counts;
            RETURN NULL;
         END $$",
            // Creating a trigger locks out writes to the table until this migration commits: the
            // count below (a statement of its own in a READ COMMITTED transaction, see
            // `apply_migrations`) sees every write committed before, and every later write runs
            // the triggers.
            "CREATE TRIGGER enrich_inbox_count_inserts AFTER INSERT ON enrich_inbox_deliveries
         REFERENCING NEW TABLE AS enrich_inbox_inserted
         FOR EACH STATEMENT EXECUTE FUNCTION enrich_inbox_count_inserts()",
            "CREATE TRIGGER enrich_inbox_count_updates AFTER UPDATE ON enrich_inbox_deliveries
         REFERENCING OLD TABLE AS enrich_inbox_outdated NEW TABLE AS enrich_inbox_updated
         FOR EACH STATEMENT EXECUTE FUNCTION enrich_inbox_count_updates()",
            "CREATE TRIGGER enrich_inbox_count_deletes AFTER DELETE ON enrich_inbox_deliveries
         REFERENCING OLD TABLE AS enrich_inbox_deleted
         FOR EACH STATEMENT EXECUTE FUNCTION enrich_inbox_count_deletes()",
            "CREATE TRIGGER enrich_inbox_count_truncates AFTER TRUNCATE ON enrich_inbox_deliveries
         FOR EACH STATEMENT EXECUTE FUNCTION enrich_inbox_count_truncates()",
            "INSERT INTO enrich_inbox_counts (state, slot, n)
         SELECT state, 0, COUNT(*) FROM enrich_inbox_deliveries GROUP BY state",
        ],
    ),
    (
        // The W3C `traceparent` of the span that received the delivery (feature
        // `opentelemetry`), for its processing span to join: NULL otherwise. A nullable column
        // without a default: a change of the catalog only, no table rewrite.
        3,
        &["ALTER TABLE enrich_inbox_deliveries ADD COLUMN traceparent TEXT"],
    ),
    (
        // The state `quarantined`: the CHECK constraint replaced (the counts' triggers count
        // any state as it is).
        4,
        &[
            "ALTER TABLE enrich_inbox_deliveries DROP CONSTRAINT enrich_inbox_deliveries_state_check",
            "ALTER TABLE enrich_inbox_deliveries ADD CONSTRAINT enrich_inbox_deliveries_state_check
            CHECK (state IN ('pending', 'processing', 'done', 'dead', 'purged', 'quarantined'))",
        ],
    ),
];

/// Stores grouped: every store waiting is inserted by one statement in one commit.
pub type StoreGroup = Group<NewRecord, Stored>;

/// The Postgres engine: one pool; stores and outcomes are recorded in groups ([`StoreGroup`],
/// [`OutcomeGroup`]); claims start from the [`ClaimFloor`].
#[derive(Debug)]
pub struct PostgresBackend {
    pub pool: PgPool,
    pub stores: StoreGroup,
    pub outcomes: OutcomeGroup,
    pub claim_floor: ClaimFloor,
}

/// How often a claim reads the due index from its start, whatever the floor.
const FULL_CLAIM_EVERY: Duration = Duration::from_secs(1);

/// Where this process's next claim starts reading the due index.
///
/// A claim moves its rows out of the low end of `enrich_inbox_due` (claimed, they are due at
/// their lease's end; done, they leave it), but under MVCC their old entries stay in the index
/// until VACUUM removes them: every claim from the start of the index steps over all the
/// entries the claims before it left, a cost that grows with the backlog drained since the last
/// VACUUM (measured: 373 index pages, 5 ms, per claim 96,000 deliveries into a drain). So a
/// claim that follows a claim that took all it asked for starts from the latest due time that
/// claim took (`due_at_ms >= floor`): the rows behind it were claimed (or are being claimed by
/// another worker), and every row that becomes due later is due from the database's now on,
/// which is not before the floor (stores, retries, requeues, leases all count from now).
///
/// What can still be behind the floor is rare: a store whose commit came after a claim read
/// past its due time, a claim of another worker that failed, an expired lease older than the
/// floor, a row written by hand. None waits long: a claim from the floor that finds fewer rows
/// than it asks for (the backlog ahead is drained) reads the whole index for the rest at once
/// ([`PostgresBackend::claim`]) and sends the floor back to the start, and one claim a second
/// ([`FULL_CLAIM_EVERY`]) reads the whole index whatever the floor; so a row behind the floor
/// is claimed at the latest by the next claim a second later, and in due order as soon as the
/// rows ahead of the floor run out.
#[derive(Debug)]
pub struct ClaimFloor(std::sync::Mutex<FloorState>);

#[derive(Debug)]
struct FloorState {
    /// The due time the next claim starts from (`i64::MIN`: the start of the index).
    due_ms: i64,
    /// When a claim next reads the whole index.
    next_full: Instant,
}

impl ClaimFloor {
    /// A floor at the start of the index.
    pub fn new() -> Self {
        Self(std::sync::Mutex::new(FloorState {
            due_ms: i64::MIN,
            next_full: Instant::now() + FULL_CLAIM_EVERY,
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FloorState> {
        // Two integers: a panic while holding the lock cannot leave them half-changed.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The due time the next claim starts from.
    pub fn start(&self) -> i64 {
        let mut state = self.state();
        let now = Instant::now();
        if now >= state.next_full {
            state.next_full = now + FULL_CLAIM_EVERY;
            state.due_ms = i64::MIN;
        }
        state.due_ms
    }

    /// After a claim of up to `limit` rows that took `taken`, the latest due time among them
    /// being `newest_due_ms`.
    pub fn claimed(&self, limit: i64, taken: usize, newest_due_ms: Option<i64>) {
        let mut state = self.state();
        match newest_due_ms {
            Some(due_ms) if i64::try_from(taken).is_ok_and(|taken| taken >= limit) => {
                state.due_ms = state.due_ms.max(due_ms);
            }
            _ => state.due_ms = i64::MIN,
        }
    }
}

impl PostgresBackend {
    /// Connects to `url` and migrates the database.
    pub async fn open(url: &str, settings: &ConnectSettings) -> Result<Self, Error> {
        let options: PgConnectOptions = url.parse()?;
        connect_once(&options, settings.busy_timeout).await?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.busy_timeout)
            .connect_with(options)
            .await?;
        migrate(&pool).await?;
        let outcomes = OutcomeGroup::new(record_many(pool.clone()));
        let stores = Group::start(
            store_groups_in_flight(settings.max_connections),
            store_many(pool.clone()),
        );
        Ok(Self {
            pool,
            stores,
            outcomes,
            claim_floor: ClaimFloor::new(),
        })
    }

    /// Claims up to `limit` due deliveries under claim `token` for `lease_ms`
    /// ([`sql::postgres::CLAIM_POSTGRES`]), reading the due index from the [`ClaimFloor`]; a
    /// claim from the floor that comes back short is followed at once by one from the start of
    /// the index for the rest, so that no due row behind the floor waits for it.
    pub async fn claim(
        &self,
        lease_ms: i64,
        token: i64,
        limit: i64,
    ) -> Result<Vec<sqlx::postgres::PgRow>, Error> {
        let floor = self.claim_floor.start();
        let mut claimed = self.claim_from(floor, lease_ms, token, limit).await?;
        let short = limit - i64::try_from(claimed.len()).unwrap_or(limit);
        if floor != i64::MIN && short > 0 {
            let rest = self.claim_from(i64::MIN, lease_ms, token, short).await?;
            claimed.extend(rest);
        }
        Ok(claimed)
    }

    /// One claim statement reading the due index from due time `floor`; moves the floor.
    async fn claim_from(
        &self,
        floor: i64,
        lease_ms: i64,
        token: i64,
        limit: i64,
    ) -> Result<Vec<sqlx::postgres::PgRow>, Error> {
        let claimed = sqlx::query(sql::postgres::CLAIM_POSTGRES)
            .bind(lease_ms)
            .bind(token)
            .bind(limit)
            .bind(floor)
            .fetch_all(&self.pool)
            .await?;
        let newest_due_ms = claimed
            .first()
            .and_then(|row| sqlx::Row::try_get(row, "newest_due_ms").ok());
        self.claim_floor
            .claimed(limit, claimed.len(), newest_due_ms);
        Ok(claimed)
    }

    /// Commits the stores already waiting, then closes the pool.
    pub async fn close(&self) {
        self.stores.close().await;
        self.pool.close().await;
    }
}

/// Connects once, directly, and closes the connection: the pool's own first connect retries a
/// failing connection until its acquire timeout and then says only "pool timed out", while a
/// direct connection fails at once with the real cause (connection refused, an unknown host, a
/// password refused, a database that does not exist). Bounded by `timeout` (an unanswered
/// address: the connection is then cut, with that said).
async fn connect_once(options: &PgConnectOptions, timeout: Duration) -> Result<(), Error> {
    let connecting = PgConnection::connect_with(options);
    let connection = tokio::time::timeout(timeout, connecting)
        .await
        .map_err(|_| {
            sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "no connection to the server within {} ms (InboxConfig::busy_timeout)",
                    timeout.as_millis()
                ),
            ))
        })??;
    connection.close().await?;
    Ok(())
}

/// How many store groups may commit at once on a pool of `max_connections`: half the pool,
/// so that claims and outcomes always find a connection. One group at a time would leave the
/// server's grouping of concurrent WAL flushes unused when few stores wait at once; more groups
/// than that only split the waiting stores into smaller groups.
fn store_groups_in_flight(max_connections: u32) -> usize {
    usize::try_from(max_connections / 2).unwrap_or(1).max(1)
}

/// Stores a group of deliveries with one [`sql::postgres::INSERT_MANY`] (one commit). Should
/// the statement be refused for a value of one delivery (a data or constraint error, such as a
/// NUL character in a text column), each delivery of the group is stored again alone, so that
/// only the one at fault fails, as when each store was its own statement. Any other failure
/// (the connection, the server, the disk) is the whole group's.
fn store_many(pool: PgPool) -> RunMany<NewRecord, Stored> {
    Arc::new(move |records: Vec<NewRecord>| {
        let pool = pool.clone();
        Box::pin(async move {
            match insert_many(&pool, &records).await {
                Ok(stored) => Ok(stored.into_iter().map(Ok).collect()),
                Err(error) if records.len() > 1 && is_refused_value(&error) => {
                    tracing::warn!(
                        %error,
                        stores = records.len(),
                        "enrich-inbox: a group of stores was refused for one delivery's values; storing each alone"
                    );
                    let mut each = Vec::with_capacity(records.len());
                    for record in &records {
                        each.push(
                            insert_many(&pool, std::slice::from_ref(record))
                                .await
                                .map(|mut stored| stored.pop().unwrap_or(Stored::Duplicate)),
                        );
                    }
                    Ok(each)
                }
                Err(error) => Err(error),
            }
        })
    })
}

/// Inserts `records` in one statement; for each, [`Stored::New`] or [`Stored::Duplicate`], in
/// order. Of records sharing a key, only the first is inserted (the statement must not meet one
/// key twice); the others are its duplicates.
async fn insert_many(pool: &PgPool, records: &[NewRecord]) -> Result<Vec<Stored>, Error> {
    let mut first_of: HashMap<&str, usize> = HashMap::with_capacity(records.len());
    let mut inserted = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        if let Entry::Vacant(first) = first_of.entry(record.key.as_str()) {
            first.insert(index);
            inserted.push(record);
        }
    }
    let keys: Vec<&str> = inserted.iter().map(|record| record.key.as_str()).collect();
    let sources: Vec<&str> = inserted
        .iter()
        .map(|record| record.source.as_str())
        .collect();
    let event_types: Vec<&str> = inserted.iter().map(|r| r.event_type.as_str()).collect();
    let enrichment_ids: Vec<Option<&str>> = inserted
        .iter()
        .map(|r| r.enrichment_id.as_deref())
        .collect();
    let external_ids: Vec<Option<&str>> =
        inserted.iter().map(|r| r.external_id.as_deref()).collect();
    let raw_bodies: Vec<&[u8]> = inserted.iter().map(|record| &record.raw_body[..]).collect();
    let signature_headers: Vec<Option<&str>> = inserted
        .iter()
        .map(|record| record.signature_header.as_deref())
        .collect();
    let signed_at_ms: Vec<Option<i64>> = inserted.iter().map(|r| r.signed_at_ms).collect();
    let verified: Vec<bool> = inserted.iter().map(|record| record.verified).collect();
    let traceparents: Vec<Option<&str>> =
        inserted.iter().map(|r| r.traceparent.as_deref()).collect();
    let rows: Vec<(i64, String)> = sqlx::query_as(sql::postgres::INSERT_MANY)
        .bind(keys)
        .bind(sources)
        .bind(event_types)
        .bind(enrichment_ids)
        .bind(external_ids)
        .bind(raw_bodies)
        .bind(signature_headers)
        .bind(signed_at_ms)
        .bind(verified)
        .bind(traceparents)
        .fetch_all(pool)
        .await?;
    let new: HashMap<String, i64> = rows.into_iter().map(|(id, key)| (key, id)).collect();
    Ok(records
        .iter()
        .enumerate()
        .map(|(index, record)| match new.get(&record.key) {
            Some(&id) if first_of.get(record.key.as_str()) == Some(&index) => {
                Stored::New(DeliveryId(id))
            }
            _ => Stored::Duplicate,
        })
        .collect())
}

/// Whether the server refused a value of the statement (SQLSTATE class 22, data exception, or
/// 23, integrity constraint violation), rather than failing to run it.
fn is_refused_value(error: &Error) -> bool {
    let Error::Database(error) = error else {
        return false;
    };
    error
        .0
        .as_database_error()
        .and_then(|error| error.code())
        .is_some_and(|code| code.starts_with("22") || code.starts_with("23"))
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

/// Applies the missing migrations in one transaction, READ COMMITTED whatever the database's
/// default: each statement sees what was committed before it started, so the version read once
/// the lock is held is the last one applied, and a migration that counts rows after locking out
/// writers sees every row.
async fn apply_migrations(connection: &mut sqlx::PgConnection) -> Result<(), Error> {
    let mut transaction = connection
        .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claim_floor_follows_full_claims_and_goes_back_to_the_start_otherwise() {
        let floor = ClaimFloor::new();
        assert_eq!(floor.start(), i64::MIN, "a new floor reads the whole index");
        // A claim that took all it asked for: the next starts from its latest due time.
        floor.claimed(4, 4, Some(1_000));
        assert_eq!(floor.start(), 1_000);
        // It never moves back while claims come back full.
        floor.claimed(4, 4, Some(900));
        assert_eq!(floor.start(), 1_000);
        floor.claimed(4, 4, Some(1_500));
        assert_eq!(floor.start(), 1_500);
        // A short claim (the backlog ahead is drained): back to the start.
        floor.claimed(4, 3, Some(2_000));
        assert_eq!(floor.start(), i64::MIN);
        floor.claimed(1, 1, Some(2_500));
        assert_eq!(floor.start(), 2_500);
        floor.claimed(4, 0, None);
        assert_eq!(floor.start(), i64::MIN);
    }

    #[test]
    fn a_claim_reads_the_whole_index_once_a_second_whatever_the_floor() {
        let floor = ClaimFloor::new();
        floor.claimed(4, 4, Some(1_000));
        assert_eq!(floor.start(), 1_000);
        floor.state().next_full = Instant::now() - Duration::from_millis(1);
        assert_eq!(
            floor.start(),
            i64::MIN,
            "the claim due a second after the last full one"
        );
        assert!(
            floor.state().next_full > Instant::now(),
            "the next one a second later"
        );
        // The full claim sets the floor again from what it took.
        floor.claimed(4, 4, Some(1_200));
        assert_eq!(floor.start(), 1_200);
    }
}
