//! The inbox's behaviour, the same suite on a SQLite file and on a Postgres database.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use enrich_inbox::{
    Backoff, Error, Inbox, InboxConfig, Job, Retention, Source, State, Stored, Verification,
    Worker, WorkerConfig,
};
use enrich_webhook::enrich_types::WebhookEvent;
use enrich_webhook::{Refusal, SigningKeys};
use support::{SECRET, delivery, eventually, person_body};

/// Quick settings: idle polls every 20 ms, retries after 10–40 ms.
fn quick() -> WorkerConfig {
    WorkerConfig::default()
        .poll_interval(Duration::from_millis(20))
        .backoff(Backoff::exponential(
            Duration::from_millis(10),
            Duration::from_millis(40),
        ))
}

async fn open(db: &support::TestDb) -> Inbox {
    Inbox::open(&db.url).await.expect("open the inbox")
}

async fn state_of(inbox: &Inbox, id: enrich_inbox::DeliveryId) -> State {
    inbox.get(id).await.expect("get").expect("stored").state
}

async fn wait_for_state(inbox: &Inbox, id: enrich_inbox::DeliveryId, state: State) {
    eventually(&format!("delivery {id} to be {state}"), || async {
        (state_of(inbox, id).await == state).then_some(())
    })
    .await;
}

fn new_id(stored: Stored) -> enrich_inbox::DeliveryId {
    match stored {
        Stored::New(id) => id,
        Stored::Duplicate => panic!("expected a new delivery, got a duplicate"),
    }
}

#[tokio::test]
async fn an_unknown_url_scheme_is_refused() {
    let error = Inbox::open("mysql://localhost/inbox").await.unwrap_err();
    assert!(matches!(error, Error::UnsupportedUrl), "{error:?}");
}

