//! Every way a delivery can be refused, with its status and its RFC 9457 problem body.
//!
//! Adapters render exactly [`Rejection::status`], [`PROBLEM_CONTENT_TYPE`] and
//! [`Rejection::body`]; nothing about a rejection is decided anywhere else.

use std::fmt;

use serde::Serialize;

/// The media type of every rejection body (RFC 9457).
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Where each problem `type` URI points: this base followed by the rejection's code.
pub const PROBLEM_TYPE_BASE: &str = "https://enrich-webhooks.dev/problems/";

/// Why a signature header is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureProblem {
    /// The header has bytes outside ASCII.
    NotAscii,
    /// An element has no `=`.
    ElementWithoutEquals,
    /// There is no `t` element.
    MissingTimestamp,
    /// There are several `t` elements.
    RepeatedTimestamp,
    /// `t` is not a run of decimal digits.
    TimestampNotDigits,
    /// `t` does not fit in 64 bits.
    TimestampOutOfRange,
    /// There is no `v0` element.
    MissingV0,
    /// A `v0` is not 64 hexadecimal digits.
    V0NotHex,
}

impl fmt::Display for SignatureProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAscii => "the header has non-ASCII bytes",
            Self::ElementWithoutEquals => "an element has no `=`",
            Self::MissingTimestamp => "there is no `t=` element",
            Self::RepeatedTimestamp => "there is more than one `t=` element",
            Self::TimestampNotDigits => "`t` is not a decimal number of milliseconds",
            Self::TimestampOutOfRange => "`t` is too large",
            Self::MissingV0 => "there is no `v0=` element",
            Self::V0NotHex => "a `v0` is not 64 hexadecimal digits",
        })
    }
}

/// A refused delivery. Each variant has one HTTP status and one stable `code`.
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
/// | `receiver_not_configured` | 500 | the framework adapter found no configuration |
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
    /// The body is not a single JSON document (empty, not UTF-8, truncated, trailing bytes, or
    /// nested too deeply).
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
    /// The adapter found no receiver configuration (a setup mistake, not the sender's fault).
    NotConfigured {
        /// What the application must do, in the framework's terms.
        hint: &'static str,
    },
}

impl Rejection {
    /// The HTTP status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Self::UnsupportedMediaType => 415,
            Self::PayloadTooLarge { .. } => 413,
            Self::IncompleteBody | Self::MalformedJson { .. } => 400,
            Self::MissingSignature
            | Self::MalformedSignature(_)
            | Self::StaleTimestamp { .. }
            | Self::InvalidSignature => 401,
            Self::InvalidPayload { .. } => 422,
            Self::NotConfigured { .. } => 500,
        }
    }

    /// The stable, machine-readable code (the `code` member of the body).
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::IncompleteBody => "incomplete_body",
            Self::MissingSignature => "missing_signature",
            Self::MalformedSignature(_) => "malformed_signature",
            Self::StaleTimestamp { .. } => "stale_timestamp",
            Self::InvalidSignature => "invalid_signature",
            Self::MalformedJson { .. } => "malformed_json",
            Self::InvalidPayload { .. } => "invalid_payload",
            Self::NotConfigured { .. } => "receiver_not_configured",
        }
    }

    /// A short, fixed summary of the problem type (the `title` member).
    pub fn title(&self) -> &'static str {
        match self {
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::PayloadTooLarge { .. } => "Payload too large",
            Self::IncompleteBody => "Incomplete body",
            Self::MissingSignature => "Missing signature",
            Self::MalformedSignature(_) => "Malformed signature",
            Self::StaleTimestamp { .. } => "Stale timestamp",
            Self::InvalidSignature => "Invalid signature",
            Self::MalformedJson { .. } => "Malformed JSON",
            Self::InvalidPayload { .. } => "Invalid payload",
            Self::NotConfigured { .. } => "Receiver not configured",
        }
    }

    /// The problem details object (RFC 9457) for this rejection.
    pub fn problem(&self) -> ProblemDetails {
        let mut problem = ProblemDetails {
            problem_type: format!("{PROBLEM_TYPE_BASE}{}", self.code()),
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

    /// The response body: the problem details as compact JSON, media type
    /// [`PROBLEM_CONTENT_TYPE`].
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&self.problem()).expect("problem details always serialize")
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
            Self::MalformedSignature(problem) => {
                write!(f, "the x-surfe-signature header is malformed: {problem}")
            }
            Self::StaleTimestamp {
                age_ms,
                tolerance_ms,
            } if *age_ms < 0 => write!(
                f,
                "the signature timestamp is {} ms in the future; at most {tolerance_ms} ms is \
                 accepted (t is in Unix milliseconds)",
                age_ms.unsigned_abs()
            ),
            Self::StaleTimestamp {
                age_ms,
                tolerance_ms,
            } => write!(
                f,
                "the signature timestamp is {age_ms} ms old; at most {tolerance_ms} ms is accepted \
                 (t is in Unix milliseconds)"
            ),
            Self::InvalidSignature => {
                f.write_str("no v0 signature matches the body under any configured secret")
            }
            Self::MalformedJson { detail, .. } | Self::InvalidPayload { detail, .. } => {
                f.write_str(detail)
            }
            Self::NotConfigured { hint } => {
                write!(f, "the webhook receiver is not configured: {hint}")
            }
        }
    }
}

impl std::error::Error for Rejection {}

/// An RFC 9457 problem details object, as every rejection body carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemDetails {
    /// A URI naming the problem type: [`PROBLEM_TYPE_BASE`] followed by `code`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the problem type.
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
