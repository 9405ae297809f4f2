//! The client against the local fake of the API (`enrich-sim`), over loopback.

#![allow(
    clippy::field_reassign_with_default,
    reason = "enrich-types structs are #[non_exhaustive]: they are built from Default, field by field"
)]

use std::time::Duration;

use enrich_client::{Client, Error, PollConfig, RetryConfig, TransportKind};
use enrich_sim::{Sim, SimConfig};
use enrich_types::{
    CompanyToEnrich, EnrichCompaniesRequest, EnrichPeopleRequest, EnrichmentStatus, Include,
    MAX_PEOPLE_PER_REQUEST, PersonToEnrich, RequestError,
};

const KEY: &str = "sk_test_client";

async fn sim() -> Sim {
    Sim::start(
        SimConfig::default()
            .api_key(KEY)
            .item_delay(Duration::from_millis(5)),
    )
    .await
    .expect("the fake starts")
}

fn builder(sim: &Sim) -> enrich_client::ClientBuilder {
    Client::builder()
        .api_key(KEY)
        .base_url(sim.url())
        .retry(
            RetryConfig::default()
                .base_delay(Duration::from_millis(10))
                .max_delay(Duration::from_millis(50)),
        )
        .poll(
            PollConfig::default()
                .first_interval(Duration::from_millis(10))
                .max_interval(Duration::from_millis(50)),
        )
}

fn people(count: usize) -> Vec<PersonToEnrich> {
    (0..count)
        .map(|index| {
            let mut person = PersonToEnrich::default();
            person.first_name = Some("Ada".into());
            person.last_name = Some("Lovelace".into());
            person.company_domain = Some("engines.example".into());
            person.external_id = Some(format!("crm-{index}"));
            person
        })
        .collect()
}

fn email() -> Include {
    let mut include = Include::default();
    include.email = true;
    include
}

#[tokio::test]
async fn starts_with_202_and_polls_to_completion() {
    let sim = sim().await;
    let client = builder(&sim).build().unwrap();
    let request = EnrichPeopleRequest::new(email(), people(6)).unwrap();
    let accepted = client.start_people(&request).await.unwrap();
    let id = accepted.enrichment_id.clone().expect("an enrichment id");
    assert_eq!(
        accepted.enrichment_callback_url.as_deref(),
        Some(format!("{}/v2/people/enrich/{id}", sim.url()).as_str())
    );

    let mut polls = Vec::new();
    let done = client
        .wait_people(&id, |progress| polls.push(progress.percent_completed))
        .await
        .unwrap();
    assert_eq!(done.status, Some(EnrichmentStatus::Completed));
    assert_eq!(done.percent_completed, Some(100.0));
    assert_eq!(polls.last(), Some(&Some(100.0)));
    // Progress never goes backwards.
    assert!(polls.windows(2).all(|pair| pair[0] <= pair[1]), "{polls:?}");
    let ids: Vec<_> = done
        .people
        .unwrap()
        .into_iter()
        .map(|person| person.external_id.unwrap())
        .collect();
    assert_eq!(ids, ["crm-0", "crm-1", "crm-2", "crm-3", "crm-4", "crm-5"]);

    // What reconciliation reads: every person of the finished enrichment.
    assert_eq!(client.all_people(&id).await.unwrap().len(), 6);
}

#[tokio::test]
async fn a_wrong_api_key_is_a_typed_401_with_the_api_message() {
    let sim = sim().await;
    let client = builder(&sim).api_key("sk_wrong").build().unwrap();
    let error = client
        .start_people(&EnrichPeopleRequest::new(email(), people(1)).unwrap())
        .await
        .unwrap_err();
    assert!(error.is_unauthorized(), "{error:?}");
    let Error::Api { status, body, .. } = &error else {
        panic!("expected an API error, got {error:?}");
    };
    assert_eq!(*status, 401);
    assert_eq!(body.code, Some(401));
    assert!(
        body.message
            .as_deref()
            .is_some_and(|m| m.contains("API key"))
    );
    let shown = error.to_string();
    assert!(
        shown.starts_with("the API answered 401 (the API key was refused)"),
        "{shown}"
    );
    assert!(!format!("{client:?}{error:?}{shown}").contains("sk_wrong"));
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let sim = sim().await;
    let client = builder(&sim)
        .retry(
            RetryConfig::default()
                .max_attempts(4)
                .max_delay(Duration::from_secs(2)),
        )
        .build()
        .unwrap();
    sim.throttle_next(2, Duration::from_secs(1));
    let accepted = client
        .start_people(&EnrichPeopleRequest::new(email(), people(1)).unwrap())
        .await
        .expect("accepted on the third attempt");
    assert!(accepted.enrichment_id.is_some());

    // Without retries the 429 comes back typed, with its Retry-After.
    let impatient = builder(&sim).retry(RetryConfig::none()).build().unwrap();
    sim.throttle_next(1, Duration::from_secs(7));
    let error = impatient
        .get_people(accepted.enrichment_id.as_deref().unwrap())
        .await
        .unwrap_err();
    let Error::Api {
        status,
        retry_after,
        ..
    } = error
    else {
        panic!("expected an API error, got {error:?}");
    };
    assert_eq!((status, retry_after), (429, Some(Duration::from_secs(7))));

    // More 429s than retries: the last one is returned.
    sim.throttle_next(10, Duration::from_secs(0));
    let error = builder(&sim)
        .retry(
            RetryConfig::default()
                .max_attempts(3)
                .base_delay(Duration::from_millis(1)),
        )
        .build()
        .unwrap()
        .get_people(accepted.enrichment_id.as_deref().unwrap())
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(429));
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_and_client_errors_are_not() {
    let sim = sim().await;
    let client = builder(&sim)
        .retry(
            RetryConfig::default()
                .max_attempts(4)
                .base_delay(Duration::from_millis(5)),
        )
        .build()
        .unwrap();
    sim.fail_next(2, 503, None);
    let accepted = client
        .start_people(&EnrichPeopleRequest::new(email(), people(1)).unwrap())
        .await
        .expect("accepted after two 503s");
    let id = accepted.enrichment_id.unwrap();
    sim.fail_next(3, 500, None);
    client.get_people(&id).await.expect("read after three 500s");

    // A 402 (credits) or 403 is the request's problem: returned at once, not retried.
    sim.fail_next(2, 402, None);
    let error = client.get_people(&id).await.unwrap_err();
    assert_eq!(error.status(), Some(402));
    // The second refusal is still pending: the first call did not retry into it.
    assert_eq!(
        client.get_people(&id).await.unwrap_err().status(),
        Some(402)
    );
    client.get_people(&id).await.expect("served again");
}

