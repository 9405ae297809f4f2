//! Durable acknowledgements of `enrich-inbox` against each engine's one-row-per-commit floor.
//!
//! ```text
//! bench-inbox [--quick] [--engine sqlite|postgres] [--concurrency N]
//!             [--part stores,encryption,retention] [--retention-rows N]
//! ```
//!
//! It prints a Markdown section for `BENCHMARKS.md` (progress on stderr). `--engine` and
//! `--concurrency` measure one engine or one concurrency alone (for profiling).
//!
//! For SQLite (a file in the temporary directory, WAL, `synchronous = FULL`: the inbox's default
//! durability) and for Postgres (a throwaway database on `ENRICH_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`; left out when unreachable), at 1, 8 and 64
//! concurrent deliveries:
//!
//! - **inbox**: `Inbox::store` of verified deliveries (realistic ~1.9 KB person events, each a
//!   distinct person), timed from the call to its durable return;
//! - **floor**: the same rows inserted by the engine directly, one row per transaction
//!   (`INSERT … ON CONFLICT DO NOTHING`, autocommit), with the same durability settings, from as
//!   many connections as there are concurrent deliveries.
//!
//! Each (engine, concurrency) pair runs on one fresh database: many short rounds, each a floor run
//! then an inbox run of as many new rows, so that each ratio compares runs close in time (the
//! disk's sync latency drifts with the machine's load). The table shows the median of each figure
//! over the rounds, and the median of the rounds' ratios.
//!
//! Then, per engine: **encryption at rest**, the same stores at 64 concurrent through an inbox
//! with a keyring against one without, alternating on one database; and **a retention pass**
//! over 1,000,000 processed rows (100,000 with `--quick`; `--retention-rows`), filled by one
//! bulk insert, with a store every 5 ms timed during the pass ([`retention`]).
//! `--part` runs some of the three alone.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use enrich_benches::durable::{Engine, fresh};
use enrich_benches::payload::{ENRICHMENT_ID, Rng, Shape, person};
use enrich_benches::retention;
use enrich_benches::{median, nearest_rank};
use enrich_inbox::{Inbox, InboxConfig, Keyring};
use enrich_webhook::enrich_types::{PersonEnrichmentCompleted, WebhookEvent};
use enrich_webhook::testing::SignedRequest;
use enrich_webhook::{Delivery, WebhookConfig};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

const SECRET: &str = "whsec_bench_inbox";
const CONCURRENCY: [usize; 3] = [1, 8, 64];
const INSERT: &str = "INSERT INTO enrich_inbox_deliveries \
    (idempotency_key, source, state, event_type, enrichment_id, external_id, raw_body, \
     signature_header, signed_at_ms, verified, received_at_ms, attempts, due_at_ms) \
    VALUES ($1, 'webhook', 'pending', $2, $3, $4, $5, $6, $7, TRUE, $8, 0, $8) \
    ON CONFLICT (idempotency_key) DO NOTHING";

/// One measured run: how many acknowledgements per second, and their latencies.
#[derive(Debug, Clone)]
struct Run {
    per_second: f64,
    p50_us: f64,
    p99_us: f64,
}

fn run_of(mut latencies_us: Vec<u64>, elapsed: Duration) -> Run {
    latencies_us.sort_unstable();
    Run {
        per_second: latencies_us.len() as f64 / elapsed.as_secs_f64(),
        p50_us: nearest_rank(&latencies_us, 0.50),
        p99_us: nearest_rank(&latencies_us, 0.99),
    }
}

/// `count` verified deliveries of distinct people.
fn deliveries(count: usize) -> Vec<Delivery> {
    let config = WebhookConfig::with_secret(SECRET).expect("a valid secret");
    (0..count).map(|index| delivery(&config, index)).collect()
}

/// The verified delivery of person `index`.
fn delivery(config: &WebhookConfig, index: usize) -> Delivery {
    let mut rng = Rng::new(11 + index as u64);
    let mut data = PersonEnrichmentCompleted::default();
    data.enrichment_id = Some(ENRICHMENT_ID.to_owned());
    data.person = person(index as u64, Shape::FULL, &mut rng);
    let event = WebhookEvent::PersonEnrichmentCompleted(data);
    let body = serde_json::to_vec(&event).expect("an event serializes");
    let request = SignedRequest::builder(body).secret(SECRET).build();
    config
        .receive(&request.headers(), Bytes::from(request.body.clone()))
        .expect("a signed delivery")
}

