//! Personal data at rest: retention passes in bounded batches (by hand and on the worker's
//! schedule), erasure of one person, and, on SQLite, that purged and erased values are gone
//! from the database's files.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use enrich_inbox::{
    DeliveryId, ERASED, Inbox, InboxConfig, Job, Retention, State, Stored, Subject, Worker,
    WorkerConfig,
};
use support::files::{
    incompressible, occurrences, padded_person, postgres_table_files, sqlite_file_bytes,
};
use support::{TestDb, delivery, eventually};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

fn quick() -> WorkerConfig {
    WorkerConfig::default().poll_interval(Duration::from_millis(20))
}

/// A person event of `enrichment` for `external_id` with `email` among its emails.
fn person_with_email(enrichment: &str, external_id: &str, email: &str) -> String {
    format!(
        r#"{{"eventType":"person.enrichment.completed","data":{{"enrichmentID":"{enrichment}","person":{{"externalID":"{external_id}","firstName":"Ada","lastName":"Lovelace","emails":[{{"email":"{email}","validationStatus":"VALID"}}],"mobilePhones":[{{"mobilePhone":"+44 20 7946 0000"}}]}}}}}}"#
    )
}

fn new_id(stored: Stored) -> DeliveryId {
    match stored {
        Stored::New(id) => id,
        Stored::Duplicate => panic!("expected a new delivery"),
    }
}

/// Inserts `rows` finished deliveries straight into the table (faster than storing and
/// processing them): `done`, the first finished `finished_ago` ago by the database's clock and
/// each next one a millisecond earlier, with a body of 1,000 bytes; keys `bulk-0`…
async fn bulk_done(db: &TestDb, rows: u64, finished_ago: Duration) {
    let ago = finished_ago.as_millis();
    let statement = if db.is_sqlite() {
        format!(
            "INSERT INTO enrich_inbox_deliveries (idempotency_key, source, state, event_type, \
             raw_body, verified, received_at_ms, attempts, due_at_ms, finished_at_ms) \
             WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {rows}) \
             SELECT 'bulk-' || i, 'webhook', 'done', 'person.enrichment.completed', \
             zeroblob(1000), 0, 0, 1, 0, \
             CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) - {ago} - i FROM n"
        )
    } else {
        format!(
            "INSERT INTO enrich_inbox_deliveries (idempotency_key, source, state, event_type, \
             raw_body, verified, received_at_ms, attempts, due_at_ms, finished_at_ms) \
             SELECT 'bulk-' || i, 'webhook', 'done', 'person.enrichment.completed', \
             convert_to(repeat('x', 1000), 'UTF8'), false, 0, 1, 0, \
             CAST(FLOOR(EXTRACT(EPOCH FROM statement_timestamp()) * 1000) AS BIGINT) - {ago} - i \
             FROM generate_series(0, {rows} - 1) AS i"
        )
    };
    assert_eq!(db.execute(&statement).await, rows);
}

