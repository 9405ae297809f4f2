//! `Inbox::health`: each check passes on a working inbox and fails, named, under the fault it
//! watches for, on a SQLite file and on a Postgres database.

mod support;

use std::time::Duration;

use enrich_inbox::{
    Error, HealthCheck, HealthProblem, HealthReport, Inbox, InboxConfig, InboxHandle, Readiness,
};
use enrich_webhook::Refusal;
use support::{Holder, Outage, delivery, person_body};

/// The deadline the tests give: long enough for a loaded machine to answer, short enough that a
/// wedge is seen quickly.
const DEADLINE: Duration = Duration::from_secs(2);

/// The failed check and its problem, or a panic naming the report.
fn failure(report: &HealthReport) -> (HealthCheck, &HealthProblem) {
    let failure = report
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("expected a failed check, got {report:?}"));
    (failure.check, &failure.problem)
}

on_both_engines! {
    async fn a_working_inbox_is_healthy(db) {
        let inbox = Inbox::open(&db.url).await.unwrap();
        let report = inbox.health(DEADLINE).await;
        assert!(report.is_healthy(), "{report:?}");
        assert_eq!(report.engine, if db.is_sqlite() { "sqlite" } else { "postgres" });
        assert!(report.elapsed <= DEADLINE);
        // The probe wrote nothing, and stores go on as before.
        assert_eq!(inbox.counts().await.unwrap().total(), 0);
        assert!(inbox.store(&delivery(&person_body("b", "p"))).await.unwrap().is_new());
        assert!(inbox.health(DEADLINE).await.into_result().is_ok());
    }

    async fn a_closed_inbox_fails_the_database_check(db) {
        let inbox = Inbox::open(&db.url).await.unwrap();
        inbox.close().await;
        let report = inbox.health(DEADLINE).await;
        let (check, problem) = failure(&report);
        assert_eq!(check, HealthCheck::Database);
        assert!(matches!(problem, HealthProblem::Failed(Error::Closed)), "{problem:?}");
        assert_eq!(
            report.failure.unwrap().to_string(),
            "inbox database check failed: the inbox is closed"
        );
    }

    async fn a_schema_behind_or_ahead_fails_the_migrations_check(db) {
        let inbox = Inbox::open(&db.url).await.unwrap();
        let expected: i64 = db
            .text("SELECT CAST(MAX(version) AS TEXT) FROM enrich_inbox_migrations")
            .await
            .unwrap()
            .parse()
            .unwrap();
        // A newer build migrated the database.
        db.execute(&format!(
            "INSERT INTO enrich_inbox_migrations (version, applied_at_ms) VALUES ({}, 0)",
            expected + 1
        ))
        .await;
        let report = inbox.health(DEADLINE).await;
        let (check, problem) = failure(&report);
        assert_eq!(check, HealthCheck::Migrations);
        assert!(
            matches!(problem, HealthProblem::SchemaAhead { found, expected: e } if *found == expected + 1 && *e == expected),
            "{problem:?}"
        );
        // The database was restored from before its last migration.
        db.execute(&format!("DELETE FROM enrich_inbox_migrations WHERE version >= {expected}"))
            .await;
        let report = inbox.health(DEADLINE).await;
        let (check, problem) = failure(&report);
        assert_eq!(check, HealthCheck::Migrations);
        assert!(
            matches!(problem, HealthProblem::SchemaBehind { found, expected: e } if *found == expected - 1 && *e == expected),
            "{problem:?}"
        );
        assert!(report.failure.unwrap().to_string().contains("behind"));
    }

    async fn a_writer_held_up_past_the_deadline_fails_the_writer_check(db) {
        // The inbox would wait 30 s for the lock: the health check's deadline ends it first.
        let config = InboxConfig::default().busy_timeout(Duration::from_secs(30));
        let inbox = Inbox::open_with(&db.url, config).await.unwrap();
        // Another process holds SQLite's write lock (on Postgres, a lock that keeps out writes).
        let holder = Holder::take(db).await;
        let deadline = Duration::from_millis(500);
        let report = inbox.health(deadline).await;
        let (check, problem) = failure(&report);
        assert_eq!(check, HealthCheck::Writer, "reads still work: {report:?}");
        assert!(matches!(problem, HealthProblem::TimedOut { deadline: d } if *d == deadline), "{problem:?}");
        assert_eq!(
            report.failure.unwrap().to_string(),
            "inbox writer check failed: no answer within 500ms"
        );
        // Once the lock is released the writer is healthy again.
        holder.release().await;
        let report = inbox.health(DEADLINE).await;
        assert!(report.is_healthy(), "{report:?}");
    }
    async fn the_readiness_answer_names_the_failed_check_without_the_database_message(db) {
        let inbox = Inbox::open(&db.url).await.unwrap();
        let ready = Readiness::of(&inbox.health(DEADLINE).await);
        assert_eq!((ready.status, ready.content_type), (200, "application/json"));
        let engine = if db.is_sqlite() { "sqlite" } else { "postgres" };
        assert_eq!(body(&ready), serde_json::json!({"status": "ready", "engine": engine}));

        let holder = Holder::take(db).await;
        let wedged = Readiness::of(&inbox.health(Duration::from_millis(300)).await);
        holder.release().await;
        assert_eq!((wedged.status, wedged.content_type), (503, "application/problem+json"));
        assert_eq!(
            body(&wedged),
            serde_json::json!({
                "type": "about:blank",
                "title": "Service Unavailable",
                "status": 503,
                "code": "not_ready",
                "check": "writer",
                "problem": "timed_out",
                "detail": "inbox writer check failed: no answer within 300ms",
            })
        );

        // A database error: named, but its message (hosts, paths) stays in the log.
        db.execute("DROP TABLE enrich_inbox_migrations").await;
        let report = inbox.health(DEADLINE).await;
        let failed = Readiness::of(&report);
        let message = report.failure.unwrap().to_string();
        assert!(message.contains("enrich_inbox_migrations"), "{message}");
        let failed = body(&failed);
        assert_eq!((failed["check"].as_str(), failed["problem"].as_str()), (Some("database"), Some("failed")));
        assert!(!failed.to_string().contains("enrich_inbox_migrations"), "{failed}");
    }
}

