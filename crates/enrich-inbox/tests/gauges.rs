//! `Inbox::gauges`: the figures an operator watches, read from the database in one statement.
//! The oldest claimable age counts what a claim would take (pending and due, or processing with
//! an expired lease) and never a row waiting on backoff; the read goes through indexes only,
//! whatever the backlog. Each on a SQLite file and on a Postgres database.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use enrich_inbox::{Gauges, Inbox};
use support::TestDb;

async fn open(db: &TestDb) -> Inbox {
    Inbox::open(&db.url).await.expect("open the inbox")
}

async fn gauges(inbox: &Inbox) -> Gauges {
    inbox.gauges().await.expect("the gauges")
}

fn now_ms() -> i64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since_epoch.as_millis()).unwrap()
}

/// Writes one delivery with raw SQL: `state`, received `received_ago_ms` ago, due (or, for a
/// processing row, its lease ending) `due_in_ms` from now (negative: in the past).
async fn insert(db: &TestDb, key: &str, state: &str, received_ago_ms: i64, due_in_ms: i64) {
    let now = now_ms();
    let finished = if matches!(state, "done" | "dead" | "purged") {
        now.to_string()
    } else {
        "NULL".to_owned()
    };
    db.execute(&format!(
        "INSERT INTO enrich_inbox_deliveries (idempotency_key, source, state, event_type, \
         verified, received_at_ms, attempts, due_at_ms, finished_at_ms) \
         VALUES ('{key}', 'webhook', '{state}', 'person.enrichment.completed', false, {}, 1, {}, \
         {finished})",
        now - received_ago_ms,
        now + due_in_ms
    ))
    .await;
}

/// Whether `age` is `expected` give or take a minute (the test's own steps, a slow machine).
fn about(age: Duration, expected: Duration) -> bool {
    age + Duration::from_secs(60) >= expected && age <= expected + Duration::from_secs(60)
}

const HOUR_MS: i64 = 3_600_000;

