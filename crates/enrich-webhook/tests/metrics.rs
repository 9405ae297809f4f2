//! The `metrics` feature: every outcome of the pipeline is counted once, with the documented
//! names and labels, whichever entry point received it; body sizes and time in the pipeline are
//! recorded for each call. Read back through a real recorder (`metrics-util`'s debugging one).

use std::collections::BTreeMap;

use bytes::Bytes;
use enrich_webhook::prelude::PersonEnrichmentCompleted;
use enrich_webhook::testing::{SignedRequest, TEST_SECRET, request, signed_request};
use enrich_webhook::{BodyError, Delivery, WebhookConfig};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

const PERSON: &str =
    r#"{"eventType":"person.enrichment.completed","data":{"person":{"externalID":"p-1"}}}"#;
const COMPANY: &str =
    r#"{"eventType":"company.enrichment.completed","data":{"company":{"externalID":"c-1"}}}"#;
const BATCH: &str = r#"{"eventType":"person.batch-enrichment.completed","data":{}}"#;
const UNKNOWN: &str = r#"{"eventType":"person.enrichment.archived","data":{}}"#;

/// What `run` recorded: each counter's value, and each histogram's samples, by
/// `name{label=value,…}` (labels in the order recorded).
#[derive(Debug, Default)]
struct Recorded {
    counters: BTreeMap<String, u64>,
    histograms: BTreeMap<String, Vec<f64>>,
}

/// Runs `script` on a current-thread runtime with a recorder of its own, and reads back what it
/// recorded.
fn recorded<F: Future<Output = ()>>(script: impl FnOnce() -> F) -> Recorded {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(script())
    });
    let mut recorded = Recorded::default();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let labels: Vec<String> = key
            .labels()
            .map(|label| format!("{}={}", label.key(), label.value()))
            .collect();
        let name = if labels.is_empty() {
            key.name().to_owned()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        match value {
            DebugValue::Counter(count) => {
                recorded.counters.insert(name, count);
            }
            DebugValue::Histogram(samples) => {
                recorded
                    .histograms
                    .insert(name, samples.into_iter().map(|s| s.into_inner()).collect());
            }
            DebugValue::Gauge(_) => panic!("the pipeline records no gauge: {name}"),
        }
    }
    recorded
}

fn config() -> WebhookConfig {
    WebhookConfig::with_secret(TEST_SECRET).unwrap()
}

fn deliveries(code: &str, event_type: &str) -> String {
    format!("enrich_webhook_deliveries_total{{code={code},event_type={event_type}}}")
}

#[test]
fn every_outcome_is_counted_once_with_its_code_and_event_type() {
    let recorded = recorded(|| async {
        let config = config();
        // Accepted through the `http` entry point, and through an extractor of every type.
        for body in [PERSON, PERSON, COMPANY, BATCH, UNKNOWN] {
            config
                .receive_request(signed_request("/webhook", body))
                .await
                .unwrap();
        }
        config
            .receive_request_as::<PersonEnrichmentCompleted, _>(signed_request("/webhook", PERSON))
            .await
            .unwrap();
        // Ignored: a genuine company event where a person event is taken (once, not also as
        // accepted).
        config
            .receive_request_as::<PersonEnrichmentCompleted, _>(signed_request("/webhook", COMPANY))
            .await
            .unwrap_err();
        // Refused: before the body (missing signature, media type), after it (wrong
        // signature, malformed JSON, oversized), and a body that fails while read.
        let unsigned = SignedRequest::builder(PERSON).unsigned().build();
        config
            .receive_request(request("/webhook", unsigned))
            .await
            .unwrap_err();
        let text = SignedRequest::builder(PERSON)
            .content_type(Some("text/plain"))
            .build();
        config
            .receive_request(request("/webhook", text))
            .await
            .unwrap_err();
        let wrong = SignedRequest::builder(PERSON).secret("whsec_other").build();
        config
            .receive_request(request("/webhook", wrong.clone()))
            .await
            .unwrap_err();
        config
            .receive(&wrong.headers(), wrong.body.clone())
            .unwrap_err();
        config
            .receive_request(signed_request("/webhook", "{not json"))
            .await
            .unwrap_err();
        let small = config.clone().body_limit(8);
        let chunks =
            futures_util::stream::iter([Ok::<_, ()>(Bytes::from_static(b"{\"eventType\""))]);
        let signed = SignedRequest::builder(PERSON).build();
        small
            .receive_body(&signed.headers(), chunks, |_| BodyError::Failed)
            .await
            .unwrap_err();
        let failing = futures_util::stream::iter([Err::<Bytes, _>(())]);
        config
            .receive_body(&signed.headers(), failing, |_| BodyError::Failed)
            .await
            .unwrap_err();
        // Accepted by `receive` and then extracted: counted by the extraction.
        let delivery: Delivery = config
            .receive(&signed.headers(), signed.body.clone())
            .unwrap();
        assert!(delivery.extract::<Delivery>().taken().is_some());
    });
    let expected: BTreeMap<String, u64> = [
        (deliveries("accepted", "person.enrichment.completed"), 4),
        (deliveries("accepted", "company.enrichment.completed"), 1),
        (
            deliveries("accepted", "person.batch-enrichment.completed"),
            1,
        ),
        (deliveries("accepted", "other"), 1),
        (deliveries("ignored", "company.enrichment.completed"), 1),
        (deliveries("missing_signature", "none"), 1),
        (deliveries("unsupported_media_type", "none"), 1),
        (deliveries("invalid_signature", "none"), 2),
        (deliveries("malformed_json", "none"), 1),
        (deliveries("payload_too_large", "none"), 1),
        (deliveries("incomplete_body", "none"), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(recorded.counters, expected);

    // A duration for each of the 15 calls; a size for every body read to its end (not for the
    // two refused on their headers, the one cut off at the limit, nor the one that failed).
    let durations = &recorded.histograms["enrich_webhook_pipeline_duration_seconds"];
    assert_eq!(durations.len(), 15);
    assert!(
        durations
            .iter()
            .all(|seconds| *seconds >= 0.0 && *seconds < 60.0)
    );
    let sizes = &recorded.histograms["enrich_webhook_body_bytes"];
    let mut expected_sizes: Vec<f64> = [PERSON, PERSON, COMPANY, BATCH, UNKNOWN, PERSON, COMPANY]
        .iter()
        .chain(&[PERSON, PERSON, "{not json", PERSON])
        .map(|body| body.len() as f64)
        .collect();
    let mut sizes = sizes.clone();
    sizes.sort_by(f64::total_cmp);
    expected_sizes.sort_by(f64::total_cmp);
    assert_eq!(sizes, expected_sizes);
    assert_eq!(recorded.histograms.len(), 2);
}

#[test]
fn an_unknown_event_type_never_becomes_a_label() {
    let recorded = recorded(|| async {
        for event_type in ["x.1", "x.2", "x.3"] {
            let body = format!(r#"{{"eventType":"{event_type}","data":{{}}}}"#);
            config()
                .receive_request(signed_request("/webhook", body))
                .await
                .unwrap();
        }
    });
    assert_eq!(
        recorded.counters,
        BTreeMap::from([(deliveries("accepted", "other"), 3)])
    );
}
