//! The REST side: starting a bulk enrichment that will call the webhook, and polling its result.
//!
//! `POST /v2/people/enrich` and `POST /v2/companies/enrich` start a batch; the API answers `202`
//! with an [`EnrichmentAccepted`], then sends one webhook per finished person or company to
//! `notificationOptions.webhookUrl`. `GET /v2/people/enrich/:id` (and the company equivalent)
//! returns the batch so far.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::company::EnrichedCompanyResponse;
use crate::open_enum::open_enum;
use crate::person::{EnrichedPersonResponse, EnrichmentStatus};

/// The most people one `POST /v2/people/enrich` accepts.
pub const MAX_PEOPLE_PER_REQUEST: usize = 10_000;

/// The most companies the API recommends per `POST /v2/companies/enrich` (documented as a
/// recommendation, not a hard limit, so [`EnrichCompaniesRequest::validate`] does not enforce it).
pub const RECOMMENDED_COMPANIES_PER_REQUEST: usize = 500;

open_enum! {
    /// Which kind of email address an enrichment should look for.
    pub enum AcceptedEmailType (lenient) {
        /// Work addresses only.
        Professional = "professional",
        /// Private addresses only.
        Personal = "personal",
    }
}

/// The body of `POST /v2/people/enrich`: start enriching up to 10,000 people.
///
/// Build it with [`EnrichPeopleRequest::new`], which refuses what the API refuses:
///
/// ```
/// use enrich_types::{EnrichPeopleRequest, Include, PersonToEnrich, RequestError};
///
/// // The request types are `#[non_exhaustive]`: start from the default, then set fields.
/// let mut person = PersonToEnrich::default();
/// person.linkedin_url = Some("https://www.linkedin.com/in/ada-lovelace".into());
/// person.external_id = Some("crm-42".into());
/// let mut include = Include::default();
/// include.email = true;
///
/// let request = EnrichPeopleRequest::new(include, vec![person])?
///     .with_webhook_url("https://hooks.example.com/surfe")?;
/// assert_eq!(
///     request.notification_options.unwrap().webhook_url.as_deref(),
///     Some("https://hooks.example.com/surfe"),
/// );
///
/// let refused = EnrichPeopleRequest::new(Include::default(), vec![PersonToEnrich::default()]);
/// assert_eq!(refused.unwrap_err(), RequestError::NothingIncluded);
/// # Ok::<(), RequestError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
// The doc comment's example is for rustdoc; the schema gets the prose only.
#[cfg_attr(
    feature = "schema",
    schemars(
        description = "The body of `POST /v2/people/enrich`: start enriching up to 10,000 people. \
        The API refuses a request with no people, more than 10,000 people, no `include` flag \
        set, or a webhook URL that is not https.",
        // `include` and `people` are required, and at least one `include` flag is `true`.
        extend(
            "required" = ["include", "people"],
            "anyOf" = [
                { "properties": { "include": { "required": ["email"], "properties": { "email": { "const": true } } } } },
                { "properties": { "include": { "required": ["mobile"], "properties": { "mobile": { "const": true } } } } },
                { "properties": { "include": { "required": ["linkedInUrl"], "properties": { "linkedInUrl": { "const": true } } } } },
                { "properties": { "include": { "required": ["jobHistory"], "properties": { "jobHistory": { "const": true } } } } }
            ]
        )
    )
)]
#[non_exhaustive]
pub struct EnrichPeopleRequest {
    /// What to look for; at least one flag must be set.
    #[serde(default)]
    pub include: Include,
    /// Where to send one webhook per finished person.
    #[serde(
        rename = "notificationOptions",
        skip_serializing_if = "Option::is_none"
    )]
    pub notification_options: Option<NotificationOptions>,
    /// The people to enrich: 1 to 10,000 (about 1,000 recommended).
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(length(min = 1, max = 10000), transform = without_default)
    )]
    pub people: Vec<PersonToEnrich>,
    /// Finer choices about the enrichment (newer API versions).
    #[serde(rename = "enrichmentOptions", skip_serializing_if = "Option::is_none")]
    pub enrichment_options: Option<EnrichmentOptions>,
}

