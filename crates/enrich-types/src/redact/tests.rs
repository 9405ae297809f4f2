//! Debug of people and events: ids and counts, never a personal value.

use super::RedactedDebug;
use crate::{EnrichedPersonResponse, PersonToEnrich, WebhookEvent};

const MARKERS: [&str; 9] = [
    "MarkerFirst",
    "MarkerLast",
    "MarkerTitle",
    "MarkerEmployer",
    "MarkerTown",
    "linkedin.com/in/marker",
    "marker@example.com",
    "+44 7700 900123",
    "MarkerPastEmployer",
];

fn person() -> EnrichedPersonResponse {
    serde_json::from_str(
        r#"{"externalID":"crm-42","firstName":"MarkerFirst","lastName":"MarkerLast",
            "jobTitle":"MarkerTitle","companyName":"MarkerEmployer","location":"MarkerTown",
            "linkedInUrl":"https://linkedin.com/in/marker","companyDomain":"example.org",
            "emails":[{"email":"marker@example.com","validationStatus":"VALID"}],
            "mobilePhones":[{"mobilePhone":"+44 7700 900123","confidenceScore":0.9}],
            "jobHistory":[{"companyName":"MarkerPastEmployer","jobTitle":"MarkerTitle"}],
            "status":"COMPLETED"}"#,
    )
    .expect("a person")
}

#[test]
fn debug_of_a_person_and_its_event_shows_ids_and_counts_never_a_personal_value() {
    let person = person();
    let event: WebhookEvent = serde_json::from_value(serde_json::json!({
        "eventType": "person.enrichment.completed",
        "data": {"enrichmentID": "e-1", "person": serde_json::to_value(&person).unwrap()},
    }))
    .unwrap();
    for shown in [
        format!("{person:?}"),
        format!("{person:#?}"),
        format!("{event:?}"),
        format!("{event:#?}"),
        format!("{:?}", person.emails.as_ref().unwrap()[0]),
        format!("{:?}", person.mobile_phones.as_ref().unwrap()[0]),
        format!("{:?}", person.job_history.as_ref().unwrap()[0]),
    ] {
        for marker in MARKERS {
            assert!(!shown.contains(marker), "{marker} in {shown}");
        }
    }
    let shown = format!("{person:?}");
    for kept in ["crm-42", "example.org", "Some(<1 redacted>)", "Completed"] {
        assert!(shown.contains(kept), "{kept} missing from {shown}");
    }
    let full = format!("{:?}", person.unredacted());
    for marker in MARKERS {
        assert!(full.contains(marker), "{marker} missing from {full}");
    }
}

#[test]
fn debug_of_a_person_to_enrich_redacts_names_and_linkedin() {
    let person = PersonToEnrich {
        first_name: Some("MarkerFirst".to_owned()),
        last_name: Some("MarkerLast".to_owned()),
        linkedin_url: Some("https://linkedin.com/in/marker".to_owned()),
        external_id: Some("crm-7".to_owned()),
        ..PersonToEnrich::default()
    };
    let shown = format!("{person:?}");
    assert!(
        !shown.contains("Marker") && !shown.contains("marker"),
        "{shown}"
    );
    assert!(shown.contains("crm-7"), "{shown}");
    assert!(format!("{:?}", person.unredacted()).contains("MarkerFirst"));
}
