//! Encryption at rest: bodies and error texts sealed under a keyring, read back opened by every
//! operation, never stored in clear in the database's files; key rotation with `rekey`; a
//! missing or wrong key is a typed error naming the key.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use enrich_inbox::{
    DeliveryId, Error, Inbox, InboxConfig, Job, Keyring, State, Stored, Subject, Verification,
    Worker, WorkerConfig,
};
use enrich_webhook::SigningKeys;
use support::files::{
    incompressible, occurrences, padded_person, postgres_table_files, sqlite_file_bytes,
};
use support::{SECRET, TestDb, delivery, eventually};

fn key_a() -> Keyring {
    Keyring::new("key-a", [0xA1; 32]).unwrap()
}

fn key_b() -> Keyring {
    Keyring::new("key-b", [0xB2; 32]).unwrap()
}

/// Key B current, key A still readable: the keyring of a rotation.
fn rotating() -> Keyring {
    key_b().with_previous("key-a", [0xA1; 32]).unwrap()
}

async fn open(db: &TestDb, keys: Keyring) -> Inbox {
    Inbox::open_with(&db.url, InboxConfig::default().keys(keys))
        .await
        .unwrap()
}

fn quick() -> WorkerConfig {
    WorkerConfig::default()
        .poll_interval(Duration::from_millis(20))
        .backoff(enrich_inbox::Backoff::exponential(
            Duration::from_millis(10),
            Duration::from_millis(20),
        ))
}

fn person(external_id: &str, email: &str) -> String {
    padded_person(external_id, email, 0)
}

fn new_id(stored: Stored) -> DeliveryId {
    match stored {
        Stored::New(id) => id,
        Stored::Duplicate => panic!("expected a new delivery"),
    }
}

/// The stored `last_error` of `id`, as the database holds it.
async fn stored_error(db: &TestDb, id: DeliveryId) -> String {
    db.text(&format!(
        "SELECT last_error FROM enrich_inbox_deliveries WHERE id = {id}"
    ))
    .await
    .expect("an error text")
}

