//! The exact problem+json body of every refusal code, produced through the pipeline.

use enrich_webhook::testing::SignedRequest;
use enrich_webhook::{Answer, Refusal, SignatureTimestamp, WebhookConfig};

const T: u64 = 1_758_468_698_287;
const EVENT: &str = r#"{"eventType":"person.enrichment.completed","data":{"person":{}}}"#;

/// Receives `request` at `T` plus `later_ms`, with a 256-byte limit, and renders the refusal.
fn answer(request: SignedRequest, later_ms: u64) -> String {
    let config = WebhookConfig::with_secret("whsec_test_secret")
        .unwrap()
        .body_limit(256);
    let now = SignatureTimestamp::from_unix_millis(T + later_ms).to_system_time();
    let refusal = config
        .receive_at(&request.headers(), request.body.clone(), now)
        .expect_err("the request should be refused");
    render(&refusal)
}

fn render(refusal: &Refusal) -> String {
    let answer = Answer::from(refusal);
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    format!(
        "{} {}\n{}",
        answer.status,
        answer.content_type,
        serde_json::to_string_pretty(&body).unwrap()
    )
}

fn at_t(body: &str) -> enrich_webhook::testing::SignedRequestBuilder {
    SignedRequest::builder(body).timestamp(SignatureTimestamp::from_unix_millis(T))
}

#[test]
fn unsupported_media_type() {
    insta::assert_snapshot!(answer(
        at_t(EVENT).content_type(Some("text/plain")).build(),
        0
    ));
}

#[test]
fn payload_too_large() {
    insta::assert_snapshot!(answer(at_t(&" ".repeat(257)).build(), 0));
}

#[test]
fn incomplete_body() {
    insta::assert_snapshot!(render(&Refusal::IncompleteBody));
}

#[test]
fn missing_signature() {
    insta::assert_snapshot!(answer(at_t(EVENT).unsigned().build(), 0));
}

#[test]
fn malformed_signature() {
    insta::assert_snapshot!(answer(
        at_t(EVENT).signature_header("t=1758468698287").build(),
        0
    ));
}

#[test]
fn stale_timestamp() {
    insta::assert_snapshot!(answer(at_t(EVENT).build(), 5 * 60 * 1000 + 1));
}

#[test]
fn future_timestamp() {
    let future = SignatureTimestamp::from_unix_millis(T + 60 * 1000 + 1);
    insta::assert_snapshot!(answer(
        SignedRequest::builder(EVENT).timestamp(future).build(),
        0
    ));
}

#[test]
fn invalid_signature() {
    insta::assert_snapshot!(answer(at_t(EVENT).secret("whsec_other").build(), 0));
}

#[test]
fn malformed_json() {
    insta::assert_snapshot!(answer(at_t("{\"eventType\":").build(), 0));
}

#[test]
fn malformed_json_empty_body() {
    insta::assert_snapshot!(answer(at_t("").build(), 0));
}

#[test]
fn invalid_payload() {
    let body = r#"{"eventType":"person.enrichment.completed",
"data":{"person":{"emails":[{"email":"a@b.c","validationStatus":1}]}}}"#;
    insta::assert_snapshot!(answer(at_t(body).build(), 0));
}

#[test]
fn receiver_not_configured() {
    insta::assert_snapshot!(render(&Refusal::NotConfigured {
        hint: "register the configuration with the framework"
    }));
}

#[test]
fn quarantine_full() {
    insta::assert_snapshot!(render(&Refusal::QuarantineFull {
        retry_after_secs: 30
    }));
}
