//! Outcomes recorded in groups, on a SQLite file and on a Postgres database: a group that mixes
//! claims still held with claims lost answers each caller for its own outcome; a group that
//! fails answers every caller with the error, and each outcome is recorded once the database is
//! back.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::backend::{Backend, ConnectSettings, NewRecord, Outcome, sql};
use crate::error::Error;
use crate::record::{DeliveryId, State, StoredDelivery};
use crate::support::{Holder, Outage, TestDb, eventually};

async fn open(db: &TestDb, busy_timeout: Duration) -> Arc<Backend> {
    let settings = ConnectSettings {
        max_connections: 4,
        busy_timeout,
        sqlite_synchronous_full: true,
        sqlite_test_pragmas: Vec::new(),
    };
    Arc::new(
        Backend::open(&db.url, &settings)
            .await
            .expect("open the inbox"),
    )
}

/// Stores `count` deliveries and claims them all under `token`; their ids, oldest first.
async fn claimed(backend: &Backend, count: usize, token: i64) -> Vec<DeliveryId> {
    for n in 0..count {
        backend
            .store(NewRecord::for_test(&format!("d{n}"), 100))
            .await
            .expect("store");
    }
    let mut ids: Vec<DeliveryId> = backend
        .claim(60_000, token, i64::try_from(count).unwrap())
        .await
        .expect("claim")
        .into_iter()
        .map(|row| row.expect("a row that reads back").id)
        .collect();
    ids.sort();
    assert_eq!(ids.len(), count);
    ids
}

/// A caller recording `outcome` of delivery `id` under claim `token`, on a task of its own.
fn caller(
    backend: &Arc<Backend>,
    id: DeliveryId,
    token: i64,
    outcome: Outcome,
) -> JoinHandle<Result<bool, Error>> {
    let backend = backend.clone();
    tokio::spawn(async move { backend.record(id, token, outcome).await })
}

async fn get(backend: &Backend, id: DeliveryId) -> StoredDelivery {
    backend.get(id).await.expect("get").expect("stored")
}

/// Waits until a statement of the inbox waits for the lock `Holder::take` holds (on SQLite,
/// which cannot show it, for a moment long enough to reach it).
async fn until_blocked(db: &TestDb) {
    if db.is_sqlite() {
        tokio::time::sleep(Duration::from_millis(500)).await;
        return;
    }
    eventually("a statement waiting for the table lock", || async {
        let waiting = db
            .text(
                "SELECT CAST(COUNT(*) AS TEXT) FROM pg_locks \
                 WHERE NOT granted AND relation = 'enrich_inbox_deliveries'::regclass",
            )
            .await;
        (waiting.as_deref() != Some("0")).then_some(())
    })
    .await;
}

