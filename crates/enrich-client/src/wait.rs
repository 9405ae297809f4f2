//! Waiting for an enrichment to finish by polling its `GET` endpoint.
use enrich_types::{
    EnrichCompaniesResult, EnrichPeopleResult, EnrichedPersonResponse, EnrichmentStatus,
};
use tokio::time::Instant;

use crate::client::Client;
use crate::error::Error;

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
}
