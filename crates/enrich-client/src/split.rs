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
        let parts = split(
            request,
            &request.people,
            self.people_per_request,
            |part, people| {
                part.people = people;
            },
        );
        if parts.is_empty() {
            request.validate()?;
        }
        for part in &parts {
            part.validate()?;
        }
        start_in_order(&parts, async |part| self.start_people(part).await).await
    }

    /// Starts a company enrichment of any size, split into requests of at most the client's
    /// `companies_per_request` (default 500, the API's documented recommendation). Errors as
    /// [`Client::start_people_split`].
    pub async fn start_companies_split(
        &self,
        request: &EnrichCompaniesRequest,
    ) -> Result<Vec<EnrichmentAccepted>, Error> {
        let parts = split(
            request,
            &request.companies,
            self.companies_per_request,
            |part, companies| part.companies = companies,
        );
        if parts.is_empty() {
            request.validate()?;
        }
        for part in &parts {
            part.validate()?;
        }
        start_in_order(&parts, async |part| self.start_companies(part).await).await
    }
}

/// `request` once per chunk of at most `size` of its `items`, in order, each a copy of `request`
/// holding only its chunk (put in place by `set`).
fn split<R: Clone, T: Clone>(
    request: &R,
    items: &[T],
    size: usize,
    set: impl Fn(&mut R, Vec<T>),
) -> Vec<R> {
    items
        .chunks(size)
        .map(|chunk| {
            let mut part = request.clone();
            set(&mut part, chunk.to_vec());
            part
        })
        .collect()
}

/// Starts `parts` one after the other; a failure after some started is
/// [`Error::PartiallyStarted`] (see [`partially`]).
async fn start_in_order<R>(
    parts: &[R],
    start: impl AsyncFn(&R) -> Result<EnrichmentAccepted, Error>,
) -> Result<Vec<EnrichmentAccepted>, Error> {
    let mut started = Vec::with_capacity(parts.len());
    for part in parts {
        match start(part).await {
            Ok(accepted) => started.push(accepted),
            Err(error) => return Err(partially(started, error)),
        }
    }
    Ok(started)
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
