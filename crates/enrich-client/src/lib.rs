//! A typed async client of the Surfe API v2 bulk enrichment endpoints, on `reqwest` with rustls.
//!
//! - Start an enrichment ([`Client::start_people`], [`Client::start_companies`]), with a
//!   webhook URL that receives one signed delivery per person or company;
//! - read it ([`Client::get_people`]) or wait for it to finish, polling with backoff
//!   ([`Client::wait_people`]);
//! - start more people than one call accepts, split as the API documents
//!   ([`Client::start_people_split`]: 10,000 people per call; companies: 500 per call, the
//!   documented recommendation);
//! - fetch every person of a finished enrichment ([`Client::all_people`]), which is what
//!   reconciling missed deliveries needs.
//!
//! Requests are the `enrich_types` request types, checked with their own validation before they
//! are sent. Errors are one typed [`Error`]: the API's error body decoded with the status kept.
//! `429` and `5xx` are retried after the answer's `Retry-After` or a jittered, bounded backoff
//! ([`RetryConfig`]); every attempt has a timeout. The API key never appears in `Debug` or logs
//! (and the `Authorization` header is marked sensitive).
//!
//! The base URL is configurable, so the same client drives a local fake of the API (the
//! `enrich-sim` crate, `enrich sim` on the command line). The API wants `https` webhook URLs;
//! `http` is accepted only for loopback hosts, where only such a fake can deliver.
//!
//! ```no_run
//! use enrich_client::Client;
//! use enrich_types::{EnrichPeopleRequest, Include, PersonToEnrich};
//!
//! # async fn run() -> Result<(), enrich_client::Error> {
//! let client = Client::builder()
//!     .api_key("sk_live_…")
//!     .build()?;
//! let mut person = PersonToEnrich::default();
//! person.first_name = Some("Ada".into());
//! person.last_name = Some("Lovelace".into());
//! person.company_domain = Some("example.com".into());
//! person.external_id = Some("crm-42".into());
//! let people = vec![person];
//! let mut include = Include::default();
//! include.email = true;
//! include.mobile = true;
//! let request = EnrichPeopleRequest::new(include, people)?
//!     .with_webhook_url("https://hooks.example.com/surfe")?;
//! let accepted = client.start_people(&request).await?;
//! println!("started {:?}", accepted.enrichment_id);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod builder;
mod client;
mod error;
mod metrics;
mod poll;
mod retry;
mod split;
mod wait;

pub use builder::ClientBuilder;
pub use client::{API_KEY_ENV_VAR, Client, DEFAULT_BASE_URL};
pub use error::{Error, TransportKind};
pub use poll::PollConfig;
pub use retry::RetryConfig;

/// The README's code blocks, compiled (and the runnable one run) as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
