//! The OpenAPI document against real payloads: every fixture event validates against its
//! webhook's request schema, every invalid fixture event fails it, every refusal body the
//! pipeline makes validates against the answer the document gives for its status, and every
//! REST fixture validates against its operation's schema.

use std::fs;
use std::path::PathBuf;

use enrich_webhook::testing::SignedRequest;
use enrich_webhook::{Acknowledgement, Answer, Refusal, SignatureProblem, WebhookConfig};
use serde_json::{Value, json};
use xtask::openapi::{OPENAPI_FILE, build};

/// The committed document (the staleness test keeps it equal to a fresh generation).
fn document() -> Value {
    let path = xtask::workspace_root().join("schema").join(OPENAPI_FILE);
    let text = fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path:?}: {error}"));
    serde_json::from_str(&text).expect("the document is JSON")
}

/// A validator for the schema at `pointer` inside the document, resolving its
/// `#/components/schemas/…` references against the whole document.
fn validator(document: &Value, pointer: &str) -> jsonschema::Validator {
    let mut root = document.clone();
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["$ref"] = json!(format!("#{pointer}"));
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|error| panic!("{pointer} compiles: {error}"))
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn webhook_request(event_type: &str) -> String {
    format!(
        "/webhooks/{}/post/requestBody/content/application~1json/schema",
        escape(event_type)
    )
}

fn fixtures(folder: &str) -> Vec<(String, Value)> {
    let dir: PathBuf = xtask::workspace_root()
        .join("crates/enrich-types/tests/fixtures")
        .join(folder);
    let mut found: Vec<(String, Value)> = fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{dir:?}: {error}"))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = fs::read_to_string(&path).unwrap();
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[test]
fn every_fixture_event_fits_its_webhook_and_no_invalid_one_does() {
    let document = document();
    let webhooks = document["webhooks"].as_object().expect("webhooks");
    let mut checked = 0;
    for (name, event) in fixtures("") {
        if !name.starts_with("event.") {
            continue;
        }
        let event_type = event["eventType"].as_str().unwrap_or_default();
        if !webhooks.contains_key(event_type) {
            // An event type the API does not document: no webhook describes it.
            continue;
        }
        let errors: Vec<String> = validator(&document, &webhook_request(event_type))
            .iter_errors(&event)
            .map(|error| error.to_string())
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} fixture events checked");

    let mut refused = 0;
    for (name, event) in fixtures("invalid") {
        let Some(event_type) = event["eventType"].as_str() else {
            continue;
        };
        if !name.starts_with("event.") || !webhooks.contains_key(event_type) {
            continue;
        }
        assert!(
            !validator(&document, &webhook_request(event_type)).is_valid(&event),
            "{name} must not fit its webhook"
        );
        refused += 1;
    }
    assert!(
        refused >= 3,
        "only {refused} invalid fixture events checked"
    );
}

#[test]
fn every_refusal_body_fits_the_answer_documented_for_its_status() {
    let document = document();
    let rejections = [
        Refusal::UnsupportedMediaType,
        Refusal::PayloadTooLarge { limit: 1024 },
        Refusal::MissingSignature,
        Refusal::MalformedSignature(SignatureProblem::MissingV0),
        Refusal::StaleTimestamp {
            age_ms: 400_000,
            tolerance_ms: 300_000,
        },
        Refusal::IncompleteBody,
        Refusal::InvalidSignature,
        Refusal::StorageUnavailable {
            retry_after_secs: 5,
        },
        Refusal::NotConfigured { hint: "configure" },
    ];
    // Decoding refusals, made by the pipeline from real bodies.
    let config = WebhookConfig::insecure_skip_verification();
    let decoded = [
        "{",
        r#"{"eventType":"person.enrichment.completed","data":{"person":7}}"#,
    ]
    .map(|body| {
        let request = SignedRequest::builder(body).unsigned().build();
        config
            .receive(&request.headers(), request.body.clone())
            .expect_err("refused")
    });
    for webhook in document["webhooks"].as_object().expect("webhooks").keys() {
        for rejection in rejections.iter().chain(&decoded) {
            let answer = Answer::from(rejection);
            let pointer = format!(
                "/webhooks/{}/post/responses/{}/content/{}/schema",
                escape(webhook),
                answer.status,
                escape(answer.content_type)
            );
            let body: Value = serde_json::from_slice(&answer.body).unwrap();
            let errors: Vec<String> = validator(&document, &pointer)
                .iter_errors(&body)
                .map(|error| error.to_string())
                .collect();
            assert!(
                errors.is_empty(),
                "{webhook} {}: {errors:?}",
                rejection.code()
            );
        }
        let ignored = Answer::from(&Acknowledgement::of_event_type(
            "company.enrichment.completed",
        ));
        let body: Value = serde_json::from_slice(&ignored.body).unwrap();
        assert!(validator(&document, "/components/schemas/IgnoredEvent").is_valid(&body));
    }
}

#[test]
fn every_rest_fixture_fits_its_operation() {
    let document = document();
    let cases = [
        (
            "people-request.",
            "/paths/~1v2~1people~1enrich/post/requestBody/content/application~1json/schema",
        ),
        (
            "companies-request.",
            "/paths/~1v2~1companies~1enrich/post/requestBody/content/application~1json/schema",
        ),
        (
            "accepted.",
            "/paths/~1v2~1people~1enrich/post/responses/202/content/application~1json/schema",
        ),
        (
            "people-result.",
            "/paths/~1v2~1people~1enrich~1%7Bid%7D/get/responses/200/content/application~1json/schema",
        ),
        (
            "companies-result.",
            "/paths/~1v2~1companies~1enrich~1%7Bid%7D/get/responses/200/content/application~1json/schema",
        ),
        (
            "api-error.",
            "/paths/~1v2~1people~1enrich/post/responses/402/content/application~1json/schema",
        ),
    ];
    for (prefix, pointer) in cases {
        let matching: Vec<(String, Value)> = fixtures("")
            .into_iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .collect();
        assert!(!matching.is_empty(), "no fixture named {prefix}*");
        let validator = validator(&document, pointer);
        for (name, fixture) in matching {
            let errors: Vec<String> = validator
                .iter_errors(&fixture)
                .map(|error| error.to_string())
                .collect();
            assert!(errors.is_empty(), "{name}: {errors:?}");
        }
    }
}

#[test]
fn the_document_is_built_from_the_schemas_alone() {
    // No published schema, no document: nothing in it is typed out by hand but the problem
    // body and the acknowledgement.
    assert!(build(&[], "0.0.0").is_err());
}
