//! An enriched person: what the API found about one person of a batch.

use serde::{Deserialize, Serialize};

use crate::date::PartialDate;
use crate::open_enum::open_enum;
use crate::redact::{Personal, PersonalList, RedactedDebug, redacted_debug};

open_enum! {
    /// The progress of an enrichment: of a whole batch, or of one person in it.
    pub enum EnrichmentStatus (lenient) {
        /// Still being enriched; the answer may be filled in later.
        InProgress = "IN_PROGRESS",
        /// Enrichment has finished.
        Completed = "COMPLETED",
        /// Enrichment was cancelled before it finished.
        Cancelled = "CANCELLED",
    }
}

open_enum! {
    /// How the API judged an email address.
    pub enum ValidationStatus (lenient) {
        /// The address exists and belongs to the person.
        Valid = "VALID",
        /// The address is deliverable but the domain accepts every mailbox, so it may be a general one.
        /// The API's own type definition spells it `" CATCH_ALL"`; surrounding whitespace is ignored.
        CatchAll = "CATCH_ALL",
    }
}

open_enum! {
    /// Whether an email address is a work or a private one.
    pub enum EmailType (lenient) {
        /// A work address at the person's company.
        Professional = "professional",
        /// A private address.
        Personal = "personal",
    }
}

/// Everything the API found about one person. Every field is optional: the API leaves out, or
/// sends `null` for, whatever it did not find or was not asked for, and the two mean the same.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct EnrichedPersonResponse {
    /// The caller's own id for this person, echoed back from the request: the key that matches a
    /// result to the caller's record.
    #[serde(rename = "externalID", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Given name.
    #[serde(rename = "firstName", skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(rename = "lastName", skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Current job title.
    #[serde(rename = "jobTitle", skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// Name of the current employer.
    #[serde(rename = "companyName", skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// Web domain of the current employer, such as `example.com`.
    #[serde(rename = "companyDomain", skip_serializing_if = "Option::is_none")]
    pub company_domain: Option<String>,
    /// Country, as a name such as `France` (the API may move to ISO codes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Free-form location, such as `Paris, Île-de-France`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// LinkedIn profile URL, such as `https://www.linkedin.com/in/<slug>` (sometimes without `www`).
    #[serde(rename = "linkedInUrl", skip_serializing_if = "Option::is_none")]
    pub linked_in_url: Option<String>,
    /// Departments the person works in, such as `Engineering` or `R&D`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub departments: Option<Vec<String>>,
    /// Seniority levels, such as `Manager` or `Head`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seniorities: Option<Vec<String>>,
    /// Email addresses found for the person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<EnrichedPersonEmail>>,
    /// Mobile phone numbers found for the person.
    #[serde(rename = "mobilePhones", skip_serializing_if = "Option::is_none")]
    pub mobile_phones: Option<Vec<EnrichedPersonMobilePhone>>,
    /// Past and current positions, present when the request asked for the job history.
    #[serde(rename = "jobHistory", skip_serializing_if = "Option::is_none")]
    pub job_history: Option<Vec<JobPosition>>,
    /// Progress of this person's enrichment. Values beyond the documented ones occur (`NOT_FOUND`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<EnrichmentStatus>,
}

/// One email address found for a person.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct EnrichedPersonEmail {
    /// The address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// How the API judged the address.
    #[serde(rename = "validationStatus", skip_serializing_if = "Option::is_none")]
    pub validation_status: Option<ValidationStatus>,
    /// Whether it is a work or a private address (sent by newer versions of the API).
    #[serde(rename = "emailType", skip_serializing_if = "Option::is_none")]
    pub email_type: Option<EmailType>,
}

/// One mobile phone number found for a person.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct EnrichedPersonMobilePhone {
    /// The number in international format, with spaces, such as `+33 6 12 34 56 78`.
    #[serde(rename = "mobilePhone", skip_serializing_if = "Option::is_none")]
    pub mobile_phone: Option<String>,
    /// How sure the API is that the number is right, from 0 to 1.
    #[serde(rename = "confidenceScore", skip_serializing_if = "Option::is_none")]
    pub confidence_score: Option<f64>,
}