impl EnrichPeopleRequest {
    /// A request for `people` with the `include` flags, checked against the API's rules.
    pub fn new(include: Include, people: Vec<PersonToEnrich>) -> Result<Self, RequestError> {
        let request = Self {
            include,
            people,
            ..Self::default()
        };
        request.validate()?;
        Ok(request)
    }

    /// Sets the webhook URL, which the API requires to be `https` (plain `http` is accepted
    /// for a loopback host only, for a local fake of the API).
    pub fn with_webhook_url(mut self, url: &str) -> Result<Self, RequestError> {
        self.notification_options = Some(NotificationOptions::webhook(url)?);
        Ok(self)
    }

    /// Sets the enrichment options.
    pub fn with_enrichment_options(mut self, options: EnrichmentOptions) -> Self {
        self.enrichment_options = Some(options);
        self
    }

    /// Checks the rules the API enforces: 1 to 10,000 people, at least one `include` flag, and an
    /// `https` webhook URL. Useful after building or changing the public fields by hand.
    pub fn validate(&self) -> Result<(), RequestError> {
        if self.people.is_empty() {
            return Err(RequestError::NoPeople);
        }
        if self.people.len() > MAX_PEOPLE_PER_REQUEST {
            return Err(RequestError::TooManyPeople {
                count: self.people.len(),
            });
        }
        if !self.include.any() {
            return Err(RequestError::NothingIncluded);
        }
        validate_notification_options(self.notification_options.as_ref())
    }
}

/// What an enrichment looks for. At least one flag must be `true`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Include {
    /// Look for email addresses.
    #[serde(default, deserialize_with = "null_as_false")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>"))]
    pub email: bool,
    /// Look for mobile phone numbers.
    #[serde(default, deserialize_with = "null_as_false")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>"))]
    pub mobile: bool,
    /// Look for the LinkedIn profile URL.
    #[serde(rename = "linkedInUrl", default, deserialize_with = "null_as_false")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>"))]
    pub linked_in_url: bool,
    /// Include the job history.
    #[serde(rename = "jobHistory", default, deserialize_with = "null_as_false")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>"))]
    pub job_history: bool,
}

impl Include {
    /// Whether any flag is set, as the API requires.
    pub fn any(&self) -> bool {
        self.email || self.mobile || self.linked_in_url || self.job_history
    }
}

fn null_as_false<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(deserializer)?.unwrap_or(false))
}

/// Where the API sends its webhooks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct NotificationOptions {
    /// The `https` URL that receives one `POST` per finished person or company (`http` only
    /// to a loopback host, which only a local fake of the API delivers to).
    #[serde(rename = "webhookUrl", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(
            pattern = r"^(?:[hH][tT][tT][pP][sS]://[^/?#\s]+|[hH][tT][tT][pP]://(?:[^@/?#\s]*@)?(?:[lL][oO][cC][aA][lL][hH][oO][sS][tT]|127\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])|\[::1\])(?::[^/?#\s]*)?)(?:[/?#][\s\S]*)?$"
        ))
    )]
    pub webhook_url: Option<String>,
}

impl NotificationOptions {
    /// Options that send webhooks to `url`, refused unless it is an `https` URL, or an `http` URL
    /// of a loopback host (`localhost`, `127.0.0.1`, `[::1]`), which only a local fake of the API
    /// delivers to.
    pub fn webhook(url: &str) -> Result<Self, RequestError> {
        let options = Self {
            webhook_url: Some(url.to_owned()),
        };
        validate_notification_options(Some(&options))?;
        Ok(options)
    }
}

