//! The extractors in-process, through Poem's own test client.
//!
//! Only what is specific to the framework lives here; every answer the three adapters share (status,
//! headers and body of each acceptance and refusal) is a case of the conformance suite in `tests/`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use enrich_poem::enrich_webhook::PROBLEM_CONTENT_TYPE;
use enrich_poem::enrich_webhook::SIGNATURE_HEADER;
use enrich_poem::enrich_webhook::testing::{SignedRequest, now, sign};
use enrich_poem::{
    Event, PersonEvent, Refusal, Webhook, WebhookConfig, WebhookDelivery, WebhookRefusal,
};
use poem::http::StatusCode;
use poem::test::{TestClient, TestResponse};
use poem::web::Data;
use poem::{Body, Endpoint, EndpointExt, Route, handler, post};

const SECRET: &str = "whsec_test_secret";
const COMPANY: &str = r#"{"eventType":"company.enrichment.completed","data":{"enrichmentID":"b-2","company":{"externalID":"c-1"}}}"#;
const PERSON: &str = r#"{"eventType":"person.enrichment.completed","data":{"enrichmentID":"b-1","person":{"externalID":"p-7","firstName":"Ada"}}}"#;

#[derive(Clone, Default)]
struct Calls(Arc<AtomicUsize>);

impl Calls {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

#[handler]
fn delivery(Webhook(delivery): WebhookDelivery) -> String {
    format!("{} {}", delivery.is_verified(), delivery.idempotency_key())
}

#[handler]
fn any_event(Webhook(event): Event) -> String {
    event.event_type().to_owned()
}

#[handler]
fn person(Webhook(event): PersonEvent, calls: Data<&Calls>) -> String {
    calls.0.0.fetch_add(1, Ordering::SeqCst);
    event.person.external_id.unwrap_or_default()
}

#[handler]
fn own_answer(result: poem::Result<PersonEvent>) -> String {
    match result {
        Ok(_) => "accepted".to_owned(),
        Err(error) => match error.downcast_ref::<WebhookRefusal>() {
            Some(WebhookRefusal(refusal)) => format!("refused: {}", refusal.code()),
            None => format!("other: {}", error.status().as_u16()),
        },
    }
}

fn routes() -> Route {
    Route::new()
        .at("/delivery", post(delivery))
        .at("/event", post(any_event))
        .at("/person", post(person))
        .at("/own", post(own_answer))
}

fn client(config: WebhookConfig, calls: &Calls) -> TestClient<impl Endpoint + use<>> {
    TestClient::new(routes().data(config).data(calls.clone()))
}

/// A well-formed, fresh signature header (of another body): it passes the checks made before
/// the body is read, so that a test reaches the body.
fn fresh_signature() -> String {
    sign(SECRET, now(), b"another body")
}

fn verifying() -> WebhookConfig {
    WebhookConfig::with_secret(SECRET).unwrap()
}

async fn send<E: Endpoint>(
    client: &TestClient<E>,
    path: &str,
    request: SignedRequest,
) -> TestResponse {
    let mut builder = client.post(path);
    for (name, value) in request.header_pairs {
        builder = builder.header(name, value);
    }
    builder.body(request.body).send().await
}

async fn assert_answer(response: TestResponse, status: u16, content_type: &str, body: &[u8]) {
    assert_eq!(response.0.status().as_u16(), status);
    let values: Vec<_> = response
        .0
        .headers()
        .get_all("content-type")
        .iter()
        .collect();
    assert_eq!(values, [content_type], "exactly one Content-Type");
    let bytes = response.0.into_body().into_vec().await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        String::from_utf8_lossy(body)
    );
}

async fn assert_refusal(response: TestResponse, refusal: Refusal) {
    assert_answer(
        response,
        refusal.status(),
        PROBLEM_CONTENT_TYPE,
        &refusal.body(),
    )
    .await;
}

#[tokio::test]
async fn a_signed_person_delivery_reaches_each_extractor() {
    let calls = Calls::default();
    let client = client(verifying(), &calls);
    let signed = || SignedRequest::builder(PERSON).secret(SECRET).build();

    let response = send(&client, "/delivery", signed()).await;
    response.assert_status_is_ok();
    response
        .assert_text("true person.enrichment.completed/b-1/p-7")
        .await;

    let response = send(&client, "/event", signed()).await;
    response.assert_status_is_ok();
    response.assert_text("person.enrichment.completed").await;

    let response = send(&client, "/person", signed()).await;
    response.assert_status_is_ok();
    response.assert_text("p-7").await;
    assert_eq!(calls.count(), 1);
}

#[tokio::test]
async fn a_body_read_error_is_an_incomplete_body() {
    let client = client(verifying(), &Calls::default());
    let chunks = futures_util::stream::iter([
        Ok(b"{\"eventType\":".to_vec()),
        Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
    ]);
    let response = client
        .post("/event")
        .content_type("application/json")
        .header(SIGNATURE_HEADER, fresh_signature())
        .body(Body::from_bytes_stream(chunks))
        .send()
        .await;
    assert_refusal(response, Refusal::IncompleteBody).await;
}

#[tokio::test]
async fn a_missing_configuration_is_a_500_naming_the_data_call() {
    let client = TestClient::new(routes().data(Calls::default()));
    let response = send(&client, "/person", SignedRequest::builder(PERSON).build()).await;
    assert_eq!(response.0.status(), StatusCode::INTERNAL_SERVER_ERROR);
    response.assert_content_type(PROBLEM_CONTENT_TYPE);
    let body = response.json().await;
    let body = body.value().object();
    body.get("code").assert_string("receiver_not_configured");
    assert!(
        body.get("detail")
            .string()
            .contains(".data(WebhookConfig::")
    );
}

#[tokio::test]
async fn a_handler_can_take_the_result_and_answer_itself() {
    let client = client(verifying(), &Calls::default());
    let response = send(
        &client,
        "/own",
        SignedRequest::builder(PERSON).unsigned().build(),
    )
    .await;
    response.assert_status_is_ok();
    response.assert_text("refused: missing_signature").await;

    // The acknowledgement of an event not taken is no refusal: a `catch_error::<WebhookRefusal>`
    // middleware never sees it, though Poem carries it as an error (with status 200).
    let response = send(&client, "/own", SignedRequest::builder(COMPANY).build()).await;
    response.assert_text("other: 200").await;
}

#[tokio::test]
async fn the_refusal_renders_the_pipelines_answer() {
    use poem::error::ResponseError;
    use std::error::Error;

    let refusal = WebhookRefusal::from(Refusal::InvalidSignature);
    assert_eq!(refusal.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refusal.to_string(), Refusal::InvalidSignature.to_string());
    assert!(refusal.source().is_none(), "each message prints once");
    let response = refusal.as_response();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.content_type(), Some(PROBLEM_CONTENT_TYPE));
    let body = response.into_body().into_vec().await.unwrap();
    assert_eq!(body, Refusal::InvalidSignature.body());

    let busy = WebhookRefusal::from(Refusal::StorageUnavailable {
        retry_after_secs: 7,
    });
    let response = busy.as_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"7"[..])
    );
}
