//! No value from a body reaches a refusal's answer: bodies whose every string, number and unknown
//! key is a random marker, shaped like real events (the real field names, values of every JSON
//! kind, so that most of them do not fit), signed and sent through the pipeline. Whatever the
//! refusal, no marker may appear in its body, and the answer's `detail` must be built from the
//! JSON Pointer and the expected kind only.

use enrich_webhook::testing::sign;
use enrich_webhook::{Answer, RequestHeaders, SignatureTimestamp, WebhookConfig};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const SECRET: &str = "whsec_test_secret";
const T: u64 = 1_758_468_698_287;

/// The field names of the real payloads, at every level.
const FIELDS: &[&str] = &[
    "person",
    "company",
    "enrichmentID",
    "externalID",
    "firstName",
    "lastName",
    "jobTitle",
    "companyName",
    "companyDomain",
    "country",
    "location",
    "linkedInUrl",
    "linkedInURL",
    "departments",
    "seniorities",
    "emails",
    "email",
    "validationStatus",
    "emailType",
    "mobilePhones",
    "mobilePhone",
    "confidenceScore",
    "jobHistory",
    "startDate",
    "endDate",
    "status",
    "name",
    "employeeCount",
    "followersCountLinkedin",
    "isPublic",
    "keywords",
    "fundingRounds",
    "amount",
    "ipo",
    "sharePrice",
    "stocks",
];

/// A marker: a string or a number that cannot occur in an answer by chance (numbers have at
/// least ten digits; no count, limit, line or column of these small bodies has as many).
#[derive(Debug, Clone)]
enum Marker {
    Text(String),
    Whole(u64),
    Fraction(u64, u32),
}

impl Marker {
    fn value(&self) -> Value {
        match self {
            Self::Text(text) => json!(text),
            Self::Whole(number) => json!(number),
            Self::Fraction(whole, fraction) => {
                json!(format!("{whole}.{fraction}").parse::<f64>().unwrap_or(1.5))
            }
        }
    }

    /// The text that must not appear in any answer.
    fn needle(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Whole(number) | Self::Fraction(number, _) => number.to_string(),
        }
    }
}

fn marker() -> impl Strategy<Value = Marker> {
    prop_oneof![
        "mk[a-z]{8}".prop_map(Marker::Text),
        (1_000_000_000u64..u64::MAX / 2).prop_map(Marker::Whole),
        (1_000_000_000u64..100_000_000_000, 1u32..1000)
            .prop_map(|(whole, fraction)| Marker::Fraction(whole, fraction)),
    ]
}

/// A value built from the real field names, with markers at the leaves (and as some keys).
fn value() -> impl Strategy<Value = (Value, Vec<Marker>)> {
    let leaf = prop_oneof![
        marker().prop_map(|marker| (marker.value(), vec![marker])),
        Just((Value::Null, vec![])),
        any::<bool>().prop_map(|flag| (Value::Bool(flag), vec![])),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| {
                let mut markers = Vec::new();
                let values = items
                    .into_iter()
                    .map(|(value, found)| {
                        markers.extend(found);
                        value
                    })
                    .collect();
                (Value::Array(values), markers)
            }),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(FIELDS).prop_map(|name| (name.to_owned(), None)),
                        "mk[a-z]{8}".prop_map(|key| (key.clone(), Some(Marker::Text(key)))),
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|fields| {
                let mut markers = Vec::new();
                let mut object = Map::new();
                for ((key, key_marker), (value, found)) in fields {
                    markers.extend(key_marker);
                    markers.extend(found);
                    object.insert(key, value);
                }
                (Value::Object(object), markers)
            }),
        ]
    })
}

/// A whole body: an envelope of a known, unknown or marker event type around generated data,
/// `data` sometimes first, sometimes cut short.
fn body() -> impl Strategy<Value = (Vec<u8>, Vec<Marker>)> {
    (
        prop_oneof![
            Just("person.enrichment.completed".to_owned()),
            Just("company.enrichment.completed".to_owned()),
            "mk[a-z]{8}",
        ],
        value(),
        any::<bool>(),
        prop::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(|(event_type, (data, mut markers), data_first, cut)| {
            if event_type.starts_with("mk") {
                markers.push(Marker::Text(event_type.clone()));
            }
            let event_type = json!(event_type).to_string();
            let data = data.to_string();
            let mut body = if data_first {
                format!(r#"{{"data":{data},"eventType":{event_type}}}"#)
            } else {
                format!(r#"{{"eventType":{event_type},"data":{data}}}"#)
            }
            .into_bytes();
            if let Some(cut) = cut {
                body.truncate(cut.index(body.len()));
            }
            (body, markers)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_marker_reaches_a_refusal((body, markers) in body(), stale in any::<bool>()) {
        let config = WebhookConfig::with_secret(SECRET).unwrap();
        let signed_at = SignatureTimestamp::from_unix_millis(T);
        let signature = sign(SECRET, signed_at, &body);
        let headers = RequestHeaders::from_strs(Some("application/json"), None, Some(&signature));
        let later = if stale { 10 * 60 * 1000 } else { 0 };
        let now = SignatureTimestamp::from_unix_millis(T + later).to_system_time();
        if let Err(refusal) = config.receive_at(&headers, body, now) {
            let answer = Answer::from(&refusal);
            let text = String::from_utf8_lossy(&answer.body);
            for marker in &markers {
                prop_assert!(
                    !text.contains(&marker.needle()),
                    "{} leaked into {text}", marker.needle()
                );
            }
            let debug = format!("{refusal:?} {refusal}");
            for marker in &markers {
                prop_assert!(!debug.contains(&marker.needle()), "{} leaked into {debug}", marker.needle());
            }
        }
    }
}

/// The generator does reach the refusals this test is about (it would otherwise pass vacuously).
#[test]
fn the_generated_bodies_reach_every_body_refusal() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let config = WebhookConfig::with_secret(SECRET).unwrap();
    let now = SignatureTimestamp::from_unix_millis(T).to_system_time();
    let mut runner = TestRunner::deterministic();
    let mut codes = std::collections::BTreeSet::new();
    for _ in 0..2000 {
        let (body, _) = body().new_tree(&mut runner).unwrap().current();
        let signature = sign(SECRET, SignatureTimestamp::from_unix_millis(T), &body);
        let headers = RequestHeaders::from_strs(None, None, Some(&signature));
        codes.insert(match config.receive_at(&headers, body, now) {
            Ok(_) => "accepted",
            Err(refusal) => refusal.code(),
        });
    }
    for code in ["accepted", "malformed_json", "invalid_payload"] {
        assert!(codes.contains(code), "{code} never reached: {codes:?}");
    }
}