fn validate_notification_options(
    options: Option<&NotificationOptions>,
) -> Result<(), RequestError> {
    match options.and_then(|options| options.webhook_url.as_deref()) {
        Some(url) if !is_accepted_webhook_url(url) => Err(RequestError::WebhookUrlNotHttps {
            url: url.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// `https://` followed by a host (the API's rule), or `http://` followed by a loopback host
/// (`localhost`, `127.x.x.x`, `[::1]`): the API itself never delivers to loopback, so plain
/// `http` there can only reach a local fake of the API, such as `enrich sim`. The scheme is
/// matched case-insensitively.
fn is_accepted_webhook_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let Some(authority) = rest.split(['/', '?', '#']).next() else {
        return false;
    };
    if authority.is_empty() || authority.contains(char::is_whitespace) {
        return false;
    }
    if scheme.eq_ignore_ascii_case("https") {
        return true;
    }
    scheme.eq_ignore_ascii_case("http") && is_loopback_host(authority)
}

/// Whether the host of `authority` (`[user@]host[:port]`) is a loopback name or address.
fn is_loopback_host(authority: &str) -> bool {
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = match host_port.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((host, _)) => host,
            None => return false,
        },
        None => host_port.split(':').next().unwrap_or(host_port),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// One person to enrich. Identify the person with a LinkedIn URL, or with first and last name
/// plus a company name or domain.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct PersonToEnrich {
    /// Given name.
    #[serde(rename = "firstName", skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(rename = "lastName", skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Name of the current employer.
    #[serde(rename = "companyName", skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// Web domain of the current employer.
    #[serde(rename = "companyDomain", skip_serializing_if = "Option::is_none")]
    pub company_domain: Option<String>,
    /// LinkedIn profile URL. Note the wire key `linkedinUrl`, with a lower-case `i`, unlike the
    /// answer's `linkedInUrl`.
    #[serde(rename = "linkedinUrl", skip_serializing_if = "Option::is_none")]
    pub linkedin_url: Option<String>,
    /// The caller's own id for this person; the webhook echoes it back.
    #[serde(rename = "externalID", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// Finer choices about a people enrichment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct EnrichmentOptions {
    /// Which kind of email address to look for.
    #[serde(rename = "acceptedEmailType", skip_serializing_if = "Option::is_none")]
    pub accepted_email_type: Option<AcceptedEmailType>,
    /// Skip the (costlier) mobile search for people with no email found.
    #[serde(
        rename = "skipMobileEnrichmentIfNoEmailFound",
        skip_serializing_if = "Option::is_none"
    )]
    pub skip_mobile_enrichment_if_no_email_found: Option<bool>,
}

/// The `202 Accepted` answer to a `POST` that starts an enrichment (people or companies).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct EnrichmentAccepted {
    /// The id of the batch; every webhook of the batch carries it.
    #[serde(rename = "enrichmentID", skip_serializing_if = "Option::is_none")]
    pub enrichment_id: Option<String>,
    /// The `GET` URL that returns this batch.
    #[serde(
        rename = "enrichmentCallbackURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub enrichment_callback_url: Option<String>,
    /// Free text, with an estimate of when the batch finishes. Meant for people: do not parse it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The answer to `GET /v2/people/enrich/:id`: the batch so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct EnrichPeopleResult {
    /// The id of the batch.
    #[serde(rename = "enrichmentID", skip_serializing_if = "Option::is_none")]
    pub enrichment_id: Option<String>,
    /// Progress of the batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<EnrichmentStatus>,
    /// How much of the batch is done, from 0 to 100.
    #[serde(rename = "percentCompleted", skip_serializing_if = "Option::is_none")]
    pub percent_completed: Option<f64>,
    /// The people enriched so far; filled in progressively while the batch runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people: Option<Vec<EnrichedPersonResponse>>,
}

/// The body of `POST /v2/companies/enrich`: start enriching companies (up to 500 per request
/// recommended).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(extend("required" = ["companies"])))]
#[non_exhaustive]
pub struct EnrichCompaniesRequest {
    /// The companies to enrich; at least one.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(length(min = 1), transform = without_default)
    )]
    pub companies: Vec<CompanyToEnrich>,
    /// Where to send one webhook per finished company.
    #[serde(
        rename = "notificationOptions",
        skip_serializing_if = "Option::is_none"
    )]
    pub notification_options: Option<NotificationOptions>,
}

