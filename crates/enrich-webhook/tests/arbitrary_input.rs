//! Whatever a client sends, the pipeline answers with a delivery or a documented refusal, and
//! never panics.

use enrich_webhook::testing::sign;
use enrich_webhook::{RequestHeaders, SignatureTimestamp, WebhookConfig};
use proptest::prelude::*;

const SECRET: &str = "whsec_test_secret";
const T: u64 = 1_758_468_698_287;

/// The documented (status, code) pairs of the pipeline.
const DOCUMENTED: [(u16, &str); 9] = [
    (415, "unsupported_media_type"),
    (413, "payload_too_large"),
    (400, "incomplete_body"),
    (401, "missing_signature"),
    (401, "malformed_signature"),
    (401, "stale_timestamp"),
    (401, "invalid_signature"),
    (400, "malformed_json"),
    (422, "invalid_payload"),
];

fn header_value() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        Just(None),
        any::<Vec<u8>>().prop_map(Some),
        "[ -~]{0,80}".prop_map(|text| Some(text.into_bytes())),
        Just(Some(b"application/json".to_vec())),
    ]
}

fn signature_header() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        header_value(),
        ("[0-9]{0,20}", "[0-9a-fA-F]{0,70}", "[ -~]{0,20}")
            .prop_map(|(t, v0, extra)| Some(format!("t={t},v0={v0},{extra}").into_bytes())),
    ]
}

/// JSON-ish bytes: arbitrary, or fragments of events, so the decoder is exercised past the first
/// byte.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<Vec<u8>>(),
        "[{}\\[\\]\",:a-z0-9 .\\-]{0,200}".prop_map(String::into_bytes),
        (
            "(person|company)\\.enrichment\\.completed|[a-z.]{0,20}",
            "[{}\\[\\]\",:a-zA-Z0-9 ]{0,120}"
        )
            .prop_map(|(event_type, data)| format!(
                r#"{{"eventType":"{event_type}","data":{data}}}"#
            )
            .into_bytes()),
    ]
}

fn check(config: &WebhookConfig, headers: RequestHeaders<'_>, body: Vec<u8>) {
    let now = SignatureTimestamp::from_unix_millis(T).to_system_time();
    match config.receive_at(&headers, body, now) {
        Ok(delivery) => {
            serde_json::to_vec(delivery.event()).expect("a delivered event re-encodes");
        }
        Err(refusal) => {
            let pair = (refusal.status(), refusal.code());
            assert!(DOCUMENTED.contains(&pair), "undocumented {pair:?}");
            let problem: serde_json::Value = serde_json::from_slice(&refusal.body()).unwrap();
            assert_eq!(problem["code"], refusal.code());
            assert_eq!(problem["status"], refusal.status());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_requests_get_a_delivery_or_a_documented_rejection(
        content_type in header_value(),
        content_length in header_value(),
        signature in signature_header(),
        body in body(),
    ) {
        let config = WebhookConfig::with_secret(SECRET).unwrap().body_limit(256);
        let headers = RequestHeaders::new(content_type.as_deref(), content_length.as_deref(), signature.as_deref());
        check(&config, headers, body);
    }

    /// Correctly signed arbitrary bodies reach the decoder, which must hold too.
    #[test]
    fn arbitrary_signed_bodies_get_a_delivery_or_a_documented_rejection(body in body()) {
        let config = WebhookConfig::with_secret(SECRET).unwrap();
        let signature = sign(SECRET, SignatureTimestamp::from_unix_millis(T), &body);
        let headers = RequestHeaders::from_strs(None, None, Some(&signature));
        check(&config, headers, body);
    }
}
