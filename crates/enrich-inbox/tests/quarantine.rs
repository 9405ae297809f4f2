//! The quarantine: deliveries received before the signing secret was known are stored, never
//! processed, bounded, and released (or made dead letters) once the secret is known; on a
//! SQLite file and on a Postgres database.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use enrich_inbox::{
    DeliveryId, Error, Inbox, InboxConfig, Job, NOT_RELEASED, Release, State, Stored, Worker,
    WorkerConfig,
};
use enrich_webhook::testing::SignedRequest;
use enrich_webhook::{
    Delivery, Refusal, SignatureTimestamp, SigningKeys, Tolerance, WebhookConfig,
};
use support::{SECRET, delivery, eventually, person_body};

/// A delivery of `request` accepted by a receiver that has no secret yet.
fn quarantined(request: &SignedRequest) -> Delivery {
    let delivery = WebhookConfig::quarantine()
        .receive(&request.headers(), Bytes::from(request.body.clone()))
        .expect("a well-formed, fresh signature is quarantined");
    assert!(delivery.is_quarantined() && !delivery.is_verified());
    delivery
}

/// A delivery of `body` signed now with the test secret, received without a secret.
fn quarantined_body(body: &str) -> Delivery {
    quarantined(&SignedRequest::builder(body).secret(SECRET).build())
}

fn keys() -> SigningKeys {
    SigningKeys::new([SECRET]).expect("a valid secret")
}

fn new_id(stored: Stored) -> DeliveryId {
    match stored {
        Stored::New(id) => id,
        Stored::Duplicate => panic!("expected a new delivery, got a duplicate"),
    }
}

async fn state_of(inbox: &Inbox, id: DeliveryId) -> State {
    inbox.get(id).await.expect("get").expect("stored").state
}

/// A worker that counts its runs, polling every 20 ms.
fn counting_worker(inbox: &Inbox, runs: &Arc<AtomicUsize>) -> enrich_inbox::WorkerHandle {
    let runs = runs.clone();
    Worker::new(inbox.clone(), move |_job: Job| {
        let runs = runs.clone();
        async move {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok::<(), std::io::Error>(())
        }
    })
    .config(WorkerConfig::default().poll_interval(Duration::from_millis(20)))
    .spawn()
}