/// Runs `work(index)` for every index from `concurrency` tasks; each call's latency in µs.
async fn drive<F, Fut>(count: usize, concurrency: usize, work: F) -> Run
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let work = Arc::new(work);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..concurrency {
        let (work, next) = (work.clone(), next.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return latencies;
                }
                let begun = Instant::now();
                work(task, index).await;
                latencies.push(u64::try_from(begun.elapsed().as_micros()).unwrap_or(u64::MAX));
            }
        });
    }
    let latencies: Vec<u64> = tasks.join_all().await.into_iter().flatten().collect();
    run_of(latencies, started.elapsed())
}

/// Stores `items[range]` through the inbox from `concurrency` tasks.
async fn measure_inbox(
    inbox: &Inbox,
    items: &Arc<Vec<Delivery>>,
    range: std::ops::Range<usize>,
    concurrency: usize,
) -> Run {
    let (inbox, items) = (inbox.clone(), items.clone());
    drive(range.len(), concurrency, move |_, index| {
        let (inbox, items) = (inbox.clone(), items.clone());
        let index = range.start + index;
        async move {
            let stored = inbox.store(&items[index]).await.expect("stored");
            assert!(stored.is_new());
        }
    })
    .await
}

/// The floor's connections: one per concurrent delivery, on the inbox's database.
enum Floor {
    Sqlite(Arc<Vec<tokio::sync::Mutex<sqlx::SqliteConnection>>>),
    Postgres(sqlx::PgPool),
}

impl Floor {
    async fn connect(engine: Engine, url: &str, concurrency: usize) -> Self {
        match engine {
            Engine::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)
                    .expect("a SQLite URL")
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(60));
                let mut connections = Vec::new();
                for _ in 0..concurrency {
                    connections.push(tokio::sync::Mutex::new(
                        options.connect().await.expect("connect"),
                    ));
                }
                Self::Sqlite(Arc::new(connections))
            }
            Engine::Postgres => Self::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(concurrency as u32)
                    .min_connections(concurrency as u32)
                    .connect(url)
                    .await
                    .expect("connect"),
            ),
        }
    }

    /// Inserts `items[range]`, one row per transaction, from `concurrency` tasks.
    async fn measure(
        &self,
        items: &Arc<Vec<Delivery>>,
        range: std::ops::Range<usize>,
        concurrency: usize,
    ) -> Run {
        let items = items.clone();
        match self {
            Self::Sqlite(connections) => {
                let connections = connections.clone();
                drive(range.len(), concurrency, move |task, index| {
                    let (connections, items) = (connections.clone(), items.clone());
                    let index = range.start + index;
                    async move {
                        let mut connection = connections[task].lock().await;
                        insert(&items[index])
                            .execute(&mut *connection)
                            .await
                            .expect("insert");
                    }
                })
                .await
            }
            Self::Postgres(pool) => {
                let pool = pool.clone();
                drive(range.len(), concurrency, move |_, index| {
                    let (pool, items) = (pool.clone(), items.clone());
                    let index = range.start + index;
                    async move {
                        insert(&items[index]).execute(&pool).await.expect("insert");
                    }
                })
                .await
            }
        }
    }

    async fn close(self) {
        match self {
            Self::Sqlite(connections) => {
                if let Ok(connections) = Arc::try_unwrap(connections) {
                    for connection in connections {
                        let _ = connection.into_inner().close().await;
                    }
                }
            }
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

fn insert<DB: sqlx::Database>(
    delivery: &Delivery,
) -> sqlx::query::Query<'static, DB, <DB as sqlx::Database>::Arguments<'static>>
where
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Vec<u8>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let event = delivery.event();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64);
    sqlx::query(INSERT)
        .bind(delivery.idempotency_key().to_string())
        .bind(event.event_type().to_owned())
        .bind(event.enrichment_id().map(str::to_owned))
        .bind(event.external_id().map(str::to_owned))
        .bind(delivery.raw_body().to_vec())
        .bind(delivery.signature_header().map(str::to_owned))
        .bind(delivery.signed_at().map(|at| at.unix_millis() as i64))
        .bind(now)
}

