//! The answers an adapter sends that are not the handler's own, in framework-free terms. Adapters
//! render these bytes as they are.

use crate::refusal::{Acknowledgement, Refusal};

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

impl From<&Refusal> for Answer {
    fn from(refusal: &Refusal) -> Self {
        Self {
            status: refusal.status(),
            content_type: refusal.content_type(),
            retry_after_secs: refusal.retry_after_secs(),
            body: refusal.body(),
        }
    }
}

impl From<&Acknowledgement> for Answer {
    fn from(acknowledgement: &Acknowledgement) -> Self {
        Self {
            status: Acknowledgement::STATUS,
            content_type: Acknowledgement::CONTENT_TYPE,
            retry_after_secs: None,
            body: acknowledgement.body(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refusal::{REFUSAL_KINDS, REFUSAL_STATUSES, RefusalKind};

    #[test]
    fn an_ignored_event_is_acknowledged_with_200() {
        let answer = Answer::from(&Acknowledgement::of_event_type(
            "company.enrichment.completed",
        ));
        assert_eq!(answer.status, 200);
        assert_eq!(answer.content_type, "application/json");
        assert_eq!(
            answer.body,
            br#"{"status":"ignored","eventType":"company.enrichment.completed"}"#
        );
    }

    #[test]
    fn the_status_list_is_every_refusal_status_once() {
        let mut statuses: Vec<u16> = REFUSAL_KINDS.iter().map(|kind| kind.status).collect();
        statuses.sort_unstable();
        statuses.dedup();
        assert_eq!(statuses, REFUSAL_STATUSES);
        assert_eq!(REFUSAL_STATUSES, [400, 401, 413, 415, 422, 500, 503]);
        let mut codes: Vec<&str> = REFUSAL_KINDS.iter().map(|kind| kind.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), REFUSAL_KINDS.len(), "every code is its own");
    }

    #[test]
    fn each_refusal_is_its_own_row_of_the_table() {
        use crate::SignatureProblem;
        let refusals = [
            Refusal::UnsupportedMediaType,
            Refusal::PayloadTooLarge { limit: 1 },
            Refusal::MissingSignature,
            Refusal::MalformedSignature(SignatureProblem::MissingV0),
            Refusal::StaleTimestamp {
                age_ms: 1,
                tolerance_ms: 0,
            },
            Refusal::IncompleteBody,
            Refusal::InvalidSignature,
            Refusal::MalformedJson {
                detail: String::new(),
                line: 1,
                column: 0,
            },
            Refusal::InvalidPayload {
                detail: String::new(),
                pointer: String::new(),
                line: None,
                column: None,
            },
            Refusal::StorageUnavailable {
                retry_after_secs: 7,
            },
            Refusal::QuarantineFull {
                retry_after_secs: 9,
            },
            Refusal::NotConfigured { hint: "" },
        ];
        let rows: Vec<&RefusalKind> = refusals.iter().map(Refusal::kind).collect();
        assert_eq!(rows, REFUSAL_KINDS.iter().collect::<Vec<_>>());
        let retry: Vec<Option<u32>> = refusals.iter().map(Refusal::retry_after_secs).collect();
        assert_eq!(retry.iter().flatten().collect::<Vec<_>>(), [&7, &9]);
        assert_eq!(
            Answer::from(&refusals[9]).retry_after_secs,
            Some(7),
            "storage_unavailable carries Retry-After"
        );
        assert_eq!(
            Answer::from(&refusals[10]).retry_after_secs,
            Some(9),
            "quarantine_full carries Retry-After"
        );
    }

    #[test]
    fn a_refusal_answer_is_problem_json() {
        let answer = Answer::from(&Refusal::MissingSignature);
        assert_eq!(answer.status, 401);
        assert_eq!(answer.content_type, "application/problem+json");
        assert_eq!(answer.body, Refusal::MissingSignature.body());
    }
}