impl EnrichCompaniesRequest {
    /// A request for `companies`, refused if there are none.
    pub fn new(companies: Vec<CompanyToEnrich>) -> Result<Self, RequestError> {
        let request = Self {
            companies,
            notification_options: None,
        };
        request.validate()?;
        Ok(request)
    }

    /// Sets the webhook URL, which the API requires to be `https`.
    pub fn with_webhook_url(mut self, url: &str) -> Result<Self, RequestError> {
        self.notification_options = Some(NotificationOptions::webhook(url)?);
        Ok(self)
    }

    /// Checks the rules: at least one company, and an `https` webhook URL.
    pub fn validate(&self) -> Result<(), RequestError> {
        if self.companies.is_empty() {
            return Err(RequestError::NoCompanies);
        }
        validate_notification_options(self.notification_options.as_ref())
    }
}

/// One company to enrich.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct CompanyToEnrich {
    /// The company's web domain, such as `example.com`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The caller's own id for this company; the webhook echoes it back.
    #[serde(rename = "externalID", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// The answer to `GET /v2/companies/enrich/:id`: the batch so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct EnrichCompaniesResult {
    /// The id of the batch.
    #[serde(rename = "enrichmentID", skip_serializing_if = "Option::is_none")]
    pub enrichment_id: Option<String>,
    /// Progress of the batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<EnrichmentStatus>,
    /// How much of the batch is done, from 0 to 100.
    #[serde(rename = "percentCompleted", skip_serializing_if = "Option::is_none")]
    pub percent_completed: Option<f64>,
    /// The companies enriched so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub companies: Option<Vec<EnrichedCompanyResponse>>,
}

/// The body of an error answer from the REST API (400, 401, 402, 403, 429, 500, 503).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ApiError {
    /// A numeric error code.
    #[serde(
        default,
        deserialize_with = "crate::number::optional_whole",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<i64>,
    /// What went wrong, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A rule of the API that a request breaks; the API would refuse it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The request lists no people.
    NoPeople,
    /// The request lists more than [`MAX_PEOPLE_PER_REQUEST`] people.
    TooManyPeople {
        /// How many people the request lists.
        count: usize,
    },
    /// No `include` flag is set, so there is nothing to look for.
    NothingIncluded,
    /// The request lists no companies.
    NoCompanies,
    /// The webhook URL is not an `https` URL (the API refuses plain `http`; this crate accepts it
    /// only for loopback hosts, where just a local fake of the API can deliver).
    WebhookUrlNotHttps {
        /// The refused URL.
        url: String,
    },
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPeople => f.write_str("the request lists no people; it needs 1 to 10000"),
            Self::TooManyPeople { count } => write!(
                f,
                "the request lists {count} people; the API accepts at most {MAX_PEOPLE_PER_REQUEST}"
            ),
            Self::NothingIncluded => f.write_str(
                "no `include` flag is set; set at least one of email, mobile, linkedInUrl, jobHistory",
            ),
            Self::NoCompanies => f.write_str("the request lists no companies"),
            Self::WebhookUrlNotHttps { url } => {
                write!(
                    f,
                    "the webhook URL {url:?} is not an https URL; the API refuses it (plain http \
                     is accepted only for a loopback host such as 127.0.0.1, for a local fake)"
                )
            }
        }
    }
}

impl std::error::Error for RequestError {}

