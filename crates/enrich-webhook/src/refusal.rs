//! Every refusal a receiver answers instead of calling the handler, with its status and body, and
//! the acknowledgement of an event the handler does not take.
//!
//! Each refusal's facts (code, status, title, when it is answered, its message, `Retry-After`)
//! are declared once, in the table of the [`refusals!`] invocation below; the enum, its methods,
//! [`REFUSAL_KINDS`] and [`REFUSAL_STATUSES`] are generated from it. Adapters render exactly
//! [`Answer::from`](crate::Answer) of a [`Refusal`] or an [`Acknowledgement`]; nothing about an
//! answer is decided anywhere else.

use std::fmt;

use enrich_types::WebhookEvent;
use serde::Serialize;

use crate::signature::{SignatureError, SignatureProblem};

/// The media type of every refusal body (RFC 9457).
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The `type` of every refusal body: `about:blank`, as RFC 9457 provides for problems that need
/// no type URI of their own. The problem is told apart by its `code` member (and its `title` is
/// the status phrase, as RFC 9457 asks of `about:blank` problems).
pub const PROBLEM_TYPE: &str = "about:blank";

/// One row of the refusal table: a `code`, its status and title, and when it is answered. Every
/// [`Refusal`] variant has exactly one row; [`REFUSAL_KINDS`] lists them all, in the order the
/// checks run, for documentation generated from the code (the OpenAPI document's answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefusalKind {
    /// The stable, machine-readable code (the `code` member of the body).
    pub code: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// The `title` member of the body: the status phrase (RFC 9110).
    pub title: &'static str,
    /// When it is answered, in a sentence.
    pub when: &'static str,
}

