//! The receivers fixture as real processes with `--inbox`: killed with SIGKILL mid-stream,
//! several on one database, started at once on a fresh one. Each test runs on a SQLite file and
//! on a Postgres database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use enrich_inbox::Inbox;
use sqlx::Connection;

use crate::on_both_engines;
use crate::receiver::{Receiver, deliver_to};
use crate::support::{TestDb, eventually, person_body};

/// The worker settings the receivers run with: quick polling, the default 60 s lease.
const WORKER_ARGS: [&str; 4] = ["--poll-ms", "50", "--concurrency", "4"];

/// For the crash test: a short lease too, so that the deliveries in flight at the kill are
/// taken again soon after the restart.
const CRASH_WORKER_ARGS: [&str; 6] = [
    "--poll-ms",
    "50",
    "--concurrency",
    "4",
    "--lease-ms",
    "1000",
];

/// How many deliveries one worker runs at once (`--concurrency` above).
const CONCURRENCY: usize = 4;

/// The `externalID` of the event a receiver printed.
fn printed_person(line: &str) -> String {
    let event: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|error| panic!("a printed line is not JSON ({error}): {line}"));
    event["data"]["person"]["externalID"]
        .as_str()
        .unwrap_or_else(|| panic!("a printed line has no externalID: {line}"))
        .to_owned()
}

/// How many times each person was printed across `receivers`.
fn printed(lines: impl IntoIterator<Item = String>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for line in lines {
        *counts.entry(printed_person(&line)).or_default() += 1;
    }
    counts
}

/// Waits until nothing is pending or processing in the inbox at `url`.
async fn wait_until_drained(url: &str, expected_done: Option<u64>) {
    let inbox = Inbox::open(url).await.expect("open the inbox");
    eventually("the inbox to be drained", || async {
        let counts = inbox.counts().await.expect("counts");
        let drained = counts.pending == 0 && counts.processing == 0;
        (drained && expected_done.is_none_or(|done| counts.done == done)).then_some(())
    })
    .await;
    inbox.close().await;
}

/// The migration versions recorded in the database at `url`, in order.
async fn migrations_recorded(url: &str) -> Vec<i64> {
    let query = "SELECT version FROM enrich_inbox_migrations ORDER BY version";
    if url.starts_with("sqlite:") {
        let mut connection = sqlx::SqliteConnection::connect(url).await.expect("connect");
        sqlx::query_scalar(query)
            .fetch_all(&mut connection)
            .await
            .expect("the versions")
    } else {
        let mut connection = sqlx::PgConnection::connect(url).await.expect("connect");
        sqlx::query_scalar(query)
            .fetch_all(&mut connection)
            .await
            .expect("the versions")
    }
}

async fn sigkill_while_deliveries_stream_in_and_the_worker_runs(db: &TestDb) {
    const DELIVERIES: usize = 400;
    let mut first = Receiver::start("axum", &db.url, &CRASH_WORKER_ARGS).await;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let sender = {
        let (addr, acknowledged) = (first.addr, acknowledged.clone());
        tokio::spawn(async move {
            let target = ReceiverAt(addr);
            let semaphore = Arc::new(tokio::sync::Semaphore::new(8));
            let mut sends = tokio::task::JoinSet::new();
            for n in 0..DELIVERIES {
                let permit = semaphore.clone().acquire_owned().await.expect("permit");
                let acknowledged = acknowledged.clone();
                sends.spawn(async move {
                    let person = format!("person-{n}");
                    if let Ok(200) = target.deliver(&person_body("crash", &person)).await {
                        acknowledged.lock().expect("acks").push(person);
                    }
                    drop(permit);
                });
            }
            sends.join_all().await;
        })
    };
    // Kill once the stream is well under way and the worker has processed some of it.
    eventually("deliveries to be acknowledged and processed", || async {
        let acked = acknowledged.lock().expect("acks").len();
        (acked >= 100 && !first.lines().is_empty()).then_some(())
    })
    .await;
    first.kill();
    sender.await.expect("the sender");
    let acknowledged = acknowledged.lock().expect("acks").clone();
    assert!(
        acknowledged.len() < DELIVERIES,
        "the kill came after the whole stream; nothing was tested"
    );
    let before_kill = first.lines();

    let second = Receiver::start("axum", &db.url, &CRASH_WORKER_ARGS).await;
    wait_until_drained(&db.url, None).await;
    let counts = printed(before_kill.into_iter().chain(second.lines()));
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|person| !counts.contains_key(*person))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but never processed: {missing:?}"
    );
    // The inbox README's bound: what was in flight at the kill runs again, once. In flight are
    // the handlers running and the outcomes on their way to the database (recorded in groups
    // off the handler's slot): fewer than 3 × concurrency in all, since past 2 × concurrency
    // outcomes waiting the worker claims nothing more.
    let twice: Vec<(&String, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.len() < 3 * CONCURRENCY && twice.iter().all(|(_, n)| **n == 2),
        "only the deliveries in flight at the kill may run again: {twice:?}"
    );
}