on_both_engines! {
    async fn quarantined_deliveries_wait_unprocessed_until_released_with_the_secret(db) {
        let inbox = Inbox::open(&db.url).await.unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let worker = counting_worker(&inbox, &runs);
        let mut held = Vec::new();
        for n in 0..3 {
            let stored = inbox.store(&quarantined_body(&person_body("b", &format!("q{n}")))).await;
            held.push(new_id(stored.unwrap()));
        }
        // A verified delivery stored after them is processed: the worker has polled past the
        // quarantined ones, which it never claims.
        let control = new_id(inbox.store(&delivery(&person_body("b", "verified"))).await.unwrap());
        eventually("the verified delivery to be processed", || async {
            (state_of(&inbox, control).await == State::Done).then_some(())
        })
        .await;
        for id in &held {
            let row = inbox.get(*id).await.unwrap().unwrap();
            assert_eq!((row.state, row.attempts, row.verified), (State::Quarantined, 0, false));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let counts = inbox.counts().await.unwrap();
        assert_eq!((counts.quarantined, counts.done), (3, 1));
        assert_eq!(inbox.gauges().await.unwrap().quarantined, 3);

        // A dry run changes nothing.
        let preview = inbox.release_dry_run(&keys(), Tolerance::default()).await.unwrap();
        assert_eq!((preview.released, preview.dead), (3, 0));
        assert_eq!(inbox.counts().await.unwrap().quarantined, 3);

        let release = inbox.release(&keys(), Tolerance::default()).await.unwrap();
        assert_eq!((release.released, release.dead, release.batches), (3, 0, 1));
        eventually("the released deliveries to be processed", || async {
            (inbox.counts().await.unwrap().done == 4).then_some(())
        })
        .await;
        for id in &held {
            assert!(inbox.get(*id).await.unwrap().unwrap().verified);
        }
        assert_eq!(worker.shutdown(Duration::from_secs(10)).await.abandoned, 0);
        assert_eq!(runs.load(Ordering::SeqCst), 4);
        // Nothing is left to release.
        let again = inbox.release(&keys(), Tolerance::default()).await.unwrap();
        assert_eq!(again, Release::default());
    }

    async fn a_wrong_secret_or_a_changed_body_makes_a_dead_letter_with_the_reason(db) {
        let inbox = Inbox::open(&db.url).await.unwrap();
        let other_secret = SignedRequest::builder(person_body("b", "other-secret"))
            .secret("whsec_someone_else")
            .build();
        let wrong = new_id(inbox.store(&quarantined(&other_secret)).await.unwrap());
        // A forged request: the signature of one body sent with another.
        let signed = SignedRequest::builder(person_body("b", "original")).secret(SECRET).build();
        let forged = SignedRequest::builder(person_body("b", "forged"))
            .signature_header(signed.header(enrich_webhook::SIGNATURE_HEADER).unwrap())
            .build();
        let changed = new_id(inbox.store(&quarantined(&forged)).await.unwrap());
        let genuine = new_id(inbox.store(&quarantined_body(&person_body("b", "genuine"))).await.unwrap());

        let release = inbox.release(&keys(), Tolerance::default()).await.unwrap();
        assert_eq!((release.released, release.dead), (1, 2));
        assert_eq!(state_of(&inbox, genuine).await, State::Pending);
        for id in [wrong, changed] {
            let row = inbox.get(id).await.unwrap().unwrap();
            assert_eq!((row.state, row.verified), (State::Dead, false));
            let reason = row.last_error.expect("a dead letter says why");
            assert!(reason.starts_with(NOT_RELEASED), "{reason}");
            assert!(reason.contains("signature"), "{reason}");
            assert!(row.finished_at.is_some());
        }
        assert_eq!(inbox.dead_letters(10).await.unwrap().len(), 2);
    }

    async fn a_delivery_signed_long_before_it_was_received_is_not_released(db) {
        let inbox = Inbox::open(&db.url).await.unwrap();
        // A receiver with a generous tolerance took a signature an hour old…
        let an_hour_ago = SignatureTimestamp::from_system_time(
            std::time::SystemTime::now() - Duration::from_secs(3600),
        );
        let old = SignedRequest::builder(person_body("b", "old"))
            .secret(SECRET)
            .timestamp(an_hour_ago)
            .build();
        let lenient = WebhookConfig::quarantine()
            .tolerance(Tolerance::new(Duration::from_secs(7200), Duration::from_secs(60)));
        let delivery = lenient
            .receive(&old.headers(), Bytes::from(old.body.clone()))
            .unwrap();
        let id = new_id(inbox.store(&delivery).await.unwrap());
        // …but the release measures the signature against the receive time, with its own
        // tolerance: five minutes.
        let release = inbox.release(&keys(), Tolerance::default()).await.unwrap();
        assert_eq!((release.released, release.dead), (0, 1));
        let row = inbox.get(id).await.unwrap().unwrap();
        assert_eq!(row.state, State::Dead);
        let reason = row.last_error.unwrap();
        assert!(reason.starts_with(NOT_RELEASED) && reason.contains("ms old"), "{reason}");
    }

    async fn the_quarantine_is_bounded_and_answers_503_storing_nothing_beyond(db) {
        let config = InboxConfig::default()
            .max_quarantined(2)
            .retry_after(Duration::from_secs(45));
        let inbox = Inbox::open_with(&db.url, config).await.unwrap();
        let first = quarantined_body(&person_body("b", "1"));
        new_id(inbox.store(&first).await.unwrap());
        new_id(inbox.store(&quarantined_body(&person_body("b", "2"))).await.unwrap());
        let error = inbox.store(&quarantined_body(&person_body("b", "3"))).await.unwrap_err();
        assert!(matches!(error.error(), Error::QuarantineFull { limit: 2 }), "{error}");
        let refusal = Refusal::from(error);
        assert_eq!((refusal.status(), refusal.code()), (503, "quarantine_full"));
        assert_eq!(refusal.retry_after_secs(), Some(45));
        assert_eq!(inbox.counts().await.unwrap().total(), 2);
        // A redelivery of a quarantined delivery is still a duplicate, full or not…
        assert_eq!(inbox.store(&first).await.unwrap(), Stored::Duplicate);
        // …and verified deliveries are not bounded by the quarantine.
        assert!(inbox.store(&delivery(&person_body("b", "4"))).await.unwrap().is_new());
        // Released, the quarantine takes deliveries again.
        inbox.release(&keys(), Tolerance::default()).await.unwrap();
        assert!(inbox.store(&quarantined_body(&person_body("b", "3"))).await.unwrap().is_new());
    }

    async fn redeliveries_of_a_quarantined_delivery_are_duplicates_before_and_after_release(db) {
        let inbox = Inbox::open(&db.url).await.unwrap();
        let body = person_body("b", "again");
        let id = new_id(inbox.store(&quarantined_body(&body)).await.unwrap());
        assert_eq!(inbox.store(&quarantined_body(&body)).await.unwrap(), Stored::Duplicate);
        // The secret is configured now: the sender's retry arrives verified.
        assert_eq!(inbox.store(&delivery(&body)).await.unwrap(), Stored::Duplicate);
        assert_eq!(state_of(&inbox, id).await, State::Quarantined);
        inbox.release(&keys(), Tolerance::default()).await.unwrap();
        assert_eq!(inbox.store(&delivery(&body)).await.unwrap(), Stored::Duplicate);
        assert_eq!(inbox.counts().await.unwrap().total(), 1);
    }

    async fn a_receiver_started_with_the_secret_releases_the_quarantine(db) {
        let inbox = Inbox::open(&db.url).await.unwrap();
        // Started without a secret: nothing to release, deliveries quarantined.
        let without = WebhookConfig::quarantine();
        assert_eq!(inbox.quarantine_at_start(&without).await.unwrap(), None);
        let id = new_id(inbox.store(&quarantined_body(&person_body("b", "p"))).await.unwrap());
        // Restarted with it.
        let with = WebhookConfig::with_secret(SECRET).unwrap();
        let release = inbox.quarantine_at_start(&with).await.unwrap().unwrap();
        assert_eq!((release.released, release.dead), (1, 0));
        assert_eq!(state_of(&inbox, id).await, State::Pending);
    }

    async fn a_release_larger_than_a_batch_runs_in_bounded_batches(db) {
        let inbox = Inbox::open(&db.url).await.unwrap();
        let total = enrich_inbox::RELEASE_BATCH + 7;
        let mut stores = tokio::task::JoinSet::new();
        for n in 0..total {
            let inbox = inbox.clone();
            let one = quarantined_body(&person_body("b", &format!("p{n}")));
            stores.spawn(async move { inbox.store(&one).await.unwrap() });
        }
        assert!(stores.join_all().await.iter().all(Stored::is_new));
        let release = inbox.release(&keys(), Tolerance::default()).await.unwrap();
        assert_eq!((release.released, release.dead, release.batches), (total as u64, 0, 2));
        let counts = inbox.counts().await.unwrap();
        assert_eq!((counts.pending, counts.quarantined), (total as u64, 0));
    }
}

/// A SQLite inbox made by the first schema (before the state `quarantined`) is migrated in
/// place: its rows kept as they were, its ids never given again, quarantine usable.
#[tokio::test]
async fn a_sqlite_inbox_of_the_first_schema_is_rebuilt_with_its_rows_and_id_counter() {
    use sqlx::Connection;
    let db = support::TestDb::sqlite("quarantine_migration");
    let mut connection = sqlx::SqliteConnection::connect(&format!("{}?mode=rwc", db.url))
        .await
        .unwrap();
    for statement in [
        "CREATE TABLE enrich_inbox_migrations (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)",
        "INSERT INTO enrich_inbox_migrations VALUES (1, 0)",
        "CREATE TABLE enrich_inbox_deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            idempotency_key TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('pending', 'processing', 'done', 'dead', 'purged')),
            event_type TEXT NOT NULL, enrichment_id TEXT, external_id TEXT, raw_body BLOB,
            signature_header TEXT, signed_at_ms INTEGER, verified BOOLEAN NOT NULL,
            received_at_ms INTEGER NOT NULL, attempts INTEGER NOT NULL, due_at_ms INTEGER NOT NULL,
            lease_token INTEGER, last_error TEXT, finished_at_ms INTEGER)",
        "CREATE INDEX enrich_inbox_due ON enrich_inbox_deliveries (due_at_ms, id)
            WHERE state IN ('pending', 'processing')",
        "CREATE INDEX enrich_inbox_finished ON enrich_inbox_deliveries (finished_at_ms)
            WHERE state IN ('done', 'purged')",
        "CREATE INDEX enrich_inbox_state ON enrich_inbox_deliveries (state)",
        "INSERT INTO enrich_inbox_deliveries (idempotency_key, source, state, event_type,
            raw_body, verified, received_at_ms, attempts, due_at_ms, last_error, finished_at_ms)
         VALUES ('k1', 'webhook', 'dead', 'person.enrichment.completed', x'7b7d', 1, 5, 3, 5,
                 'boom', 7),
                ('k2', 'webhook', 'pending', 'person.enrichment.completed', x'7b7d', 1, 6, 0, 6,
                 NULL, NULL),
                ('k3', 'webhook', 'done', 'person.enrichment.completed', NULL, 1, 7, 1, 7,
                 NULL, 8)",
        // The newest row's key forgotten: the counter is ahead of the largest id.
        "DELETE FROM enrich_inbox_deliveries WHERE idempotency_key = 'k3'",
    ] {
        sqlx::query(statement)
            .execute(&mut connection)
            .await
            .unwrap();
    }
    connection.close().await.unwrap();

    let inbox = Inbox::open(&db.url).await.unwrap();
    let health = inbox.health(Duration::from_secs(10)).await;
    assert!(health.is_healthy(), "{health:?}");
    let dead = inbox.get(DeliveryId(1)).await.unwrap().unwrap();
    assert_eq!(
        (
            dead.state,
            dead.attempts,
            dead.last_error.as_deref(),
            dead.raw_body.as_deref()
        ),
        (State::Dead, 3, Some("boom"), Some(&b"{}"[..]))
    );
    assert_eq!(
        inbox.get(DeliveryId(2)).await.unwrap().unwrap().state,
        State::Pending
    );
    let stored = inbox
        .store(&quarantined_body(&person_body("b", "after")))
        .await
        .unwrap();
    assert_eq!(
        stored,
        Stored::New(DeliveryId(4)),
        "id 3 is never given again"
    );
    let counts = inbox.counts().await.unwrap();
    assert_eq!((counts.dead, counts.pending, counts.quarantined), (1, 1, 1));
    let plan = inbox.claim_plan(10).await.unwrap().join("\n");
    assert!(plan.contains("enrich_inbox_due"), "{plan}");
}