struct Row {
    engine: Engine,
    concurrency: usize,
    count: usize,
    inbox: Run,
    floor: Run,
    /// The median of the rounds' inbox ÷ floor ratios.
    ratio: f64,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|arg| arg == "--quick");
    let value_of = |flag: &str| {
        args.iter()
            .position(|arg| arg == flag)
            .and_then(|at| args.get(at + 1))
            .cloned()
    };
    let only_engine = value_of("--engine");
    let only_concurrency: Option<usize> = value_of("--concurrency").and_then(|n| n.parse().ok());
    let rounds = if quick { 2 } else { 15 };
    let admin_url = std::env::var("ENRICH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let postgres = sqlx::PgConnection::connect(&admin_url).await.is_ok();
    let mut engines: Vec<Engine> = if postgres {
        vec![Engine::Sqlite, Engine::Postgres]
    } else {
        eprintln!("bench-inbox: no Postgres at {admin_url}; measuring SQLite only");
        vec![Engine::Sqlite]
    };
    if let Some(only) = &only_engine {
        engines.retain(|engine| format!("{engine:?}").eq_ignore_ascii_case(only));
    }
    // `--part stores,encryption,retention` (any of them; all by default).
    let parts = value_of("--part").unwrap_or_else(|| "stores,encryption,retention".to_owned());
    let part = |name: &str| parts.split(',').any(|part| part.trim() == name);
    let retention_rows: u64 = value_of("--retention-rows")
        .and_then(|rows| rows.parse().ok())
        .unwrap_or(if quick { 100_000 } else { 1_000_000 });
    let mut rows = Vec::new();
    let mut sealed_rows = Vec::new();
    let mut passes = Vec::new();
    for &engine in &engines {
        if part("encryption") {
            sealed_rows.push(
                measure_sealed(engine, &admin_url, rounds, if quick { 200 } else { 2_000 }).await,
            );
        }
        if part("retention") {
            let (url, cleanup) = fresh(engine, &admin_url, "inbox_retention")
                .await
                .expect("a fresh database");
            let config = WebhookConfig::with_secret(SECRET).expect("a valid secret");
            let pass = retention::measure(engine, &url, retention_rows, |index| {
                delivery(&config, index)
            })
            .await
            .expect("the retention pass measured");
            eprintln!(
                "bench-inbox: {engine:?} retention pass over {} rows in {:.1} s: store p99 {:.2} ms during, {:.2} ms before",
                pass.rows,
                pass.pass.as_secs_f64(),
                pass.during.percentile_ms(0.99),
                pass.before.percentile_ms(0.99),
            );
            passes.push(pass);
            cleanup.run().await;
        }
        if !part("stores") {
            continue;
        }
        for concurrency in CONCURRENCY {
            if only_concurrency.is_some_and(|only| only != concurrency) {
                continue;
            }
            // Rows per round; the floor and the inbox each insert `rounds × count` distinct rows.
            let count = match (quick, concurrency) {
                (true, 1) => 20,
                (true, _) => 200,
                (false, 1) => 30,
                (false, 8) => 100,
                (false, _) => 250,
            };
            let items = Arc::new(deliveries(2 * rounds * count));
            let (url, cleanup) = fresh(engine, &admin_url, &format!("inbox_{concurrency}"))
                .await
                .expect("a fresh database");
            let inbox = Inbox::open(&url).await.expect("open the inbox");
            let floor = Floor::connect(engine, &url, concurrency).await;
            let (mut inbox_runs, mut floor_runs) = (Vec::new(), Vec::new());
            for round in 0..rounds {
                let floor_rows = 2 * round * count..(2 * round + 1) * count;
                let inbox_rows = floor_rows.end..floor_rows.end + count;
                floor_runs.push(floor.measure(&items, floor_rows, concurrency).await);
                inbox_runs.push(measure_inbox(&inbox, &items, inbox_rows, concurrency).await);
            }
            eprintln!(
                "bench-inbox: {engine:?} ×{concurrency}: inbox {:?}, floor {:?}",
                inbox_runs
                    .iter()
                    .map(|run| run.per_second.round())
                    .collect::<Vec<_>>(),
                floor_runs
                    .iter()
                    .map(|run| run.per_second.round())
                    .collect::<Vec<_>>(),
            );
            inbox.close().await;
            floor.close().await;
            cleanup.run().await;
            let ratios: Vec<f64> = inbox_runs
                .iter()
                .zip(&floor_runs)
                .map(|(inbox, floor)| inbox.per_second / floor.per_second)
                .collect();
            rows.push(Row {
                engine,
                concurrency,
                count,
                inbox: median_run(&inbox_runs),
                floor: median_run(&floor_runs),
                ratio: median(&ratios),
            });
        }
    }
    let mut report = String::new();
    if part("stores") {
        report.push_str(&render(&rows, rounds, postgres, quick));
    }
    if part("encryption") {
        report.push_str(&render_sealed(&sealed_rows, rounds));
    }
    if part("retention") {
        report.push_str(&retention::render(&passes));
    }
    print!("{report}");
}