on_both_engines! {
    async fn a_sealed_delivery_is_deduplicated_processed_verified_and_replayed(db) {
        let inbox = open(db, key_a()).await;
        let body = person("p-1", "ada@sealed.example");
        let id = new_id(inbox.store(&delivery(&body)).await.unwrap());
        assert_eq!(inbox.store(&delivery(&body)).await.unwrap(), Stored::Duplicate);
        assert_eq!(inbox.counts().await.unwrap().total(), 1);

        let stored = inbox.get(id).await.unwrap().unwrap();
        assert_eq!(stored.raw_body.as_deref(), Some(body.as_bytes()), "opened on read");
        let keys = SigningKeys::new([SECRET]).unwrap();
        assert!(
            matches!(inbox.verify(id, &keys).await.unwrap(), Some(Verification::Genuine { .. })),
            "the signature verifies against the opened body"
        );

        let seen = Arc::new(Mutex::new(Vec::new()));
        let worker = Worker::new(inbox.clone(), {
            let seen = seen.clone();
            move |job: Job| {
                let seen = seen.clone();
                async move {
                    let body = job.delivery().raw_body.clone().unwrap_or_default();
                    seen.lock().unwrap().push((job.event().external_id().map(str::to_owned), body));
                    Ok::<(), std::io::Error>(())
                }
            }
        })
        .config(quick())
        .spawn();
        eventually("the delivery processed", || async {
            (inbox.counts().await.unwrap().done == 1).then_some(())
        })
        .await;
        assert!(inbox.replay(id).await.unwrap());
        eventually("the replay processed", || async {
            (seen.lock().unwrap().len() == 2).then_some(())
        })
        .await;
        worker.shutdown(Duration::from_secs(10)).await;
        for (external_id, handled) in seen.lock().unwrap().iter() {
            assert_eq!(external_id.as_deref(), Some("p-1"));
            assert_eq!(&handled[..], body.as_bytes(), "the handler gets the opened body");
        }
        inbox.close().await;
    }

    async fn error_texts_are_sealed_and_dead_letters_retry(db) {
        let inbox = open(db, key_a()).await;
        let id = new_id(inbox.store(&delivery(&person("p-2", "bob@sealed.example"))).await.unwrap());
        let fail = Arc::new(Mutex::new(true));
        let worker = Worker::new(inbox.clone(), {
            let fail = fail.clone();
            move |job: Job| {
                let fail = *fail.lock().unwrap();
                async move {
                    if fail {
                        let email = "bob@sealed.example";
                        return Err(std::io::Error::other(format!("{email} refused ({})", job.delivery().id)));
                    }
                    Ok(())
                }
            }
        })
        .config(quick().max_attempts(1))
        .spawn();
        let dead = eventually("a dead letter", || async {
            inbox.dead_letters(10).await.unwrap().pop()
        })
        .await;
        assert_eq!(dead.last_error.as_deref(), Some(format!("bob@sealed.example refused ({id})").as_str()));
        let stored = stored_error(db, id).await;
        assert!(stored.starts_with("enrich-inbox-sealed:1:key-a:"), "{stored}");
        assert!(!stored.contains("bob"), "the error text is sealed");

        *fail.lock().unwrap() = false;
        assert!(inbox.retry_dead_letter(id).await.unwrap());
        eventually("the retried delivery processed", || async {
            (inbox.get(id).await.unwrap().unwrap().state == State::Done).then_some(())
        })
        .await;
        worker.shutdown(Duration::from_secs(10)).await;
        inbox.close().await;
    }

    async fn erasure_by_email_opens_sealed_bodies_and_needs_their_key(db) {
        let inbox = open(db, key_a()).await;
        for i in 0..20 {
            inbox.store(&delivery(&person(&format!("p-{i}"), &format!("person-{i}@sealed.example")))).await.unwrap();
        }
        let subject = Subject::Email("PERSON-7@sealed.example".to_owned());
        let preview = inbox.erasure_preview(&subject).await.unwrap();
        assert_eq!(preview.deliveries.len(), 1, "found inside a sealed body");
        inbox.close().await;

        let without = open(db, key_b()).await;
        match without.erase(&subject).await {
            Err(Error::MissingKey { key_id }) => assert_eq!(key_id, "key-a"),
            other => panic!("expected a missing key, got {other:?}"),
        }
        without.close().await;

        let inbox = open(db, key_a()).await;
        let erasure = inbox.erase(&subject).await.unwrap();
        assert_eq!((erasure.deliveries.len(), erasure.bodies), (1, 1));
        assert_eq!(inbox.counts().await.unwrap().purged, 1);
        inbox.close().await;
    }

    async fn rekey_moves_plaintext_and_old_rows_to_the_current_key(db) {
        // Rows stored before encryption was turned on (plaintext), then under key A.
        let plain = Inbox::open(&db.url).await.unwrap();
        let mut ids = Vec::new();
        for i in 0..7 {
            ids.push(new_id(plain.store(&delivery(&person(&format!("plain-{i}"), "p@x.example"))).await.unwrap()));
        }
        plain.close().await;
        let under_a = open(db, key_a()).await;
        for i in 0..13 {
            ids.push(new_id(under_a.store(&delivery(&person(&format!("a-{i}"), "a@x.example"))).await.unwrap()));
        }
        // A mixed table reads with key A.
        assert_eq!(under_a.get(ids[0]).await.unwrap().unwrap().external_id.as_deref(), Some("plain-0"));
        under_a.close().await;
        // A sealed error text under A too.
        let sealed_error = {
            let inbox = open(db, key_a()).await;
            let worker = Worker::new(inbox.clone(), |_job: Job| async {
                Err::<(), _>(std::io::Error::other("failed for a@x.example"))
            })
            .config(quick().max_attempts(1))
            .spawn();
            eventually("every delivery dead", || async {
                (inbox.counts().await.unwrap().dead == 20).then_some(())
            })
            .await;
            worker.shutdown(Duration::from_secs(10)).await;
            inbox.close().await;
            stored_error(db, ids[3]).await
        };
        assert!(sealed_error.starts_with("enrich-inbox-sealed:1:key-a:"));

        let rotating = open(db, rotating()).await;
        let mut reports = Vec::new();
        let report = rotating.rekey(6, |progress| reports.push(progress.resealed)).await.unwrap();
        assert_eq!((report.key_id.as_str(), report.resealed, report.changed_meanwhile), ("key-b", 20, 0));
        assert_eq!(report.batches, 4, "20 rows in batches of at most 6");
        assert_eq!(reports, [6, 12, 18, 20], "progress after every batch");
        let again = rotating.rekey(6, |_| {}).await.unwrap();
        assert_eq!(again.resealed, 0, "nothing left to re-seal");
        rotating.close().await;

        // Key A is no longer needed.
        let only_b = open(db, key_b()).await;
        for (index, id) in ids.iter().enumerate() {
            let delivery = only_b.get(*id).await.unwrap().unwrap();
            let expected = if index < 7 { format!("plain-{index}") } else { format!("a-{}", index - 7) };
            assert_eq!(delivery.external_id.as_deref(), Some(expected.as_str()));
            let body: serde_json::Value = serde_json::from_slice(delivery.raw_body.as_deref().unwrap()).unwrap();
            assert_eq!(body["data"]["person"]["externalID"], expected.as_str());
            assert_eq!(delivery.last_error.as_deref(), Some("failed for a@x.example"));
        }
        assert!(stored_error(db, ids[3]).await.starts_with("enrich-inbox-sealed:1:key-b:"));
        only_b.close().await;

        // And key A alone no longer reads them.
        let only_a = open(db, key_a()).await;
        match only_a.get(ids[0]).await {
            Err(Error::MissingKey { key_id }) => assert_eq!(key_id, "key-b"),
            other => panic!("expected a missing key, got {other:?}"),
        }
        only_a.close().await;
    }

    async fn a_wrong_or_missing_key_is_a_typed_error_and_skips_nothing(db) {
        let inbox = open(db, key_a()).await;
        let id = new_id(inbox.store(&delivery(&person("p-9", "eve@sealed.example"))).await.unwrap());
        inbox.close().await;

        let wrong = open(db, Keyring::new("key-a", [0x00; 32]).unwrap()).await;
        let error = wrong.get(id).await.expect_err("another key under the same id");
        assert!(matches!(&error, Error::WrongKey { key_id } if key_id == "key-a"), "{error:?}");
        assert!(error.to_string().contains("`key-a`"), "{error}");
        assert!(wrong.list(State::Pending, 10).await.is_err(), "a list fails too, nothing skipped");
        wrong.close().await;

        let unkeyed = Inbox::open(&db.url).await.unwrap();
        let error = unkeyed.get(id).await.expect_err("no keyring");
        assert!(matches!(&error, Error::MissingKey { key_id } if key_id == "key-a"), "{error:?}");
        assert!(unkeyed.rekey(10, |_| {}).await.is_err(), "rekey needs a keyring");

        // A worker without the key: the delivery fails its attempts, naming the key, and ends a
        // dead letter that still holds its sealed body.
        let worker = Worker::new(unkeyed.clone(), |_job: Job| async { Ok::<(), std::io::Error>(()) })
            .config(quick().max_attempts(2))
            .spawn();
        eventually("a dead letter", || async {
            (unkeyed.counts().await.unwrap().dead == 1).then_some(())
        })
        .await;
        worker.shutdown(Duration::from_secs(10)).await;
        let reason = stored_error(db, id).await;
        assert!(reason.contains("sealed under the key `key-a`"), "{reason}");
        unkeyed.close().await;

        // Given the key, the dead letter is retried and processed with its body.
        let keyed = open(db, key_a()).await;
        assert!(keyed.retry_dead_letter(id).await.unwrap());
        let processed = Arc::new(Mutex::new(None));
        let worker = Worker::new(keyed.clone(), {
            let processed = processed.clone();
            move |job: Job| {
                *processed.lock().unwrap() = job.event().external_id().map(str::to_owned);
                async { Ok::<(), std::io::Error>(()) }
            }
        })
        .config(quick())
        .spawn();
        eventually("the delivery processed", || async {
            (keyed.counts().await.unwrap().done == 1).then_some(())
        })
        .await;
        worker.shutdown(Duration::from_secs(10)).await;
        assert_eq!(processed.lock().unwrap().as_deref(), Some("p-9"));
        keyed.close().await;
    }

    async fn quarantined_bodies_are_sealed_and_released_opened(db) {
        let inbox = open(db, key_a()).await;
        let quarantine = enrich_webhook::WebhookConfig::quarantine();
        let receive = |body: &str, secret: &str| {
            let request = enrich_webhook::testing::SignedRequest::builder(body).secret(secret).build();
            quarantine
                .receive(&request.headers(), bytes::Bytes::from(request.body.clone()))
                .expect("a well-formed, fresh signature is quarantined")
        };
        let genuine = new_id(inbox.store(&receive(&person("q-1", "quinn@sealed.example"), SECRET)).await.unwrap());
        let forged = new_id(
            inbox
                .store(&receive(&person("q-2", "quentin@sealed.example"), "whsec_not_the_secret"))
                .await
                .unwrap(),
        );
        // The sealed body's marker (`\0EIS\x01`), at the start of both stored bodies.
        let sealed = if db.is_sqlite() {
            "substr(raw_body, 1, 5) = X'0045495301'"
        } else {
            "substring(raw_body FROM 1 FOR 5) = '\\x0045495301'::bytea"
        };
        let stored: String = db
            .text(&format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM enrich_inbox_deliveries \
                 WHERE id IN ({genuine}, {forged}) AND state = 'quarantined' AND {sealed}"
            ))
            .await
            .unwrap();
        assert_eq!(stored, "2", "quarantined bodies are sealed at rest");

        // Without the key nothing is released or refused: a clear error, the quarantine intact.
        let keyless = Inbox::open(&db.url).await.unwrap();
        let keys = SigningKeys::new([SECRET]).unwrap();
        assert!(matches!(
            keyless.release(&keys, enrich_webhook::Tolerance::default()).await,
            Err(Error::MissingKey { ref key_id }) if key_id == "key-a"
        ));
        keyless.close().await;
        assert_eq!(inbox.counts().await.unwrap().quarantined, 2);

        let release = inbox.release(&keys, enrich_webhook::Tolerance::default()).await.unwrap();
        assert_eq!((release.released, release.dead), (1, 1));
        assert_eq!(inbox.get(genuine).await.unwrap().unwrap().state, State::Pending);
        let refused = inbox.get(forged).await.unwrap().unwrap();
        assert_eq!(refused.state, State::Dead);
        assert!(refused.last_error.as_deref().unwrap().starts_with(enrich_inbox::NOT_RELEASED));
        let at_rest = stored_error(db, forged).await;
        assert!(at_rest.starts_with("enrich-inbox-sealed:1:key-a:"), "{at_rest}");
        inbox.close().await;
    }
}