on_both_engines! {
    async fn a_retention_pass_runs_in_bounded_batches(db) {
        let inbox = Inbox::open(&db.url).await.unwrap();
        bulk_done(db, 2_000, 2 * HOUR).await;
        // 500 of them died instead, with an error text.
        db.execute(
            "UPDATE enrich_inbox_deliveries SET state = 'dead', last_error = 'boom' \
             WHERE id % 4 = 0",
        )
        .await;
        let pending = new_id(inbox.store(&delivery(&person_with_email("e", "p", "a@b.c"))).await.unwrap());

        // Bodies and dead letters now, keys after a day: nothing deleted yet.
        let retention = Retention::default()
            .bodies(Duration::ZERO)
            .dead_letters(Duration::ZERO)
            .keys(DAY)
            .batch_size(100);
        let report = inbox.purge(retention).await.unwrap();
        assert_eq!(
            (report.bodies_dropped, report.dead_letters_dropped, report.keys_forgotten),
            (1_500, 500, 0)
        );
        assert_eq!((report.batches, report.largest_batch), (20, 100), "{report:?}");
        let counts = inbox.counts().await.unwrap();
        assert_eq!((counts.purged, counts.dead, counts.pending), (2_000, 0, 1));
        let dead_letter = inbox.list(State::Purged, 4).await.unwrap();
        let dead_letter = dead_letter.iter().find(|row| row.id.0 % 4 == 0).unwrap();
        assert_eq!((&dead_letter.raw_body, &dead_letter.last_error), (&None, &None));

        // Keys an hour old are forgotten, in batches too; the pending delivery stays.
        let report = inbox.purge(retention.keys(HOUR)).await.unwrap();
        assert_eq!(report.keys_forgotten, 2_000);
        assert_eq!((report.batches, report.largest_batch), (20, 100));
        assert_eq!(inbox.counts().await.unwrap().total(), 1);
        assert_eq!(inbox.get(pending).await.unwrap().unwrap().state, State::Pending);

        // Keeping everything is explicit, and changes nothing.
        bulk_done(db, 10, 2 * DAY).await;
        let report = inbox.purge(Retention::keep_forever()).await.unwrap();
        assert_eq!((report.batches, report.bodies_dropped, report.keys_forgotten), (0, 0, 0));
        assert_eq!(inbox.counts().await.unwrap().done, 10);
    }

    async fn a_store_goes_in_between_the_batches_of_a_large_purge(db) {
        let inbox = Inbox::open(&db.url).await.unwrap();
        let rows = 10_000;
        bulk_done(db, rows, 2 * HOUR).await;
        let retention = Retention::keep_forever().keys(Duration::ZERO).batch_size(50);
        let purge = tokio::spawn({
            let inbox = inbox.clone();
            async move { inbox.purge(retention).await.unwrap() }
        });
        // Once the purge has committed a batch, a store waits for one batch at most, not for
        // the whole purge: when it returns, most of the rows are still there.
        loop {
            if inbox.counts().await.unwrap().done < rows {
                break;
            }
            tokio::task::yield_now().await;
        }
        inbox.store(&delivery(&person_with_email("e", "during", "a@b.c"))).await.unwrap();
        let left = inbox.counts().await.unwrap().done;
        let report = purge.await.unwrap();
        assert!(
            left > 0,
            "the store returned only after the whole purge ({report:?})"
        );
        assert_eq!(report.keys_forgotten, rows);
        assert_eq!((report.batches, report.largest_batch), (200, 50), "{report:?}");
        assert_eq!(inbox.counts().await.unwrap().pending, 1);
    }

    async fn the_worker_applies_the_inbox_retention_on_a_schedule(db) {
        let retention = Retention::default()
            .bodies(Duration::ZERO)
            .every(Duration::from_millis(20));
        let inbox = Inbox::open_with(&db.url, InboxConfig::default().retention(retention))
            .await
            .unwrap();
        let id = new_id(inbox.store(&delivery(&person_with_email("e", "p", "a@b.c"))).await.unwrap());
        let worker = Worker::new(inbox.clone(), |_job: Job| async { Ok::<(), std::io::Error>(()) })
            .config(quick())
            .spawn();
        eventually("the processed body to be purged by the worker", || async {
            let row = inbox.get(id).await.unwrap().unwrap();
            (row.state == State::Purged && row.raw_body.is_none()).then_some(())
        })
        .await;
        worker.shutdown(Duration::from_secs(10)).await;

        // By default a body just processed is kept (7 days).
        let inbox = Inbox::open(&db.url).await.unwrap();
        let kept = new_id(inbox.store(&delivery(&person_with_email("e", "q", "a@b.c"))).await.unwrap());
        let worker = Worker::new(inbox.clone(), |_job: Job| async { Ok::<(), std::io::Error>(()) })
            .config(quick())
            .spawn();
        eventually("the delivery to be processed", || async {
            (inbox.get(kept).await.unwrap().unwrap().state == State::Done).then_some(())
        })
        .await;
        worker.shutdown(Duration::from_secs(10)).await;
        assert!(inbox.get(kept).await.unwrap().unwrap().raw_body.is_some());
    }

    async fn erasing_an_email_erases_every_delivery_holding_it_in_every_state(db) {
        let inbox = Inbox::open(&db.url).await.unwrap();
        let pending = new_id(inbox.store(&delivery(&person_with_email("e1", "p1", "Ada@Example.com"))).await.unwrap());
        let dead = new_id(inbox.store(&delivery(&person_with_email("e2", "p1-again", "ada@example.COM"))).await.unwrap());
        let done = new_id(inbox.store(&delivery(&person_with_email("e3", "p1-third", "ada@example.com"))).await.unwrap());
        let other = new_id(inbox.store(&delivery(&person_with_email("e1", "p2", "grace@example.com"))).await.unwrap());
        db.execute(&format!(
            "UPDATE enrich_inbox_deliveries SET state = 'dead', last_error = 'mail to ada@example.com bounced', \
             finished_at_ms = 1 WHERE id = {}", dead.0
        )).await;
        db.execute(&format!(
            "UPDATE enrich_inbox_deliveries SET state = 'done', finished_at_ms = 1 WHERE id = {}", done.0
        )).await;

        let subject = Subject::Email(" ADA@example.com ".to_owned());
        let preview = inbox.erasure_preview(&subject).await.unwrap();
        assert_eq!(preview.deliveries, vec![pending, dead, done]);
        assert!(preview.dry_run);
        assert_eq!((preview.by_state.pending, preview.by_state.dead, preview.by_state.done), (1, 1, 1));
        assert_eq!((preview.bodies, preview.error_texts), (3, 1));
        assert!(inbox.get(pending).await.unwrap().unwrap().raw_body.is_some(), "a preview changes nothing");

        let erasure = inbox.erase(&subject).await.unwrap();
        assert_eq!(erasure.deliveries, vec![pending, dead, done]);
        assert!(!erasure.dry_run);
        assert!(erasure.scrubbed, "{erasure:?}");
        for id in [pending, dead, done] {
            let row = inbox.get(id).await.unwrap().unwrap();
            assert_eq!(row.state, State::Purged);
            assert_eq!((row.raw_body, row.signature_header), (None, None));
            assert_eq!(row.last_error.as_deref(), Some(ERASED));
            assert!(row.finished_at.is_some());
        }
        let kept = inbox.get(other).await.unwrap().unwrap();
        assert_eq!((kept.state, kept.raw_body.is_some()), (State::Pending, true));
        // The keys stay: a redelivery of an erased delivery is not stored again.
        assert_eq!(
            inbox.store(&delivery(&person_with_email("e1", "p1", "Ada@Example.com"))).await.unwrap(),
            Stored::Duplicate
        );
        // Nothing left to find.
        assert!(inbox.erasure_preview(&subject).await.unwrap().deliveries.is_empty());

        // The erased pending delivery is never processed; the other one is.
        let processed = Arc::new(std::sync::Mutex::new(Vec::new()));
        let worker = Worker::new(inbox.clone(), {
            let processed = processed.clone();
            move |job: Job| {
                processed.lock().unwrap().push(job.delivery().id);
                async { Ok::<(), std::io::Error>(()) }
            }
        })
        .config(quick())
        .spawn();
        eventually("the other delivery to be processed", || async {
            (inbox.get(other).await.unwrap().unwrap().state == State::Done).then_some(())
        })
        .await;
        worker.shutdown(Duration::from_secs(10)).await;
        assert_eq!(*processed.lock().unwrap(), vec![other]);
        assert_eq!(inbox.get(pending).await.unwrap().unwrap().state, State::Purged);
    }

    async fn erasing_an_external_id_or_an_enrichment(db) {
        let inbox = Inbox::open(&db.url).await.unwrap();
        let a1 = new_id(inbox.store(&delivery(&person_with_email("e1", "a", "a@x.io"))).await.unwrap());
        let b1 = new_id(inbox.store(&delivery(&person_with_email("e1", "b", "b@x.io"))).await.unwrap());
        let a2 = new_id(inbox.store(&delivery(&person_with_email("e2", "a", "a@x.io"))).await.unwrap());
        let c2 = new_id(inbox.store(&delivery(&person_with_email("e2", "c", "c@x.io"))).await.unwrap());

        let erasure = inbox.erase(&Subject::ExternalId("a".to_owned())).await.unwrap();
        assert_eq!(erasure.deliveries, vec![a1, a2]);
        assert_eq!(erasure.bodies, 2);
        let erasure = inbox.erase(&Subject::Enrichment("e1".to_owned())).await.unwrap();
        assert_eq!(erasure.deliveries, vec![a1, b1], "a1 again: already erased, found by its id");
        assert_eq!(erasure.bodies, 1, "only b1 still had a body");
        assert_eq!(inbox.get(c2).await.unwrap().unwrap().state, State::Pending);
        assert!(inbox.get(c2).await.unwrap().unwrap().raw_body.is_some());
        let nobody = inbox.erase(&Subject::ExternalId("nobody".to_owned())).await.unwrap();
        assert_eq!((nobody.deliveries.len(), nobody.scrubbed), (0, false));
        assert!(inbox.erase(&Subject::Email("  ".to_owned())).await.is_err());
    }

    async fn a_delivery_erased_while_its_handler_runs_does_not_stop_the_worker(db) {
        let inbox = Inbox::open(&db.url).await.unwrap();
        let erased = new_id(inbox.store(&delivery(&person_with_email("e", "x", "x@x.io"))).await.unwrap());
        let started = Arc::new(tokio::sync::Notify::new());
        let release = Arc::new(tokio::sync::Notify::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let worker = Worker::new(inbox.clone(), {
            let (started, release, runs) = (started.clone(), release.clone(), runs.clone());
            move |job: Job| {
                let (started, release, runs) = (started.clone(), release.clone(), runs.clone());
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    if job.delivery().external_id.as_deref() == Some("x") {
                        started.notify_one();
                        release.notified().await;
                    }
                    Ok::<(), std::io::Error>(())
                }
            }
        })
        .config(quick().lease(Duration::from_millis(300)))
        .spawn();
        started.notified().await;
        let erasure = inbox.erase(&Subject::ExternalId("x".to_owned())).await.unwrap();
        assert_eq!((erasure.deliveries.clone(), erasure.by_state.processing), (vec![erased], 1));
        release.notify_one();
        // The worker goes on with the next delivery.
        let next = new_id(inbox.store(&delivery(&person_with_email("e", "y", "y@x.io"))).await.unwrap());
        eventually("the next delivery to be processed", || async {
            (inbox.get(next).await.unwrap().unwrap().state == State::Done).then_some(())
        })
        .await;
        // Past several leases, the erased one was neither recorded done nor run again.
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        worker.shutdown(Duration::from_secs(10)).await;
        let row = inbox.get(erased).await.unwrap().unwrap();
        assert_eq!((row.state, row.raw_body, row.last_error.as_deref()), (State::Purged, None, Some(ERASED)));
        assert_eq!(runs.load(Ordering::SeqCst), 2, "x once, y once");
    }
}

