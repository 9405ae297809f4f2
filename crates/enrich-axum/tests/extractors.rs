//! The extractors on an in-process router (`tower::ServiceExt::oneshot`).
//!
//! Only what is specific to the framework lives here; every answer the three adapters share (status,
//! headers and body of each acceptance and refusal) is a case of the conformance suite in `tests/`.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRef, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use enrich_axum::enrich_webhook::Answer;
use enrich_axum::enrich_webhook::enrich_types::WebhookEvent;
use enrich_axum::enrich_webhook::testing::SignedRequest;
use enrich_axum::{Event, PersonEvent, Refusal, Webhook, WebhookConfig, WebhookDelivery};
use http_body_util::BodyExt;
use tower::ServiceExt;

const PERSON: &str = r#"{"eventType":"person.enrichment.completed","data":{"enrichmentID":"b-1","person":{"externalID":"p-1","firstName":"Ada"}}}"#;

/// An application state holding the configuration next to its own data, as users would.
#[derive(Clone)]
struct App {
    config: WebhookConfig,
    seen: Arc<Mutex<Vec<String>>>,
}

impl FromRef<App> for WebhookConfig {
    fn from_ref(app: &App) -> Self {
        app.config.clone()
    }
}

impl App {
    fn record(&self, what: String) {
        self.seen.lock().unwrap().push(what);
    }
}

fn router(config: WebhookConfig) -> (Router, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = App {
        config,
        seen: seen.clone(),
    };
    let router = Router::new()
        .route(
            "/delivery",
            post(
                |State(app): State<App>, Webhook(delivery): WebhookDelivery| async move {
                    let raw = String::from_utf8_lossy(delivery.raw_body()).into_owned();
                    app.record(format!("{} verified={}", raw, delivery.is_verified()));
                },
            ),
        )
        .route(
            "/event",
            post(|State(app): State<App>, Webhook(event): Event| async move {
                let unknown = matches!(event, WebhookEvent::Unknown(_));
                app.record(format!("{} unknown={unknown}", event.event_type()));
            }),
        )
        .route(
            "/person",
            post(
                |State(app): State<App>, Webhook(event): PersonEvent| async move {
                    app.record(format!("person {:?}", event.person.external_id));
                },
            ),
        )
        .with_state(app);
    (router, seen)
}

/// The person event padded with trailing spaces to `len` bytes: still one valid JSON document.
fn padded(len: usize) -> String {
    format!("{PERSON}{}", " ".repeat(len - PERSON.len()))
}

fn secured() -> WebhookConfig {
    WebhookConfig::with_secret("whsec_test_secret").unwrap()
}

fn request(path: &str, signed: &SignedRequest) -> Request {
    let mut builder = Request::post(path);
    for (name, value) in &signed.header_pairs {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(signed.body.clone())).unwrap()
}

/// A request whose body arrives in `chunks` with no `Content-Length` (like a chunked upload).
fn streamed(
    path: &str,
    signed: &SignedRequest,
    chunks: Vec<Result<Bytes, std::io::Error>>,
) -> Request {
    let mut builder = Request::post(path);
    for (name, value) in &signed.header_pairs {
        if name != "content-length" {
            builder = builder.header(name, value);
        }
    }
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    builder.body(body).unwrap()
}

async fn send(router: Router, request: Request) -> Response {
    router.oneshot(request).await.unwrap()
}

/// Asserts the response is exactly `answer`: status, `Content-Type` (and nothing else of note)
/// and body bytes.
async fn assert_answer(response: Response, answer: Answer) {
    assert_eq!(response.status().as_u16(), answer.status);
    assert_eq!(
        response
            .headers()
            .get_all(header::CONTENT_TYPE)
            .iter()
            .collect::<Vec<_>>(),
        [answer.content_type]
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&answer.body)
    );
}

fn rejected(refusal: Refusal) -> Answer {
    Answer::from(&refusal)
}

#[tokio::test]
async fn a_signed_person_delivery_reaches_the_handler() {
    let (router, seen) = router(secured());
    let response = send(
        router,
        request("/person", &SignedRequest::builder(PERSON).build()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(*seen.lock().unwrap(), ["person Some(\"p-1\")"]);
}

#[tokio::test]
async fn the_delivery_extractor_keeps_the_raw_body() {
    let (router, seen) = router(secured());
    let response = send(
        router,
        request("/delivery", &SignedRequest::builder(PERSON).build()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(*seen.lock().unwrap(), [format!("{PERSON} verified=true")]);
}

#[tokio::test]
async fn a_body_that_fails_to_read_is_incomplete() {
    let (router, _) = router(secured());
    let signed = SignedRequest::builder(PERSON).build();
    let chunks = vec![
        Ok(Bytes::from_static(b"{\"eventType\"")),
        Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
    ];
    let response = send(router, streamed("/person", &signed, chunks)).await;
    assert_answer(response, rejected(Refusal::IncompleteBody)).await;
}

#[tokio::test]
async fn a_stricter_default_body_limit_layer_wins_and_is_named() {
    let (router, seen) = router(secured());
    let router = router.layer(DefaultBodyLimit::max(200));
    let body = padded(201);
    let signed = SignedRequest::builder(body.clone()).build();

    // Declared length: refused before reading.
    let response = send(router.clone(), request("/person", &signed)).await;
    assert_answer(response, rejected(Refusal::PayloadTooLarge { limit: 200 })).await;

    // Streamed in one chunk: axum's `Limited` body refuses it.
    let chunks = vec![Ok(Bytes::from(body))];
    let response = send(router.clone(), streamed("/person", &signed, chunks)).await;
    assert_answer(response, rejected(Refusal::PayloadTooLarge { limit: 200 })).await;

    // At the layer's limit exactly: accepted.
    let at_limit = SignedRequest::builder(padded(200)).build();
    let response = send(router, request("/person", &at_limit)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_looser_default_body_limit_layer_leaves_the_pipelines_limit() {
    let (router, _) = router(secured().body_limit(64));
    let router = router.layer(DefaultBodyLimit::max(1000));
    let signed = SignedRequest::builder(PERSON).build();
    let chunks = vec![Ok(Bytes::from(signed.body.clone()))];
    let response = send(router.clone(), streamed("/person", &signed, chunks)).await;
    assert_answer(response, rejected(Refusal::PayloadTooLarge { limit: 64 })).await;

    // Declared within the layer's limit (which is then not read up front) but over the
    // pipeline's: refused before reading, naming the pipeline's limit.
    let response = send(router, request("/person", &signed)).await;
    assert_answer(response, rejected(Refusal::PayloadTooLarge { limit: 64 })).await;
}

#[tokio::test]
async fn axums_implicit_two_megabyte_limit_applies_without_a_layer() {
    let (router, _) = router(secured().body_limit(8 * 1024 * 1024));
    let signed = SignedRequest::builder(padded(3_000_000)).build();
    let response = send(router.clone(), request("/person", &signed)).await;
    assert_answer(
        response,
        rejected(Refusal::PayloadTooLarge { limit: 2_097_152 }),
    )
    .await;

    // Disabling axum's limit leaves only the pipeline's.
    let response = send(
        router.layer(DefaultBodyLimit::disable()),
        request("/person", &signed),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}
