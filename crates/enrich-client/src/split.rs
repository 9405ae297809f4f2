//! Starting requests larger than one call accepts, as several enrichments.

use enrich_types::{EnrichCompaniesRequest, EnrichPeopleRequest, EnrichmentAccepted};

use crate::client::Client;
use crate::error::Error;

impl Client {
    /// Starts a people enrichment of any size: the people are split, in order, into requests of
    /// at most the client's `people_per_request` (default 10,000, the API's maximum), each
    /// started as its own enrichment with the same `include`, webhook and options. Returns one
    /// [`EnrichmentAccepted`] per part, in order.
    ///
    /// Every part is checked against the API's rules before the first is sent. If a part fails
    /// after others were started, the error is [`Error::PartiallyStarted`], which lists the
    /// started parts (they run; starting them again would enrich those people twice).
    pub async fn start_people_split(
        &self,
        request: &EnrichPeopleRequest,
    ) -> Result<Vec<EnrichmentAccepted>, Error> {
        let parts: Vec<EnrichPeopleRequest> = request
            .people
            .chunks(self.people_per_request)
            .map(|people| {
                let mut part = request.clone();
                part.people = people.to_vec();
                part
            })
            .collect();
        if parts.is_empty() {
            request.validate()?;
        }
        for part in &parts {
            part.validate()?;
        }
        let mut started = Vec::with_capacity(parts.len());
        for part in &parts {
            match self.start_people(part).await {
                Ok(accepted) => started.push(accepted),
                Err(error) => return Err(partially(started, error)),
            }
        }
        Ok(started)
    }

    /// Starts a company enrichment of any size, split into requests of at most the client's
    /// `companies_per_request` (default 500, the API's documented recommendation). Errors as
    /// [`Client::start_people_split`].
    pub async fn start_companies_split(
        &self,
        request: &EnrichCompaniesRequest,
    ) -> Result<Vec<EnrichmentAccepted>, Error> {
        let parts: Vec<EnrichCompaniesRequest> = request
            .companies
            .chunks(self.companies_per_request)
            .map(|companies| {
                let mut part = request.clone();
                part.companies = companies.to_vec();
                part
            })
            .collect();
        if parts.is_empty() {
            request.validate()?;
        }
        for part in &parts {
            part.validate()?;
        }
        let mut started = Vec::with_capacity(parts.len());
        for part in &parts {
            match self.start_companies(part).await {
                Ok(accepted) => started.push(accepted),
                Err(error) => return Err(partially(started, error)),
            }
        }
        Ok(started)
    }
}

/// `error` as is when nothing was started yet, else wrapped with what was.
fn partially(started: Vec<EnrichmentAccepted>, error: Error) -> Error {
    if started.is_empty() {
        error
    } else {
        Error::PartiallyStarted {
            started,
            error: Box::new(error),
        }
    }
}
