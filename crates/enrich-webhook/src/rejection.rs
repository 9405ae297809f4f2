//! Every answer a receiver gives instead of calling the handler, with its status and body.
//!
//! Adapters render exactly [`Rejection::status`], [`Rejection::content_type`] and
//! [`Rejection::body`] (through [`Answer`](crate::Answer)); nothing about a rejection is decided
//! anywhere else.

use std::fmt;

use serde::Serialize;

use crate::signature::{SignatureError, SignatureProblem};

/// The media type of every rejection body (RFC 9457).
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The `type` of every rejection body: `about:blank`, as RFC 9457 provides for problems that need
/// no type URI of their own. The problem is told apart by its `code` member (and its `title` is
/// the status phrase, as RFC 9457 asks of `about:blank` problems).
pub const PROBLEM_TYPE: &str = "about:blank";

/// Why the handler is not called, and what the sender is answered instead. Each variant has one
/// HTTP status and one stable `code`.
///
/// Two kinds, in the words used throughout this project:
///
/// - a **refusal** (every variant but [`Rejection::Ignored`]): the delivery is refused with a 4xx
///   or 5xx status and an RFC 9457 `application/problem+json` body;
/// - an **ignored** event ([`Rejection::Ignored`]): a genuine delivery of an event type the
///   extractor does not take, acknowledged with `200 OK` and `{"status":"ignored","eventType":…}`
///   so that the sender does not retry it.
///
/// | code | status | when |
/// |---|---|---|
/// | `unsupported_media_type` | 415 | `Content-Type` is present and not JSON |
/// | `payload_too_large` | 413 | the body (or its declared `Content-Length`) exceeds the limit |
/// | `incomplete_body` | 400 | the body could not be read to its end |
/// | `missing_signature` | 401 | no `x-surfe-signature` header |
/// | `malformed_signature` | 401 | the header is not `t=<digits>,v0=<64 hex>` |
/// | `stale_timestamp` | 401 | `t` is outside the tolerance |
/// | `invalid_signature` | 401 | no `v0` matches any configured secret |
/// | `malformed_json` | 400 | the body is not one JSON document |
/// | `invalid_payload` | 422 | the JSON is not a webhook event, or a known event's `data` does not fit |
/// | `storage_unavailable` | 503 | a genuine delivery could not be stored (with `Retry-After`) |
/// | `receiver_not_configured` | 500 | the framework adapter found no configuration |
/// | `ignored` | 200 | a genuine event of a type the extractor does not take (not a refusal) |
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// `Content-Type` is present and is neither `application/json` nor `application/*+json`.
    UnsupportedMediaType,
    /// The body is larger than the limit.
    PayloadTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The body could not be read to its end (the connection failed or the sender stopped).
    IncompleteBody,
    /// There is no `x-surfe-signature` header.
    MissingSignature,
    /// The `x-surfe-signature` header is not well-formed.
    MalformedSignature(SignatureProblem),
    /// The signature's timestamp is outside the tolerance.
    StaleTimestamp {
        /// Now minus the signature time, in milliseconds (negative: in the future).
        age_ms: i128,
        /// The tolerance that was exceeded, in milliseconds.
        tolerance_ms: u128,
    },
    /// No `v0` matches the body under any configured secret.
    InvalidSignature,
    /// The body is not a single JSON document (empty, not UTF-8, truncated, or trailing bytes).
    /// Valid JSON, however deep, is never this.
    MalformedJson {
        /// What is wrong, without any of the body's content.
        detail: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error (0 at the very start of an empty body).
        column: usize,
    },
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
    },
    /// The delivery was genuine but could not be stored (the inbox's database failed): the
    /// sender should retry it later. Answered `503` with `Retry-After`.
    StorageUnavailable {
        /// The `Retry-After` the answer carries, in seconds.
        retry_after_secs: u32,
    },
    /// The adapter found no receiver configuration (a setup mistake, not the sender's fault).
    NotConfigured {
        /// What the application must do, in the framework's terms.
        hint: &'static str,
    },
    /// Not a refusal: a genuine delivery of an event type the extractor does not take (a company
    /// event at an endpoint that takes person events). Acknowledged with `200 OK`, never refused,
    /// since a refusal makes the sender retry a delivery that will never be taken.
    Ignored {
        /// The event type that was not taken (`eventType` of a genuine, decoded delivery).
        event_type: String,
    },
}

/// One row of the rejection table: a `code`, its status, and when it is answered. Every
/// [`Rejection`] has exactly one row; [`REJECTION_KINDS`] lists them all, in the order the checks
/// run, for documentation generated from the code (the OpenAPI document's answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RejectionKind {
    /// The stable, machine-readable code (the `code` member of a refusal's body).
    pub code: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// When it is answered, in a sentence.
    pub when: &'static str,
}

const fn kind(code: &'static str, status: u16, when: &'static str) -> RejectionKind {
    RejectionKind { code, status, when }
}

