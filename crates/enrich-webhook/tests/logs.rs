//! What the pipeline logs: the outcome of each delivery, never personal data or the body.

use std::io::Write;
use std::sync::{Arc, Mutex};

use enrich_webhook::testing::SignedRequest;
use enrich_webhook::{SignatureTimestamp, WebhookConfig};

const T: u64 = 1_758_468_698_287;
const PERSON: &str = r#"{"eventType":"person.enrichment.completed","data":{"enrichmentID":"batch-7","person":{"externalID":"crm-42","firstName":"Ada","lastName":"Lovelace","emails":[{"email":"ada@example.com"}],"mobilePhones":[{"mobilePhone":"+33 6 12 34 56 78"}]}}}"#;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn logs_outcomes_with_ids_and_no_personal_data() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let config = WebhookConfig::with_secret("whsec_test_secret").unwrap();
        let now = SignatureTimestamp::from_unix_millis(T).to_system_time();
        let signed = SignedRequest::builder(PERSON)
            .timestamp(SignatureTimestamp::from_unix_millis(T))
            .build();
        config
            .receive_at(&signed.headers(), signed.body.clone(), now)
            .unwrap();
        let tampered = SignedRequest {
            body: PERSON.replace("Ada", "Eve").into_bytes(),
            ..signed
        };
        config
            .receive_at(&tampered.headers(), tampered.body.clone(), now)
            .unwrap_err();
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("webhook delivery accepted"), "{logs}");
    assert!(
        logs.contains("event_type=\"person.enrichment.completed\""),
        "{logs}"
    );
    assert!(logs.contains("enrichment_id=\"batch-7\""), "{logs}");
    assert!(logs.contains("outcome=\"accepted\""), "{logs}");
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("code=\"invalid_signature\""), "{logs}");
    for private in [
        "Ada",
        "Eve",
        "Lovelace",
        "ada@example.com",
        "+33 6",
        "crm-42",
        "whsec",
    ] {
        assert!(
            !logs.contains(private),
            "the logs contain {private:?}:\n{logs}"
        );
    }
}