// The purged and erased values are gone from the bytes of the SQLite file and its WAL (with
// `secure_delete` off, SQLite leaves them in free space and in old WAL frames: this test then
// fails, as checked when it was written).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purged_and_erased_emails_are_gone_from_the_sqlite_files() {
    let db = TestDb::sqlite("bytes");
    let inbox = Inbox::open(&db.url).await.unwrap();
    // Small bodies (in the table's pages) and large ones (in overflow pages).
    for i in 0..300 {
        let body = padded_person(
            &format!("old-{i}"),
            &format!("gone-{i}@purge.example"),
            (i % 3) * 3000,
        );
        inbox.store(&delivery(&body)).await.unwrap();
    }
    db.execute("UPDATE enrich_inbox_deliveries SET state = 'done', finished_at_ms = 1")
        .await;
    assert!(
        occurrences(&sqlite_file_bytes(&db), "@purge.example") >= 300,
        "the emails are in the files before the purge"
    );
    let report = inbox
        .purge(Retention::keep_forever().bodies(Duration::ZERO))
        .await
        .unwrap();
    assert_eq!((report.bodies_dropped, report.scrubbed), (300, true));
    assert_eq!(
        occurrences(&sqlite_file_bytes(&db), "@purge.example"),
        0,
        "purged emails left in the files"
    );

    for i in 0..300 {
        let body = padded_person(
            &format!("new-{i}"),
            &format!("person-{i}@erase.example"),
            (i % 3) * 3000,
        );
        inbox.store(&delivery(&body)).await.unwrap();
    }
    let erasure = inbox
        .erase(&Subject::Email("person-7@erase.example".to_owned()))
        .await
        .unwrap();
    assert_eq!((erasure.deliveries.len(), erasure.scrubbed), (1, true));
    let bytes = sqlite_file_bytes(&db);
    assert_eq!(
        occurrences(&bytes, "person-7@erase.example"),
        0,
        "the erased email left in the files"
    );
    assert!(
        occurrences(&bytes, "person-8@erase.example") > 0,
        "the others are still stored"
    );
    inbox.close().await;
}

