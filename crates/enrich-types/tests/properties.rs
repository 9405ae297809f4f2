//! Property tests: any value of the payload types encodes to JSON that its generated schema
//! accepts, and that decodes back to an equal value.
//!
//! Open enums are built with `From<String>` from a mix of known values (some padded with the
//! whitespace the API is known to send), and arbitrary strings. Unknown events can only be made
//! by decoding, so they are decoded from `{"eventType": <not a known type>, "data": <object>}`.

mod common;

use std::fmt::Debug;

use common::schema_errors;
use enrich_types::{
    AcceptedEmailType, CompanyEnrichmentCompleted, DigitalPresence, EmailType, EnrichPeopleRequest,
    EnrichPeopleResult, EnrichedCompanyResponse, EnrichedPersonEmail, EnrichedPersonMobilePhone,
    EnrichedPersonResponse, EnrichmentOptions, EnrichmentStatus, EventType, FundingRound, Include,
    Ipo, JobPosition, NotificationOptions, ParentOrganization, PersonEnrichmentCompleted,
    PersonToEnrich, Stock, ValidationStatus, WebhookEvent,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Builds a struct of `enrich_types` from its fields the way code outside that crate must (the
/// structs are `#[non_exhaustive]`): its default, then each field assigned, in the order written.
macro_rules! build {
    ($type:path { $($field:ident $(: $value:expr)?),* $(,)? }) => {{
        let mut built = <$type>::default();
        $( built.$field = build!(@value $field $(, $value)?); )*
        built
    }};
    (@value $field:ident) => { $field };
    (@value $field:ident, $value:expr) => { $value };
}

/// Short arbitrary text: any Unicode, including quotes, escapes and control characters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-zA-Z0-9 .@:/+_-]{0,24}",]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    option::of(text())
}

fn opt_vec<S: Strategy>(element: S) -> impl Strategy<Value = Option<Vec<S::Value>>> {
    option::of(vec(element, 0..4))
}

/// Any finite `f64`: normal, subnormal and zero, of either sign.
fn finite() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
}

/// An open enum value: a known value (sometimes padded with whitespace), or any string.
fn open<T: From<String> + Debug>(known: &'static [&'static str]) -> impl Strategy<Value = T> {
    let known_value = proptest::sample::select(known);
    prop_oneof![
        known_value.clone().prop_map(str::to_owned),
        known_value.prop_map(|value| format!(" {value}")),
        any::<String>(),
    ]
    .prop_map(T::from)
}

fn email() -> impl Strategy<Value = EnrichedPersonEmail> {
    (
        opt_text(),
        option::of(open::<ValidationStatus>(ValidationStatus::KNOWN)),
        option::of(open::<EmailType>(EmailType::KNOWN)),
    )
        .prop_map(|(email, validation_status, email_type)| {
            build!(EnrichedPersonEmail {
                email,
                validation_status,
                email_type,
            })
        })
}

fn phone() -> impl Strategy<Value = EnrichedPersonMobilePhone> {
    (opt_text(), option::of(finite())).prop_map(|(mobile_phone, confidence_score)| {
        build!(EnrichedPersonMobilePhone {
            mobile_phone,
            confidence_score,
        })
    })
}

fn job() -> impl Strategy<Value = JobPosition> {
    let date = prop_oneof![
        text(),
        "20[0-2][0-9]-(0[1-9]|1[0-2])",
        "20[0-2][0-9]-(0[1-9]|1[0-2])-0[1-9]T00:00:00Z",
    ];
    (
        opt_text(),
        opt_text(),
        option::of(date.clone()),
        option::of(date),
        opt_text(),
    )
        .prop_map(
            |(company_name, job_title, start_date, end_date, linked_in_url)| {
                build!(JobPosition {
                    company_name,
                    job_title,
                    start_date,
                    end_date,
                    linked_in_url,
                })
            },
        )
}

fn status() -> impl Strategy<Value = Option<EnrichmentStatus>> {
    option::of(open::<EnrichmentStatus>(EnrichmentStatus::KNOWN))
}

