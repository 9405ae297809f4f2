//! A retention pass over a large inbox and the stores that wait on it (`bench-inbox`, section 4):
//! the inbox filled with processed rows by one bulk statement, then [`Inbox::purge`] run while
//! a store every few milliseconds is timed.

use std::time::{Duration, Instant};

use enrich_inbox::{Inbox, Retention};
use enrich_webhook::Delivery;

use crate::durable::Engine;

/// Store latencies over a span, in microseconds, sorted.
#[derive(Debug, Clone, Default)]
pub struct Latencies(Vec<u64>);

impl Latencies {
    /// How many stores were timed.
    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// The latency below which `fraction` of the stores fall (nearest rank), in ms; NaN when
    /// none.
    pub fn percentile_ms(&self, fraction: f64) -> f64 {
        crate::nearest_rank(&self.0, fraction) / 1000.0
    }

    /// The slowest store, in ms; NaN when none.
    pub fn max_ms(&self) -> f64 {
        self.percentile_ms(1.0)
    }
}

/// What a measured pass did, and the stores before and during it.
#[derive(Debug, Clone)]
pub struct PassLatency {
    /// The engine measured.
    pub engine: Engine,
    /// Rows the pass found due (all of them: every filled row is past both ages).
    pub rows: u64,
    /// How long the bulk fill took.
    pub fill: Duration,
    /// How long the pass took.
    pub pass: Duration,
    /// Its bounded batches (each one commit).
    pub batches: u64,
    /// Stores timed on the idle inbox just before the pass, at the same pace.
    pub before: Latencies,
    /// Stores timed while the pass ran.
    pub during: Latencies,
}

/// The pause between two timed stores.
const PACE: Duration = Duration::from_millis(5);

/// Stores timed before the pass, for the baseline.
const BASELINE_STORES: usize = 200;

/// Inserts `rows` processed deliveries into the inbox at `url` with one statement: `done`,
/// finished two hours ago (each a millisecond earlier than the one before), each with a
/// 1,000-byte body; keys `bulk-0`, `bulk-1`…
pub async fn bulk_done(engine: Engine, url: &str, rows: u64) -> Result<(), String> {
    let ago_ms = 2 * 3600 * 1000;
    let statement = match engine {
        Engine::Sqlite => format!(
            "INSERT INTO enrich_inbox_deliveries (idempotency_key, source, state, event_type, \
             raw_body, verified, received_at_ms, attempts, due_at_ms, finished_at_ms) \
             WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {rows}) \
             SELECT 'bulk-' || i, 'webhook', 'done', 'person.enrichment.completed', \
             randomblob(1000), 0, 0, 1, 0, \
             CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) - {ago_ms} - i \
             FROM n"
        ),
        Engine::Postgres => format!(
            "INSERT INTO enrich_inbox_deliveries (idempotency_key, source, state, event_type, \
             raw_body, verified, received_at_ms, attempts, due_at_ms, finished_at_ms) \
             SELECT 'bulk-' || i, 'webhook', 'done', 'person.enrichment.completed', \
             convert_to(repeat(md5(i::text), 31) || 'abcdefgh', 'UTF8'), false, 0, 1, 0, \
             CAST(FLOOR(EXTRACT(EPOCH FROM statement_timestamp()) * 1000) AS BIGINT) \
               - {ago_ms} - i \
             FROM generate_series(0, {rows} - 1) AS i"
        ),
    };
    match engine {
        Engine::Sqlite => {
            use sqlx::{ConnectOptions, Connection};
            let options: sqlx::sqlite::SqliteConnectOptions =
                url.parse().map_err(|error| format!("{error}"))?;
            let mut connection = options
                .busy_timeout(Duration::from_secs(60))
                .connect()
                .await
                .map_err(|error| format!("connect: {error}"))?;
            sqlx::query(&statement)
                .execute(&mut connection)
                .await
                .map_err(|error| format!("fill: {error}"))?;
            let _ = connection.close().await;
        }
        Engine::Postgres => {
            use sqlx::Connection;
            let mut connection = sqlx::PgConnection::connect(url)
                .await
                .map_err(|error| format!("connect: {error}"))?;
            sqlx::query(&statement)
                .execute(&mut connection)
                .await
                .map_err(|error| format!("fill: {error}"))?;
            // Statistics for the planner, as autovacuum would gather them after a load.
            sqlx::query("ANALYZE enrich_inbox_deliveries")
                .execute(&mut connection)
                .await
                .map_err(|error| format!("analyze: {error}"))?;
            let _ = connection.close().await;
        }
    }
    Ok(())
}