/// The status phrase of a refusal status (RFC 9110), the `title` of an `about:blank` problem.
const fn status_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// Declares [`Refusal`] from one table: per variant its fields, `code`, `status`, `when`, the
/// `detail` message (any `Display` expression over the variant's fields, bound by reference) and,
/// optionally, the `Retry-After` seconds.
macro_rules! refusals {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident
        $({ $( $(#[doc = $field_doc:literal])* $field:ident : $field_type:ty ),* $(,)? })?
        $(( $inner:ident : $inner_type:ty ))?
        => {
            code: $code:literal,
            status: $status:literal,
            when: $when:literal,
            detail: $detail:expr
            $(, retry_after: $retry_after:expr)?
            $(,)?
        }
    )*) => {
        /// Why the handler is not called: a 4xx or 5xx answer with an RFC 9457
        /// `application/problem+json` body. Each variant has one HTTP status and one stable
        /// `code`.
        ///
        /// The acknowledgement of a genuine event that an extractor does not take is not a
        /// refusal: it is an [`Acknowledgement`] (`200`), an `Ok` outcome of extraction
        /// ([`Extracted::Ignored`](crate::Extracted::Ignored)).
        ///
        /// | code | status | when |
        /// |---|---|---|
        $(#[doc = concat!("| `", $code, "` | ", stringify!($status), " | ", $when, " |")])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Refusal {
            $(
                $(#[doc = $doc])*
                $variant
                $({ $( $(#[doc = $field_doc])* $field : $field_type ),* })?
                $(( $inner_type ))?,
            )*
        }

        /// Every refusal, in the order the checks run: one row per [`Refusal`] variant.
        pub const REFUSAL_KINDS: &[RefusalKind] = &[$(
            RefusalKind { code: $code, status: $status, title: status_phrase($status), when: $when },
        )*];

        impl Refusal {
            /// This refusal's row of [`REFUSAL_KINDS`].
            pub fn kind(&self) -> &'static RefusalKind {
                match self {$(
                    Self::$variant { .. } => const {
                        &RefusalKind {
                            code: $code,
                            status: $status,
                            title: status_phrase($status),
                            when: $when,
                        }
                    },
                )*}
            }

            /// The `Retry-After` header value to send with the answer, in seconds, if any.
            pub fn retry_after_secs(&self) -> Option<u32> {
                match self {$(
                    #[allow(unused_variables)]
                    Self::$variant $({ $($field),* })? $(($inner))? => {
                        let seconds: Option<u32> = None;
                        $(let seconds = Some($retry_after);)?
                        seconds
                    }
                )*}
            }
        }

        impl fmt::Display for Refusal {
            /// The `detail` member: what is wrong with this request, never echoing its content.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {$(
                    #[allow(unused_variables)]
                    Self::$variant $({ $($field),* })? $(($inner))? => {
                        fmt::Display::fmt(&$detail, f)
                    }
                )*}
            }
        }
    };
}

refusals! {
    /// `Content-Type` is present and is neither `application/json` nor `application/*+json`.
    UnsupportedMediaType => {
        code: "unsupported_media_type",
        status: 415,
        when: "`Content-Type` is present and is not JSON",
        detail: "Content-Type must be application/json (parameters allowed) or application/*+json",
    }
    /// The body is larger than the limit.
    PayloadTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    } => {
        code: "payload_too_large",
        status: 413,
        when: "the body (or its declared `Content-Length`) exceeds the limit",
        detail: format_args!("the body exceeds the limit of {limit} bytes"),
    }
    /// There is no `x-surfe-signature` header.
    MissingSignature => {
        code: "missing_signature",
        status: 401,
        when: "there is no `x-surfe-signature` header",
        detail: "the x-surfe-signature header is missing",
    }
    /// The `x-surfe-signature` header is not well-formed.
    MalformedSignature(problem: SignatureProblem) => {
        code: "malformed_signature",
        status: 401,
        when: "the signature header is not `t=<digits>,v0=<64 hex>`",
        detail: SignatureError::Malformed(*problem),
    }
    /// The signature's timestamp is outside the tolerance.
    StaleTimestamp {
        /// Now minus the signature time, in milliseconds (negative: in the future).
        age_ms: i128,
        /// The tolerance that was exceeded, in milliseconds.
        tolerance_ms: u128,
    } => {
        code: "stale_timestamp",
        status: 401,
        when: "the signature's `t` is outside the tolerance",
        detail: SignatureError::Stale { age_ms: *age_ms, tolerance_ms: *tolerance_ms },
    }
    /// The body could not be read to its end (the connection failed or the sender stopped).
    IncompleteBody => {
        code: "incomplete_body",
        status: 400,
        when: "the body could not be read to its end",
        detail: "the body could not be read to its end",
    }
    /// No `v0` matches the body under any configured secret.
    InvalidSignature => {
        code: "invalid_signature",
        status: 401,
        when: "no `v0` matches the body under any configured secret",
        detail: SignatureError::Mismatch,
    }
    /// The body is not a single JSON document (empty, not UTF-8, truncated, or trailing bytes).
    /// Valid JSON, however deep, is never this.
    MalformedJson {
        /// What is wrong, without any of the body's content.
        detail: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error (0 at the very start of an empty body).
        column: usize,
    } => {
        code: "malformed_json",
        status: 400,
        when: "the body is not one JSON document",
        detail: detail,
    }
    /// The JSON is not a webhook event, or a known event's `data` does not fit its type.
    InvalidPayload {
        /// What is wrong, without any of the body's string values.
        detail: String,
        /// JSON Pointer (RFC 6901) to the offending value, such as
        /// `/data/person/emails/0/confidenceScore`; empty for the whole document.
        pointer: String,
        /// 1-based line of the error, when known (not when `data` came before `eventType`, which
        /// makes the decoder read `data` before it knows its type).
        line: Option<usize>,
        /// 1-based column of the error, when known.
        column: Option<usize>,
    } => {
        code: "invalid_payload",
        status: 422,
        when: "the JSON is not a webhook event, or a known event's `data` does not fit",
        detail: detail,
    }
    /// The delivery was genuine but could not be stored (the inbox's database failed): the
    /// sender should retry it later. Answered `503` with `Retry-After`.
    StorageUnavailable {
        /// The `Retry-After` the answer carries, in seconds.
        retry_after_secs: u32,
    } => {
        code: "storage_unavailable",
        status: 503,
        when: "a genuine delivery could not be stored; retry after `Retry-After` seconds",
        detail: format_args!("the delivery could not be stored; retry in {retry_after_secs} s"),
        retry_after: *retry_after_secs,
    }
    /// The receiver has no signing secret yet and its quarantine already holds as many
    /// unverified deliveries as it may: nothing was stored. Answered `503` with `Retry-After`.
    QuarantineFull {
        /// The `Retry-After` the answer carries, in seconds.
        retry_after_secs: u32,
    } => {
        code: "quarantine_full",
        status: 503,
        when: "no signing secret is configured and the quarantine is full; retry after `Retry-After` seconds",
        detail: format_args!("the receiver's quarantine of unverified deliveries is full; retry in {retry_after_secs} s"),
        retry_after: *retry_after_secs,
    }
    /// The adapter found no receiver configuration (a setup mistake, not the sender's fault).
    NotConfigured {
        /// What the application must do, in the framework's terms.
        hint: &'static str,
    } => {
        code: "receiver_not_configured",
        status: 500,
        when: "the receiver found no configuration (a setup mistake)",
        detail: format_args!("the webhook receiver is not configured: {hint}"),
    }
}

/// Every status a refusal answers with, ascending and without repeats (Rocket registers one
/// catcher per status).
pub const REFUSAL_STATUSES: [u16; distinct_statuses()] = sorted_statuses();

/// How many distinct statuses [`REFUSAL_KINDS`] holds.
const fn distinct_statuses() -> usize {
    let mut count = 0;
    let mut above = 0;
    while let Some(next) = next_status(above) {
        count += 1;
        above = next;
    }
    count
}

/// The distinct statuses of [`REFUSAL_KINDS`], ascending.
const fn sorted_statuses<const N: usize>() -> [u16; N] {
    let mut statuses = [0; N];
    let mut index = 0;
    let mut above = 0;
    while let Some(next) = next_status(above) {
        statuses[index] = next;
        index += 1;
        above = next;
    }
    statuses
}

/// The smallest status in [`REFUSAL_KINDS`] above `above`.
const fn next_status(above: u16) -> Option<u16> {
    let mut next: Option<u16> = None;
    let mut index = 0;
    while index < REFUSAL_KINDS.len() {
        let status = REFUSAL_KINDS[index].status;
        if status > above {
            next = match next {
                Some(smallest) if smallest <= status => Some(smallest),
                _ => Some(status),
            };
        }
        index += 1;
    }
    next
}

impl Refusal {
    /// The HTTP status code to answer with.
    pub fn status(&self) -> u16 {
        self.kind().status
    }

    /// The stable, machine-readable code (the `code` member of the body).
    pub fn code(&self) -> &'static str {
        self.kind().code
    }

    /// The `title` member of the problem body: the status phrase (RFC 9110), as RFC 9457 asks of
    /// `about:blank` problems.
    pub fn title(&self) -> &'static str {
        self.kind().title
    }

    /// Whether this concerns the signature (missing, malformed, stale or not matching): the
    /// refusals an operator should see, since they may mean a wrong secret or an attack.
    pub fn is_signature_failure(&self) -> bool {
        matches!(
            self,
            Self::MissingSignature
                | Self::MalformedSignature(_)
                | Self::StaleTimestamp { .. }
                | Self::InvalidSignature
        )
    }

    /// The problem details object (RFC 9457) of this refusal.
    pub fn problem(&self) -> ProblemDetails {
        let mut problem = ProblemDetails {
            problem_type: PROBLEM_TYPE,
            title: self.title(),
            status: self.status(),
            detail: self.to_string(),
            code: self.code(),
            pointer: None,
            line: None,
            column: None,
            limit: None,
        };
        match self {
            Self::PayloadTooLarge { limit } => problem.limit = Some(*limit),
            Self::MalformedJson { line, column, .. } => {
                problem.line = Some(*line);
                problem.column = Some(*column);
            }
            Self::InvalidPayload {
                pointer,
                line,
                column,
                ..
            } => {
                problem.pointer = Some(pointer.clone());
                problem.line = *line;
                problem.column = *column;
            }
            _ => {}
        }
        problem
    }

    /// The `Content-Type` of the answer: always [`PROBLEM_CONTENT_TYPE`].
    pub fn content_type(&self) -> &'static str {
        PROBLEM_CONTENT_TYPE
    }

    /// The response body: the problem details, as compact JSON.
    pub fn body(&self) -> Vec<u8> {
        to_json(&self.problem())
    }
}

