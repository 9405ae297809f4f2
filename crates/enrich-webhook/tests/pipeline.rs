//! The receive pipeline, check by check, through its public API only.

use std::time::{Duration, SystemTime};

use enrich_webhook::enrich_types::{ValidationStatus, WebhookEvent};
use enrich_webhook::testing::{SignedRequest, sign};
use enrich_webhook::{
    Delivery, IdempotencyKey, Refusal, RequestHeaders, SignatureTimestamp, Tolerance, WebhookConfig,
};

const SECRET: &str = "whsec_test_secret";
/// The reference scheme's example time: every request here is signed and received at it.
const T: u64 = 1_758_468_698_287;

const PERSON: &str = r#"{"eventType":"person.enrichment.completed","data":{"enrichmentID":"0195be44-1a0d-718a-967b-042c9d17ffd7","person":{"externalID":"crm-42","firstName":"Ada","emails":[{"email":"ada@example.com","validationStatus":" CATCH_ALL"}],"mobilePhones":[]}}}"#;

fn at(millis: u64) -> SystemTime {
    SignatureTimestamp::from_unix_millis(millis).to_system_time()
}

fn config() -> WebhookConfig {
    WebhookConfig::with_secret(SECRET).unwrap()
}

/// `body` signed with `SECRET` at `T`, sent as `application/json`.
fn signed(body: &str) -> SignedRequest {
    SignedRequest::builder(body)
        .timestamp(SignatureTimestamp::from_unix_millis(T))
        .build()
}

fn receive(config: &WebhookConfig, request: &SignedRequest) -> Result<Delivery, Refusal> {
    config.receive_at(&request.headers(), request.body.clone(), at(T))
}

fn refusal(config: &WebhookConfig, request: &SignedRequest) -> Refusal {
    receive(config, request).expect_err("the request should be rejected")
}

fn code(config: &WebhookConfig, request: &SignedRequest) -> &'static str {
    refusal(config, request).code()
}

fn header_for(signature: &str, body: &str) -> SignedRequest {
    SignedRequest::builder(body)
        .signature_header(signature)
        .build()
}

#[test]
fn a_signed_person_event_is_delivered_with_everything_a_handler_needs() {
    let delivery = receive(&config(), &signed(PERSON)).unwrap();
    assert!(delivery.is_verified());
    assert_eq!(
        delivery.signed_at(),
        Some(SignatureTimestamp::from_unix_millis(T))
    );
    assert_eq!(delivery.raw_body().as_ref(), PERSON.as_bytes());
    let person = delivery.event().person().unwrap();
    assert_eq!(person.first_name.as_deref(), Some("Ada"));
    assert_eq!(
        person.emails.as_ref().unwrap()[0].validation_status,
        Some(ValidationStatus::CatchAll)
    );
    assert_eq!(
        delivery.idempotency_key().to_string(),
        "person.enrichment.completed/0195be44-1a0d-718a-967b-042c9d17ffd7/crm-42"
    );
}

#[test]
fn the_reference_test_vector_verifies() {
    let body = r#"{"eventType":"person.enrichment.completed","data":{}}"#;
    let request = header_for(
        "t=1758468698287,v0=f1d03b2e214071b637728a7ae27f86adcf918434f2da11c74eef7128b93a9d28",
        body,
    );
    let delivery = config()
        .receive_at(&request.headers(), request.body.clone(), at(T))
        .unwrap();
    assert!(delivery.is_verified());
    assert!(matches!(
        delivery.event(),
        WebhookEvent::PersonEnrichmentCompleted(_)
    ));
}

