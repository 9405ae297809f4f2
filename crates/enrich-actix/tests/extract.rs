//! The extractors in-process, through `actix_web::test`.
//!
//! Only what is specific to the framework lives here; every answer the adapters share (status,
//! headers and body of each acceptance and refusal) is a case of the conformance suite in `tests/`.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, Service, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{Method, StatusCode};
use actix_web::test::{self, TestRequest};
use actix_web::{App, ResponseError, web};
use enrich_actix::enrich_webhook::PROBLEM_CONTENT_TYPE;
use enrich_actix::enrich_webhook::testing::SignedRequest;
use enrich_actix::testing::{request, signed_request};
use enrich_actix::{
    Event, PersonEvent, Refusal, Webhook, WebhookConfig, WebhookDelivery, WebhookRefusal,
};
use futures_util::Stream;

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

async fn delivery(Webhook(delivery): WebhookDelivery) -> String {
    format!("{} {}", delivery.is_verified(), delivery.idempotency_key())
}

async fn any_event(Webhook(event): Event) -> String {
    event.event_type().to_owned()
}

async fn person(Webhook(event): PersonEvent, calls: web::Data<Calls>) -> String {
    calls.0.fetch_add(1, Ordering::SeqCst);
    event.person.external_id.clone().unwrap_or_default()
}

async fn own_answer(result: Result<PersonEvent, actix_web::Error>) -> String {
    match result {
        Ok(_) => "accepted".to_owned(),
        Err(error) => match error.as_error::<WebhookRefusal>() {
            Some(WebhookRefusal(refusal)) => format!("refused: {}", refusal.code()),
            None => format!(
                "other: {}",
                error.as_response_error().status_code().as_u16()
            ),
        },
    }
}

/// The test routes, with `config` (if any) as plain app data.
async fn app(
    config: Option<WebhookConfig>,
    calls: Calls,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    let mut app = App::new().app_data(web::Data::new(calls));
    if let Some(config) = config {
        app = app.app_data(config);
    }
    test::init_service(
        app.service(web::resource("/delivery").route(web::post().to(delivery)))
            .service(web::resource("/event").route(web::post().to(any_event)))
            .service(web::resource("/person").route(web::post().to(person)))
            .service(web::resource("/own").route(web::post().to(own_answer))),
    )
    .await
}

fn verifying() -> WebhookConfig {
    WebhookConfig::with_secret(SECRET).unwrap()
}

async fn assert_answer<B: MessageBody>(
    response: ServiceResponse<B>,
    status: u16,
    content_type: &str,
    body: &[u8],
) {
    assert_eq!(response.status().as_u16(), status);
    let values: Vec<_> = response
        .headers()
        .get_all("content-type")
        .map(|value| value.as_bytes().to_vec())
        .collect();
    assert_eq!(
        values,
        [content_type.as_bytes()],
        "exactly one Content-Type"
    );
    let bytes = test::read_body(response).await;
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        String::from_utf8_lossy(body)
    );
}

#[actix_web::test]
async fn a_signed_person_delivery_reaches_each_extractor() {
    let calls = Calls::default();
    let app = app(Some(verifying()), calls.clone()).await;

    let response = test::call_service(&app, signed_request("/delivery", PERSON).to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        test::read_body(response).await,
        "true person.enrichment.completed/b-1/p-7"
    );

    let response = test::call_service(&app, signed_request("/event", PERSON).to_request()).await;
    assert_eq!(
        test::read_body(response).await,
        "person.enrichment.completed"
    );

    let response = test::call_service(&app, signed_request("/person", PERSON).to_request()).await;
    assert_eq!(test::read_body(response).await, "p-7");
    assert_eq!(calls.count(), 1);
}

#[actix_web::test]
async fn an_event_not_taken_is_acknowledged_without_the_handler() {
    let calls = Calls::default();
    let app = app(Some(verifying()), calls.clone()).await;
    let response = test::call_service(&app, signed_request("/person", COMPANY).to_request()).await;
    let expected = enrich_actix::enrich_webhook::Answer::from(
        &enrich_actix::Acknowledgement::of_event_type("company.enrichment.completed"),
    );
    assert_answer(
        response,
        expected.status,
        expected.content_type,
        &expected.body,
    )
    .await;
    assert_eq!(calls.count(), 0);
}

#[actix_web::test]
async fn a_body_read_error_is_an_incomplete_body() {
    let app = app(Some(verifying()), Calls::default()).await;
    let chunks: Pin<Box<dyn Stream<Item = Result<web::Bytes, PayloadError>>>> =
        Box::pin(futures_util::stream::iter([
            Ok(web::Bytes::from_static(b"{\"eventType\":")),
            Err(PayloadError::Incomplete(None)),
        ]));
    // Signed well and freshly, so the checks before the body pass and the read is reached.
    let (req, _) = signed_request("/event", PERSON)
        .to_request()
        .replace_payload(Payload::Stream { payload: chunks });
    let response = test::call_service(&app, req).await;
    assert_answer(
        response,
        Refusal::IncompleteBody.status(),
        PROBLEM_CONTENT_TYPE,
        &Refusal::IncompleteBody.body(),
    )
    .await;
}

#[actix_web::test]
async fn a_missing_configuration_is_a_500_naming_the_app_data_call() {
    let app = app(None, Calls::default()).await;
    let response = test::call_service(&app, signed_request("/person", PERSON).to_request()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: serde_json::Value = test::read_body_json(response).await;
    assert_eq!(body["code"], "receiver_not_configured");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(".app_data(WebhookConfig::"), "{detail}");
}

#[actix_web::test]
async fn a_handler_can_take_the_result_and_answer_itself() {
    let app = app(Some(verifying()), Calls::default()).await;
    let unsigned = SignedRequest::builder(PERSON).unsigned().build();
    let response = test::call_service(&app, request("/own", unsigned).to_request()).await;
    assert_eq!(
        test::read_body(response).await,
        "refused: missing_signature"
    );

    // The acknowledgement of an event not taken is no refusal, though actix-web carries it as
    // an error (with status 200).
    let response = test::call_service(&app, signed_request("/own", COMPANY).to_request()).await;
    assert_eq!(test::read_body(response).await, "other: 200");
}

#[actix_web::test]
async fn other_methods_on_a_webhook_resource_are_405_allow_post() {
    let app = app(Some(verifying()), Calls::default()).await;
    for method in [Method::GET, Method::DELETE, Method::PUT] {
        let response = test::call_service(
            &app,
            TestRequest::default()
                .method(method.clone())
                .uri("/person")
                .to_request(),
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(
            response
                .headers()
                .get("allow")
                .map(|value| value.as_bytes()),
            Some(&b"POST"[..]),
            "{method}"
        );
    }
}

#[actix_web::test]
async fn the_refusal_renders_the_pipelines_answer() {
    use std::error::Error;

    let refusal = WebhookRefusal::from(Refusal::InvalidSignature);
    assert_eq!(refusal.status_code(), StatusCode::UNAUTHORIZED);
    assert_eq!(refusal.to_string(), Refusal::InvalidSignature.to_string());
    assert!(refusal.source().is_none(), "each message prints once");
    let response = refusal.error_response();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = response.into_body().try_into_bytes().unwrap_or_default();
    assert_eq!(body, Refusal::InvalidSignature.body());

    let busy = WebhookRefusal::from(Refusal::StorageUnavailable {
        retry_after_secs: 7,
    });
    let response = busy.error_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"7"[..])
    );
}