impl std::error::Error for Refusal {}

impl From<SignatureError> for Refusal {
    fn from(error: SignatureError) -> Self {
        match error {
            SignatureError::Malformed(problem) => Self::MalformedSignature(problem),
            SignatureError::Stale {
                age_ms,
                tolerance_ms,
            } => Self::StaleTimestamp {
                age_ms,
                tolerance_ms,
            },
            SignatureError::Mismatch => Self::InvalidSignature,
        }
    }
}

/// The answer to a genuine delivery of an event type the extractor does not take (a company
/// event at an endpoint that takes person events): `200 OK` with
/// `{"status":"ignored","eventType":…}`, without calling the handler. Not a refusal: a refusal
/// makes the sender retry a delivery that will never be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    event_type: String,
}

impl Acknowledgement {
    /// The status of every acknowledgement: `200`.
    pub const STATUS: u16 = 200;
    /// The `Content-Type` of every acknowledgement: `application/json`.
    pub const CONTENT_TYPE: &'static str = "application/json";
    /// The word an acknowledgement's body and logs carry: `ignored`.
    pub const CODE: &'static str = "ignored";

    /// The acknowledgement of `event`, a genuine event the extractor does not take.
    pub fn ignoring(event: &WebhookEvent) -> Self {
        Self {
            event_type: event.event_type().to_owned(),
        }
    }

