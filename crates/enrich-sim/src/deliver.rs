//! Delivering signed webhooks with the configured retry schedule, and logging every attempt.

use std::time::Duration;

use enrich_webhook::signature::{SIGNATURE_HEADER, SignatureTimestamp, sign};

use crate::config::SimConfig;
use crate::log::{Attempt, AttemptLog, DeliveryCopy, Outcome};

/// What one delivery is about, for the log.
#[derive(Clone)]
pub(crate) struct Subject {
    pub(crate) enrichment_id: String,
    pub(crate) event_type: String,
    pub(crate) external_id: Option<String>,
    pub(crate) item: Option<usize>,
    pub(crate) copy: DeliveryCopy,
}

impl Subject {
    pub(crate) fn attempt(&self, attempt: u32, outcome: Outcome) -> Attempt {
        Attempt {
            enrichment_id: self.enrichment_id.clone(),
            event_type: self.event_type.clone(),
            external_id: self.external_id.clone(),
            item: self.item,
            copy: self.copy,
            attempt,
            outcome,
        }
    }
}

/// Sends `body` to `url`, signed afresh (milliseconds) for each attempt, until an attempt is
/// answered `200` or the schedule is used up. Returns whether it was delivered.
pub(crate) async fn deliver(
    http: &reqwest::Client,
    config: &SimConfig,
    log: &AttemptLog,
    url: &str,
    body: &[u8],
    subject: &Subject,
) -> bool {
    let waits = std::iter::once(Duration::ZERO).chain(config.retry_schedule.iter().copied());
    for (attempt, wait) in (1..).zip(waits) {
        tokio::time::sleep(wait).await;
        let outcome = attempt_once(http, config, url, body).await;
        let delivered = outcome.is_delivered();
        log.record(subject.attempt(attempt, outcome));
        if delivered {
            return true;
        }
    }
    false
}

async fn attempt_once(
    http: &reqwest::Client,
    config: &SimConfig,
    url: &str,
    body: &[u8],
) -> Outcome {
    let signature = sign(&config.webhook_secret, SignatureTimestamp::now(), body);
    let sent = http
        .post(url)
        .timeout(config.delivery_timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .body(body.to_vec())
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => return failure(&error),
    };
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(answer) => Outcome::Answered {
            status,
            code: problem_code(&answer),
        },
        Err(error) => failure(&error),
    }
}

fn failure(error: &reqwest::Error) -> Outcome {
    if error.is_timeout() {
        return Outcome::TimedOut;
    }
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        reason = inner.to_string();
        source = inner.source();
    }
    Outcome::ConnectionFailed(reason)
}

/// The `code` member of a JSON answer (a problem+json rejection), if it has a string one.
fn problem_code(answer: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(answer).ok()?;
    value.get("code")?.as_str().map(str::to_owned)
}
