//! Waiting for an enrichment to finish by polling its `GET` endpoint.

use std::time::Duration;

use enrich_types::{
    EnrichCompaniesResult, EnrichPeopleResult, EnrichedPersonResponse, EnrichmentStatus,
};
use tokio::time::Instant;

use crate::client::Client;
use crate::error::Error;

/// How [`Client::wait_people`] polls: the first wait, its growth, its cap, and an optional
/// overall deadline.
///
/// ```
/// use std::time::Duration;
/// use enrich_client::PollConfig;
///
/// let quick = PollConfig::default()
///     .first_interval(Duration::from_millis(200))
///     .max_interval(Duration::from_secs(2))
///     .give_up_after(Some(Duration::from_secs(600)));
/// # let _ = quick;
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollConfig {
    first_interval: Duration,
    factor: f64,
    max_interval: Duration,
    give_up_after: Option<Duration>,
}

impl Default for PollConfig {
    /// From 1 s, growing by half each poll, at most 15 s apart, never giving up.
    fn default() -> Self {
        Self {
            first_interval: Duration::from_secs(1),
            factor: 1.5,
            max_interval: Duration::from_secs(15),
            give_up_after: None,
        }
    }
}

impl PollConfig {
    /// Sets the wait after the first poll.
    pub fn first_interval(mut self, interval: Duration) -> Self {
        self.first_interval = interval;
        self
    }

    /// Sets by how much each wait grows (at least 1: never shrinks).
    pub fn growth(mut self, factor: f64) -> Self {
        self.factor = factor.max(1.0);
        self
    }

    /// Sets the longest wait between two polls.
    pub fn max_interval(mut self, interval: Duration) -> Self {
        self.max_interval = interval;
        self
    }

    /// Sets when to give up with [`Error::WaitTimedOut`] (`None`: wait as long as it takes).
    pub fn give_up_after(mut self, deadline: Option<Duration>) -> Self {
        self.give_up_after = deadline;
        self
    }

    fn next(&self, interval: Duration) -> Duration {
        interval.mul_f64(self.factor).min(self.max_interval)
    }
}

/// Whether a batch status means the batch will not change any more. Anything but
/// `IN_PROGRESS` is final (an unknown status included, so a new value cannot make a wait hang);
/// no status at all is not.
fn is_final(status: Option<&EnrichmentStatus>) -> bool {
    status.is_some_and(|status| *status != EnrichmentStatus::InProgress)
}

impl Client {
    /// Polls `GET /v2/people/enrich/{id}` until the batch is no longer in progress, calling
    /// `progress` with each answer, and returns the last one.
    pub async fn wait_people(
        &self,
        enrichment_id: &str,
        progress: impl FnMut(&EnrichPeopleResult),
    ) -> Result<EnrichPeopleResult, Error> {
        self.wait(
            enrichment_id,
            progress,
            |id| self.get_people(id),
            |result: &EnrichPeopleResult| (result.status.clone(), result.percent_completed),
        )
        .await
    }

    /// Polls `GET /v2/companies/enrich/{id}` until the batch is no longer in progress, calling
    /// `progress` with each answer, and returns the last one.
    pub async fn wait_companies(
        &self,
        enrichment_id: &str,
        progress: impl FnMut(&EnrichCompaniesResult),
    ) -> Result<EnrichCompaniesResult, Error> {
        self.wait(
            enrichment_id,
            progress,
            |id| self.get_companies(id),
            |result: &EnrichCompaniesResult| (result.status.clone(), result.percent_completed),
        )
        .await
    }

    /// Every person of a finished people enrichment: waits for it to finish, then returns its
    /// `people`. What reconciliation compares with the deliveries that arrived.
    pub async fn all_people(
        &self,
        enrichment_id: &str,
    ) -> Result<Vec<EnrichedPersonResponse>, Error> {
        let result = self.wait_people(enrichment_id, |_| {}).await?;
        Ok(result.people.unwrap_or_default())
    }

    async fn wait<'a, T, F, Fut>(
        &'a self,
        enrichment_id: &'a str,
        mut progress: impl FnMut(&T),
        get: F,
        state: impl Fn(&T) -> (Option<EnrichmentStatus>, Option<f64>),
    ) -> Result<T, Error>
    where
        F: Fn(&'a str) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let started = Instant::now();
        let mut interval = self.poll.first_interval;
        loop {
            let result = get(enrichment_id).await?;
            progress(&result);
            let (status, percent) = state(&result);
            if is_final(status.as_ref()) {
                return Ok(result);
            }
            if let Some(limit) = self.poll.give_up_after
                && started.elapsed() + interval > limit
            {
                return Err(Error::WaitTimedOut {
                    enrichment_id: enrichment_id.to_owned(),
                    percent_completed: percent,
                });
            }
            tokio::time::sleep(interval).await;
            interval = self.poll.next(interval);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_in_progress_and_absent_statuses_keep_waiting() {
        assert!(!is_final(None));
        assert!(!is_final(Some(&EnrichmentStatus::InProgress)));
        assert!(is_final(Some(&EnrichmentStatus::Completed)));
        assert!(is_final(Some(&EnrichmentStatus::Cancelled)));
        assert!(is_final(Some(&EnrichmentStatus::from("FAILED"))));
    }

    #[test]
    fn intervals_grow_to_the_cap() {
        let policy = PollConfig::default()
            .first_interval(Duration::from_secs(1))
            .growth(2.0)
            .max_interval(Duration::from_secs(5));
        let mut interval = Duration::from_secs(1);
        let mut seen = Vec::new();
        for _ in 0..5 {
            interval = policy.next(interval);
            seen.push(interval.as_secs());
        }
        assert_eq!(seen, [2, 4, 5, 5, 5]);
    }
}