on_both_engines! {
    async fn stores_the_delivery_as_signed_then_deduplicates_a_redelivery(db) {
        let inbox = open(db).await;
        let body = person_body("batch-1", "person-1");
        let first = delivery(&body);
        let id = new_id(inbox.store(&first).await.unwrap());
        // The sender retries: the same body, signed again later.
        let retry = delivery(&body);
        assert_eq!(inbox.store(&retry).await.unwrap(), Stored::Duplicate);

        let stored = inbox.get(id).await.unwrap().unwrap();
        assert_eq!(stored.raw_body.as_deref(), Some(body.as_bytes()));
        assert_eq!(stored.signature_header.as_deref(), first.signature_header());
        assert_eq!(stored.signed_at, first.signed_at());
        assert_eq!(stored.key, first.idempotency_key().to_string());
        assert_eq!(stored.event_type, "person.enrichment.completed");
        assert_eq!(stored.enrichment_id.as_deref(), Some("batch-1"));
        assert_eq!(stored.external_id.as_deref(), Some("person-1"));
        assert_eq!(stored.source, Source::Webhook);
        assert_eq!(stored.state, State::Pending);
        assert_eq!(stored.attempts, 0);
        assert!(stored.verified);
        let counts = inbox.counts().await.unwrap();
        assert_eq!((counts.total(), counts.pending), (1, 1));

        // Another person of the same batch is another delivery.
        let other = delivery(&person_body("batch-1", "person-2"));
        assert!(inbox.store(&other).await.unwrap().is_new());
    }

    async fn a_hundred_concurrent_stores_of_one_body_make_one_row_and_one_processing(db) {
        let inbox = open(db).await;
        let one = delivery(&person_body("batch-1", "person-1"));
        let mut stores = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let (inbox, one) = (inbox.clone(), one.clone());
            stores.spawn(async move { inbox.store(&one).await.unwrap() });
        }
        let outcomes = stores.join_all().await;
        assert_eq!(outcomes.iter().filter(|stored| stored.is_new()).count(), 1);
        assert_eq!(inbox.counts().await.unwrap().total(), 1);

        let processed = Arc::new(AtomicUsize::new(0));
        let counter = processed.clone();
        let worker = Worker::new(inbox.clone(), move |_job: Job| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok::<(), std::io::Error>(())
            }
        })
        .config(quick().concurrency(8))
        .spawn();
        eventually("the delivery to be processed", || async {
            (inbox.counts().await.unwrap().done == 1).then_some(())
        })
        .await;
        assert_eq!(worker.shutdown(Duration::from_secs(10)).await.abandoned, 0);
        assert_eq!(processed.load(Ordering::SeqCst), 1);
    }

    async fn a_hundred_concurrent_stores_of_distinct_bodies_are_all_new(db) {
        let inbox = open(db).await;
        let mut stores = tokio::task::JoinSet::new();
        for n in 0..100 {
            let inbox = inbox.clone();
            let one = delivery(&person_body("batch-1", &format!("person-{n}")));
            stores.spawn(async move { inbox.store(&one).await.unwrap() });
        }
        let outcomes = stores.join_all().await;
        assert!(outcomes.iter().all(Stored::is_new));
        assert_eq!(inbox.counts().await.unwrap().pending, 100);
    }

    async fn concurrent_stores_of_repeated_and_distinct_keys_make_one_row_per_key_under_its_id(db) {
        let inbox = open(db).await;
        // Forty people, each delivered five times, all at once, interleaved: stores of one key
        // meet in one group, and each group holds many keys.
        let mut stores = tokio::task::JoinSet::new();
        for round in 0..5 {
            for n in 0..40 {
                let inbox = inbox.clone();
                let person = format!("person-{n}");
                let one = delivery(&person_body("batch-1", &person));
                stores.spawn(async move { (person, round, inbox.store(&one).await.unwrap()) });
            }
        }
        let mut new_ids = std::collections::HashMap::new();
        let mut duplicates = 0;
        for (person, _, stored) in stores.join_all().await {
            match stored {
                Stored::New(id) => assert!(new_ids.insert(person, id).is_none(), "two New for one key"),
                Stored::Duplicate => duplicates += 1,
            }
        }
        assert_eq!((new_ids.len(), duplicates), (40, 160));
        let counts = inbox.counts().await.unwrap();
        assert_eq!((counts.pending, counts.total()), (40, 40));
        // Each caller told New got the id of its own row.
        for (person, id) in &new_ids {
            let stored = inbox.get(*id).await.unwrap().expect("the row of the id answered");
            assert_eq!(stored.external_id.as_deref(), Some(person.as_str()));
        }
        if let Some((commits, rows)) = db.commits_and_rows().await {
            assert!(commits < rows, "{rows} rows in {commits} commits: no store shared a commit");
        }
    }

    async fn counts_stay_exact_through_every_kind_of_change(db) {
        // Two replicas on one database, storing and working at once: the counts they read are
        // what counting the rows says, after every kind of statement that changes a state.
        let (inbox, replica) = (open(db).await, open(db).await);
        let exact = |step: &'static str| {
            let inbox = inbox.clone();
            async move {
                let counts = inbox.counts().await.unwrap();
                assert_eq!(support::by_state(counts), db.counted().await, "after {step}");
            }
        };
        let mut stores = tokio::task::JoinSet::new();
        for n in 0..120 {
            let target = if n % 2 == 0 { inbox.clone() } else { replica.clone() };
            // Every person twice (a duplicate each); every fifth fails its every attempt.
            let k = n / 2;
            let person = if k % 5 == 0 { format!("failing-{k}") } else { format!("person-{k}") };
            let one = delivery(&person_body("batch-1", &person));
            stores.spawn(async move { target.store(&one).await.unwrap() });
        }
        assert_eq!(stores.join_all().await.iter().filter(|stored| stored.is_new()).count(), 60);
        exact("stores and duplicates").await;

        let workers: Vec<_> = [&inbox, &replica]
            .into_iter()
            .map(|target| {
                Worker::new(target.clone(), |job: Job| async move {
                    let person = job.delivery().external_id.clone().unwrap_or_default();
                    if person.starts_with("failing") { Err("downstream unavailable") } else { Ok(()) }
                })
                .config(quick().max_attempts(2).concurrency(4))
                .spawn()
            })
            .collect();
        let drained = || async {
            let counts = inbox.counts().await.unwrap();
            (counts.pending + counts.processing == 0).then_some(counts)
        };
        let counts = eventually("claims, successes, retries and dead letters", drained).await;
        assert_eq!((counts.done, counts.dead), (48, 12));
        exact("claims, successes, retries and dead letters").await;

        assert_eq!(replica.retry_all_dead_letters().await.unwrap(), 12);
        let done = inbox.list(State::Done, 1).await.unwrap();
        assert!(inbox.replay(done[0].id).await.unwrap());
        eventually("the requeued deliveries to run again", drained).await;
        exact("requeues").await;
        for worker in workers {
            worker.shutdown(Duration::from_secs(10)).await;
        }

        let day = Duration::from_secs(86_400);
        inbox.purge(Retention::new(Duration::ZERO, day)).await.unwrap();
        exact("bodies purged").await;
        inbox.purge(Retention::new(Duration::ZERO, Duration::ZERO)).await.unwrap();
        exact("keys forgotten").await;
        db.execute("DELETE FROM enrich_inbox_deliveries WHERE id IN \
                    (SELECT id FROM enrich_inbox_deliveries ORDER BY id LIMIT 3)").await;
        db.execute("UPDATE enrich_inbox_deliveries SET state = 'pending' WHERE state = 'dead'").await;
        exact("rows deleted and changed by hand").await;
        if !db.is_sqlite() {
            db.execute("TRUNCATE enrich_inbox_deliveries").await;
            exact("a truncate").await;
            assert_eq!(inbox.counts().await.unwrap().total(), 0);
        }
    }

    async fn a_reconciled_event_and_its_webhook_are_one_delivery(db) {
        let inbox = open(db).await;
        let body = person_body("batch-7", "person-7");
        let event: WebhookEvent = serde_json::from_str(&body).unwrap();
        let id = new_id(
            inbox
                .store_reconciled(&event, Bytes::from(body.clone()))
                .await
                .unwrap(),
        );
        assert_eq!(inbox.store(&delivery(&body)).await.unwrap(), Stored::Duplicate);
        let stored = inbox.get(id).await.unwrap().unwrap();
        assert_eq!(stored.source, Source::Reconciled);
        assert_eq!((stored.verified, stored.signature_header, stored.signed_at), (false, None, None));
        let keys = SigningKeys::new([SECRET]).unwrap();
        assert_eq!(inbox.verify(id, &keys).await.unwrap(), Some(Verification::Unsigned));
    }

    async fn the_idempotency_key_is_configurable(db) {
        let options = InboxConfig::default().idempotency_key(|event, raw_body| {
            match event.external_id() {
                Some(person) => format!("person/{person}"),
                None => enrich_inbox::default_key(event, raw_body),
            }
        });
        let inbox = Inbox::open_with(&db.url, options).await.unwrap();
        let id = new_id(inbox.store(&delivery(&person_body("batch-1", "ada"))).await.unwrap());
        // The same person from another enrichment is, under this key, the same delivery.
        let again = delivery(&person_body("batch-2", "ada"));
        assert_eq!(inbox.store(&again).await.unwrap(), Stored::Duplicate);
        assert_eq!(inbox.get(id).await.unwrap().unwrap().key, "person/ada");
    }

    async fn failures_back_off_then_dead_letter_then_a_retried_dead_letter_is_processed(db) {
        let inbox = open(db).await;
        let id = new_id(inbox.store(&delivery(&person_body("b", "p"))).await.unwrap());
        let failing = Arc::new(AtomicBool::new(true));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (flag, log) = (failing.clone(), calls.clone());
        let worker = Worker::new(inbox.clone(), move |job: Job| {
            log.lock().unwrap().push((job.attempt(), Instant::now()));
            let fail = flag.load(Ordering::SeqCst);
            async move {
                if fail {
                    Err("downstream unavailable")
                } else {
                    Ok(())
                }
            }
        })
        .config(
            quick()
                .max_attempts(3)
                .backoff(Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1))),
        )
        .spawn();

        wait_for_state(&inbox, id, State::Dead).await;
        let dead = inbox.dead_letters(10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].id, id);
        assert_eq!(dead[0].attempts, 3);
        assert_eq!(dead[0].last_error.as_deref(), Some("downstream unavailable"));
        {
            let calls = calls.lock().unwrap();
            let attempts: Vec<u32> = calls.iter().map(|(attempt, _)| *attempt).collect();
            assert_eq!(attempts, [1, 2, 3]);
            // Each wait is at least half its ceiling: 100 ms after attempt 1, 200 ms after 2.
            assert!(calls[1].1 - calls[0].1 >= Duration::from_millis(50));
            assert!(calls[2].1 - calls[1].1 >= Duration::from_millis(100));
        }

        failing.store(false, Ordering::SeqCst);
        assert!(inbox.retry_dead_letter(id).await.unwrap());
        wait_for_state(&inbox, id, State::Done).await;
        assert!(!inbox.retry_dead_letter(id).await.unwrap(), "not a dead letter any more");
        let done = inbox.get(id).await.unwrap().unwrap();
        assert_eq!((done.attempts, done.last_error), (1, None));
        assert_eq!(calls.lock().unwrap().len(), 4);
        worker.shutdown(Duration::from_secs(10)).await;
    }

    async fn a_panicking_handler_is_a_failed_attempt(db) {
        let inbox = open(db).await;
        let id = new_id(inbox.store(&delivery(&person_body("b", "p"))).await.unwrap());
        let worker = Worker::new(inbox.clone(), |job: Job| async move {
            assert!(job.attempt() > 1, "the handler panics on its first attempt");
            Ok::<(), std::io::Error>(())
        })
        .config(quick())
        .spawn();
        wait_for_state(&inbox, id, State::Done).await;
        assert_eq!(inbox.get(id).await.unwrap().unwrap().attempts, 2);
        worker.shutdown(Duration::from_secs(10)).await;
    }

    async fn a_handler_whose_lease_is_taken_over_is_stopped_and_the_new_holder_finishes_it(db) {
        let inbox = open(db).await;
        let id = new_id(inbox.store(&delivery(&person_body("b", "p"))).await.unwrap());
        let started = Arc::new(tokio::sync::Notify::new());
        let (signal, stopped) = (started.clone(), Arc::new(AtomicBool::new(false)));
        let stop_seen = stopped.clone();
        /// Sets its flag when dropped: the worker stopped the handler.
        struct Stopped(Arc<AtomicBool>);
        impl Drop for Stopped {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        // Runs that finish the delivery, on either worker, and the attempt each saw.
        let finished = Arc::new(std::sync::Mutex::new(Vec::new()));
        // A handler that hangs on its first attempt, on a worker whose heartbeat keeps its short
        // lease alive. Once stopped, its worker may claim the delivery again before the rescuer
        // does (both see it due): that run finishes it, as the rescuer's would.
        let finished_by_stuck = finished.clone();
        let stuck = Worker::new(inbox.clone(), move |job: Job| {
            let (signal, stop_seen) = (signal.clone(), stop_seen.clone());
            let finished = finished_by_stuck.clone();
            let attempt = job.attempt();
            async move {
                if attempt > 1 {
                    finished.lock().unwrap().push(attempt);
                    return Ok(());
                }
                let _guard = Stopped(stop_seen);
                signal.notify_one();
                std::future::pending::<Result<(), std::io::Error>>().await
            }
        })
        .config(quick().concurrency(1).lease(Duration::from_millis(300)))
        .spawn();
        started.notified().await;
        // Well past the lease, the heartbeat still holds it.
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert_eq!(state_of(&inbox, id).await, State::Processing);
        assert!(!stopped.load(Ordering::SeqCst));

        // The lease taken from the stuck worker (as a claim after its heartbeats had failed to
        // reach the database for a whole lease would): its next heartbeat finds the delivery
        // gone and stops its handler, and another worker takes the delivery, now due.
        db.execute(
            "UPDATE enrich_inbox_deliveries SET lease_token = lease_token + 1, due_at_ms = 0",
        )
        .await;
        let finished_by_rescuer = finished.clone();
        let rescuer = Worker::new(inbox.clone(), move |job: Job| {
            finished_by_rescuer.lock().unwrap().push(job.attempt());
            async move { Ok::<(), std::io::Error>(()) }
        })
        .config(quick())
        .spawn();
        wait_for_state(&inbox, id, State::Done).await;
        eventually("the stuck handler to be stopped", || async {
            stopped.load(Ordering::SeqCst).then_some(())
        })
        .await;
        // Finished once, by the first run after the one that was stopped.
        assert_eq!(*finished.lock().unwrap(), [2]);
        assert_eq!(stuck.shutdown(Duration::ZERO).await.abandoned, 0);
        assert_eq!(state_of(&inbox, id).await, State::Done);
        rescuer.shutdown(Duration::from_secs(10)).await;
    }

    async fn shutdown_lets_in_flight_work_finish_and_gives_back_what_misses_the_deadline(db) {
        let inbox = open(db).await;
        let id = new_id(inbox.store(&delivery(&person_body("b", "slow"))).await.unwrap());
        let started = Arc::new(tokio::sync::Notify::new());
        let signal = started.clone();
        let worker = Worker::new(inbox.clone(), move |_job: Job| {
            let signal = signal.clone();
            async move {
                signal.notify_one();
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok::<(), std::io::Error>(())
            }
        })
        .config(quick())
        .spawn();
        started.notified().await;
        assert_eq!(worker.shutdown(Duration::from_secs(30)).await.abandoned, 0);
        assert_eq!(state_of(&inbox, id).await, State::Done);

        let id = new_id(inbox.store(&delivery(&person_body("b", "hung"))).await.unwrap());
        let signal = started.clone();
        let worker = Worker::new(inbox.clone(), move |_job: Job| {
            let signal = signal.clone();
            async move {
                signal.notify_one();
                std::future::pending::<Result<(), std::io::Error>>().await
            }
        })
        .config(quick())
        .spawn();
        started.notified().await;
        assert_eq!(worker.shutdown(Duration::from_millis(50)).await.abandoned, 1);
        let given_back = inbox.get(id).await.unwrap().unwrap();
        assert_eq!((given_back.state, given_back.attempts), (State::Pending, 0));
    }

    async fn replay_processes_a_done_delivery_again(db) {
        let inbox = open(db).await;
        let id = new_id(inbox.store(&delivery(&person_body("b", "p"))).await.unwrap());
        assert!(!inbox.replay(id).await.unwrap(), "a pending delivery is not replayed");
        let processed = Arc::new(AtomicUsize::new(0));
        let counter = processed.clone();
        let worker = Worker::new(inbox.clone(), move |_job: Job| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok::<(), std::io::Error>(()) }
        })
        .config(quick())
        .spawn();
        wait_for_state(&inbox, id, State::Done).await;
        assert!(inbox.replay(id).await.unwrap());
        eventually("the replay", || async {
            (processed.load(Ordering::SeqCst) == 2).then_some(())
        })
        .await;
        wait_for_state(&inbox, id, State::Done).await;
        worker.shutdown(Duration::from_secs(10)).await;
    }

    async fn purge_drops_bodies_first_and_forgets_keys_after_their_window(db) {
        let inbox = open(db).await;
        let body = person_body("b", "processed");
        let id = new_id(inbox.store(&delivery(&body)).await.unwrap());
        let worker = Worker::new(inbox.clone(), |_job: Job| async { Ok::<(), std::io::Error>(()) })
            .config(quick())
            .spawn();
        wait_for_state(&inbox, id, State::Done).await;
        worker.shutdown(Duration::from_secs(10)).await;
        let pending = new_id(inbox.store(&delivery(&person_body("b", "waiting"))).await.unwrap());

        let hour = Duration::from_secs(3600);
        let report = inbox.purge(Retention::new(hour, hour)).await.unwrap();
        assert_eq!((report.bodies_dropped, report.keys_forgotten), (0, 0));

        let report = inbox.purge(Retention::new(Duration::ZERO, hour)).await.unwrap();
        assert_eq!((report.bodies_dropped, report.keys_forgotten), (1, 0));
        let purged = inbox.get(id).await.unwrap().unwrap();
        assert_eq!(purged.state, State::Purged);
        assert_eq!((purged.raw_body, purged.signature_header), (None, None));
        // The key is kept: a late redelivery is still a duplicate.
        assert_eq!(inbox.store(&delivery(&body)).await.unwrap(), Stored::Duplicate);
        assert!(!inbox.replay(id).await.unwrap(), "nothing left to replay");
        let keys = SigningKeys::new([SECRET]).unwrap();
        assert_eq!(inbox.verify(id, &keys).await.unwrap(), Some(Verification::BodyPurged));

        let report = inbox.purge(Retention::new(Duration::ZERO, Duration::ZERO)).await.unwrap();
        assert_eq!((report.bodies_dropped, report.keys_forgotten), (0, 1));
        assert_eq!(inbox.get(id).await.unwrap(), None);
        assert!(inbox.store(&delivery(&body)).await.unwrap().is_new());
        // Unprocessed deliveries are never purged.
        assert_eq!(state_of(&inbox, pending).await, State::Pending);
    }

    async fn a_stored_delivery_verifies_again_against_the_secrets(db) {
        let inbox = open(db).await;
        let received = delivery(&person_body("b", "p"));
        let id = new_id(inbox.store(&received).await.unwrap());
        let right = SigningKeys::new(["whsec_new_secret", SECRET]).unwrap();
        assert_eq!(
            inbox.verify(id, &right).await.unwrap(),
            Some(Verification::Genuine { signed_at: received.signed_at().unwrap() })
        );
        let wrong = SigningKeys::new(["whsec_another_secret"]).unwrap();
        assert!(matches!(inbox.verify(id, &wrong).await.unwrap(), Some(Verification::Invalid(_))));
        assert_eq!(inbox.verify(enrich_inbox::DeliveryId(id.0 + 1000), &right).await.unwrap(), None);
    }

    async fn a_closed_inbox_fails_stores_with_storage_unavailable(db) {
        let inbox = open(db).await;
        inbox.close().await;
        let error = inbox.store(&delivery(&person_body("b", "p"))).await.unwrap_err();
        assert!(matches!(error.error(), Error::Closed), "{error:?}");
        // Each message prints once: no error of the chain repeats its source's message.
        let mut outer: &dyn std::error::Error = &error;
        while let Some(inner) = outer.source() {
            assert!(!outer.to_string().contains(&inner.to_string()), "{outer} repeats {inner}");
            outer = inner;
        }
        assert_eq!(error.to_string(), "the delivery could not be stored: the inbox is closed");
        let refusal = Refusal::from(error);
        assert_eq!((refusal.status(), refusal.code()), (503, "storage_unavailable"));
        assert_eq!(refusal.retry_after_secs(), Some(30));
        assert!(matches!(inbox.counts().await, Err(Error::Closed)));
    }

    async fn reopening_keeps_everything(db) {
        let inbox = open(db).await;
        let body = person_body("b", "p");
        new_id(inbox.store(&delivery(&body)).await.unwrap());
        inbox.close().await;
        let reopened = open(db).await;
        assert_eq!(reopened.store(&delivery(&body)).await.unwrap(), Stored::Duplicate);
        assert_eq!(reopened.counts().await.unwrap().pending, 1);
    }
}
