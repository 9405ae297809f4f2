//! What the inbox tests share: a throwaway database per test on each engine, real signed
//! deliveries, waiting for an outcome, and the local fake of the API ([`sim`]).
//!
//! The conformance crate compiles this module too (`#[path]`, in `tests/tests/inbox_processes`),
//! for the inbox tests that start the receivers fixture as real processes: those live there, so
//! that enrich-inbox depends on no adapter, not even in its dev build.

#![allow(dead_code)]

pub mod files;
pub mod proxy;
pub mod sim;

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use enrich_inbox::{Inbox, State};
use enrich_webhook::testing::SignedRequest;
use enrich_webhook::{Delivery, WebhookConfig};
use sqlx::{Connection, PgConnection};

/// The secret every test signs with.
pub const SECRET: &str = "whsec_inbox_test_secret";

/// The server the Postgres tests use (each creates and drops its own database there).
pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Set to `1` to make a missing Postgres server a failure instead of a skip (CI sets it).
pub const REQUIRE_POSTGRES: &str = "ENRICH_REQUIRE_POSTGRES";

/// Overrides [`DEFAULT_POSTGRES`].
pub const POSTGRES_URL: &str = "ENRICH_TEST_POSTGRES_URL";

/// The body of a `person.enrichment.completed` event.
pub fn person_body(enrichment_id: &str, external_id: &str) -> String {
    format!(
        r#"{{"eventType":"person.enrichment.completed","data":{{"enrichmentID":"{enrichment_id}","person":{{"externalID":"{external_id}","firstName":"Ada","lastName":"Lovelace"}}}}}}"#
    )
}

/// A signed request as the API would send it.
pub fn signed_request(body: &str) -> SignedRequest {
    SignedRequest::builder(body).secret(SECRET).build()
}

/// A verified delivery of `body`, through the real receive pipeline.
pub fn delivery(body: &str) -> Delivery {
    let request = signed_request(body);
    WebhookConfig::with_secret(SECRET)
        .expect("a valid secret")
        .receive(&request.headers(), Bytes::from(request.body.clone()))
        .expect("a signed delivery is accepted")
}

/// Polls `check` every 20 ms until it returns `Some`, failing after a minute (a bound for a
/// hung test, not a speed assertion).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The external ids of every delivery stored at `url`, read by an inbox opened anew (as after a
/// restart).
pub async fn stored_people(url: &str) -> HashSet<String> {
    let inbox = Inbox::open(url).await.expect("reopen the inbox");
    let mut people = HashSet::new();
    for state in [State::Pending, State::Processing, State::Done, State::Dead] {
        for stored in inbox.list(state, usize::MAX).await.expect("list") {
            people.extend(stored.external_id);
        }
    }
    inbox.close().await;
    people
}

/// A database for one test, removed when dropped.
pub struct TestDb {
    /// The URL to open the inbox with.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Files(Vec<PathBuf>),
    Database { admin_url: String, name: String },
}

static SEQUENCE: AtomicUsize = AtomicUsize::new(0);

fn unique(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(36)
        .collect();
    format!(
        "enrich_inbox_{}_{}_{name}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestDb {
    /// A fresh SQLite file in the temporary directory.
    pub fn sqlite(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}.db", unique(name)));
        let files = ["", "-wal", "-shm"]
            .iter()
            .map(|suffix| PathBuf::from(format!("{}{suffix}", path.display())))
            .collect();
        Self {
            url: format!("sqlite:{}", path.display()),
            cleanup: Cleanup::Files(files),
        }
    }

    /// A fresh database on the test Postgres server; `None` (after saying so loudly) when no
    /// server answers, unless `ENRICH_REQUIRE_POSTGRES=1`, which makes that a failure.
    pub async fn postgres(test: &str) -> Option<Self> {
        let admin_url = std::env::var(POSTGRES_URL).unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
        let mut admin = match PgConnection::connect(&admin_url).await {
            Ok(admin) => admin,
            Err(error) => {
                let server = without_credentials(&admin_url);
                if std::env::var(REQUIRE_POSTGRES).is_ok_and(|value| value == "1") {
                    panic!("{REQUIRE_POSTGRES}=1 but Postgres is unreachable at {server}: {error}");
                }
                skipped(test, server, &error.to_string());
                return None;
            }
        };
        let name = unique(test);
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        let _ = admin.close().await;
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("the Postgres URL names a database");
        Some(Self {
            url: format!("{base}/{name}"),
            cleanup: Cleanup::Database { admin_url, name },
        })
    }
}

