//! The `metrics` feature against the local fake of the API, read back through a real recorder
//! (`metrics-util`'s debugging one): every HTTP request by endpoint and status (`error` when no
//! answer came), every retry, and the whole seconds waited on `429`.

#![allow(
    clippy::field_reassign_with_default,
    reason = "enrich-types structs are #[non_exhaustive]: they are built from Default, field by field"
)]

use std::collections::BTreeMap;
use std::time::Duration;

use enrich_client::{Client, RetryConfig};
use enrich_sim::{Sim, SimConfig};
use enrich_types::{
    CompanyToEnrich, EnrichCompaniesRequest, EnrichPeopleRequest, Include, PersonToEnrich,
};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

const KEY: &str = "sk_test_client_metrics";

/// Every counter recorded while `script` ran on a current-thread runtime with a recorder of its
/// own, by `name{label=value,…}`.
fn counters<F: Future<Output = ()>>(script: impl FnOnce() -> F) -> BTreeMap<String, u64> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(script())
    });
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels: Vec<String> = key
                .labels()
                .map(|label| format!("{}={}", label.key(), label.value()))
                .collect();
            let DebugValue::Counter(count) = value else {
                panic!("the client records counters only: {key:?}");
            };
            (format!("{}{{{}}}", key.name(), labels.join(",")), count)
        })
        .collect()
}

fn person() -> PersonToEnrich {
    let mut person = PersonToEnrich::default();
    person.first_name = Some("Ada".into());
    person.last_name = Some("Lovelace".into());
    person.company_domain = Some("engines.example".into());
    person.external_id = Some("crm-1".into());
    person
}

fn email() -> Include {
    let mut include = Include::default();
    include.email = true;
    include
}

#[test]
fn requests_retries_and_rate_limited_waits_are_counted_by_endpoint() {
    let counted = counters(|| async {
        let sim = Sim::start(
            SimConfig::default()
                .api_key(KEY)
                .item_delay(Duration::from_millis(5)),
        )
        .await
        .expect("the fake starts");
        let client = Client::builder()
            .api_key(KEY)
            .base_url(sim.url())
            .retry(
                RetryConfig::default()
                    .max_attempts(4)
                    .base_delay(Duration::from_millis(5))
                    .max_delay(Duration::from_secs(2)),
            )
            .build()
            .unwrap();
        // Two 429s asking for a second each, then accepted: two retries, two seconds waited.
        sim.throttle_next(2, Duration::from_secs(1));
        let request = EnrichPeopleRequest::new(email(), vec![person()]).unwrap();
        let accepted = client.start_people(&request).await.expect("accepted");
        let id = accepted.enrichment_id.unwrap();
        // A 503 then the answer: a retry, no wait on 429.
        sim.fail_next(1, 503, None);
        client.get_people(&id).await.expect("read after a 503");
        // A 402 is the request's problem: no retry.
        sim.fail_next(1, 402, None);
        client.get_people(&id).await.unwrap_err();

        let mut company = CompanyToEnrich::default();
        company.domain = Some("northwind.example".into());
        let companies = EnrichCompaniesRequest::new(vec![company]).unwrap();
        let accepted = client.start_companies(&companies).await.unwrap();
        client
            .get_companies(&accepted.enrichment_id.unwrap())
            .await
            .unwrap();

        // No answer at all: `error`, retried as a failed connection.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = closed.local_addr().unwrap();
        drop(closed);
        let unreachable = Client::builder()
            .api_key(KEY)
            .base_url(format!("http://{address}"))
            .retry(
                RetryConfig::default()
                    .max_attempts(2)
                    .base_delay(Duration::from_millis(1)),
            )
            .build()
            .unwrap();
        unreachable.get_companies("x").await.unwrap_err();
    });
    let expected: BTreeMap<String, u64> = [
        (
            "enrich_client_requests_total{endpoint=people_start,status=429}",
            2,
        ),
        (
            "enrich_client_requests_total{endpoint=people_start,status=202}",
            1,
        ),
        ("enrich_client_retries_total{endpoint=people_start}", 2),
        (
            "enrich_client_rate_limited_wait_seconds_total{endpoint=people_start}",
            2,
        ),
        (
            "enrich_client_requests_total{endpoint=people_get,status=503}",
            1,
        ),
        (
            "enrich_client_requests_total{endpoint=people_get,status=200}",
            1,
        ),
        (
            "enrich_client_requests_total{endpoint=people_get,status=402}",
            1,
        ),
        ("enrich_client_retries_total{endpoint=people_get}", 1),
        (
            "enrich_client_requests_total{endpoint=companies_start,status=202}",
            1,
        ),
        (
            "enrich_client_requests_total{endpoint=companies_get,status=200}",
            1,
        ),
        (
            "enrich_client_requests_total{endpoint=companies_get,status=error}",
            2,
        ),
        ("enrich_client_retries_total{endpoint=companies_get}", 1),
    ]
    .into_iter()
    .map(|(name, count)| (name.to_owned(), count))
    .collect();
    assert_eq!(counted, expected);
}