on_both_engines! {
    // Issue 17, item 1: rows waiting on backoff are counted as `backoff` and never in the oldest
    // claimable age, however long ago they were received; a due row is, from its due time; so is
    // a processing row whose lease expired (a claim takes it), and not one whose lease holds.
    async fn the_oldest_claimable_age_ignores_rows_waiting_on_backoff(db) {
        let inbox = open(db).await;
        assert_eq!(gauges(&inbox).await, Gauges::default(), "an empty inbox");

        // Received ten hours ago, retried, waiting on a backoff that ends in an hour.
        insert(db, "backoff", "pending", 10 * HOUR_MS, HOUR_MS).await;
        let read = gauges(&inbox).await;
        assert_eq!((read.due, read.backoff), (0, 1));
        assert_eq!(read.oldest_claimable_age, Duration::ZERO, "{read:?}");

        // Due for two hours.
        insert(db, "due", "pending", 2 * HOUR_MS, -2 * HOUR_MS).await;
        let read = gauges(&inbox).await;
        assert_eq!((read.due, read.backoff, read.processing), (1, 1, 0));
        assert!(about(read.oldest_claimable_age, Duration::from_secs(2 * 3600)), "{read:?}");

        // Claimed, its lease holding for another minute: processing, not claimable.
        insert(db, "leased", "processing", 5 * HOUR_MS, 60_000).await;
        let read = gauges(&inbox).await;
        assert_eq!((read.due, read.backoff, read.processing), (1, 1, 1));
        assert!(about(read.oldest_claimable_age, Duration::from_secs(2 * 3600)), "{read:?}");

        // Claimed, its lease expired three hours ago: claimable since then.
        insert(db, "expired", "processing", 4 * HOUR_MS, -3 * HOUR_MS).await;
        let read = gauges(&inbox).await;
        assert_eq!((read.due, read.backoff, read.processing), (1, 1, 2));
        assert!(about(read.oldest_claimable_age, Duration::from_secs(3 * 3600)), "{read:?}");

        // Finished rows count as done (purged or not) and dead; never claimable.
        insert(db, "done", "done", 9 * HOUR_MS, -9 * HOUR_MS).await;
        insert(db, "purged", "purged", 9 * HOUR_MS, -9 * HOUR_MS).await;
        insert(db, "dead", "dead", 8 * HOUR_MS, -8 * HOUR_MS).await;
        let read = gauges(&inbox).await;
        assert_eq!(
            (read.due, read.backoff, read.processing, read.done, read.dead),
            (1, 1, 2, 2, 1)
        );
        assert!(about(read.oldest_claimable_age, Duration::from_secs(3 * 3600)), "{read:?}");

        // The counts agree with `Inbox::counts`.
        let counts = inbox.counts().await.unwrap();
        assert_eq!(read.due + read.backoff, counts.pending);
        assert_eq!(read.done, counts.done + counts.purged);
    }

    // Issue 17, item 1: the gauges read no delivery's row beyond the few not due yet: the
    // states from the covering index (SQLite) or the trigger-kept counts (Postgres), the rows
    // not due yet and the oldest claimable one from the due index. Read from the database's
    // own plan, with a backlog of 10,000 due rows and 10,000 done ones.
    async fn the_gauges_read_the_indexes_not_the_backlog(db) {
        let inbox = open(db).await;
        let numbers = if db.is_sqlite() {
            "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) \
             SELECT i FROM n) AS numbers"
        } else {
            "generate_series(1, 20000) AS numbers(i)"
        };
        db.execute(&format!(
            "INSERT INTO enrich_inbox_deliveries (idempotency_key, source, state, event_type, \
             verified, received_at_ms, attempts, due_at_ms, finished_at_ms) \
             SELECT 'k' || i, 'webhook', CASE WHEN i % 2 = 0 THEN 'done' ELSE 'pending' END, \
             'person.enrichment.completed', false, 0, 0, i, CASE WHEN i % 2 = 0 THEN i END \
             FROM {numbers}"
        ))
        .await;
        insert(db, "backoff", "pending", HOUR_MS, HOUR_MS).await;
        db.execute("ANALYZE").await;
        let plan = inbox.gauges_plan().await.expect("the gauges' plan");
        let says = |words: &str| plan.iter().any(|line| line.contains(words));
        if db.is_sqlite() {
            assert!(says("SCAN enrich_inbox_deliveries USING COVERING INDEX enrich_inbox_state"), "{plan:#?}");
            assert!(says("SEARCH enrich_inbox_deliveries USING INDEX enrich_inbox_due (due_at_ms>?)"), "{plan:#?}");
            // The oldest claimable row: the first entry of the due index (and its row).
            assert!(says("SEARCH enrich_inbox_deliveries USING INDEX enrich_inbox_due (due_at_ms<?)"), "{plan:#?}");
            assert!(!says("TEMP B-TREE"), "{plan:#?}");
            let scans: Vec<_> = plan
                .iter()
                .filter(|line| line.contains("SCAN enrich_inbox_deliveries"))
                .collect();
            assert_eq!(scans.len(), 1, "only the covering index of the states is scanned: {plan:#?}");
        } else {
            assert!(says("enrich_inbox_counts"), "{plan:#?}");
            assert!(!says("Seq Scan on enrich_inbox_deliveries"), "{plan:#?}");
            assert!(!says("enrich_inbox_state"), "{plan:#?}");
            assert!(!says("Sort"), "{plan:#?}");
            let due_index = plan.iter().filter(|line| line.contains("using enrich_inbox_due")).count();
            assert_eq!(due_index, 2, "{plan:#?}");
        }
        let read = gauges(&inbox).await;
        assert_eq!((read.due, read.backoff, read.done), (10_000, 1, 10_000));
        // The oldest due row was due at 1 ms after the epoch.
        assert!(read.oldest_claimable_age > Duration::from_secs(50 * 365 * 24 * 3600), "{read:?}");
    }
}