/// Postgres: the server stops taking connections to the database and ends its sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_gone_fails_the_database_check() {
    let Some(db) = support::TestDb::postgres("health_database_gone").await else {
        return;
    };
    let config = InboxConfig::default().busy_timeout(Duration::from_secs(30));
    let inbox = Inbox::open_with(&db.url, config).await.unwrap();
    assert!(inbox.health(DEADLINE).await.is_healthy());
    let outage = Outage::begin(&db).await;
    let report = inbox.health(DEADLINE).await;
    let (check, problem) = failure(&report);
    assert_eq!(check, HealthCheck::Database, "{report:?}");
    assert!(
        matches!(
            problem,
            HealthProblem::Failed(_) | HealthProblem::TimedOut { .. }
        ),
        "{problem:?}"
    );
    outage.end().await;
    support::eventually("the inbox to be healthy again", || async {
        inbox.health(DEADLINE).await.is_healthy().then_some(())
    })
    .await;
}

/// SQLite: the file is no longer a database (overwritten in place, as a bad restore or a
/// failing disk would leave it). The inbox has read no page of it yet: a connection that had
/// answers from its page cache until the write-ahead log's index changes, so the fault shows on
/// the next write or cold read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_that_became_unreadable_fails_the_database_check() {
    let db = support::TestDb::sqlite("health_unreadable");
    let inbox = Inbox::open(&db.url).await.unwrap();
    let path = db.url.trim_start_matches("sqlite:");
    std::fs::write(path, vec![0xA5_u8; 64 * 1024]).unwrap();
    let _ = std::fs::remove_file(format!("{path}-wal"));
    let report = inbox.health(DEADLINE).await;
    let (check, problem) = failure(&report);
    assert_eq!(check, HealthCheck::Database, "{report:?}");
    assert!(
        matches!(problem, HealthProblem::Failed(Error::Database(_))),
        "{problem:?}"
    );
}