// On Postgres, an erasure followed by its VACUUM leaves no erased email in the TOAST table,
// where bodies of people (over 2 KB) live. It does not reach the WAL, nor the free space of the
// heap's pages for small bodies stored inline: the README ("Personal data") says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erased_emails_are_gone_from_the_postgres_table_files_after_the_vacuum() {
    let Some(db) = TestDb::postgres("privacy::postgres_files").await else {
        return;
    };
    let inbox = Inbox::open(&db.url).await.unwrap();
    for i in 0..100 {
        let body = padded_person(&format!("p-{i}"), &format!("toasted-{i}@pg.example"), 0).replace(
            r#""companyName":"""#,
            &format!(r#""companyName":"{}""#, incompressible(4_000, i)),
        );
        inbox.store(&delivery(&body)).await.unwrap();
    }
    let Some((heap, toast)) = postgres_table_files(&db).await else {
        return;
    };
    let markers =
        |path: &std::path::Path| occurrences(&std::fs::read(path).unwrap(), "@pg.example");
    assert_eq!(
        (markers(&heap), markers(&toast)),
        (0, 100),
        "bodies are stored out of line"
    );

    let erasure = inbox
        .erase(&Subject::Enrichment("bytes".to_owned()))
        .await
        .unwrap();
    assert_eq!((erasure.deliveries.len(), erasure.scrubbed), (100, true));
    let (_, toast) = postgres_table_files(&db)
        .await
        .expect("readable a moment ago");
    assert_eq!(markers(&toast), 0, "erased emails left in the TOAST table");
    inbox.close().await;
}

