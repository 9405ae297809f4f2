//! The answers an adapter sends that are not the handler's own: rejections and acknowledgements
//! of events a handler does not take. Adapters render these bytes as they are.

use std::fmt;

use serde::Serialize;

use crate::rejection::{PROBLEM_CONTENT_TYPE, Rejection};

/// Every status the pipeline answers with on its own: the acknowledgement of an unhandled event
/// (200) and the status of every [`Rejection`]. Adapters that must register a handler per status
/// (Rocket's catchers) use this list.
pub const ANSWER_STATUSES: [u16; 8] = [200, 400, 401, 413, 415, 422, 500, 503];

/// A complete HTTP answer in framework-free terms: status, `Content-Type` and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header value.
    pub content_type: &'static str,
    /// The `Retry-After` header value in seconds, when the answer carries one.
    pub retry_after_secs: Option<u32>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl From<&Rejection> for Answer {
    fn from(rejection: &Rejection) -> Self {
        Self {
            status: rejection.status(),
            content_type: PROBLEM_CONTENT_TYPE,
            retry_after_secs: rejection.retry_after_secs(),
            body: rejection.body(),
        }
    }
}

/// A genuine delivery of an event that the handler's extractor does not take (a company event at
/// an endpoint that takes only person events, or an event type this version does not know).
///
/// It is acknowledged with `200 OK` — never refused, because a refusal makes the sender retry a
/// delivery that will never be taken — with the body `{"status":"ignored","eventType":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnhandledEvent {
    /// The event type that was not taken.
    pub event_type: String,
}

impl UnhandledEvent {
    /// The acknowledgement to send.
    pub fn answer(&self) -> Answer {
        #[derive(Serialize)]
        struct Body<'a> {
            status: &'static str,
            #[serde(rename = "eventType")]
            event_type: &'a str,
        }
        Answer {
            status: 200,
            content_type: "application/json",
            retry_after_secs: None,
            body: serde_json::to_vec(&Body {
                status: "ignored",
                event_type: &self.event_type,
            })
            .expect("a struct of strings always serializes"),
        }
    }
}

/// Why an extractor does not hand the handler a value: the delivery was refused, or it is genuine
/// but of an event type the extractor does not take. Adapters wrap it in their own error type
/// and render [`Refusal::answer`], nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The delivery was refused (a problem+json answer with a 4xx or 500 status).
    Rejected(Rejection),
    /// A genuine delivery of an event the extractor does not take (a `200 OK` acknowledgement).
    Unhandled(UnhandledEvent),
}

impl Refusal {
    /// The answer to send.
    pub fn answer(&self) -> Answer {
        match self {
            Self::Rejected(rejection) => Answer::from(rejection),
            Self::Unhandled(unhandled) => unhandled.answer(),
        }
    }
}

impl From<Rejection> for Refusal {
    fn from(rejection: Rejection) -> Self {
        Self::Rejected(rejection)
    }
}

impl From<UnhandledEvent> for Refusal {
    fn from(unhandled: UnhandledEvent) -> Self {
        Self::Unhandled(unhandled)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(rejection) => rejection.fmt(f),
            Self::Unhandled(unhandled) => write!(
                f,
                "event type `{}` is not taken by this endpoint; acknowledged",
                unhandled.event_type
            ),
        }
    }
}

impl std::error::Error for Refusal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Rejected(rejection) => Some(rejection),
            Self::Unhandled(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unhandled_event_is_acknowledged_with_200() {
        let answer = UnhandledEvent {
            event_type: "company.enrichment.completed".into(),
        }
        .answer();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.content_type, "application/json");
        assert_eq!(
            answer.body,
            br#"{"status":"ignored","eventType":"company.enrichment.completed"}"#
        );
    }

    #[test]
    fn every_answer_status_is_listed() {
        use crate::SignatureProblem;
        let rejections = [
            Rejection::UnsupportedMediaType,
            Rejection::PayloadTooLarge { limit: 1 },
            Rejection::IncompleteBody,
            Rejection::MissingSignature,
            Rejection::MalformedSignature(SignatureProblem::MissingV0),
            Rejection::StaleTimestamp {
                age_ms: 1,
                tolerance_ms: 0,
            },
            Rejection::InvalidSignature,
            Rejection::MalformedJson {
                detail: String::new(),
                line: 1,
                column: 0,
            },
            Rejection::InvalidPayload {
                detail: String::new(),
                pointer: String::new(),
                line: None,
                column: None,
            },
            Rejection::NotConfigured { hint: "" },
            Rejection::StorageUnavailable {
                retry_after_secs: 1,
            },
        ];
        let mut statuses: Vec<u16> = rejections.iter().map(Rejection::status).collect();
        statuses.push(
            UnhandledEvent {
                event_type: String::new(),
            }
            .answer()
            .status,
        );
        statuses.sort_unstable();
        statuses.dedup();
        assert_eq!(statuses, ANSWER_STATUSES);
    }

    #[test]
    fn a_rejection_answer_is_problem_json() {
        let answer = Answer::from(&Rejection::MissingSignature);
        assert_eq!(answer.status, 401);
        assert_eq!(answer.content_type, "application/problem+json");
        assert_eq!(answer.body, Rejection::MissingSignature.body());
    }
}