/// The signer agrees with an independent HMAC implementation (OpenSSL's command line), when the
/// machine has one; the reference vector above was computed with it too.
#[test]
fn the_signer_agrees_with_openssl() {
    let body = PERSON;
    let payload = format!("{T}.{body}");
    let output = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", SECRET])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin is piped")
                .write_all(payload.as_bytes())?;
            child.wait_with_output()
        });
    let Ok(output) = output else {
        eprintln!("openssl is not installed; the fixed reference vector still covers the signer");
        return;
    };
    let stdout = String::from_utf8(output.stdout).unwrap();
    let hex = stdout.trim().rsplit(' ').next().unwrap();
    assert_eq!(
        sign(
            SECRET,
            SignatureTimestamp::from_unix_millis(T),
            body.as_bytes()
        ),
        format!("t={T},v0={hex}")
    );
}

#[test]
fn check_1_content_type_must_be_json_when_present() {
    let config = config();
    for accepted in [
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("APPLICATION/JSON;CHARSET=UTF-8"),
        Some("application/vnd.surfe+json"),
        None,
    ] {
        let request = SignedRequest::builder(PERSON)
            .timestamp(SignatureTimestamp::from_unix_millis(T))
            .content_type(accepted)
            .build();
        assert!(receive(&config, &request).is_ok(), "{accepted:?}");
    }
    for refused in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "text/json",
        "",
    ] {
        let request = SignedRequest::builder(PERSON)
            .timestamp(SignatureTimestamp::from_unix_millis(T))
            .content_type(Some(refused))
            .build();
        assert_eq!(
            code(&config, &request),
            "unsupported_media_type",
            "{refused:?}"
        );
    }
}

#[test]
fn check_1_comes_before_every_other_check() {
    let request = SignedRequest::builder("x".repeat(100))
        .content_type(Some("text/plain"))
        .unsigned()
        .build();
    assert_eq!(
        code(&config().body_limit(10), &request),
        "unsupported_media_type"
    );
}

#[test]
fn check_2_body_exactly_at_the_limit_passes_and_one_byte_over_does_not() {
    let limit = PERSON.len();
    let config = config().body_limit(limit);
    assert!(receive(&config, &signed(PERSON)).is_ok());

    let over = format!("{PERSON} ");
    assert_eq!(
        refusal(&config, &signed(&over)),
        Refusal::PayloadTooLarge { limit }
    );
    // Without a Content-Length, the body itself is measured.
    let mut unsized_over = signed(&over);
    unsized_over
        .header_pairs
        .retain(|(name, _)| name != "content-length");
    assert_eq!(code(&config, &unsized_over), "payload_too_large");
}

#[test]
fn check_2_comes_before_the_signature() {
    let request = SignedRequest::builder("x".repeat(11)).unsigned().build();
    assert_eq!(
        code(&config().body_limit(10), &request),
        "payload_too_large"
    );
}

#[test]
fn check_3_missing_and_malformed_signatures() {
    let config = config();
    let unsigned = SignedRequest::builder(PERSON).unsigned().build();
    assert_eq!(refusal(&config, &unsigned), Refusal::MissingSignature);

    let v0 = "f".repeat(64);
    for malformed in [
        String::new(),
        "garbage".to_owned(),
        format!("v0={v0}"),
        format!("t={T}"),
        format!("t=abc,v0={v0}"),
        format!("t={T},v0={}", &v0[..63]),
        format!("t={T},v0={v0}0"),
        format!("t={T},v0=zz{}", &v0[2..]),
        format!("t=1,t=2,v0={v0}"),
    ] {
        assert_eq!(
            code(&config, &header_for(&malformed, PERSON)),
            "malformed_signature",
            "{malformed:?}"
        );
    }
}