// No stored email is in the SQLite file or its WAL when encryption is on; the external IDs,
// which stay plain for deduplication, are (so the test reads the right bytes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_email_is_in_the_sqlite_files_when_encryption_is_on() {
    let db = TestDb::sqlite("sealed-bytes");
    let inbox = open(&db, key_a()).await;
    for i in 0..300 {
        let body = padded_person(
            &format!("plain-id-{i}"),
            &format!("hidden-{i}@sealed.example"),
            (i % 3) * 3000,
        );
        inbox.store(&delivery(&body)).await.unwrap();
    }
    let worker = Worker::new(inbox.clone(), |_job: Job| async {
        Err::<(), _>(std::io::Error::other("hidden-error@sealed.example"))
    })
    .config(quick().max_attempts(1))
    .spawn();
    eventually("every delivery dead", || async {
        (inbox.counts().await.unwrap().dead == 300).then_some(())
    })
    .await;
    worker.shutdown(Duration::from_secs(10)).await;
    let bytes = sqlite_file_bytes(&db);
    assert!(
        occurrences(&bytes, "plain-id-") >= 300,
        "the plain ids are there"
    );
    assert_eq!(
        occurrences(&bytes, "@sealed.example"),
        0,
        "an email in clear"
    );
    inbox.close().await;
    let bytes = sqlite_file_bytes(&db);
    assert_eq!(
        occurrences(&bytes, "@sealed.example"),
        0,
        "an email in clear after the close"
    );
}

