//! The answers an adapter sends that are not the handler's own: rejections and acknowledgements
//! of events a handler does not take. Adapters render these bytes as they are.

use serde::Serialize;

use crate::rejection::{PROBLEM_CONTENT_TYPE, Rejection};

/// A complete HTTP answer in framework-free terms: status, `Content-Type` and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header value.
    pub content_type: &'static str,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl From<&Rejection> for Answer {
    fn from(rejection: &Rejection) -> Self {
        Self {
            status: rejection.status(),
            content_type: PROBLEM_CONTENT_TYPE,
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
            body: serde_json::to_vec(&Body {
                status: "ignored",
                event_type: &self.event_type,
            })
            .expect("a struct of strings always serializes"),
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
    fn a_rejection_answer_is_problem_json() {
        let answer = Answer::from(&Rejection::MissingSignature);
        assert_eq!(answer.status, 401);
        assert_eq!(answer.content_type, "application/problem+json");
        assert_eq!(answer.body, Rejection::MissingSignature.body());
    }
}
