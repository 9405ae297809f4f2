//! Each framework's own body-limit setting, where the adapter honours one: when it is stricter
//! than the pipeline's limit, it governs, and the 413 is still the pipeline's answer naming it.
//! (The conformance table leaves these settings alone so that the pipeline's limit governs.)

use conformance::adapters::{axum as axum_adapter, rocket as rocket_adapter};
use conformance::cases::{PERSON_BODY, SECRET, Setup, padded_to};
use conformance::client::{self, RawRequest};
use conformance::server::RunningServer;
use enrich_webhook::testing::{now, sign};
use enrich_webhook::{Answer, PROBLEM_CONTENT_TYPE, Refusal, SIGNATURE_HEADER};

const FRAMEWORK_LIMIT: usize = 1024;

fn signed(body: &[u8]) -> RawRequest {
    RawRequest::post("/webhook")
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, sign(SECRET, now(), body))
        .body(body.to_vec())
}

/// Under the framework's limit: accepted. One byte over it (declared): the pipeline's 413 naming
/// the framework's limit. A never-ending chunked body: the same 413, while the client still
/// sends.
async fn framework_limit_governs(server: RunningServer) {
    let too_large = Answer::from(&Refusal::PayloadTooLarge {
        limit: FRAMEWORK_LIMIT,
    });
    let addr = server.addr();

    let at_limit = padded_to(PERSON_BODY, FRAMEWORK_LIMIT);
    let response = client::send(addr, &signed(&at_limit)).await.unwrap();
    assert_eq!(response.status, 200, "{response:?}");

    let over = padded_to(PERSON_BODY, FRAMEWORK_LIMIT + 1);
    let response = client::send(addr, &signed(&over)).await.unwrap();
    assert_eq!(
        (response.status, response.content_type(), &response.body),
        (413, Some(PROBLEM_CONTENT_TYPE), &too_large.body)
    );

    let head = RawRequest::post("/webhook")
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, sign(SECRET, now(), b""))
        .header("transfer-encoding", "chunked");
    let outcome = client::send_endless_chunks(addr, &head, &[b' '; 100], 1 << 20)
        .await
        .unwrap();
    let response = outcome.response;
    assert_eq!(
        (response.status, response.content_type(), &response.body),
        (413, Some(PROBLEM_CONTENT_TYPE), &too_large.body)
    );
}

#[tokio::test]
async fn rocket_limit_key_stricter_than_the_pipeline() {
    use rocket::data::{Limits, ToByteUnit};

    let limits = Limits::default().limit(enrich_rocket::LIMIT_KEY, FRAMEWORK_LIMIT.bytes());
    let rocket = rocket_adapter::rocket_with(Setup::Standard.config(), limits);
    framework_limit_governs(rocket_adapter::launch(rocket).await.unwrap()).await;
}

#[tokio::test]
async fn axum_default_body_limit_stricter_than_the_pipeline() {
    use axum::extract::DefaultBodyLimit;

    let inbox = conformance::view::closed_inbox().await.unwrap();
    let app = axum_adapter::router(Setup::Standard.config(), inbox)
        .layer(DefaultBodyLimit::max(FRAMEWORK_LIMIT));
    framework_limit_governs(axum_adapter::serve(app).await.unwrap()).await;
}