/// Drops the `default` a `#[serde(default)]` field gets in its schema, where that default (an
/// empty list) breaks the field's own rule (at least one item): absent decodes, then is refused.
#[cfg(feature = "schema")]
fn without_default(schema: &mut schemars::Schema) {
    schema.remove("default");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_person() -> Vec<PersonToEnrich> {
        vec![PersonToEnrich {
            external_id: Some("1".into()),
            ..PersonToEnrich::default()
        }]
    }

    const EMAIL: Include = Include {
        email: true,
        mobile: false,
        linked_in_url: false,
        job_history: false,
    };

    #[test]
    fn refuses_each_rule_the_api_enforces() {
        assert_eq!(
            EnrichPeopleRequest::new(EMAIL, vec![]),
            Err(RequestError::NoPeople)
        );
        let too_many = vec![PersonToEnrich::default(); MAX_PEOPLE_PER_REQUEST + 1];
        assert_eq!(
            EnrichPeopleRequest::new(EMAIL, too_many),
            Err(RequestError::TooManyPeople { count: 10_001 })
        );
        assert!(EnrichPeopleRequest::new(EMAIL, vec![PersonToEnrich::default(); 10_000]).is_ok());
        assert_eq!(
            EnrichPeopleRequest::new(Include::default(), one_person()),
            Err(RequestError::NothingIncluded)
        );
        for url in [
            "http://example.com/hook",
            "http://127.0.0.1.example.com/hook",
            "http://localhost.example.com/",
            "http://10.0.0.1:3000/hook",
            "http://[::2]/hook",
            "http://[::1/hook",
            "http:///hook",
            "ftp://x",
            "ftp://127.0.0.1/",
            "https://",
            "https:///path",
            "example.com",
            "",
        ] {
            assert_eq!(
                EnrichPeopleRequest::new(EMAIL, one_person())
                    .unwrap()
                    .with_webhook_url(url),
                Err(RequestError::WebhookUrlNotHttps { url: url.into() }),
                "{url:?}"
            );
        }
        assert!(EnrichCompaniesRequest::new(vec![]).is_err());
    }

    #[test]
    fn accepts_https_urls_and_writes_the_wire_keys() {
        let request = EnrichPeopleRequest::new(EMAIL, one_person())
            .unwrap()
            .with_webhook_url("HTTPS://hooks.example.com:8443/surfe?x=1")
            .unwrap();
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            serde_json::json!({
                "include": { "email": true, "mobile": false, "linkedInUrl": false, "jobHistory": false },
                "notificationOptions": { "webhookUrl": "HTTPS://hooks.example.com:8443/surfe?x=1" },
                "people": [{ "externalID": "1" }]
            })
        );
    }

    #[test]
    fn accepts_plain_http_only_for_loopback_hosts() {
        for url in [
            "http://127.0.0.1:3000/webhook",
            "http://127.8.9.10/webhook",
            "HTTP://localhost:8080",
            "http://LocalHost/x?y",
            "http://[::1]:3000/webhook",
            "http://user@127.0.0.1:3000/",
        ] {
            assert!(
                NotificationOptions::webhook(url).is_ok(),
                "{url:?} should be accepted"
            );
        }
    }

    #[test]
    fn error_messages_name_the_rule() {
        assert_eq!(
            RequestError::TooManyPeople { count: 12_000 }.to_string(),
            "the request lists 12000 people; the API accepts at most 10000"
        );
        assert!(
            RequestError::WebhookUrlNotHttps {
                url: "http://x".into()
            }
            .to_string()
            .contains("\"http://x\" is not an https URL")
        );
    }
}

crate::redact::redacted_debug!(PersonToEnrich);

/// `Debug` redacts the names and the LinkedIn URL;
/// [`RedactedDebug::unredacted`](crate::RedactedDebug::unredacted) shows them.
impl crate::redact::RedactedDebug for PersonToEnrich {
    fn fmt_redacted(&self, f: &mut std::fmt::Formatter<'_>, full: bool) -> std::fmt::Result {
        use crate::redact::Personal;
        f.debug_struct("PersonToEnrich")
            .field("first_name", &Personal(&self.first_name, full))
            .field("last_name", &Personal(&self.last_name, full))
            .field("company_name", &self.company_name)
            .field("company_domain", &self.company_domain)
            .field("linkedin_url", &Personal(&self.linkedin_url, full))
            .field("external_id", &self.external_id)
            .finish()
    }
}