#[test]
fn check_3_the_signature_must_match_the_exact_body_and_secret() {
    let config = config();
    let good = signed(PERSON);
    let signature = good.header("x-surfe-signature").unwrap().to_owned();

    let tampered = header_for(&signature, &PERSON.replace("Ada", "Eve"));
    assert_eq!(refusal(&config, &tampered), Refusal::InvalidSignature);

    let reserialized: serde_json::Value = serde_json::from_str(PERSON).unwrap();
    let pretty = serde_json::to_string_pretty(&reserialized).unwrap();
    assert_eq!(
        code(&config, &header_for(&signature, &pretty)),
        "invalid_signature",
        "re-serialized JSON is a different body"
    );

    let other_secret = SignedRequest::builder(PERSON)
        .secret("whsec_someone_else")
        .timestamp(SignatureTimestamp::from_unix_millis(T))
        .build();
    assert_eq!(code(&config, &other_secret), "invalid_signature");

    let other_body = sign(SECRET, SignatureTimestamp::from_unix_millis(T), b"{}");
    assert_eq!(
        code(&config, &header_for(&other_body, PERSON)),
        "invalid_signature"
    );

    let other_time = sign(
        SECRET,
        SignatureTimestamp::from_unix_millis(T - 1),
        PERSON.as_bytes(),
    );
    let moved = other_time.replace(&format!("t={}", T - 1), &format!("t={T}"));
    assert_eq!(
        code(&config, &header_for(&moved, PERSON)),
        "invalid_signature"
    );
}

#[test]
fn check_3_tolerates_case_spaces_unknown_elements_and_several_v0() {
    let config = config();
    let valid = sign(
        SECRET,
        SignatureTimestamp::from_unix_millis(T),
        PERSON.as_bytes(),
    );
    let hex = valid.split("v0=").nth(1).unwrap();
    let wrong = "0".repeat(64);
    for header in [
        format!("t={T},v0={}", hex.to_uppercase()),
        format!(" t={T} , v0={hex} "),
        format!("t={T},v1=future-scheme,x=1,v0={hex}"),
        format!("t={T},v0={wrong},v0={hex}"),
        format!("v0={hex},t={T}"),
    ] {
        let delivery = receive(&config, &header_for(&header, PERSON));
        assert!(delivery.is_ok(), "{header:?}: {delivery:?}");
    }
    let all_wrong = format!("t={T},v0={wrong},v0={}", "1".repeat(64));
    assert_eq!(
        code(&config, &header_for(&all_wrong, PERSON)),
        "invalid_signature"
    );
}

#[test]
fn check_3_rotated_secrets_are_all_accepted() {
    let config = WebhookConfig::with_secrets(["whsec_new", "whsec_old"]).unwrap();
    for secret in ["whsec_new", "whsec_old"] {
        let request = SignedRequest::builder(PERSON)
            .secret(secret)
            .timestamp(SignatureTimestamp::from_unix_millis(T))
            .build();
        assert!(receive(&config, &request).is_ok(), "{secret}");
    }
    let retired = SignedRequest::builder(PERSON)
        .secret("whsec_retired")
        .timestamp(SignatureTimestamp::from_unix_millis(T))
        .build();
    assert_eq!(code(&config, &retired), "invalid_signature");
}

#[test]
fn check_3_tolerance_edges_are_inclusive_to_the_millisecond() {
    let config = config();
    let request = signed(PERSON);
    let received = |now: u64| config.receive_at(&request.headers(), request.body.clone(), at(now));
    let five_minutes = 5 * 60 * 1000;
    let one_minute = 60 * 1000;

    assert!(received(T + five_minutes).is_ok());
    assert_eq!(
        received(T + five_minutes + 1).unwrap_err(),
        Refusal::StaleTimestamp {
            age_ms: i128::from(five_minutes + 1),
            tolerance_ms: u128::from(five_minutes)
        }
    );
    assert!(received(T - one_minute).is_ok());
    assert_eq!(
        received(T - one_minute - 1).unwrap_err(),
        Refusal::StaleTimestamp {
            age_ms: -i128::from(one_minute + 1),
            tolerance_ms: u128::from(one_minute)
        }
    );
}