/// Stores with encryption at rest against stores without, at [`SEALED_CONCURRENCY`].
struct SealedRow {
    engine: Engine,
    count: usize,
    plain: Run,
    sealed: Run,
    /// The median of the rounds' sealed ÷ plain ratios.
    ratio: f64,
}

/// The concurrency of the encryption comparison.
const SEALED_CONCURRENCY: usize = 64;

/// `Inbox::store` through an inbox with a keyring (every body sealed with AES-256-GCM) and
/// through one without, on one fresh database, alternating within each of `rounds` rounds
/// (which goes first alternates too), `count` new rows each.
async fn measure_sealed(engine: Engine, admin_url: &str, rounds: usize, count: usize) -> SealedRow {
    assert!(
        std::env::var_os(Keyring::ENV).is_none(),
        "unset {} (the plain inbox would read it)",
        Keyring::ENV
    );
    let items = Arc::new(deliveries(2 * rounds * count));
    let (url, cleanup) = fresh(engine, admin_url, "inbox_sealed")
        .await
        .expect("a fresh database");
    let plain = Inbox::open(&url).await.expect("open the inbox");
    let keys = Keyring::new("bench", [7; 32]).expect("a valid key id");
    let sealed = Inbox::open_with(&url, InboxConfig::default().keys(keys))
        .await
        .expect("open the inbox");
    let (mut plain_runs, mut sealed_runs) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let first = 2 * round * count..(2 * round + 1) * count;
        let second = first.end..first.end + count;
        let (plain_rows, sealed_rows) = if round % 2 == 0 {
            (first, second)
        } else {
            (second, first)
        };
        if round % 2 == 0 {
            plain_runs.push(measure_inbox(&plain, &items, plain_rows, SEALED_CONCURRENCY).await);
            sealed_runs.push(measure_inbox(&sealed, &items, sealed_rows, SEALED_CONCURRENCY).await);
        } else {
            sealed_runs.push(measure_inbox(&sealed, &items, sealed_rows, SEALED_CONCURRENCY).await);
            plain_runs.push(measure_inbox(&plain, &items, plain_rows, SEALED_CONCURRENCY).await);
        }
    }
    eprintln!(
        "bench-inbox: {engine:?} ×{SEALED_CONCURRENCY}: sealed {:?}, plain {:?}",
        sealed_runs
            .iter()
            .map(|run| run.per_second.round())
            .collect::<Vec<_>>(),
        plain_runs
            .iter()
            .map(|run| run.per_second.round())
            .collect::<Vec<_>>(),
    );
    plain.close().await;
    sealed.close().await;
    cleanup.run().await;
    let ratios: Vec<f64> = sealed_runs
        .iter()
        .zip(&plain_runs)
        .map(|(sealed, plain)| sealed.per_second / plain.per_second)
        .collect();
    SealedRow {
        engine,
        count,
        plain: median_run(&plain_runs),
        sealed: median_run(&sealed_runs),
        ratio: median(&ratios),
    }
}

fn render_sealed(rows: &[SealedRow], rounds: usize) -> String {
    let mut out = format!(
        "\n### Encryption at rest\n\n\
         The same stores through an inbox with a keyring (`InboxConfig::keys`: every body sealed \
         with AES-256-GCM under a random nonce before it is written) and through one without, on \
         one database per engine, {SEALED_CONCURRENCY} concurrent deliveries, {rounds} rounds \
         each storing `rows` new deliveries through each inbox (which goes first alternates); \
         figures are medians over the rounds, `sealed ÷ plain` the median of the rounds' \
         ratios.\n\n\
         | engine | concurrent | rows | plain acks/s | sealed acks/s | sealed p50 | sealed p99 | sealed ÷ plain | target |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---|\n"
    );
    for row in rows {
        out.push_str(&format!(
            "| {} | {SEALED_CONCURRENCY} | {} | {:.0} | {:.0} | {} | {} | {:.2}× | ≥ 0.9×: {} |\n",
            row.engine.label(),
            row.count,
            row.plain.per_second,
            row.sealed.per_second,
            ms(row.sealed.p50_us),
            ms(row.sealed.p99_us),
            row.ratio,
            if row.ratio >= 0.9 {
                "met"
            } else {
                "**missed**"
            },
        ));
    }
    out
}

