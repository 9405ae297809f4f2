//! Reconciliation against the local fake of the API, without a receiver: an enrichment the API
//! does not know. The reconciliation of deliveries the fake dropped on their way to a real
//! receiver process is tested with the receivers fixture, in the conformance crate
//! (`tests/tests/inbox_processes/reconcile.rs`).

mod support;

use enrich_inbox::{Inbox, reconcile};
use support::TestDb;
use support::sim::{client, start_sim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_enrichment_is_an_api_error_and_stores_nothing() {
    let db = TestDb::sqlite("reconcile_unknown");
    let inbox = Inbox::open(&db.url).await.expect("open");
    let sim = start_sim().await;
    let error = reconcile(&inbox, &client(&sim), "no-such-enrichment")
        .await
        .expect_err("an unknown enrichment");
    assert!(
        matches!(&error, enrich_inbox::ReconcileError::Api(api) if api.status() == Some(404)),
        "{error}"
    );
    assert_eq!(inbox.counts().await.expect("counts").total(), 0);
}
