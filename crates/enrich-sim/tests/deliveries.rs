//! The fake's deliveries against real receivers over loopback: signatures, the retry schedule,
//! refused connections, timeouts, duplicates, drops and the batch completion event.

#![allow(
    clippy::field_reassign_with_default,
    reason = "enrich-types structs are #[non_exhaustive]: they are built from Default, field by field"
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use enrich_axum::{Webhook, WebhookConfig, WebhookDelivery};
use enrich_sim::{Attempt, DeliveryCopy, Outcome, Sim, SimConfig};
use enrich_types::{EnrichPeopleResult, WebhookEvent};
use serde_json::json;

const KEY: &str = "sk_sim_test";
const SECRET: &str = "whsec_sim_deliveries";

/// What a receiver saw: every verified event, in arrival order.
#[derive(Clone)]
struct Receiver {
    config: WebhookConfig,
    events: Arc<Mutex<Vec<WebhookEvent>>>,
    /// The receiver answers `503` to this many requests first (then verifies and answers 200).
    unavailable_first: usize,
    /// Waits this long before answering each of the first `slow_first` requests.
    slow: Duration,
    slow_first: usize,
    requests: Arc<AtomicUsize>,
}

impl axum::extract::FromRef<Receiver> for WebhookConfig {
    fn from_ref(receiver: &Receiver) -> Self {
        receiver.config.clone()
    }
}

impl Receiver {
    fn new(secret: &str) -> Self {
        Self {
            config: WebhookConfig::with_secret(secret).unwrap(),
            events: Arc::default(),
            unavailable_first: 0,
            slow: Duration::ZERO,
            slow_first: 0,
            requests: Arc::default(),
        }
    }

