//! The client: one `reqwest` connection pool, the API key, and the calls.

use std::fmt;

use enrich_types::{
    EnrichCompaniesRequest, EnrichCompaniesResult, EnrichPeopleRequest, EnrichPeopleResult,
    EnrichmentAccepted,
};
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::metrics::{self, Endpoint, RateLimitWaits};
use crate::poll::PollConfig;
use crate::retry::{RetryConfig, is_retryable_status, parse_retry_after};

/// The real API.
pub const DEFAULT_BASE_URL: &str = "https://api.surfe.com";

/// The environment variable [`Client::from_env`] reads the API key from.
pub const API_KEY_ENV_VAR: &str = "SURFE_API_KEY";

/// What the calls of one kind of enrichment (people or companies) are named on the wire.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Resource {
    People,
    Companies,
}

impl Resource {
    fn path(self) -> &'static str {
        match self {
            Self::People => "v2/people/enrich",
            Self::Companies => "v2/companies/enrich",
        }
    }
}

/// A client of the bulk enrichment API. Cheap to clone (the connection pool is shared).
///
/// ```no_run
/// use enrich_client::Client;
/// use enrich_types::{EnrichPeopleRequest, Include, PersonToEnrich};
///
/// # async fn run() -> Result<(), enrich_client::Error> {
/// let client = Client::from_env()?; // SURFE_API_KEY
/// let mut person = PersonToEnrich::default();
/// person.linkedin_url = Some("https://www.linkedin.com/in/ada-lovelace".into());
/// person.external_id = Some("crm-42".into());
/// let mut include = Include::default();
/// include.email = true;
/// let request = EnrichPeopleRequest::new(include, vec![person])?
///     .with_webhook_url("https://hooks.example.com/surfe")?;
/// let accepted = client.start_people(&request).await?;
/// let id = accepted.enrichment_id.unwrap_or_default();
/// let done = client.wait_people(&id, |progress| {
///     println!("{:?}% done", progress.percent_completed);
/// }).await?;
/// println!("{} people", done.people.map_or(0, |people| people.len()));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: Url,
    pub(crate) api_key: SecretString,
    pub(crate) retry: RetryConfig,
    pub(crate) poll: PollConfig,
    pub(crate) people_per_request: usize,
    pub(crate) companies_per_request: usize,
    pub(crate) rate_limit_waits: RateLimitWaits,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url.as_str())
            .field("api_key", &"redacted")
            .field("retry", &self.retry)
            .field("poll", &self.poll)
            .field("people_per_request", &self.people_per_request)
            .field("companies_per_request", &self.companies_per_request)
            .finish()
    }
}

impl Client {
    /// The base URL the client calls, such as `https://api.surfe.com/`.
    pub fn base_url(&self) -> &str {
        self.base_url.as_str()
    }

    /// Starts a people enrichment: `POST /v2/people/enrich`. The request is checked against the
    /// API's rules first (at most 10,000 people: see [`Client::start_people_split`] for more).
    pub async fn start_people(
        &self,
        request: &EnrichPeopleRequest,
    ) -> Result<EnrichmentAccepted, Error> {
        request.validate()?;
        self.send(
            Endpoint::PeopleStart,
            Method::POST,
            self.url(Resource::People, None)?,
            Some(request),
        )
        .await
    }

    /// Starts a company enrichment: `POST /v2/companies/enrich`.
    pub async fn start_companies(
        &self,
        request: &EnrichCompaniesRequest,
    ) -> Result<EnrichmentAccepted, Error> {
        request.validate()?;
        self.send(
            Endpoint::CompaniesStart,
            Method::POST,
            self.url(Resource::Companies, None)?,
            Some(request),
        )
        .await
    }

    /// The people enrichment so far: `GET /v2/people/enrich/{id}`.
    pub async fn get_people(&self, enrichment_id: &str) -> Result<EnrichPeopleResult, Error> {
        self.send(
            Endpoint::PeopleGet,
            Method::GET,
            self.url(Resource::People, Some(enrichment_id))?,
            None::<&()>,
        )
        .await
    }

    /// The company enrichment so far: `GET /v2/companies/enrich/{id}`.
    pub async fn get_companies(&self, enrichment_id: &str) -> Result<EnrichCompaniesResult, Error> {
        self.send(
            Endpoint::CompaniesGet,
            Method::GET,
            self.url(Resource::Companies, Some(enrichment_id))?,
            None::<&()>,
        )
        .await
    }

    /// `{base}/v2/{kind}/enrich[/{id}]`, the id as one path segment (escaped).
    fn url(&self, resource: Resource, id: Option<&str>) -> Result<Url, Error> {
        let mut url = self.base_url.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| Error::Config("the base URL cannot have a path".into()))?;
            segments.pop_if_empty();
            segments.extend(resource.path().split('/'));
            if let Some(id) = id {
                if id.is_empty() {
                    return Err(Error::Config("the enrichment id is empty".into()));
                }
                segments.push(id);
            }
        }
        Ok(url)
    }

    /// Sends one call, retrying what is worth retrying, and decodes the success answer.
    ///
    /// `429` and `5xx` answers and failed connections are retried for every call; a timeout is
    /// retried only for `GET`, because a `POST` that timed out may have started an enrichment
    /// that a retry would start a second time.
    async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<T, Error> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|error| Error::Config(format!("cannot encode the request: {error}")))?;
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {}", self.api_key.expose_secret())).map_err(
                |_| Error::Config("the API key has characters a header cannot carry".into()),
            )?;
        authorization.set_sensitive(true);
        let mut retry = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, authorization.clone());
            if let Some(body) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let outcome = match request.send().await {
                Ok(response) => {
                    metrics::requested(endpoint, Some(response.status().as_u16()));
                    Self::read(response).await
                }
                Err(error) => {
                    metrics::requested(endpoint, None);
                    Err(Error::transport(&error))
                }
            };
            let (retryable, retry_after) = match &outcome {
                Ok(_) => return outcome,
                Err(Error::Api {
                    status,
                    retry_after,
                    ..
                }) => (is_retryable_status(*status), *retry_after),
                Err(Error::Transport { kind, .. }) => (
                    *kind == crate::TransportKind::Connect
                        || (method == Method::GET && *kind == crate::TransportKind::Timeout),
                    None,
                ),
                Err(_) => (false, None),
            };
            if !retryable || retry + 1 >= self.retry.get_max_attempts() {
                return outcome;
            }
            let delay = self.retry.delay(retry, retry_after);
            let rate_limited = matches!(&outcome, Err(Error::Api { status: 429, .. }));
            metrics::retrying(&self.rate_limit_waits, endpoint, rate_limited, delay);
            tracing::debug!(
                method = %method,
                path = url.path(),
                retry = retry + 1,
                delay_ms = delay.as_millis() as u64,
                "retrying an API call"
            );
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    /// Decodes a success answer into `T`, or an error answer into [`Error::Api`].
    async fn read<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, Error> {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = response
            .bytes()
            .await
            .map_err(|error| Error::transport(&error))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|error| Error::Decode {
                status: status.as_u16(),
                message: error.to_string(),
            });
        }
        Err(Error::Api {
            status: status.as_u16(),
            body: serde_json::from_slice(&bytes).unwrap_or_default(),
            retry_after,
        })
    }
}