/// One position in a person's job history.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct JobPosition {
    /// Name of the employer.
    #[serde(rename = "companyName", skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// Title held in this position.
    #[serde(rename = "jobTitle", skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// When the position started, as sent: RFC 3339 (`2023-01-01T00:00:00Z`) or month precision
    /// (`2019-01`).
    #[serde(rename = "startDate", skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// When the position ended, in the same forms as `startDate`; absent or `null` for the current
    /// position.
    #[serde(rename = "endDate", skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// The employer's LinkedIn reference: a URL or a URN such as `urn:li:company:123456`.
    #[serde(rename = "linkedInURL", skip_serializing_if = "Option::is_none")]
    pub linked_in_url: Option<String>,
}

impl JobPosition {
    /// The start date (`start_date`), parsed to the precision it was sent with; `None` if absent
    /// or unreadable.
    pub fn started(&self) -> Option<PartialDate> {
        self.start_date.as_deref().and_then(PartialDate::parse)
    }

    /// The end date (`end_date`), parsed to the precision it was sent with; `None` if absent or
    /// unreadable (absent means the position is current).
    pub fn ended(&self) -> Option<PartialDate> {
        self.end_date.as_deref().and_then(PartialDate::parse)
    }

    /// Whether this is a current position: it has no end date.
    pub fn is_current(&self) -> bool {
        self.end_date.is_none()
    }
}

redacted_debug!(
    EnrichedPersonResponse,
    EnrichedPersonEmail,
    EnrichedPersonMobilePhone,
    JobPosition
);

/// `Debug` redacts the names, job title, employer, location, LinkedIn URL, emails, phone
/// numbers and job history; [`RedactedDebug::unredacted`] shows them.
impl RedactedDebug for EnrichedPersonResponse {
    fn fmt_redacted(&self, f: &mut std::fmt::Formatter<'_>, full: bool) -> std::fmt::Result {
        f.debug_struct("EnrichedPersonResponse")
            .field("external_id", &self.external_id)
            .field("first_name", &Personal(&self.first_name, full))
            .field("last_name", &Personal(&self.last_name, full))
            .field("job_title", &Personal(&self.job_title, full))
            .field("company_name", &Personal(&self.company_name, full))
            .field("company_domain", &self.company_domain)
            .field("country", &self.country)
            .field("location", &Personal(&self.location, full))
            .field("linked_in_url", &Personal(&self.linked_in_url, full))
            .field("departments", &self.departments)
            .field("seniorities", &self.seniorities)
            .field("emails", &PersonalList(&self.emails, full))
            .field("mobile_phones", &PersonalList(&self.mobile_phones, full))
            .field("job_history", &PersonalList(&self.job_history, full))
            .field("status", &self.status)
            .finish()
    }
}

/// `Debug` redacts the address.
impl RedactedDebug for EnrichedPersonEmail {
    fn fmt_redacted(&self, f: &mut std::fmt::Formatter<'_>, full: bool) -> std::fmt::Result {
        f.debug_struct("EnrichedPersonEmail")
            .field("email", &Personal(&self.email, full))
            .field("validation_status", &self.validation_status)
            .field("email_type", &self.email_type)
            .finish()
    }
}

/// `Debug` redacts the number.
impl RedactedDebug for EnrichedPersonMobilePhone {
    fn fmt_redacted(&self, f: &mut std::fmt::Formatter<'_>, full: bool) -> std::fmt::Result {
        f.debug_struct("EnrichedPersonMobilePhone")
            .field("mobile_phone", &Personal(&self.mobile_phone, full))
            .field("confidence_score", &self.confidence_score)
            .finish()
    }
}

/// `Debug` redacts the employer, the title and the dates.
impl RedactedDebug for JobPosition {
    fn fmt_redacted(&self, f: &mut std::fmt::Formatter<'_>, full: bool) -> std::fmt::Result {
        f.debug_struct("JobPosition")
            .field("company_name", &Personal(&self.company_name, full))
            .field("job_title", &Personal(&self.job_title, full))
            .field("start_date", &Personal(&self.start_date, full))
            .field("end_date", &Personal(&self.end_date, full))
            .field("linked_in_url", &self.linked_in_url)
            .finish()
    }
}