    /// Serves on a free loopback port; returns the webhook URL.
    async fn serve(&self) -> String {
        async fn webhook(
            State(receiver): State<Receiver>,
            Webhook(delivery): WebhookDelivery,
        ) -> StatusCode {
            let seen = receiver.requests.fetch_add(1, Ordering::SeqCst);
            if seen < receiver.slow_first {
                tokio::time::sleep(receiver.slow).await;
            }
            if seen < receiver.unavailable_first {
                return StatusCode::SERVICE_UNAVAILABLE;
            }
            receiver.events.lock().unwrap().push(delivery.into_event());
            StatusCode::OK
        }
        let app = Router::new()
            .route("/webhook", post(webhook))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn events(&self) -> Vec<WebhookEvent> {
        self.events.lock().unwrap().clone()
    }
}

fn config() -> SimConfig {
    SimConfig::default()
        .api_key(KEY)
        .webhook_secret(SECRET)
        .item_delay(Duration::from_millis(2))
        .retry_schedule(vec![Duration::from_millis(20), Duration::from_millis(40)])
}

/// Starts a people enrichment of `count` people on the fake, straight over HTTP.
async fn start(sim: &Sim, count: usize, webhook_url: &str) -> String {
    let people: Vec<_> = (0..count)
        .map(|index| json!({ "firstName": "Ada", "lastName": "Lovelace", "externalID": format!("p-{index}") }))
        .collect();
    let answer = reqwest::Client::new()
        .post(format!("{}/v2/people/enrich", sim.url()))
        .bearer_auth(KEY)
        .json(&json!({
            "include": { "email": true, "mobile": true },
            "notificationOptions": { "webhookUrl": webhook_url },
            "people": people,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let accepted: serde_json::Value = answer.json().await.unwrap();
    accepted["enrichmentID"].as_str().unwrap().to_owned()
}

fn person_attempts(attempts: &[Attempt], external_id: &str) -> Vec<(u32, Outcome)> {
    attempts
        .iter()
        .filter(|attempt| attempt.external_id.as_deref() == Some(external_id))
        .map(|attempt| (attempt.attempt, attempt.outcome.clone()))
        .collect()
}

fn answered(status: u16, code: Option<&str>) -> Outcome {
    Outcome::Answered {
        status,
        code: code.map(str::to_owned),
    }
}

#[tokio::test]
async fn a_503_is_retried_on_schedule_until_a_200_and_the_batch_event_comes_last() {
    let sim = Sim::start(config()).await.unwrap();
    let mut receiver = Receiver::new(SECRET);
    receiver.unavailable_first = 2;
    let url = receiver.serve().await;
    // One person, so the two 503s are both its own.
    let id = start(&sim, 1, &url).await;
    assert!(sim.finished(&id).await);

    let attempts = sim.attempts();
    assert_eq!(
        person_attempts(&attempts, "p-0"),
        [
            (1, answered(503, None)),
            (2, answered(503, None)),
            (3, answered(200, None)),
        ]
    );
    let events = receiver.events();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].external_id(), Some("p-0"));
    assert_eq!(events[0].enrichment_id(), Some(id.as_str()));
    let WebhookEvent::BatchEnrichmentCompleted(done) = &events[1] else {
        panic!("the batch completion event comes last: {events:?}");
    };
    assert_eq!(done.batch_id(), Some(id.as_str()));
    assert_eq!(
        done.enrichment_callback_url.as_deref(),
        Some(format!("{}/v2/people/enrich/{id}", sim.url()).as_str())
    );
    assert_eq!(
        attempts.last().unwrap().event_type,
        "person.batch-enrichment.completed"
    );
}

#[tokio::test]
async fn every_person_arrives_signed_and_matches_the_get_results() {
    let sim = Sim::start(config()).await.unwrap();
    let receiver = Receiver::new(SECRET);
    let url = receiver.serve().await;
    let id = start(&sim, 12, &url).await;
    assert!(sim.finished(&id).await);

    let delivered: Vec<_> = receiver
        .events()
        .into_iter()
        .filter_map(|event| event.person().cloned())
        .collect();
    let result: EnrichPeopleResult = reqwest::Client::new()
        .get(format!("{}/v2/people/enrich/{id}", sim.url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut from_get = result.people.unwrap();
    let mut delivered = delivered;
    let by_id = |person: &enrich_types::EnrichedPersonResponse| person.external_id.clone();
    from_get.sort_by_key(by_id);
    delivered.sort_by_key(by_id);
    assert_eq!(delivered.len(), 12);
    assert_eq!(delivered, from_get);
    assert!(
        sim.attempts()
            .iter()
            .all(|attempt| attempt.outcome.is_delivered())
    );
}

#[tokio::test]
async fn the_wrong_secret_is_refused_by_the_receiver_and_logged_with_its_code() {
    let sim = Sim::start(config().retry_schedule(vec![Duration::from_millis(5)]))
        .await
        .unwrap();
    let receiver = Receiver::new("whsec_another_secret");
    let url = receiver.serve().await;
    let id = start(&sim, 1, &url).await;
    assert!(sim.finished(&id).await);
    assert_eq!(
        person_attempts(&sim.attempts(), "p-0"),
        [
            (1, answered(401, Some("invalid_signature"))),
            (2, answered(401, Some("invalid_signature"))),
        ]
    );
    assert!(receiver.events().is_empty());
}

#[tokio::test]
async fn refused_connections_and_timeouts_are_retried_then_given_up() {
    let sim = Sim::start(config()).await.unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhook", closed.local_addr().unwrap());
    drop(closed);
    let id = start(&sim, 1, &url).await;
    assert!(sim.finished(&id).await);
    let attempts = person_attempts(&sim.attempts(), "p-0");
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert!(
        attempts
            .iter()
            .all(|(_, outcome)| matches!(outcome, Outcome::ConnectionFailed(_))),
        "{attempts:?}"
    );

    let sim = Sim::start(config().delivery_timeout(Duration::from_millis(100)))
        .await
        .unwrap();
    let mut receiver = Receiver::new(SECRET);
    receiver.slow = Duration::from_secs(5);
    receiver.slow_first = 1;
    let url = receiver.serve().await;
    let id = start(&sim, 1, &url).await;
    assert!(sim.finished(&id).await);
    assert_eq!(
        person_attempts(&sim.attempts(), "p-0"),
        [(1, Outcome::TimedOut), (2, answered(200, None))]
    );
}

#[tokio::test]
async fn duplicates_and_drops_follow_the_seed() {
    let faulty = || config().seed(99).duplicate_rate(0.3).drop_rate(0.2);
    let run = || async {
        let sim = Sim::start(faulty()).await.unwrap();
        let receiver = Receiver::new(SECRET);
        let url = receiver.serve().await;
        let id = start(&sim, 30, &url).await;
        assert!(sim.finished(&id).await);
        (sim.attempts(), receiver.events())
    };
    let (attempts, events) = run().await;
    let dropped: Vec<_> = attempts
        .iter()
        .filter(|attempt| attempt.outcome == Outcome::Dropped)
        .filter_map(|attempt| attempt.external_id.clone())
        .collect();
    let duplicated: Vec<_> = attempts
        .iter()
        .filter(|attempt| attempt.copy == DeliveryCopy::Duplicate)
        .filter_map(|attempt| attempt.external_id.clone())
        .collect();
    assert!(
        !dropped.is_empty() && !duplicated.is_empty(),
        "{attempts:?}"
    );
    for index in 0..30 {
        let external_id = format!("p-{index}");
        let arrived = events
            .iter()
            .filter(|event| event.external_id() == Some(external_id.as_str()))
            .count();
        let expected = if dropped.contains(&external_id) {
            0
        } else if duplicated.contains(&external_id) {
            2
        } else {
            1
        };
        assert_eq!(arrived, expected, "{external_id}");
    }
    // The same seed drops and duplicates the same people.
    let (again, _) = run().await;
    let dropped_again: Vec<_> = again
        .iter()
        .filter(|attempt| attempt.outcome == Outcome::Dropped)
        .filter_map(|attempt| attempt.external_id.clone())
        .collect();
    assert_eq!(dropped, dropped_again);
}

#[tokio::test]
async fn the_fake_validates_requests_with_the_api_rules_and_never_echoes_them() {
    let sim = Sim::start(config()).await.unwrap();
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value, key: &'static str| {
        http.post(format!("{}/v2/people/enrich", sim.url()))
            .bearer_auth(key)
            .json(&body)
            .send()
    };
    let person = json!([{ "externalID": "secret-value-1" }]);
    for (body, key, status, message) in [
        (
            json!({ "include": { "email": true }, "people": person }),
            "sk_wrong",
            401,
            "API key",
        ),
        (
            json!({ "include": {}, "people": person }),
            KEY,
            400,
            "include",
        ),
        (
            json!({ "include": { "email": true }, "people": [] }),
            KEY,
            400,
            "no people",
        ),
        (
            json!({ "include": { "email": true }, "people": person,
                    "notificationOptions": { "webhookUrl": "http://secret-value-2.example/hook" } }),
            KEY,
            400,
            "https",
        ),
        (
            json!({ "include": { "email": "secret-value-3" }, "people": person }),
            KEY,
            400,
            "`include.email`",
        ),
    ] {
        let answer = post(body, key).await.unwrap();
        assert_eq!(answer.status(), status);
        let text = answer.text().await.unwrap();
        assert!(text.contains(message), "{text}");
        assert!(!text.contains("secret-value"), "{text}");
        let error: enrich_types::ApiError = serde_json::from_str(&text).unwrap();
        assert_eq!(error.code, Some(i64::from(status)));
    }
    let answer = http
        .get(format!("{}/v2/people/enrich/unknown", sim.url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    assert_eq!(sim.enrichments_started(), 0);
}
