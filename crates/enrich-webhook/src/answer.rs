//! The answers an adapter sends that are not the handler's own, in framework-free terms. Adapters
//! render these bytes as they are.

use crate::rejection::Rejection;

/// Every status the pipeline answers with on its own: the status of every [`Rejection`] (200 for
/// an ignored event). Adapters that must register a handler per status
/// (Rocket's catchers) use this list.
pub const ANSWER_STATUSES: [u16; 8] = [200, 400, 401, 413, 415, 422, 500, 503];

/// A complete HTTP answer in framework-free terms: status, `Content-Type` and body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
            content_type: rejection.content_type(),
            retry_after_secs: rejection.retry_after_secs(),
            body: rejection.body(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ignored_event_is_acknowledged_with_200() {
        let answer = Answer::from(&Rejection::Ignored {
            event_type: "company.enrichment.completed".into(),
        });
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
            Rejection::Ignored {
                event_type: String::new(),
            },
        ];
        // Every variant has its own row of the table, and every row belongs to a variant.
        let mut rows: Vec<&str> = rejections.iter().map(Rejection::code).collect();
        rows.sort_unstable();
        let mut table: Vec<&str> = crate::REJECTION_KINDS
            .iter()
            .map(|kind| kind.code)
            .collect();
        table.sort_unstable();
        assert_eq!(rows, table);
        let mut statuses: Vec<u16> = rejections.iter().map(Rejection::status).collect();
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
