//! Exact float round trips come from the libraries themselves: this crate is its own workspace,
//! outside the main workspace's dev-dependencies, and asks nothing of serde_json beyond its
//! defaults, so `float_roundtrip` is on here only because enrich-types and enrich-webhook turn it
//! on.

use enrich_webhook::{RequestHeaders, WebhookConfig};

/// Numbers serde_json's default (fast, approximate) float parser reads one ULP off.
const NUMBERS: &[&str] = &[
    "1.3594384308330259e-56",
    "2.2250738585072011e-308",
    "0.30000000000000004",
    "8.98846567431158e307",
    "4.9406564584124654e-324",
];

#[test]
fn an_unknown_event_keeps_every_float_exactly() {
    let config = WebhookConfig::insecure_skip_verification();
    for number in NUMBERS {
        let body = format!(r#"{{"eventType":"x.y","data":{{"n":{number}}}}}"#);
        let delivery = config
            .receive(&RequestHeaders::default(), body.clone().into_bytes())
            .expect("a valid event");
        let again = serde_json::to_string(delivery.event()).expect("serializes");
        let expected: f64 = number.parse().expect("a float");
        let kept = serde_json::from_str::<serde_json::Value>(&again).expect("JSON")["data"]["n"]
            .as_f64()
            .expect("a number");
        assert_eq!(
            kept.to_bits(),
            expected.to_bits(),
            "{number} came back as {again}"
        );
    }
}

#[test]
fn a_person_confidence_score_keeps_every_float_exactly() {
    let config = WebhookConfig::insecure_skip_verification();
    for number in NUMBERS {
        let body = format!(
            r#"{{"eventType":"person.enrichment.completed","data":{{"person":{{"mobilePhones":[{{"mobilePhone":"+1","confidenceScore":{number}}}]}}}}}}"#
        );
        let delivery = config
            .receive(&RequestHeaders::default(), body.into_bytes())
            .expect("a valid event");
        let again = serde_json::to_value(delivery.event()).expect("serializes");
        let kept = again["data"]["person"]["mobilePhones"][0]["confidenceScore"]
            .as_f64()
            .expect("a number");
        let expected: f64 = number.parse().expect("a float");
        assert_eq!(kept.to_bits(), expected.to_bits(), "{number}");
    }
}