/// The median of each figure over the rounds.
fn median_run(runs: &[Run]) -> Run {
    let of = |figure: fn(&Run) -> f64| median(&runs.iter().map(figure).collect::<Vec<_>>());
    Run {
        per_second: of(|run| run.per_second),
        p50_us: of(|run| run.p50_us),
        p99_us: of(|run| run.p99_us),
    }
}

fn ms(us: f64) -> String {
    format!("{:.2} ms", us / 1000.0)
}

fn render(rows: &[Row], rounds: usize, postgres: bool, quick: bool) -> String {
    let mut out = String::from("\n## 4. The inbox: durable acknowledgements (`enrich-inbox`)\n\n");
    out.push_str(
        "`bench-inbox`: `Inbox::store` of verified ~1.9 KB person events (each a distinct \
         person), timed from the call to its durable return, against the engine's own floor: the \
         same kind of rows inserted one row per transaction (`INSERT … ON CONFLICT DO NOTHING`, \
         autocommit) from as many connections as concurrent deliveries, into the same table, with \
         the same durability (SQLite: WAL, `synchronous = FULL`, the inbox's default; Postgres: \
         the server's `synchronous_commit = on`); ",
    );
    out.push_str(&format!(
        "one database per row of the table, {rounds} short rounds, each a floor run then an inbox \
         run of as many new rows (the `rows` column: per round, each); every figure is the median \
         over the rounds, and `inbox ÷ floor` the median of the rounds' ratios (the disk's sync \
         latency drifts with the machine's load, so only runs close in time are compared).{}\n\n",
        if quick {
            " **Quick run: not for publishing.**"
        } else {
            ""
        }
    ));
    out.push_str(
        "| engine | concurrent | rows | inbox acks/s | inbox p50 | inbox p99 | floor commits/s | floor p50 | floor p99 | inbox ÷ floor | target |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for row in rows {
        let ratio = row.ratio;
        let target = match (row.engine, row.concurrency) {
            (Engine::Sqlite, 64) => {
                format!("≥ 5×: {}", if ratio >= 5.0 { "met" } else { "**missed**" })
            }
            (Engine::Postgres, 64) => {
                format!("≥ 3×: {}", if ratio >= 3.0 { "met" } else { "**missed**" })
            }
            (_, 1) => format!(
                "≥ 0.9×: {}",
                if ratio >= 0.9 { "met" } else { "**missed**" }
            ),
            _ => String::new(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {} | {} | {:.0} | {} | {} | {:.2}× | {} |\n",
            match row.engine {
                Engine::Sqlite => "SQLite",
                Engine::Postgres => "Postgres",
            },
            row.concurrency,
            row.count,
            row.inbox.per_second,
            ms(row.inbox.p50_us),
            ms(row.inbox.p99_us),
            row.floor.per_second,
            ms(row.floor.p50_us),
            ms(row.floor.p99_us),
            ratio,
            target,
        ));
    }
    if !postgres {
        out.push_str("\nPostgres was unreachable in this run: its rows are missing.\n");
    }
    out.push_str(
        "\nOn SQLite the inbox's group writer commits every store waiting for it in one \
         transaction with one sync, and answers none before that sync, while the floor's \
         connections take turns at the single write lock, one sync each (its p99 is the wait of \
         SQLite's busy handler). At one delivery at a time there is nothing to group: the ratio \
         shows the inbox's own overhead. On Postgres the inbox groups the stores waiting the \
         same way, one multi-row `INSERT … FROM UNNEST(…)` and one commit per group, with up to \
         half its default pool of 8 connections (`InboxConfig::max_connections`) committing \
         groups at once, while the floor has one connection per concurrent delivery, each row its \
         own commit (the server groups the WAL flushes of concurrent commits, so the floor's \
         connections also share flushes, but each row pays a statement and a commit).\n",
    );
    out
}
