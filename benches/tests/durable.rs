//! The durable path's harness in its short form: a backlog filled through the library and
//! drained by a default worker, on each engine (Postgres skipped when unreachable, unless
//! `ENRICH_REQUIRE_POSTGRES=1`).

use std::time::Duration;

use enrich_benches::durable::{Engine, Handler, drain, fill, fresh};
use enrich_inbox::{Inbox, WorkerConfig};
use sqlx::Connection;

const BACKLOG: usize = 60;

async fn drains_its_backlog(engine: Engine, admin_url: &str, label: &str) {
    let (url, cleanup) = fresh(engine, admin_url, label).await.expect("a database");
    let inbox = Inbox::open(&url).await.expect("the inbox opens");
    assert_eq!(fill(&inbox, 0..BACKLOG).await.expect("filled"), BACKLOG);
    // The same deliveries again are duplicates: the bodies are distinct but deterministic.
    assert_eq!(fill(&inbox, 0..10).await.expect("filled"), 0);
    let noop = drain(
        &inbox,
        20,
        Handler::Noop,
        true,
        Duration::from_secs(60),
        WorkerConfig::default(),
    )
    .await
    .expect("drained");
    assert!(noop.processed >= 20, "{noop:?}");
    assert!(noop.per_second() > 0.0);
    let print = drain(
        &inbox,
        BACKLOG - noop.processed,
        Handler::Print,
        false,
        Duration::from_secs(60),
        WorkerConfig::default(),
    )
    .await
    .expect("drained");
    assert_eq!(
        noop.processed + print.processed,
        BACKLOG,
        "{noop:?} {print:?}"
    );
    let counts = inbox.counts().await.expect("counts");
    assert_eq!(counts.done, BACKLOG as u64, "{counts:?}");
    // A drain that cannot finish says so instead of waiting for ever.
    let error = drain(
        &inbox,
        1,
        Handler::Noop,
        false,
        Duration::from_millis(300),
        WorkerConfig::default(),
    )
    .await
    .expect_err("nothing is pending");
    assert!(error.contains("processed 0 of 1"), "{error}");
    inbox.close().await;
    cleanup.run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_harness_drains_a_sqlite_backlog() {
    drains_its_backlog(Engine::Sqlite, "", &format!("test_{}", line!())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_harness_drains_a_postgres_backlog() {
    let admin_url = std::env::var("ENRICH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    if sqlx::PgConnection::connect(&admin_url).await.is_err() {
        assert!(
            std::env::var_os("ENRICH_REQUIRE_POSTGRES").is_none(),
            "no Postgres at {admin_url}"
        );
        eprintln!("skipped: no Postgres at {admin_url}");
        return;
    }
    drains_its_backlog(Engine::Postgres, &admin_url, "test_pg").await;
}
