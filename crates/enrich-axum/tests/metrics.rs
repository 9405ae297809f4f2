//! The `metrics` feature through axum: the adapter forwards it to the pipeline, whose counts a
//! delivery once at its final outcome: accepted, ignored by an extractor that does not take
//! its event, or refused. Read back through a real recorder (`metrics-util`'s debugging one).

use std::collections::BTreeMap;

use axum::Router;
use axum::routing::post;
use enrich_axum::enrich_webhook::testing::SignedRequest;
use enrich_axum::testing::{TEST_SECRET, request, signed_request};
use enrich_axum::{PersonEvent, WebhookConfig};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tower::ServiceExt;

const PERSON: &str =
    r#"{"eventType":"person.enrichment.completed","data":{"person":{"externalID":"p-1"}}}"#;
const COMPANY: &str = r#"{"eventType":"company.enrichment.completed","data":{"company":{}}}"#;

#[test]
fn each_request_is_counted_once_at_its_outcome() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async {
                let app = Router::new()
                    .route("/webhook", post(|_: PersonEvent| async {}))
                    .with_state(WebhookConfig::with_secret(TEST_SECRET).unwrap());
                for body in [PERSON, PERSON, COMPANY] {
                    let answer = app.clone().oneshot(signed_request("/webhook", body)).await;
                    assert_eq!(answer.unwrap().status(), 200);
                }
                let unsigned = SignedRequest::builder(PERSON).unsigned().build();
                let answer = app.oneshot(request("/webhook", unsigned)).await.unwrap();
                assert_eq!(answer.status(), 401);
            });
    });
    let counters: BTreeMap<String, u64> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| match value {
            DebugValue::Counter(count) => {
                let labels: Vec<String> = key
                    .key()
                    .labels()
                    .map(|label| format!("{}={}", label.key(), label.value()))
                    .collect();
                Some((
                    format!("{}{{{}}}", key.key().name(), labels.join(",")),
                    count,
                ))
            }
            _ => None,
        })
        .collect();
    let expected: BTreeMap<String, u64> = [
        ("code=accepted,event_type=person.enrichment.completed", 2),
        ("code=ignored,event_type=company.enrichment.completed", 1),
        ("code=missing_signature,event_type=none", 1),
    ]
    .into_iter()
    .map(|(labels, count)| {
        (
            format!("enrich_webhook_deliveries_total{{{labels}}}"),
            count,
        )
    })
    .collect();
    assert_eq!(counters, expected);
}
