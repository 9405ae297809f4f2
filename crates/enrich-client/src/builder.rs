//! Building a [`Client`]: key, base URL, timeouts, retries, polling and split sizes.

use std::time::Duration;

use enrich_types::{MAX_PEOPLE_PER_REQUEST, RECOMMENDED_COMPANIES_PER_REQUEST};
use reqwest::Url;
use secrecy::SecretString;

use crate::client::{API_KEY_ENV_VAR, Client, DEFAULT_BASE_URL};
use crate::error::Error;
use crate::poll::PollConfig;
use crate::retry::RetryConfig;

/// The constructors live beside the builder they use, so `client.rs` does not import this module.
impl Client {
    /// A client of the real API with `api_key` and the default settings.
    pub fn new(api_key: impl Into<String>) -> Result<Self, Error> {
        Self::builder().api_key(api_key).build()
    }

    /// A client of the real API with the key in `SURFE_API_KEY`.
    pub fn from_env() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// A builder, to set the base URL, timeouts, retries and polling.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }
}

/// Builds a [`Client`]. Every setting has a default; only the API key is required (from
/// [`ClientBuilder::api_key`] or `SURFE_API_KEY`).
///
/// ```
/// use std::time::Duration;
/// use enrich_client::{Client, RetryConfig};
///
/// let client = Client::builder()
///     .api_key("sk_test")
///     .base_url("http://127.0.0.1:8080") // a local fake of the API
///     .timeout(Duration::from_secs(10))
///     .retry(RetryConfig::default().max_attempts(3))
///     .build()?;
/// assert_eq!(client.base_url(), "http://127.0.0.1:8080/");
/// assert!(!format!("{client:?}").contains("sk_test"));
/// # Ok::<(), enrich_client::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    api_key: Option<SecretString>,
    base_url: String,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryConfig,
    poll: PollConfig,
    people_per_request: usize,
    companies_per_request: usize,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            api_key: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            retry: RetryConfig::default(),
            poll: PollConfig::default(),
            people_per_request: MAX_PEOPLE_PER_REQUEST,
            companies_per_request: RECOMMENDED_COMPANIES_PER_REQUEST,
        }
    }
}

impl ClientBuilder {
    /// Uses `key` (otherwise `SURFE_API_KEY` is read when building).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }

    /// Calls `url` instead of the real API (`https://api.surfe.com`), such as a local fake.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Sets how long one attempt may take, from sending to the end of the answer (default 60 s;
    /// a finished batch of 10,000 people is several megabytes).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how long making a connection may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how `429`, `5xx` and failed connections are retried (default [`RetryConfig::default`]).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Sets how [`Client::wait_people`] and [`Client::wait_companies`] poll.
    pub fn poll(mut self, poll: PollConfig) -> Self {
        self.poll = poll;
        self
    }

    /// Sets how many people [`Client::start_people_split`] puts in one request (default and
    /// maximum: 10,000, the API's limit).
    pub fn people_per_request(mut self, count: usize) -> Self {
        self.people_per_request = count;
        self
    }

    /// Sets how many companies [`Client::start_companies_split`] puts in one request (default:
    /// 500, the API's documented recommendation).
    pub fn companies_per_request(mut self, count: usize) -> Self {
        self.companies_per_request = count;
        self
    }

    /// The client. Fails without an API key, with a base URL that is not `http(s)`, or with a
    /// split size of 0 (or above 10,000 people).
    pub fn build(self) -> Result<Client, Error> {
        let api_key = match self.api_key {
            Some(key) => key,
            None => match std::env::var(API_KEY_ENV_VAR) {
                Ok(key) if !key.trim().is_empty() => SecretString::from(key.trim().to_owned()),
                _ => {
                    return Err(Error::Config(format!(
                        "no API key: set {API_KEY_ENV_VAR} or pass one to the client"
                    )));
                }
            },
        };
        let base_url = Url::parse(&self.base_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
            .ok_or_else(|| {
                Error::Config(format!(
                    "the API base URL {:?} is not an http(s) URL",
                    self.base_url
                ))
            })?;
        if !(1..=MAX_PEOPLE_PER_REQUEST).contains(&self.people_per_request) {
            return Err(Error::Config(format!(
                "people per request must be 1 to {MAX_PEOPLE_PER_REQUEST}"
            )));
        }
        if self.companies_per_request == 0 {
            return Err(Error::Config(
                "companies per request must be at least 1".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("enrich-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| Error::Config(format!("cannot build the HTTP client: {error}")))?;
        Ok(Client {
            http,
            base_url,
            api_key,
            retry: self.retry,
            poll: self.poll,
            people_per_request: self.people_per_request,
            companies_per_request: self.companies_per_request,
            rate_limit_waits: Default::default(),
        })
    }
}