#[tokio::test]
async fn large_requests_are_split_in_order() {
    let sim = sim().await;
    let client = builder(&sim).people_per_request(10).build().unwrap();
    let mut request = EnrichPeopleRequest::default();
    request.include = email();
    request.people = people(25);
    let parts = client.start_people_split(&request).await.unwrap();
    assert_eq!(parts.len(), 3);
    let mut seen = Vec::new();
    for part in &parts {
        let id = part.enrichment_id.as_deref().unwrap();
        let people = client.all_people(id).await.unwrap();
        seen.push(people.len());
        assert!(seen.len() == 1 || people[0].external_id.as_deref() != Some("crm-0"));
    }
    assert_eq!(seen, [10, 10, 5]);
    let ids: std::collections::HashSet<_> = parts.iter().map(|part| &part.enrichment_id).collect();
    assert_eq!(ids.len(), 3);
}

#[tokio::test]
async fn more_than_the_api_maximum_is_split_at_the_maximum() {
    let sim = Sim::start(SimConfig::default().api_key(KEY).item_delay(Duration::ZERO))
        .await
        .unwrap();
    let client = builder(&sim).build().unwrap();
    let mut request = EnrichPeopleRequest::default();
    request.include = email();
    request.people = people(MAX_PEOPLE_PER_REQUEST + 1);
    // One call refuses it before sending…
    assert!(matches!(
        client.start_people(&request).await,
        Err(Error::InvalidRequest(RequestError::TooManyPeople {
            count: 10_001,
            ..
        }))
    ));
    // …the split call sends 10,000 (which the fake's validation accepts) and 1.
    let parts = client.start_people_split(&request).await.unwrap();
    assert_eq!(parts.len(), 2);
    let last = client
        .all_people(parts[1].enrichment_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].external_id.as_deref(), Some("crm-10000"));
}

#[tokio::test]
async fn companies_start_split_and_wait() {
    let sim = sim().await;
    let client = builder(&sim).companies_per_request(2).build().unwrap();
    let companies = [
        "lumen-analytics.example",
        "northwind.example",
        "fernhill.example",
    ]
    .map(|domain| {
        let mut company = CompanyToEnrich::default();
        company.domain = Some(domain.into());
        company.external_id = Some(format!("acct-{domain}"));
        company
    })
    .to_vec();
    let parts = client
        .start_companies_split(&EnrichCompaniesRequest::new(companies).unwrap())
        .await
        .unwrap();
    assert_eq!(parts.len(), 2);
    let done = client
        .wait_companies(parts[0].enrichment_id.as_deref().unwrap(), |_| {})
        .await
        .unwrap();
    let names: Vec<_> = done
        .companies
        .unwrap()
        .into_iter()
        .map(|company| company.name.unwrap())
        .collect();
    assert_eq!(names, ["Lumen Analytics", "Northwind"]);
}

#[tokio::test]
async fn what_the_api_would_refuse_is_not_sent() {
    let sim = sim().await;
    let client = builder(&sim).build().unwrap();
    let mut request = EnrichPeopleRequest::default();
    request.include = email();
    assert!(matches!(
        client.start_people(&request).await,
        Err(Error::InvalidRequest(RequestError::NoPeople))
    ));
    request.people = people(1);
    request.notification_options = Some(Default::default());
    if let Some(options) = request.notification_options.as_mut() {
        options.webhook_url = Some("http://hooks.example.com/surfe".into());
    }
    assert!(matches!(
        client.start_people(&request).await,
        Err(Error::InvalidRequest(
            RequestError::WebhookUrlNotHttps { .. }
        ))
    ));
    // Nothing reached the fake.
    assert_eq!(sim.enrichments_started(), 0);
    // The same request with a loopback http webhook is valid, and sent.
    if let Some(options) = request.notification_options.as_mut() {
        options.webhook_url = Some("http://127.0.0.1:9/webhook".into());
    }
    client.start_people(&request).await.unwrap();
    assert_eq!(sim.enrichments_started(), 1);
}

#[tokio::test]
async fn an_unknown_enrichment_is_a_404_and_an_unreachable_api_a_connect_error() {
    let sim = sim().await;
    let client = builder(&sim).build().unwrap();
    let error = client.get_people("no-such-id").await.unwrap_err();
    assert_eq!(error.status(), Some(404));

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
    let error = unreachable.get_people("x").await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().starts_with("cannot reach the API"),
        "{error}"
    );
}

#[test]
fn building_refuses_a_missing_key_and_a_bad_base_url() {
    let error = Client::builder()
        .api_key("k")
        .base_url("ftp://example.com")
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("is not an http(s) URL"),
        "{error}"
    );
    let error = Client::builder()
        .api_key("k")
        .people_per_request(MAX_PEOPLE_PER_REQUEST + 1)
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::Config(_)));
}
