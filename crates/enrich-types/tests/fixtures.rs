//! The fixture corpus: JSON files named `<kind>.<case>.json` (see `common::KINDS`).
//!
//! Every file of `fixtures/` must decode into its kind's type, validate against the kind's
//! generated schema (formats on), round-trip (decode → encode → decode is equal), and its
//! re-encoding must validate too. Every file of `fixtures/invalid/` must fail both the decoder
//! and the schema. The tests further down pin what a few fixtures decode to.

mod common;

use common::{KINDS, fixture, fixture_files, kind_of, schema_errors};
use enrich_types::{
    BatchEventName, EmailType, EnrichPeopleRequest, EnrichPeopleResult, EnrichedCompanyResponse,
    EnrichedPersonResponse, EnrichmentStatus, PartialDate, ValidationStatus, WebhookEvent,
};
use serde_json::{Value, json};

fn event(name: &str) -> WebhookEvent {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn person(name: &str) -> EnrichedPersonResponse {
    match event(name) {
        WebhookEvent::PersonEnrichmentCompleted(completed) => completed.person,
        other => panic!("{name}: expected a person event, got {other:?}"),
    }
}

fn company(name: &str) -> EnrichedCompanyResponse {
    match event(name) {
        WebhookEvent::CompanyEnrichmentCompleted(completed) => completed.company,
        other => panic!("{name}: expected a company event, got {other:?}"),
    }
}

#[test]
fn every_valid_fixture_decodes_validates_and_round_trips() {
    let files = fixture_files(true);
    assert!(files.len() >= 20, "the corpus shrank: {files:?}");
    let mut failures = Vec::new();
    for path in &files {
        let kind = kind_of(path);
        let name = path.file_name().unwrap().to_string_lossy();
        let text = std::fs::read_to_string(path).unwrap();
        let original: Value = serde_json::from_str(&text).unwrap();
        for error in schema_errors(kind.schema_file, &original) {
            failures.push(format!("{name}: schema refuses it: {error}"));
        }
        match (kind.round_trip)(&text) {
            Ok(encoded) => {
                for error in schema_errors(kind.schema_file, &encoded) {
                    failures.push(format!("{name}: schema refuses its re-encoding: {error}"));
                }
            }
            Err(error) => failures.push(format!("{name}: {error}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_invalid_fixture_fails_the_decoder_and_the_schema() {
    let files = fixture_files(false);
    assert!(files.len() >= 15, "the corpus shrank: {files:?}");
    let mut failures = Vec::new();
    for path in &files {
        let kind = kind_of(path);
        let name = path.file_name().unwrap().to_string_lossy();
        let text = std::fs::read_to_string(path).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap_or_else(|error| {
            panic!("{name} must be JSON (only its shape is wrong): {error}")
        });
        if (kind.decode_error)(&text).is_none() {
            failures.push(format!("{name}: the decoder accepts it"));
        }
        if schema_errors(kind.schema_file, &value).is_empty() {
            failures.push(format!("{name}: the schema accepts it"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_kind_has_valid_and_invalid_fixtures() {
    for kind in KINDS {
        for valid in [true, false] {
            assert!(
                fixture_files(valid)
                    .iter()
                    .any(|path| kind_of(path).prefix == kind.prefix),
                "no {} fixture of kind `{}`",
                if valid { "valid" } else { "invalid" },
                kind.prefix
            );
        }
    }
}

#[test]
fn full_person_event() {
    let event = event("event.person-full.json");
    assert_eq!(event.event_type(), "person.enrichment.completed");
    assert_eq!(
        event.enrichment_id(),
        Some("0195be44-1a0d-718a-967b-042c9d17ffd7")
    );
    assert_eq!(event.external_id(), Some("crm-contact-10482"));
    let person = event.person().unwrap();
    assert_eq!(person.location.as_deref(), Some("Paris, Île-de-France"));
    assert_eq!(
        person.linked_in_url.as_deref(),
        Some("https://www.linkedin.com/in/camille-durand-data")
    );
    assert_eq!(
        person.departments.as_deref(),
        Some(&["Engineering".to_owned(), "R&D".to_owned()][..])
    );
    let emails = person.emails.as_ref().unwrap();
    assert_eq!(emails.len(), 3);
    assert_eq!(
        emails[1].validation_status,
        Some(ValidationStatus::CatchAll)
    );
    assert_eq!(emails[2].email_type, Some(EmailType::Personal));
    let phones = person.mobile_phones.as_ref().unwrap();
    assert_eq!(phones.len(), 2);
    assert_eq!(phones[0].mobile_phone.as_deref(), Some("+33 6 12 34 56 78"));
    assert_eq!(phones[0].confidence_score, Some(0.92));
    let jobs = person.job_history.as_ref().unwrap();
    assert_eq!(jobs.len(), 5);
    assert_eq!(jobs.iter().filter(|job| job.is_current()).count(), 1);
    assert!(jobs[0].is_current());
    assert_eq!(jobs[2].ended(), PartialDate::parse("2020-02-29"));
    assert_eq!(
        jobs[4].linked_in_url.as_deref(),
        Some("urn:li:company:15094271")
    );
    assert_eq!(person.status, Some(EnrichmentStatus::Completed));
}

#[test]
fn minimal_person_event_is_an_empty_person_and_re_encodes_as_sent() {
    let event = event("event.person-minimal.json");
    assert_eq!(event.person(), Some(&EnrichedPersonResponse::default()));
    assert_eq!(event.enrichment_id(), None);
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({ "eventType": "person.enrichment.completed", "data": { "person": {} } })
    );
}

#[test]
fn null_person_decodes_as_an_empty_person() {
    let person = person("event.person-null-person.json");
    assert_eq!(person, EnrichedPersonResponse::default());
}

#[test]
fn null_arrays_and_fields_decode_as_absent_and_are_not_written_back() {
    let event = event("event.person-null-arrays.json");
    let person = event.person().unwrap();
    assert_eq!(person.emails, None);
    assert_eq!(person.job_history, None);
    assert_eq!(person.departments, None);
    assert_eq!(person.company_name, None);
    assert_eq!(person.mobile_phones, Some(vec![]));
    assert_eq!(
        serde_json::to_value(person).unwrap(),
        json!({
            "externalID": "crm-contact-20001",
            "firstName": "Jonas",
            "lastName": "Weber",
            "linkedInUrl": "https://linkedin.com/in/jonas-weber",
            "mobilePhones": [],
            "status": "COMPLETED"
        })
    );
}

#[test]
fn catch_all_with_a_leading_space_is_catch_all_and_re_encodes_canonically() {
    let person = person("event.person-catch-all-leading-space.json");
    let emails = person.emails.unwrap();
    assert_eq!(
        emails[0].validation_status,
        Some(ValidationStatus::CatchAll)
    );
    assert_eq!(
        emails[1].validation_status,
        Some(ValidationStatus::CatchAll)
    );
    assert_eq!(
        serde_json::to_value(&emails[0]).unwrap()["validationStatus"],
        "CATCH_ALL"
    );
}

#[test]
fn month_precision_dates_stay_as_sent_and_parse_to_the_month() {
    let person = person("event.person-month-dates.json");
    let jobs = person.job_history.unwrap();
    assert_eq!(jobs[0].start_date.as_deref(), Some("2019-01"));
    assert_eq!(jobs[0].started(), PartialDate::new(2019, Some(1), None));
    assert!(jobs[0].is_current());
    assert_eq!(
        jobs[1].ended().map(|date| date.to_string()).as_deref(),
        Some("2018-12")
    );
    assert!(!jobs[1].is_current());
}

#[test]
fn urn_in_the_job_linkedin_url_is_kept() {
    let person = person("event.person-job-urn.json");
    let job = &person.job_history.unwrap()[0];
    assert_eq!(job.linked_in_url.as_deref(), Some("urn:li:company:123456"));
    assert_eq!(
        job.started().map(|date| date.to_string()).as_deref(),
        Some("2023-01-01")
    );
}

#[test]
fn unknown_keys_are_ignored_at_every_level() {
    let event = event("event.person-unknown-keys.json");
    let person = event.person().unwrap();
    assert_eq!(person.first_name.as_deref(), Some("Aiko"));
    assert_eq!(
        person.emails.as_ref().unwrap()[0].validation_status,
        Some(ValidationStatus::Valid)
    );
    assert_eq!(
        person.mobile_phones.as_ref().unwrap()[0].confidence_score,
        Some(0.8)
    );
    assert_eq!(
        person.job_history.as_ref().unwrap()[0]
            .start_date
            .as_deref(),
        Some("2021-04")
    );
    // Every unknown key of the fixture is named `unknown…`; none survives re-encoding.
    let fixture_text = fixture("event.person-unknown-keys.json");
    assert_eq!(fixture_text.matches("\"unknown").count(), 6);
    let encoded = serde_json::to_string(&event).unwrap();
    assert!(!encoded.contains("unknown"), "{encoded}");
}

#[test]
fn unknown_enum_values_are_kept_verbatim() {
    let person = person("event.person-unknown-enum-values.json");
    let status = person.status.as_ref().unwrap();
    assert!(!status.is_known());
    assert_eq!(status.as_str(), "NOT_FOUND");
    assert_eq!(*status, EnrichmentStatus::from("NOT_FOUND"));
    let email = &person.emails.as_ref().unwrap()[0];
    assert_eq!(email.validation_status.as_ref().unwrap().as_str(), "RISKY");
    assert_eq!(email.email_type.as_ref().unwrap().as_str(), "role");
    let encoded = serde_json::to_value(&person).unwrap();
    assert_eq!(encoded["status"], "NOT_FOUND");
    assert_eq!(encoded["emails"][0]["validationStatus"], "RISKY");
}

#[test]
fn unknown_event_type_is_kept_and_its_data_re_encodes_byte_identical() {
    let text = fixture("event.unknown-type.json");
    let event: WebhookEvent = serde_json::from_str(&text).unwrap();
    let WebhookEvent::Unknown(unknown) = &event else {
        panic!("expected an unknown event, got {event:?}");
    };
    assert_eq!(unknown.event_type(), "person.enrichment.archived");
    assert_eq!(
        unknown.data_value().unwrap()["summary"]["credits"]["mobile"],
        74
    );
    assert_eq!(
        event.enrichment_id(),
        Some("0195be44-1a0d-718a-967b-042c9d17ffd7")
    );
    // `data` is written back exactly as received (its whitespace included), and the envelope
    // decodes to the same values.
    let encoded = serde_json::to_string(&event).unwrap();
    assert!(encoded.contains(unknown.data().get()));
    assert!(text.contains(unknown.data().get()));
    let original: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&encoded).unwrap(), original);
}

#[test]
fn full_company_event() {
    let company = company("event.company-full.json");
    assert_eq!(company.external_id.as_deref(), Some("crm-account-881"));
    assert_eq!(company.employee_count, Some(240));
    assert_eq!(company.followers_count_linkedin, Some(18_250));
    assert_eq!(company.is_public, Some(true));
    let rounds = company.funding_rounds.as_ref().unwrap();
    assert_eq!(rounds[1].amount, Some(12_500_000.5));
    assert_eq!(rounds[1].lead_investors.as_ref().unwrap().len(), 2);
    assert_eq!(company.ipo.as_ref().unwrap().share_price, Some(18.4));
    assert_eq!(
        company
            .parent_organization
            .as_ref()
            .unwrap()
            .website
            .as_deref(),
        Some("https://lumen-group.eu")
    );
    assert_eq!(
        company.stocks.as_ref().unwrap()[0].ticker.as_deref(),
        Some("LUMN")
    );
    assert_eq!(company.status, Some(EnrichmentStatus::Completed));
}

#[test]
fn whole_number_floats_decode_into_integer_fields() {
    let company = company("event.company-whole-number-floats.json");
    assert_eq!(company.employee_count, Some(1200));
    assert_eq!(company.followers_count_linkedin, Some(3500));
}

#[test]
fn data_before_event_type_decodes_the_same_as_the_usual_order() {
    let text = fixture("event.person-data-first.json");
    let data_first: WebhookEvent = serde_json::from_str(&text).unwrap();
    let mut value: Value = serde_json::from_str(&text).unwrap();
    let data = value.as_object_mut().unwrap().shift_remove("data").unwrap();
    value["data"] = data;
    assert_eq!(
        value.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["eventType", "data"]
    );
    let usual: WebhookEvent = serde_json::from_value(value).unwrap();
    assert_eq!(data_first, usual);
    assert_eq!(data_first.external_id(), Some("crm-contact-80808"));
    assert!(
        serde_json::to_string(&data_first)
            .unwrap()
            .starts_with(r#"{"eventType":"person.enrichment.completed","data":"#)
    );
}

#[test]
fn people_result_in_progress() {
    let result: EnrichPeopleResult =
        serde_json::from_str(&fixture("people-result.in-progress.json")).unwrap();
    assert_eq!(result.status, Some(EnrichmentStatus::InProgress));
    assert_eq!(result.percent_completed, Some(40.0));
    let people = result.people.unwrap();
    assert_eq!(people.len(), 2);
    assert_eq!(people[1].status, Some(EnrichmentStatus::InProgress));
    assert_eq!(people[1].emails, None);
}

#[test]
fn people_request_decodes_and_passes_the_api_rules() {
    let request: EnrichPeopleRequest =
        serde_json::from_str(&fixture("people-request.full.json")).unwrap();
    assert_eq!(request.validate(), Ok(()));
    assert!(request.include.email && request.include.job_history && !request.include.linked_in_url);
    assert_eq!(
        request.people[1].linkedin_url.as_deref(),
        Some("https://www.linkedin.com/in/hugo-martin-lumen")
    );
    let options = request.enrichment_options.unwrap();
    assert_eq!(
        options
            .accepted_email_type
            .map(|kind| kind.to_string())
            .as_deref(),
        Some("professional")
    );
}

#[test]
fn batch_completion_event_decodes_under_both_names_and_re_encodes_its_own() {
    let person_name = event("event.batch-completed.json");
    let WebhookEvent::BatchEnrichmentCompleted(done) = &person_name else {
        panic!("expected a batch completion event, got {person_name:?}");
    };
    assert_eq!(
        done.event_name,
        BatchEventName::PersonBatchEnrichmentCompleted
    );
    assert_eq!(
        done.batch_id(),
        Some("0195be44-1a0d-718a-967b-042c9d17ffd7")
    );
    assert!(done.enrichment_callback_url.as_deref().is_some_and(|url| {
        url.ends_with("/v2/people/enrich/0195be44-1a0d-718a-967b-042c9d17ffd7")
    }));
    assert_eq!(
        person_name.event_type(),
        "person.batch-enrichment.completed"
    );
    assert_eq!(
        person_name.enrichment_id(),
        Some("0195be44-1a0d-718a-967b-042c9d17ffd7")
    );

    let changelog_name = event("event.batch-completed-changelog-name.json");
    let WebhookEvent::BatchEnrichmentCompleted(done) = &changelog_name else {
        panic!("expected a batch completion event, got {changelog_name:?}");
    };
    assert_eq!(done.event_name, BatchEventName::BatchEnrichmentCompleted);
    assert_eq!(done.enrichment_id, None);
    assert_eq!(
        changelog_name.enrichment_id(),
        Some("0195be44-1a0d-718a-967b-042c9d17ffd7")
    );
    assert_eq!(
        serde_json::to_value(&changelog_name).unwrap(),
        json!({
            "eventType": "batch.enrichment.completed",
            "data": { "batchID": "0195be44-1a0d-718a-967b-042c9d17ffd7", "message": "Batch complete" }
        })
    );

    let empty = event("event.batch-completed-empty.json");
    assert_eq!(empty.enrichment_id(), None);
    assert_eq!(empty.event_type(), "batch.enrichment.completed");
}