/// Runs `$body` with `$connection` a new connection to the test database `$db`, on its engine.
macro_rules! raw_sql {
    ($db:expr, $connection:ident => $body:expr) => {
        if $db.is_sqlite() {
            let mut $connection = sqlx::SqliteConnection::connect(&$db.url)
                .await
                .expect("connect to the SQLite file");
            $body
        } else {
            let mut $connection = PgConnection::connect(&$db.url)
                .await
                .expect("connect to the Postgres database");
            $body
        }
    };
}

impl TestDb {
    /// Whether this is a SQLite file (else a Postgres database).
    pub fn is_sqlite(&self) -> bool {
        self.url.starts_with("sqlite:")
    }

    /// The Postgres server's admin URL and this database's name (`None` on SQLite).
    pub fn postgres_admin(&self) -> Option<(&str, &str)> {
        match &self.cleanup {
            Cleanup::Database { admin_url, name } => Some((admin_url, name)),
            Cleanup::Files(_) => None,
        }
    }

    /// Runs `statement` on a connection of its own (raw SQL, as an operator or another version
    /// of the crate would); the rows it changed.
    pub async fn execute(&self, statement: &str) -> u64 {
        raw_sql!(self, connection => sqlx::query(statement)
            .execute(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("`{statement}` failed: {error}"))
            .rows_affected())
    }

    /// On Postgres, how many commits wrote the deliveries the table holds (the rows one
    /// transaction wrote share its `xmin`), and how many rows there are: fewer commits than rows
    /// means stores shared commits. Only meaningful before the rows are processed (a claim writes
    /// a row anew). `None` on SQLite.
    pub async fn commits_and_rows(&self) -> Option<(u64, u64)> {
        if self.is_sqlite() {
            return None;
        }
        let counted = self
            .text(
                "SELECT COUNT(DISTINCT xmin::TEXT) || ' ' || COUNT(*) \
                 FROM enrich_inbox_deliveries",
            )
            .await?;
        let (commits, rows) = counted.split_once(' ')?;
        Some((commits.parse().ok()?, rows.parse().ok()?))
    }

    /// How many deliveries are in each state, counted from the rows themselves (the states
    /// with none left out).
    pub async fn counted(&self) -> BTreeMap<String, u64> {
        let query = "SELECT state, COUNT(*) FROM enrich_inbox_deliveries GROUP BY state";
        let pairs: Vec<(String, i64)> = raw_sql!(self, connection => sqlx::query_as(query)
            .fetch_all(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("`{query}` failed: {error}")));
        pairs
            .into_iter()
            .map(|(state, count)| (state, u64::try_from(count).unwrap_or(0)))
            .collect()
    }

    /// The one text value `query` selects.
    pub async fn text(&self, query: &str) -> Option<String> {
        raw_sql!(self, connection => sqlx::query_scalar(query)
            .fetch_one(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("`{query}` failed: {error}")))
    }
}

/// `counts` by state name, as [`TestDb::counted`] gives them (the states with none left out).
pub fn by_state(counts: enrich_inbox::Counts) -> BTreeMap<String, u64> {
    [
        ("pending", counts.pending),
        ("processing", counts.processing),
        ("done", counts.done),
        ("dead", counts.dead),
        ("purged", counts.purged),
    ]
    .into_iter()
    .filter(|(_, count)| *count > 0)
    .map(|(state, count)| (state.to_owned(), count))
    .collect()
}

/// The URL from its host on (no user name or password).
fn without_credentials(url: &str) -> &str {
    url.rsplit_once('@').map_or(url, |(_, host)| host)
}