/// Sends to a receiver by address (the sender outlives the `Receiver` handle's borrow).
#[derive(Clone, Copy)]
struct ReceiverAt(std::net::SocketAddr);

impl ReceiverAt {
    async fn deliver(self, body: &str) -> std::io::Result<u16> {
        deliver_to(self.0, body).await
    }
}

async fn two_receivers_on_one_database_process_every_delivery_exactly_once(db: &TestDb) {
    const DELIVERIES: usize = 120;
    let (axum, poem) = tokio::join!(
        Receiver::start("axum", &db.url, &WORKER_ARGS),
        Receiver::start("poem", &db.url, &WORKER_ARGS),
    );
    for n in 0..DELIVERIES {
        let body = person_body("replicas", &format!("person-{n}"));
        // Alternated, and each redelivered once to the other replica.
        let (first, second) = if n % 2 == 0 {
            (&axum, &poem)
        } else {
            (&poem, &axum)
        };
        assert_eq!(first.deliver(&body).await.expect("delivered"), 200);
        assert_eq!(second.deliver(&body).await.expect("redelivered"), 200);
    }
    wait_until_drained(&db.url, Some(DELIVERIES as u64)).await;
    let (axum_lines, poem_lines) = (axum.lines(), poem.lines());
    assert!(
        !axum_lines.is_empty() && !poem_lines.is_empty(),
        "both workers took part"
    );
    let counts = printed(axum_lines.into_iter().chain(poem_lines));
    assert_eq!(counts.len(), DELIVERIES);
    assert!(
        counts.values().all(|n| *n == 1),
        "processed more than once: {counts:?}"
    );
}

async fn receivers_started_at_once_on_a_fresh_database_migrate_it_once(db: &TestDb) {
    let (axum, poem, rocket) = tokio::join!(
        Receiver::start("axum", &db.url, &WORKER_ARGS),
        Receiver::start("poem", &db.url, &WORKER_ARGS),
        Receiver::start("rocket", &db.url, &WORKER_ARGS),
    );
    let known = if db.is_sqlite() {
        enrich_inbox::SQLITE_SCHEMA_VERSION
    } else {
        enrich_inbox::POSTGRES_SCHEMA_VERSION
    };
    let migrations: Vec<i64> = (1..=known).collect();
    assert_eq!(migrations_recorded(&db.url).await, migrations);
    for (n, receiver) in [&axum, &poem, &rocket].into_iter().enumerate() {
        let body = person_body("migrations", &format!("person-{n}"));
        assert_eq!(receiver.deliver(&body).await.expect("delivered"), 200);
    }
    wait_until_drained(&db.url, Some(3)).await;
}

on_both_engines! {
    async fn sigkill_mid_stream_loses_no_acknowledged_delivery(db) {
        sigkill_while_deliveries_stream_in_and_the_worker_runs(db).await;
    }

    async fn two_replicas_process_each_delivery_once(db) {
        two_receivers_on_one_database_process_every_delivery_exactly_once(db).await;
    }

    async fn concurrent_migrations_by_three_processes(db) {
        receivers_started_at_once_on_a_fresh_database_migrate_it_once(db).await;
    }
}