crate::on_both_engines! {
    // Issue 22, item 2: outcomes recorded in one statement answer each caller for its own
    // delivery: `true` where its claim still held the delivery (a success, a retry, a dead
    // letter), `false` where another claim holds it or it was already recorded, and those rows
    // are left as they were.
    async fn a_group_mixing_claims_held_and_lost_answers_each_caller_for_its_own(db) {
        let backend = open(db, Duration::from_secs(30)).await;
        let token = 7;
        let ids = claimed(&backend, 7, token).await;
        // The first outcome's statement waits for the lock: every outcome after it queues up,
        // and the next statement records them all at once.
        let holder = Holder::take(db).await;
        let first = caller(&backend, ids[0], token, Outcome::Done);
        until_blocked(db).await;
        let retry = Outcome::Retry {
            after_ms: 3_600_000,
            error: "try again".to_owned(),
        };
        let dead = Outcome::Dead {
            error: "gave up".to_owned(),
        };
        let group = [
            (ids[1], token, Outcome::Done, true),
            (ids[2], token, retry, true),
            (ids[3], token, dead.clone(), true),
            // Claims lost: another token holds these.
            (ids[4], token + 1, Outcome::Done, false),
            (ids[5], token + 1, dead, false),
            // Recorded already, by the statement before.
            (ids[0], token, Outcome::Done, false),
        ];
        let callers: Vec<_> = group
            .iter()
            .map(|(id, token, outcome, _)| caller(&backend, *id, *token, outcome.clone()))
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        holder.release().await;
        assert!(first.await.unwrap().expect("the first statement"));
        for ((id, _, outcome, expected), caller) in group.iter().zip(callers) {
            let answer = caller.await.unwrap().expect("the group's statement");
            assert_eq!(answer, *expected, "delivery {id}, {outcome:?}");
        }
        let (done, retried, buried) =
            (get(&backend, ids[1]).await, get(&backend, ids[2]).await, get(&backend, ids[3]).await);
        assert_eq!((done.state, done.last_error.as_deref()), (State::Done, None));
        assert_eq!((retried.state, retried.last_error.as_deref()), (State::Pending, Some("try again")));
        assert_eq!(retried.finished_at, None);
        assert!(retried.due_at > retried.received_at + Duration::from_secs(1_800));
        assert_eq!((buried.state, buried.last_error.as_deref()), (State::Dead, Some("gave up")));
        // One statement: the rows it changed were finished at one instant of the database's clock.
        assert!(done.finished_at.is_some());
        assert_eq!(done.finished_at, buried.finished_at);
        for untouched in [ids[4], ids[5], ids[6]] {
            let row = get(&backend, untouched).await;
            assert_eq!((row.state, row.last_error), (State::Processing, None), "delivery {untouched}");
        }
        assert_eq!(get(&backend, ids[0]).await.state, State::Done);
        backend.close().await;
    }

    // Issue 22, item 2: a group whose statement fails (SQLite: the write lock held past the busy
    // timeout; Postgres: the database refusing connections) answers every caller in it with the
    // error; once the database is back, each caller records again, as the worker does.
    async fn a_failed_group_answers_every_caller_with_the_error_and_each_records_again(db) {
        let backend = open(db, Duration::from_millis(300)).await;
        let token = 11;
        let ids = claimed(&backend, 5, token).await;
        let outcomes = [
            Outcome::Done,
            Outcome::Retry { after_ms: 0, error: "again".to_owned() },
            Outcome::Dead { error: "dead".to_owned() },
            Outcome::Done,
            Outcome::Done,
        ];
        let outage = Outage::begin(db).await;
        let callers: Vec<_> = ids
            .iter()
            .zip(&outcomes)
            .map(|(id, outcome)| caller(&backend, *id, token, outcome.clone()))
            .collect();
        for (id, caller) in ids.iter().zip(callers) {
            let answer = caller.await.unwrap();
            assert!(matches!(answer, Err(Error::Database(_))), "delivery {id}: {answer:?}");
        }
        outage.end().await;
        for id in &ids {
            assert_eq!(get(&backend, *id).await.state, State::Processing);
        }
        for (id, outcome) in ids.iter().zip(&outcomes) {
            let recorded = eventually("the outcome recorded once the database is back", || async {
                backend.record(*id, token, outcome.clone()).await.ok()
            })
            .await;
            assert!(recorded, "delivery {id}");
            assert_eq!(get(&backend, *id).await.state, outcome.state());
        }
        backend.close().await;
    }
}

// Issue 22, item 2: SQLite's grouped statement looks each delivery up by its id (the rows of the
// group's JSON drive the join), never scanning the table: it costs the same at any backlog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_group_statement_looks_each_delivery_up_by_id() {
    let db = TestDb::sqlite("outcomes_plan");
    let backend = open(&db, Duration::from_secs(10)).await;
    db.execute(
        "INSERT INTO enrich_inbox_deliveries (idempotency_key, source, state, event_type, \
         verified, received_at_ms, attempts, due_at_ms) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) \
         SELECT 'k' || i, 'webhook', 'processing', 'person.enrichment.completed', false, 0, 1, i \
         FROM n",
    )
    .await;
    db.execute("ANALYZE").await;
    let Backend::Sqlite(engine) = &*backend else {
        unreachable!("a SQLite file")
    };
    let plan = explain(&engine.pool).await;
    assert!(
        plan.iter()
            .any(|line| line.contains("SEARCH d USING INTEGER PRIMARY KEY")),
        "{plan:#?}"
    );
    assert!(
        !plan.iter().any(|line| line.starts_with("SCAN d")),
        "{plan:#?}"
    );
    backend.close().await;
}

/// `EXPLAIN QUERY PLAN` of the grouped statement, a line per step.
async fn explain(pool: &sqlx::SqlitePool) -> Vec<String> {
    sqlx::query(&format!(
        "EXPLAIN QUERY PLAN {}",
        sql::sqlite::OUTCOMES_SQLITE
    ))
    .bind("[[1, 7, \"done\", 0, null]]")
    .fetch_all(pool)
    .await
    .expect("the plan")
    .iter()
    .map(|row| sqlx::Row::try_get::<String, _>(row, "detail").expect("a plan line"))
    .collect()
}