fn person() -> impl Strategy<Value = EnrichedPersonResponse> {
    (
        (
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
        ),
        (
            opt_vec(text()),
            opt_vec(text()),
            opt_vec(email()),
            opt_vec(phone()),
            opt_vec(job()),
            status(),
        ),
    )
        .prop_map(
            |(
                (
                    external_id,
                    first_name,
                    last_name,
                    job_title,
                    company_name,
                    company_domain,
                    country,
                    location,
                    linked_in_url,
                ),
                (departments, seniorities, emails, mobile_phones, job_history, status),
            )| {
                build!(EnrichedPersonResponse {
                    external_id,
                    first_name,
                    last_name,
                    job_title,
                    company_name,
                    company_domain,
                    country,
                    location,
                    linked_in_url,
                    departments,
                    seniorities,
                    emails,
                    mobile_phones,
                    job_history,
                    status,
                })
            },
        )
}

fn company() -> impl Strategy<Value = EnrichedCompanyResponse> {
    let digital_presence =
        (opt_text(), opt_text()).prop_map(|(name, url)| build!(DigitalPresence { name, url }));
    let funding_round = (
        opt_text(),
        option::of(finite()),
        opt_text(),
        opt_text(),
        opt_vec(text()),
    )
        .prop_map(
            |(name, amount, amount_currency, announced_date, lead_investors)| {
                build!(FundingRound {
                    name,
                    amount,
                    amount_currency,
                    announced_date,
                    lead_investors,
                })
            },
        );
    let ipo = (opt_text(), option::of(finite()), opt_text()).prop_map(
        |(date, share_price, share_price_currency)| {
            build!(Ipo {
                date,
                share_price,
                share_price_currency,
            })
        },
    );
    let parent = (opt_text(), opt_text())
        .prop_map(|(name, website)| build!(ParentOrganization { name, website }));
    let stock =
        (opt_text(), opt_text()).prop_map(|(exchange, ticker)| build!(Stock { exchange, ticker }));
    (
        (
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
        ),
        (
            option::of(any::<u64>()),
            option::of(any::<u64>()),
            option::of(any::<bool>()),
            opt_vec(text()),
            opt_vec(text()),
            opt_vec(text()),
        ),
        (
            opt_vec(digital_presence),
            opt_vec(funding_round),
            option::of(ipo),
            option::of(parent),
            opt_vec(stock),
            status(),
        ),
    )
        .prop_map(
            |(
                (
                    external_id,
                    name,
                    description,
                    industry,
                    sub_industry,
                    hq_address,
                    hq_country,
                    founded,
                    revenue,
                    linked_in_url,
                ),
                (employee_count, followers_count_linkedin, is_public, keywords, phones, websites),
                (digital_presence, funding_rounds, ipo, parent_organization, stocks, status),
            )| {
                build!(EnrichedCompanyResponse {
                    external_id,
                    name,
                    description,
                    industry,
                    sub_industry,
                    hq_address,
                    hq_country,
                    founded,
                    revenue,
                    linked_in_url,
                    employee_count,
                    followers_count_linkedin,
                    is_public,
                    keywords,
                    phones,
                    websites,
                    digital_presence,
                    funding_rounds,
                    ipo,
                    parent_organization,
                    stocks,
                    status,
                })
            },
        )
}

/// Any JSON value, a few levels deep, with finite numbers only (JSON has no others).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        finite().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            json_object(inner).prop_map(Value::Object),
        ]
    })
}

fn json_object(values: impl Strategy<Value = Value>) -> impl Strategy<Value = Map<String, Value>> {
    vec((text(), values), 0..4).prop_map(|entries| entries.into_iter().collect())
}

/// An event of a type this version does not know, made the only way there is: by decoding.
fn unknown_event() -> impl Strategy<Value = WebhookEvent> {
    let event_type = text().prop_filter("not a known event type", |kind| {
        !EventType::KNOWN.contains(&kind.as_str())
    });
    (event_type, json_object(json_value())).prop_map(|(event_type, data)| {
        let envelope = serde_json::json!({ "eventType": event_type, "data": data });
        let event: WebhookEvent = serde_json::from_value(envelope).expect("any object decodes");
        assert!(matches!(event, WebhookEvent::Unknown(_)), "{event:?}");
        event
    })
}

fn webhook_event() -> impl Strategy<Value = WebhookEvent> {
    prop_oneof![
        (opt_text(), person()).prop_map(|(enrichment_id, person)| {
            WebhookEvent::PersonEnrichmentCompleted(build!(PersonEnrichmentCompleted {
                enrichment_id,
                person,
            }))
        }),
        (opt_text(), company()).prop_map(|(enrichment_id, company)| {
            WebhookEvent::CompanyEnrichmentCompleted(build!(CompanyEnrichmentCompleted {
                enrichment_id,
                company,
            }))
        }),
        unknown_event(),
    ]
}