#[test]
fn check_3_tolerance_can_be_widened_or_switched_off() {
    let request = signed(PERSON);
    let a_day_later = at(T + 24 * 3600 * 1000);
    let wide = config().tolerance(Tolerance::new(
        Duration::from_secs(48 * 3600),
        Duration::ZERO,
    ));
    assert!(
        wide.receive_at(&request.headers(), request.body.clone(), a_day_later)
            .is_ok()
    );
    let unchecked = config().tolerance(Tolerance::unchecked());
    let years_later = at(T + 10 * 365 * 24 * 3600 * 1000);
    assert!(
        unchecked
            .receive_at(&request.headers(), request.body.clone(), years_later)
            .is_ok()
    );
    // Switching the tolerance off never switches off the signature.
    let forged = header_for(&format!("t={T},v0={}", "a".repeat(64)), PERSON);
    assert_eq!(code(&unchecked, &forged), "invalid_signature");
}

/// `t` is in milliseconds. A sender that wrote seconds (10 digits) signs a time in January 1970,
/// which is refused as stale — loudly, rather than silently accepting a 1000× wrong clock.
#[test]
fn check_3_a_timestamp_in_seconds_is_stale() {
    let seconds = SignatureTimestamp::from_unix_millis(T / 1000);
    let request = SignedRequest::builder(PERSON).timestamp(seconds).build();
    let refusal = refusal(&config(), &request);
    assert_eq!(refusal.code(), "stale_timestamp");
    assert!(refusal.to_string().contains("Unix milliseconds"));
}

#[test]
fn check_3_is_skipped_only_when_chosen_and_the_delivery_says_so() {
    let insecure = WebhookConfig::insecure_skip_verification();
    assert!(!insecure.verifies_signatures());
    let unsigned = SignedRequest::builder(PERSON).unsigned().build();
    let delivery = receive(&insecure, &unsigned).unwrap();
    assert!(!delivery.is_verified());
    assert_eq!(delivery.signed_at(), None);

    let forged = receive(
        &insecure,
        &header_for(&format!("t={T},v0={}", "a".repeat(64)), PERSON),
    )
    .unwrap();
    assert!(!forged.is_verified());
    assert_eq!(
        forged.signed_at(),
        Some(SignatureTimestamp::from_unix_millis(T))
    );
}

#[test]
fn valid_json_of_any_depth_is_never_malformed() {
    let config = config();
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    assert_eq!(code(&config, &signed(&deep)), "invalid_payload");
}

#[test]
fn check_4_the_body_must_be_one_json_document() {
    let config = config();
    // Deep but broken: one array left open. (Deep and valid is not malformed: see
    // `valid_json_of_any_depth_is_never_malformed`.)
    let deep = "[".repeat(10_000) + &"]".repeat(9_999);
    for body in [
        "",
        "   ",
        &PERSON[..PERSON.len() - 1],
        &format!("{PERSON}}}"),
        &format!("{PERSON} garbage"),
        &format!("\u{feff}{PERSON}"),
        &deep,
    ] {
        assert_eq!(code(&config, &signed(body)), "malformed_json", "{body:.40}");
    }
    let mut non_utf8 = signed(PERSON);
    non_utf8.body = PERSON.replace("Ada", "A\u{1}").into_bytes();
    non_utf8.body.splice(100..100, [0xff, 0xfe]);
    let signature = sign(
        SECRET,
        SignatureTimestamp::from_unix_millis(T),
        &non_utf8.body,
    );
    non_utf8
        .header_pairs
        .retain(|(name, _)| name != "x-surfe-signature");
    non_utf8
        .header_pairs
        .push(("x-surfe-signature".into(), signature));
    assert_eq!(code(&config, &non_utf8), "malformed_json");
}