/// Fills the (new, empty) inbox at `url` with `rows` processed rows, times
/// [`BASELINE_STORES`] stores, then runs a retention pass that drops every body and forgets
/// every key (all past both ages), timing a store every [`PACE`] while it runs. `delivery(i)`
/// is the `i`th delivery to store (each new).
pub async fn measure(
    engine: Engine,
    url: &str,
    rows: u64,
    delivery: impl Fn(usize) -> Delivery,
) -> Result<PassLatency, String> {
    let inbox = Inbox::open(url)
        .await
        .map_err(|error| format!("open: {error}"))?;
    let filling = Instant::now();
    bulk_done(engine, url, rows).await?;
    let fill = filling.elapsed();
    let mut next = 0;
    let mut before = Vec::with_capacity(BASELINE_STORES);
    for _ in 0..BASELINE_STORES {
        before.push(timed_store(&inbox, &delivery(next)).await?);
        next += 1;
        tokio::time::sleep(PACE).await;
    }
    let started = Instant::now();
    let pass = tokio::spawn({
        let inbox = inbox.clone();
        async move {
            inbox
                .purge(
                    Retention::keep_forever()
                        .bodies(Duration::from_secs(3600))
                        .keys(Duration::from_secs(3600)),
                )
                .await
        }
    });
    let mut during = Vec::new();
    while !pass.is_finished() {
        during.push(timed_store(&inbox, &delivery(next)).await?);
        next += 1;
        tokio::time::sleep(PACE).await;
    }
    let report = pass
        .await
        .map_err(|error| format!("the pass panicked: {error}"))?
        .map_err(|error| format!("the pass failed: {error}"))?;
    let pass = started.elapsed();
    inbox.close().await;
    Ok(PassLatency {
        engine,
        rows: report.keys_forgotten + report.bodies_dropped,
        fill,
        pass,
        batches: report.batches,
        before: sorted(before),
        during: sorted(during),
    })
}

/// Stores `delivery`; how long it took, in µs.
async fn timed_store(inbox: &Inbox, delivery: &Delivery) -> Result<u64, String> {
    let sent = Instant::now();
    inbox
        .store(delivery)
        .await
        .map_err(|error| format!("store: {error}"))?;
    Ok(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX))
}

fn sorted(mut latencies: Vec<u64>) -> Latencies {
    latencies.sort_unstable();
    Latencies(latencies)
}

/// The Markdown table and its description, for `BENCHMARKS.md`'s section 4.
pub fn render(passes: &[PassLatency]) -> String {
    let mut out = String::from(
        "\n### Stores during a retention pass\n\n\
         The inbox filled with processed rows by one bulk `INSERT` (each `done` two hours ago, \
         with a 1,000-byte body), then one retention pass (`Inbox::purge` with bodies and keys \
         kept one hour: every row's key forgotten, in the default batches of 500 rows, each its \
         own commit), while one delivery at a time is stored every 5 ms and each store is timed \
         from the call to its durable return. `before`: 200 stores at the same pace on the \
         filled inbox just before the pass. Target: p99 during the pass ≤ 100 ms.\n\n\
         | engine | rows | fill | pass | batches | stores during | p50 before | p99 before | p50 during | p99 during | max during | target |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for pass in passes {
        let p99 = pass.during.percentile_ms(0.99);
        out.push_str(&format!(
            "| {} | {} | {:.1} s | {:.1} s | {} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | ≤ 100 ms: {} |\n",
            pass.engine.label(),
            pass.rows,
            pass.fill.as_secs_f64(),
            pass.pass.as_secs_f64(),
            pass.batches,
            pass.during.count(),
            pass.before.percentile_ms(0.5),
            pass.before.percentile_ms(0.99),
            pass.during.percentile_ms(0.5),
            p99,
            pass.during.max_ms(),
            if p99 <= 100.0 { "met" } else { "**missed**" },
        ));
    }
    out
}