// The same on Postgres, after a CHECKPOINT, in the table's file and its TOAST table's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_email_is_in_the_postgres_table_files_when_encryption_is_on() {
    let Some(db) = TestDb::postgres("encryption::postgres_files").await else {
        return;
    };
    let inbox = open(&db, key_a()).await;
    for i in 0..100 {
        // Small bodies (in the heap) and large ones (in the TOAST table).
        let padding = if i % 2 == 0 {
            incompressible(4_000, i)
        } else {
            String::new()
        };
        let body = padded_person(
            &format!("plain-id-{i}"),
            &format!("hidden-{i}@pg.example"),
            0,
        )
        .replace(
            r#""companyName":"""#,
            &format!(r#""companyName":"{padding}""#),
        );
        inbox.store(&delivery(&body)).await.unwrap();
    }
    let Some((heap, toast)) = postgres_table_files(&db).await else {
        return;
    };
    let heap = std::fs::read(heap).unwrap();
    let toast = std::fs::read(toast).unwrap();
    assert!(
        occurrences(&heap, "plain-id-") >= 100,
        "the plain ids are there"
    );
    assert!(
        toast.len() > 50 * 4_000,
        "the large sealed bodies are in the TOAST table"
    );
    assert_eq!(
        occurrences(&heap, "@pg.example"),
        0,
        "an email in clear in the heap"
    );
    assert_eq!(
        occurrences(&toast, "@pg.example"),
        0,
        "an email in clear in the TOAST table"
    );
    inbox.close().await;
}