    /// The acknowledgement of a genuine event of type `event_type` (its `eventType`).
    pub fn of_event_type(event_type: impl Into<String>) -> Self {
        Self {
            event_type: event_type.into(),
        }
    }

    /// The type of the event that was not taken.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// The response body: `{"status":"ignored","eventType":…}`, compact JSON.
    pub fn body(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            status: &'static str,
            #[serde(rename = "eventType")]
            event_type: &'a str,
        }
        to_json(&Body {
            status: Self::CODE,
            event_type: &self.event_type,
        })
    }
}

impl fmt::Display for Acknowledgement {
    /// What happened, without the event type (a value from the body, kept out of log lines).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the event type is not taken by this endpoint; acknowledged with 200 and ignored",
        )
    }
}

/// Compact JSON of a body made of strings and numbers only.
fn to_json(body: &impl Serialize) -> Vec<u8> {
    // Strings and numbers always serialize; an empty body would still be a visible fault.
    serde_json::to_vec(body).unwrap_or_default()
}

/// An RFC 9457 problem details object, as every refusal body carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProblemDetails {
    /// The problem type: always [`PROBLEM_TYPE`] (`about:blank`); `code` tells problems apart.
    #[serde(rename = "type")]
    pub problem_type: &'static str,
    /// The status phrase.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What is wrong with this request.
    pub detail: String,
    /// The stable machine-readable code.
    pub code: &'static str,
    /// JSON Pointer to the offending value (`invalid_payload`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// Line of the error in the body (`malformed_json`, `invalid_payload`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Column of the error in the body (`malformed_json`, `invalid_payload`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The body limit in bytes (`payload_too_large`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}