/// Every answer a receiver gives instead of calling the handler, in the order the checks run.
pub const REJECTION_KINDS: [RejectionKind; 12] = [
    kind(
        "unsupported_media_type",
        415,
        "`Content-Type` is present and is not JSON",
    ),
    kind(
        "payload_too_large",
        413,
        "the body (or its declared `Content-Length`) exceeds the limit",
    ),
    kind(
        "missing_signature",
        401,
        "there is no `x-surfe-signature` header",
    ),
    kind(
        "malformed_signature",
        401,
        "the signature header is not `t=<digits>,v0=<64 hex>`",
    ),
    kind(
        "stale_timestamp",
        401,
        "the signature's `t` is outside the tolerance",
    ),
    kind(
        "incomplete_body",
        400,
        "the body could not be read to its end",
    ),
    kind(
        "invalid_signature",
        401,
        "no `v0` matches the body under any configured secret",
    ),
    kind("malformed_json", 400, "the body is not one JSON document"),
    kind(
        "invalid_payload",
        422,
        "the JSON is not a webhook event, or a known event's `data` does not fit",
    ),
    kind(
        "storage_unavailable",
        503,
        "a genuine delivery could not be stored; retry after `Retry-After` seconds",
    ),
    kind(
        "receiver_not_configured",
        500,
        "the receiver found no configuration (a setup mistake)",
    ),
    kind(
        "ignored",
        200,
        "a genuine event of a type this endpoint does not take: acknowledged, not refused",
    ),
];

impl Rejection {
    /// This rejection's row of [`REJECTION_KINDS`].
    pub fn kind(&self) -> &'static RejectionKind {
        let index = match self {
            Self::UnsupportedMediaType => 0,
            Self::PayloadTooLarge { .. } => 1,
            Self::MissingSignature => 2,
            Self::MalformedSignature(_) => 3,
            Self::StaleTimestamp { .. } => 4,
            Self::IncompleteBody => 5,
            Self::InvalidSignature => 6,
            Self::MalformedJson { .. } => 7,
            Self::InvalidPayload { .. } => 8,
            Self::StorageUnavailable { .. } => 9,
            Self::NotConfigured { .. } => 10,
            Self::Ignored { .. } => 11,
        };
        &REJECTION_KINDS[index]
    }

    /// The HTTP status code to answer with.
    pub fn status(&self) -> u16 {
        self.kind().status
    }

    /// The stable, machine-readable code (the `code` member of the body).
    pub fn code(&self) -> &'static str {
        self.kind().code
    }

    /// Whether this is a refusal (a 4xx or 5xx answer), as opposed to an ignored event.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Self::Ignored { .. })
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

    /// The `title` member of a refusal's problem body: the status phrase (RFC 9110), as RFC 9457
    /// asks of `about:blank` problems.
    pub fn title(&self) -> &'static str {
        match self.status() {
            200 => "OK",
            400 => "Bad Request",
            401 => "Unauthorized",
            413 => "Content Too Large",
            415 => "Unsupported Media Type",
            422 => "Unprocessable Content",
            503 => "Service Unavailable",
            _ => "Internal Server Error",
        }
    }

    /// The problem details object (RFC 9457) of a refusal; `None` for an ignored event, whose
    /// body is an acknowledgement, not a problem.
    pub fn problem(&self) -> Option<ProblemDetails> {
        if !self.is_refusal() {
            return None;
        }
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
        Some(problem)
    }

    /// The `Content-Type` of the answer: [`PROBLEM_CONTENT_TYPE`] for a refusal,
    /// `application/json` for an ignored event.
    pub fn content_type(&self) -> &'static str {
        if self.is_refusal() {
            PROBLEM_CONTENT_TYPE
        } else {
            "application/json"
        }
    }

    /// The `Retry-After` header value to send with the answer, in seconds, if any.
    pub fn retry_after_secs(&self) -> Option<u32> {
        match self {
            Self::StorageUnavailable { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The response body, compact JSON of media type [`Rejection::content_type`]: the problem
    /// details of a refusal, or `{"status":"ignored","eventType":…}` for an ignored event.
    pub fn body(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Acknowledgement<'a> {
            status: &'static str,
            #[serde(rename = "eventType")]
            event_type: &'a str,
        }
        let body = match (self, self.problem()) {
            (Self::Ignored { event_type }, _) => serde_json::to_vec(&Acknowledgement {
                status: "ignored",
                event_type,
            }),
            (_, problem) => serde_json::to_vec(&problem),
        };
        body.expect("strings and numbers always serialize")
    }
}

impl fmt::Display for Rejection {
    /// The `detail` member: what is wrong with this request, never echoing its content.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedMediaType => f.write_str(
                "Content-Type must be application/json (parameters allowed) or application/*+json",
            ),
            Self::PayloadTooLarge { limit } => {
                write!(f, "the body exceeds the limit of {limit} bytes")
            }
            Self::IncompleteBody => f.write_str("the body could not be read to its end"),
            Self::MissingSignature => f.write_str("the x-surfe-signature header is missing"),
            Self::MalformedSignature(problem) => SignatureError::Malformed(*problem).fmt(f),
            Self::StaleTimestamp {
                age_ms,
                tolerance_ms,
            } => SignatureError::Stale {
                age_ms: *age_ms,
                tolerance_ms: *tolerance_ms,
            }
            .fmt(f),
            Self::InvalidSignature => SignatureError::Mismatch.fmt(f),
            Self::MalformedJson { detail, .. } | Self::InvalidPayload { detail, .. } => {
                f.write_str(detail)
            }
            Self::StorageUnavailable { retry_after_secs } => write!(
                f,
                "the delivery could not be stored; retry in {retry_after_secs} s"
            ),
            Self::NotConfigured { hint } => {
                write!(f, "the webhook receiver is not configured: {hint}")
            }
            Self::Ignored { .. } => f.write_str(
                "the event type is not taken by this endpoint; acknowledged with 200 and ignored",
            ),
        }
    }
}

impl std::error::Error for Rejection {}

impl From<SignatureError> for Rejection {
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

/// An RFC 9457 problem details object, as every rejection body carries it.
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
