//! Reconciliation over loopback: the local fake of the API delivers to the receivers fixture (a
//! real process storing in an SQLite inbox) and drops some deliveries for good; reconciliation
//! must add exactly the dropped people, and nothing on a second run. The batch completion helper
//! does the same from a worker's handler.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use enrich_inbox::{
    Inbox, Job, Reconciliation, Source, State, Worker, reconcile, reconcile_on_batch_completed,
};

use crate::receiver::Receiver;
use crate::support::sim::{client, dropped, enrich, reconciled, start_sim};
use crate::support::{TestDb, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_adds_exactly_the_dropped_people_once() {
    let db = TestDb::sqlite("reconcile_dropped");
    let receiver = Receiver::start("axum", &db.url, &[]).await;
    let sim = start_sim().await;
    let webhook_url = format!("http://{}/webhook", receiver.addr);
    let id = enrich(&sim, &webhook_url, 20, 2).await;

    let dropped = dropped(&sim, &id);
    assert!(
        !dropped.is_empty() && dropped.len() < 20,
        "the seed drops some deliveries of people with an id, not all: {dropped:?}"
    );
    let inbox = Inbox::open(&db.url)
        .await
        .expect("open the receiver's inbox");
    let before = inbox.counts().await.expect("counts").total();
    assert!(reconciled(&inbox, &id).await.is_empty());

    let client = client(&sim);
    let first = reconcile(&inbox, &client, &id).await.expect("reconcile");
    let added = u64::try_from(dropped.len()).expect("a small count");
    assert_eq!(first.added, added, "{first:?}");
    assert_eq!(first.already_stored, 20 - added, "{first:?}");
    assert_eq!(first.unmatched, 2, "the two people without an externalID");
    assert_eq!(first.people(), 22);
    assert_eq!(reconciled(&inbox, &id).await, dropped);
    assert_eq!(
        inbox.counts().await.expect("counts").total(),
        before + added
    );

    let second = reconcile(&inbox, &client, &id)
        .await
        .expect("reconcile again");
    let mut expected = Reconciliation::default();
    expected.already_stored = 20;
    expected.unmatched = 2;
    assert_eq!(second, expected, "a second run adds nothing");
    assert_eq!(
        inbox.counts().await.expect("counts").total(),
        before + added
    );

    // A reconciled delivery decodes as the event its webhook would have carried.
    let any = dropped.iter().next().expect("one dropped person");
    let delivery = inbox
        .list(State::Pending, 10_000)
        .await
        .expect("list")
        .into_iter()
        .chain(inbox.list(State::Done, 10_000).await.expect("list"))
        .find(|delivery| delivery.external_id.as_deref() == Some(any.as_str()))
        .expect("the reconciled delivery");
    assert_eq!(delivery.source, Source::Reconciled);
    assert_eq!(delivery.signature_header, None);
    let body = delivery.raw_body.expect("a body");
    let event: enrich_webhook::enrich_types::WebhookEvent =
        serde_json::from_slice(&body).expect("the stored body decodes");
    assert_eq!(event.event_type(), "person.enrichment.completed");
    assert_eq!(event.enrichment_id(), Some(id.as_str()));
    assert_eq!(event.external_id(), Some(any.as_str()));
    inbox.close().await;
    drop(receiver);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_completion_event_reconciles_when_the_worker_opts_in() {
    let db = TestDb::sqlite("reconcile_on_batch");
    let inbox = Inbox::open(&db.url).await.expect("open");
    let sim = start_sim().await;
    // The receivers fixture, storing only: this test's own worker processes the inbox.
    let receiver = Receiver::start("axum", &db.url, &["--worker", "off"]).await;
    let addr = receiver.addr;

    // The worker records which people it processed and how, and reconciles on the batch event.
    let processed: Arc<Mutex<Vec<(String, Source)>>> = Arc::default();
    let reports: Arc<Mutex<Vec<Reconciliation>>> = Arc::default();
    let worker = {
        let (inbox, client) = (inbox.clone(), client(&sim));
        let (processed, reports) = (processed.clone(), reports.clone());
        Worker::new(inbox.clone(), move |job: Job| {
            let (inbox, client) = (inbox.clone(), client.clone());
            let (processed, reports) = (processed.clone(), reports.clone());
            async move {
                if let Some(report) =
                    reconcile_on_batch_completed(&inbox, &client, job.event()).await?
                {
                    reports.lock().expect("reports").push(report);
                }
                if let Some(external_id) = job.event().external_id() {
                    processed
                        .lock()
                        .expect("processed")
                        .push((external_id.to_owned(), job.delivery().source));
                }
                Ok::<(), enrich_inbox::ReconcileError>(())
            }
        })
        .spawn()
    };

    let id = enrich(&sim, &format!("http://{addr}/webhook"), 20, 0).await;
    let dropped = dropped(&sim, &id);
    assert!(!dropped.is_empty(), "the seed drops some deliveries");
    let batch_delivered = sim.attempts().iter().any(|attempt| {
        attempt.enrichment_id == id
            && attempt.external_id.is_none()
            && attempt.outcome.is_delivered()
    });
    assert!(batch_delivered, "the batch completion event was delivered");

    let processed = eventually("every person processed", || {
        let processed = processed.clone();
        async move {
            let processed = processed.lock().expect("processed").clone();
            (processed.len() >= 20).then_some(processed)
        }
    })
    .await;
    worker.shutdown(Duration::from_secs(10)).await;

    let people: BTreeSet<&str> = processed.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        processed.len(),
        20,
        "each person processed once: {processed:?}"
    );
    assert_eq!(people.len(), 20);
    let by_reconciliation: BTreeSet<String> = processed
        .iter()
        .filter(|(_, source)| *source == Source::Reconciled)
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(by_reconciliation, dropped);
    let reports = reports.lock().expect("reports").clone();
    assert_eq!(
        reports.len(),
        1,
        "one batch event, reconciled once: {reports:?}"
    );
    assert_eq!(
        reports[0].added,
        u64::try_from(dropped.len()).expect("a small count")
    );

    // Any other event is left alone.
    let event: enrich_webhook::enrich_types::WebhookEvent =
        serde_json::from_str(&crate::support::person_body(&id, "crm-0")).expect("an event");
    let none = reconcile_on_batch_completed(&inbox, &client(&sim), &event)
        .await
        .expect("nothing to do");
    assert_eq!(none, None);
}