/// The body of a readiness answer, parsed.
fn body(readiness: &Readiness) -> serde_json::Value {
    serde_json::from_slice(&readiness.body).expect("a JSON body")
}

#[test]
fn without_an_inbox_a_receiver_is_ready() {
    let ready = Readiness::without_inbox();
    assert!(ready.is_ready());
    assert_eq!(body(&ready), serde_json::json!({"status": "ready"}));
}

/// A receiver started before its database can be opened: stores answer 503 and readiness says
/// why, until the open, retried in the background, succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_opened_in_the_background_is_unready_until_it_opens() {
    let dir = std::env::temp_dir().join(format!("enrich-inbox-later-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // The directory does not exist yet: SQLite cannot create the file.
    let url = format!("sqlite:{}", dir.join("inbox.db").display());
    let handle = InboxHandle::open_in_background(&url, InboxConfig::default());
    let one = delivery(&person_body("b", "p"));

    let error = handle.store(&one).await.unwrap_err();
    assert!(matches!(error.error(), Error::NotOpen), "{error}");
    let refusal = Refusal::from(error);
    assert_eq!(
        (refusal.status(), refusal.retry_after_secs()),
        (503, Some(30))
    );
    let unready = handle.readiness(DEADLINE).await;
    assert_eq!(unready.status, 503);
    let unready = body(&unready);
    assert_eq!(unready["check"], "database");
    assert_eq!(unready["problem"], "not_open");
    assert!(handle.get().is_none());

    std::fs::create_dir_all(&dir).unwrap();
    let inbox = tokio::time::timeout(Duration::from_secs(60), handle.opened())
        .await
        .expect("opened once the directory exists");
    assert!(handle.readiness(DEADLINE).await.is_ready());
    assert!(handle.store(&one).await.unwrap().is_new());
    assert_eq!(inbox.counts().await.unwrap().total(), 1);
    inbox.close().await;

    // `open` tries once before returning: a reachable database is open at once.
    let handle = InboxHandle::open(&url, InboxConfig::default()).await;
    let inbox = handle.get().expect("open at once");
    assert!(handle.readiness(DEADLINE).await.is_ready());
    assert_eq!(inbox.counts().await.unwrap().total(), 1);
    inbox.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    // Unreachable: it returns anyway, unready, and goes on in the background.
    let handle = InboxHandle::open(&url, InboxConfig::default()).await;
    assert!(handle.get().is_none());
    assert_eq!(handle.readiness(DEADLINE).await.status, 503);
}

/// Lines logged on this thread (the test runs on a current-thread runtime, so the opening task
/// logs here too).
#[derive(Clone, Default)]
struct Logged(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logged {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A Postgres server that refuses connections (a closed port) is said to: the open fails with
/// the refusal itself, not with the pool's "timed out" after its acquire timeout, and
/// `InboxHandle::open` returns once that first attempt failed, its warning naming the cause.
#[tokio::test]
async fn an_unreachable_postgres_is_named_by_its_real_cause() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("postgres://postgres@127.0.0.1:{port}/enrich_inbox_nowhere");
    // An acquire timeout far longer than any test: the old open waited it out, then said
    // only "pool timed out".
    let config = InboxConfig::default().busy_timeout(Duration::from_secs(3600));

    let error = Inbox::open_with(&url, config.clone()).await.unwrap_err();
    let mut cause: Option<&dyn std::error::Error> = Some(&error);
    let mut refused = false;
    while let Some(error) = cause {
        refused |= error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
        cause = error.source();
    }
    assert!(refused, "not named as refused: {error} ({error:?})");

    let logged = Logged::default();
    let writer = logged.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let handle = InboxHandle::open(&url, config).await;
    assert!(handle.get().is_none());
    assert_eq!(handle.readiness(DEADLINE).await.status, 503);
    let logged = String::from_utf8(logged.0.lock().unwrap().clone()).unwrap();
    let warning = logged
        .lines()
        .find(|line| line.contains("the inbox could not be opened"))
        .unwrap_or_else(|| panic!("no warning of the failed open in:\n{logged}"));
    assert!(warning.contains("refused"), "{warning}");
    assert!(!warning.contains("timed out"), "{warning}");
}