#[test]
fn check_4_comes_before_check_5() {
    // Missing `eventType` (a shape error) and trailing bytes (a syntax error): syntax wins.
    assert_eq!(
        code(&config(), &signed(r#"{"data":{}} x"#)),
        "malformed_json"
    );
}

#[test]
fn check_5_the_json_must_be_an_event() {
    let config = config();
    for (body, pointer) in [
        (r#"{"data":{}}"#, ""),
        (r#"{"eventType":null,"data":{}}"#, "/eventType"),
        (r#"{"eventType":"person.enrichment.completed"}"#, ""),
        (
            r#"{"eventType":"person.enrichment.completed","data":[]}"#,
            "/data",
        ),
        (r#"{"eventType":"future.event","data":"text"}"#, "/data"),
        (r#"[]"#, ""),
        (
            r#"{"eventType":"person.enrichment.completed","data":{"person":{"jobHistory":[{},{"startDate":2019}]}}}"#,
            "/data/person/jobHistory/1/startDate",
        ),
        (
            r#"{"eventType":"company.enrichment.completed","data":{"company":{"employeeCount":"many"}}}"#,
            "/data/company/employeeCount",
        ),
    ] {
        let Refusal::InvalidPayload { pointer: got, .. } = refusal(&config, &signed(body)) else {
            panic!("{body} should be invalid_payload");
        };
        assert_eq!(got, pointer, "{body}");
    }
}

#[test]
fn an_unknown_event_type_is_delivered_not_rejected() {
    let body =
        r#"{"eventType":"person.enrichment.archived","data":{"enrichmentID":"b1","total":3}}"#;
    let delivery = receive(&config(), &signed(body)).unwrap();
    let WebhookEvent::Unknown(event) = delivery.event() else {
        panic!("expected an unknown event");
    };
    assert_eq!(event.event_type(), "person.enrichment.archived");
    assert_eq!(event.data_value().unwrap()["total"], 3);
    assert!(matches!(
        delivery.idempotency_key(),
        IdempotencyKey::BodyDigest(_)
    ));
}

#[test]
fn headers_that_are_not_text_are_judged_not_ignored() {
    let config = config();
    let request = signed(PERSON);
    let mut headers = request.headers();
    headers.content_type = Some(b"application/json\xff");
    assert_eq!(
        config
            .receive_at(&headers, request.body.clone(), at(T))
            .unwrap_err(),
        Refusal::UnsupportedMediaType
    );
    let mut headers = request.headers();
    headers.signature = Some(b"t=1,v0=\xff");
    assert_eq!(
        config
            .receive_at(&headers, request.body.clone(), at(T))
            .unwrap_err()
            .code(),
        "malformed_signature"
    );
    let headers = RequestHeaders::new(None, None, request.headers().signature);
    assert!(
        config
            .receive_at(&headers, request.body.clone(), at(T))
            .is_ok()
    );
}

#[test]
fn configuration_refuses_empty_secrets_and_never_shows_them() {
    assert!(WebhookConfig::with_secret("").is_err());
    assert!(WebhookConfig::with_secrets(Vec::<String>::new()).is_err());
    assert!(WebhookConfig::from_secret_list(" , ,").is_err());
    let rotated = WebhookConfig::from_secret_list(" whsec_a , whsec_b ").unwrap();
    for secret in ["whsec_a", "whsec_b"] {
        let request = SignedRequest::builder(PERSON)
            .secret(secret)
            .timestamp(SignatureTimestamp::from_unix_millis(T))
            .build();
        assert!(receive(&rotated, &request).is_ok());
    }
    let debug = format!("{rotated:?}");
    assert!(
        !debug.contains("whsec_a") && debug.contains("2 secret(s)"),
        "{debug}"
    );
}

#[test]
fn refusal_bodies_never_carry_the_secret_the_signature_or_the_body() {
    let config = config();
    let good = signed(PERSON);
    let signature = good.header("x-surfe-signature").unwrap().to_owned();
    let expected_hex = signature.split("v0=").nth(1).unwrap().to_owned();
    let tampered = header_for(&signature, &PERSON.replace("Ada", "Eve"));
    let wrong_type = signed(
        r#"{"eventType":"person.enrichment.completed","data":{"person":{"emails":[{"email":["ada@example.com"]}],"firstName":7}}}"#,
    );
    for request in [tampered, wrong_type] {
        let body = String::from_utf8(refusal(&config, &request).body()).unwrap();
        for secret in [SECRET, &expected_hex, "ada@example.com", "Eve", "Ada"] {
            assert!(!body.contains(secret), "{body} leaks {secret}");
        }
    }
}
