//! The typed model of the person-enrichment webhooks (Surfe API v2), and its JSON Schema.
//!
//! Each time one person (or company) of a bulk enrichment finishes, the API `POST`s a
//! [`WebhookEvent`] to the caller's webhook URL. This crate decodes those deliveries, and the
//! REST requests and answers around them, with the API's exact wire keys (`externalID`,
//! `linkedInUrl`, `linkedInURL`, …). It is lenient on input and exact on output:
//!
//! - every field is optional, and `null` decodes the same as absent;
//! - unknown keys are ignored at every level;
//! - enumerated strings are open enums: an unseen value is kept, never an error;
//! - an unknown event type decodes to [`WebhookEvent::Unknown`] and encodes back to an equal
//!   envelope;
//! - a known event whose `data` does not fit is an error naming the path, never silently unknown.
//!
//! With the `schema` feature (off by default), `schema::published_schemas` generates the JSON
//! Schema of every payload from these types; receiving webhooks needs none of it.
//! This crate does no I/O; verifying and receiving deliveries is the job of `enrich-webhook` and
//! the framework adapters.
//!
//! The open enums and the data structs are `#[non_exhaustive]`, so the API adding a value or a
//! field is not a breaking change here: `match` with a wildcard arm, and build a struct from its
//! `Default` (every struct that has one) then set its fields. The only third-party types in the
//! API are serde's traits and `serde_json::Value` (the `data` of an unknown event).
//!
//! ```
//! use enrich_types::{ValidationStatus, WebhookEvent};
//!
//! let body = r#"{
//!   "eventType": "person.enrichment.completed",
//!   "data": {
//!     "enrichmentID": "0195be44-1a0d-718a-967b-042c9d17ffd7",
//!     "person": {
//!       "externalID": "crm-42",
//!       "firstName": "Ada",
//!       "emails": [{ "email": "ada@example.com", "validationStatus": " CATCH_ALL" }],
//!       "mobilePhones": [],
//!       "status": "COMPLETED"
//!     }
//!   }
//! }"#;
//!
//! match serde_json::from_str::<WebhookEvent>(body)? {
//!     WebhookEvent::PersonEnrichmentCompleted(completed) => {
//!         let person = &completed.person;
//!         assert_eq!(person.external_id.as_deref(), Some("crm-42"));
//!         let email = &person.emails.as_ref().unwrap()[0];
//!         assert_eq!(email.validation_status, Some(ValidationStatus::CatchAll));
//!     }
//!     WebhookEvent::CompanyEnrichmentCompleted(completed) => println!("{:?}", completed.company.name),
//!     other => println!("not handled yet: {}", other.event_type()),
//! }
//! # Ok::<(), serde_json::Error>(())
//! ```

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The README's examples compile and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod company;
mod date;
mod event;
mod number;
mod open_enum;
mod person;
mod redact;
mod rest;
#[cfg(feature = "schema")]
pub mod schema;

pub use company::{
    DigitalPresence, EnrichedCompanyResponse, FundingRound, Ipo, ParentOrganization, Stock,
};
pub use date::PartialDate;
pub use event::{
    BatchEnrichmentCompleted, BatchEventName, CompanyEnrichmentCompleted, EventType,
    PersonEnrichmentCompleted, UnknownEvent, WebhookEvent,
};
pub use open_enum::UnknownValue;
pub use person::{
    EmailType, EnrichedPersonEmail, EnrichedPersonMobilePhone, EnrichedPersonResponse,
    EnrichmentStatus, JobPosition, ValidationStatus,
};
pub use redact::{RedactedDebug, Unredacted};
pub use rest::{
    AcceptedEmailType, ApiError, CompanyToEnrich, EnrichCompaniesRequest, EnrichCompaniesResult,
    EnrichPeopleRequest, EnrichPeopleResult, EnrichmentAccepted, EnrichmentOptions, Include,
    MAX_PEOPLE_PER_REQUEST, NotificationOptions, PersonToEnrich, RECOMMENDED_COMPANIES_PER_REQUEST,
    RequestError,
};