/// Tells the person running the tests, past the test harness's output capture, that a Postgres
/// test did not run and how to make it run.
fn skipped(test: &str, url: &str, error: &str) {
    let message = format!(
        "\n!!! SKIPPED Postgres test `{test}`: no server at {url} ({error}).\n\
         !!! Start one (trust auth for user `postgres`), or point {POSTGRES_URL} at one;\n\
         !!! set {REQUIRE_POSTGRES}=1 to make this a failure (CI does).\n"
    );
    // Straight to the process's stderr: `eprintln!` would be captured and hidden.
    let _ = std::io::stderr().write_all(message.as_bytes());
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Files(files) => {
                for file in files {
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::Database { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // A runtime of its own: the test's runtime may be shutting down.
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime");
                    runtime.block_on(async {
                        if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                            let _ = sqlx::query(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .execute(&mut admin)
                            .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// A connection holding SQLite's write lock or a Postgres table lock, until released.
pub enum Holder {
    /// `BEGIN IMMEDIATE` on a connection of its own.
    Sqlite(sqlx::SqliteConnection),
    /// A transaction holding a lock, on a connection of its own.
    Postgres(sqlx::PgConnection),
}

impl Holder {
    /// Takes the table from the inbox until [`Holder::release`]: SQLite's write lock
    /// (`BEGIN IMMEDIATE`), or on Postgres `LOCK TABLE … IN EXCLUSIVE MODE` (reads go on; writes
    /// and claims wait).
    pub async fn take(db: &TestDb) -> Self {
        if db.is_sqlite() {
            let mut holder = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut holder)
                .await
                .unwrap();
            Self::Sqlite(holder)
        } else {
            let mut holder = PgConnection::connect(&db.url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
            sqlx::query("LOCK TABLE enrich_inbox_deliveries IN EXCLUSIVE MODE")
                .execute(&mut holder)
                .await
                .unwrap();
            Self::Postgres(holder)
        }
    }

    /// Ends the transaction (`ROLLBACK`), releasing the lock.
    pub async fn release(self) {
        match self {
            Self::Sqlite(mut connection) => {
                sqlx::query("ROLLBACK")
                    .execute(&mut connection)
                    .await
                    .unwrap();
            }
            Self::Postgres(mut connection) => {
                sqlx::query("ROLLBACK")
                    .execute(&mut connection)
                    .await
                    .unwrap();
            }
        }
    }
}

/// The database made unavailable to the inbox, until [`Outage::end`].
pub enum Outage {
    /// Another connection holds the write lock.
    Sqlite(Holder),
    /// The database refuses connections.
    Postgres {
        /// The connection to the server that made it so.
        admin: sqlx::PgConnection,
        /// The database's name.
        name: String,
    },
}

impl Outage {
    /// SQLite: another connection takes the write lock. Postgres: the database stops
    /// accepting connections and its sessions are terminated.
    pub async fn begin(db: &TestDb) -> Self {
        match db.postgres_admin() {
            None => Self::Sqlite(Holder::take(db).await),
            Some((admin_url, name)) => {
                let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
                allow_connections(&mut admin, name, false).await;
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                )
                .bind(name)
                .execute(&mut admin)
                .await
                .unwrap();
                Self::Postgres {
                    admin,
                    name: name.to_owned(),
                }
            }
        }
    }

    /// Makes the database available again.
    pub async fn end(self) {
        match self {
            Self::Sqlite(holder) => holder.release().await,
            Self::Postgres { mut admin, name } => allow_connections(&mut admin, &name, true).await,
        }
    }
}

/// Lets the Postgres database `name` accept connections, or not.
pub async fn allow_connections(admin: &mut sqlx::PgConnection, name: &str, allow: bool) {
    sqlx::query(&format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {allow}"
    ))
    .execute(admin)
    .await
    .unwrap();
}

/// Generates each test twice: `sqlite::name` on a fresh file and `postgres::name` on a fresh
/// Postgres database. The body gets `$db: &TestDb`.
#[macro_export]
macro_rules! on_both_engines {
    ($(async fn $name:ident($db:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $db = &$crate::support::TestDb::sqlite(stringify!($name));
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) =
                        $crate::support::TestDb::postgres(concat!("postgres::", stringify!($name))).await
                    else {
                        return;
                    };
                    let $db = &db;
                    $body
                }
            )*
        }
    };
}