// A reader holding an old snapshot keeps the WAL from being truncated: the scrub gives up after
// a short wait (`scrubbed: false`) rather than keep writers out for the busy timeout, and the
// next pass after the reader is gone finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrub_blocked_by_an_old_reader_gives_up_and_the_next_pass_finishes_it() {
    use sqlx::Connection;

    let db = TestDb::sqlite("scrub_reader");
    let inbox = Inbox::open(&db.url).await.unwrap();
    for person in ["a", "b", "c"] {
        inbox
            .store(&delivery(&person_with_email("e", person, "x@y.z")))
            .await
            .unwrap();
    }
    db.execute("UPDATE enrich_inbox_deliveries SET state = 'done', finished_at_ms = 1")
        .await;
    let mut reader = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut reader).await.unwrap();
    let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM enrich_inbox_deliveries")
        .fetch_one(&mut reader)
        .await
        .unwrap();

    let bodies_now = Retention::keep_forever().bodies(Duration::ZERO);
    let report = inbox.purge(bodies_now).await.unwrap();
    assert_eq!((report.bodies_dropped, report.scrubbed), (3, false));
    assert!(
        inbox
            .store(&delivery(&person_with_email("e", "d", "x@y.z")))
            .await
            .unwrap()
            .is_new()
    );

    sqlx::query("COMMIT").execute(&mut reader).await.unwrap();
    db.execute("UPDATE enrich_inbox_deliveries SET state = 'done', finished_at_ms = 1 WHERE state = 'pending'")
        .await;
    let report = inbox.purge(bodies_now).await.unwrap();
    assert_eq!((report.bodies_dropped, report.scrubbed), (1, true));
    inbox.close().await;
}