fn people_request() -> impl Strategy<Value = EnrichPeopleRequest> {
    let include = any::<[bool; 4]>().prop_map(|[email, mobile, linked_in_url, job_history]| {
        build!(Include {
            email,
            mobile,
            linked_in_url,
            job_history,
        })
    });
    let notification_options =
        opt_text().prop_map(|webhook_url| build!(NotificationOptions { webhook_url }));
    let person_to_enrich = (
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
    )
        .prop_map(
            |(first_name, last_name, company_name, company_domain, linkedin_url, external_id)| {
                build!(PersonToEnrich {
                    first_name,
                    last_name,
                    company_name,
                    company_domain,
                    linkedin_url,
                    external_id,
                })
            },
        );
    let enrichment_options = (
        option::of(open::<AcceptedEmailType>(AcceptedEmailType::KNOWN)),
        option::of(any::<bool>()),
    )
        .prop_map(
            |(accepted_email_type, skip_mobile_enrichment_if_no_email_found)| {
                build!(EnrichmentOptions {
                    accepted_email_type,
                    skip_mobile_enrichment_if_no_email_found,
                })
            },
        );
    (
        include,
        option::of(notification_options),
        vec(person_to_enrich, 0..4),
        option::of(enrichment_options),
    )
        .prop_map(
            |(include, notification_options, people, enrichment_options)| {
                build!(EnrichPeopleRequest {
                    include,
                    notification_options,
                    people,
                    enrichment_options,
                })
            },
        )
}

fn people_result() -> impl Strategy<Value = EnrichPeopleResult> {
    (
        opt_text(),
        status(),
        option::of(finite()),
        option::of(vec(person(), 0..3)),
    )
        .prop_map(|(enrichment_id, status, percent_completed, people)| {
            build!(EnrichPeopleResult {
                enrichment_id,
                status,
                percent_completed,
                people,
            })
        })
}

/// The property: `value` encodes to JSON the schema accepts, and that text decodes back equal.
fn encodes_valid_and_round_trips<T>(value: &T, schema_file: &str) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let text =
        serde_json::to_string(value).map_err(|error| TestCaseError::fail(error.to_string()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|error| TestCaseError::fail(error.to_string()))?;
    let errors = schema_errors(schema_file, &json);
    prop_assert!(
        errors.is_empty(),
        "{schema_file} refuses {text}: {errors:#?}"
    );
    let decoded: T = serde_json::from_str(&text)
        .map_err(|error| TestCaseError::fail(format!("decoding {text}: {error}")))?;
    prop_assert_eq!(&decoded, value, "encoded as {}", text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn webhook_events(event in webhook_event()) {
        encodes_valid_and_round_trips(&event, "webhook-event.schema.json")?;
    }

    #[test]
    fn unknown_events_re_encode_their_envelope_unchanged(
        event_type in text().prop_filter("unknown", |kind| !EventType::KNOWN.contains(&kind.as_str())),
        data in json_object(json_value()),
    ) {
        let envelope = serde_json::json!({ "eventType": event_type, "data": data });
        let event: WebhookEvent = serde_json::from_value(envelope.clone()).unwrap();
        prop_assert_eq!(event.event_type(), event_type.as_str());
        prop_assert_eq!(serde_json::to_value(&event).unwrap(), envelope);
    }

    #[test]
    fn enriched_people(person in person()) {
        encodes_valid_and_round_trips(&person, "enriched-person-response.schema.json")?;
    }

    #[test]
    fn enriched_companies(company in company()) {
        encodes_valid_and_round_trips(&company, "enriched-company-response.schema.json")?;
    }

    #[test]
    fn people_requests(request in people_request()) {
        // The schema states the API's rules too: it accepts exactly the requests `validate`
        // accepts, and every request round-trips.
        let json = serde_json::to_value(&request).unwrap();
        let errors = schema_errors("enrich-people-request.schema.json", &json);
        prop_assert_eq!(
            errors.is_empty(),
            request.validate().is_ok(),
            "schema and validate disagree on {}: {:?} / {:?}", json, errors, request.validate()
        );
        let decoded: EnrichPeopleRequest = serde_json::from_value(json).unwrap();
        prop_assert_eq!(&decoded, &request);
    }

    #[test]
    fn people_results(result in people_result()) {
        encodes_valid_and_round_trips(&result, "enrich-people-result.schema.json")?;
    }
}
