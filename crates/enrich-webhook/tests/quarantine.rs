//! The pipeline's quarantine mode: without a secret, a present, well-formed, fresh signature is
//! accepted unverified and marked quarantined; everything else is refused as when verifying,
//! and no typed extractor hands a quarantined event to a handler.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use enrich_webhook::enrich_types::{PersonEnrichmentCompleted, WebhookEvent};
use enrich_webhook::testing::SignedRequest;
use enrich_webhook::{
    Answer, Delivery, Extracted, Refusal, SignatureTimestamp, SigningKeys, Tolerance,
    WebhookConfig, signature,
};

const BODY: &str = r#"{"eventType":"person.enrichment.completed","data":{"enrichmentID":"b","person":{"externalID":"p"}}}"#;

fn receive(request: &SignedRequest) -> Result<Delivery, Refusal> {
    WebhookConfig::quarantine().receive(&request.headers(), Bytes::from(request.body.clone()))
}

#[test]
fn a_fresh_well_formed_signature_under_an_unknown_secret_is_quarantined() {
    let request = SignedRequest::builder(BODY)
        .secret("whsec_not_known_yet")
        .build();
    let delivery = receive(&request).expect("quarantined, not refused");
    assert!(delivery.is_quarantined());
    assert!(!delivery.is_verified());
    assert_eq!(delivery.raw_body().as_ref(), BODY.as_bytes());
    assert_eq!(
        delivery.signature_header(),
        request.header(enrich_webhook::SIGNATURE_HEADER)
    );
    assert!(delivery.signed_at().is_some());
    // Its stored signature verifies later, once the secret is known.
    let keys = SigningKeys::new(["whsec_not_known_yet"]).unwrap();
    let header = delivery.signature_header().unwrap().as_bytes();
    assert!(
        signature::verify(
            &keys,
            header,
            BODY.as_bytes(),
            Tolerance::default(),
            SystemTime::now()
        )
        .is_ok()
    );
}

#[test]
fn missing_malformed_and_stale_signatures_are_refused_as_when_verifying() {
    let missing = SignedRequest::builder(BODY).unsigned().build();
    let malformed = SignedRequest::builder(BODY)
        .signature_header("t=12,v0=zz")
        .build();
    let hour_ago =
        SignatureTimestamp::from_system_time(SystemTime::now() - Duration::from_secs(3600));
    let stale = SignedRequest::builder(BODY).timestamp(hour_ago).build();
    for (request, code) in [
        (missing, "missing_signature"),
        (malformed, "malformed_signature"),
        (stale, "stale_timestamp"),
    ] {
        let refusal = receive(&request).expect_err(code);
        assert_eq!((refusal.status(), refusal.code()), (401, code));
    }
}

#[test]
fn a_quarantined_delivery_reaches_only_a_handler_that_takes_the_whole_delivery() {
    let request = SignedRequest::builder(BODY).build();
    let take = || receive(&request).unwrap();
    assert!(matches!(take().extract::<Delivery>(), Extracted::Taken(d) if d.is_quarantined()));
    for extracted in [
        take().extract::<WebhookEvent>().map_refusal(),
        take().extract::<PersonEnrichmentCompleted>().map_refusal(),
    ] {
        let refusal = extracted.expect("refused");
        assert_eq!(
            (refusal.status(), refusal.code()),
            (500, "receiver_not_configured")
        );
        let answer = Answer::from(&refusal);
        let body = String::from_utf8(answer.body.to_vec()).unwrap();
        assert!(body.contains("quarantined"), "{body}");
    }
}

#[test]
fn the_same_signature_is_verified_when_a_secret_is_configured() {
    let request = SignedRequest::builder(BODY).secret("whsec_other").build();
    let verifying = WebhookConfig::with_secret("whsec_known").unwrap();
    let refusal = verifying
        .receive(&request.headers(), Bytes::from(request.body.clone()))
        .unwrap_err();
    assert_eq!(refusal.code(), "invalid_signature");
    let genuine = SignedRequest::builder(BODY).secret("whsec_known").build();
    let delivery = verifying
        .receive(&genuine.headers(), Bytes::from(genuine.body.clone()))
        .unwrap();
    assert!(delivery.is_verified() && !delivery.is_quarantined());
}

/// The refusal of an extraction, if it was refused.
trait RefusalOf {
    fn map_refusal(self) -> Option<Refusal>;
}

impl<T> RefusalOf for Extracted<T> {
    fn map_refusal(self) -> Option<Refusal> {
        match self {
            Extracted::Refused(refusal) => Some(refusal),
            Extracted::Taken(_) | Extracted::Ignored(_) => None,
        }
    }
}
