//! A local fake of the Surfe API v2 bulk enrichment endpoints, for development and tests.
//!
//! It behaves like the API for everything this workspace touches:
//!
//! - `POST /v2/people/enrich` and `POST /v2/companies/enrich` check the API key
//!   (`Authorization: Bearer …`) and the request, with the same `enrich-types` validation the
//!   client uses, and answer `202` with an enrichment id;
//! - each item is then enriched, one every [`SimConfig::item_delay`], into a deterministic,
//!   realistic result (seeded) carrying the wire quirks of real traffic (`emails: null`,
//!   `" CATCH_ALL"`, phone numbers with spaces, `2019-01` dates, `linkedInUrl` without `www`,
//!   job URNs, a `NOT_FOUND` status now and then);
//! - `GET /v2/…/enrich/{id}` answers the progress and the results so far;
//! - each result is delivered to the request's `webhookUrl` as one `person.enrichment.completed`
//!   (or `company.enrichment.completed`) event, signed like the API signs
//!   (`x-surfe-signature: t=<ms>,v0=<hex>`), retried on any answer but `200`, on timeouts and
//!   on refused connections, after the waits of [`SimConfig::retry_schedule`]; a seeded share
//!   of deliveries is duplicated or dropped ([`SimConfig::duplicate_rate`],
//!   [`SimConfig::drop_rate`]);
//! - when every delivery of a batch is finished, it sends the batch completion event;
//! - every attempt and its answer is logged ([`Sim::attempts`], [`Sim::subscribe`]).
//!
//! What the fake had to guess, because the API does not publish it: the retry schedule, the
//! delivery timeout, the batch event's name and `data`, the error body's `code` (the HTTP status
//! here), and the pace of enrichment. Each is a [`SimConfig`] setting.
//!
//! ```no_run
//! use enrich_sim::{Sim, SimConfig};
//!
//! # async fn run() -> std::io::Result<()> {
//! let sim = Sim::start(SimConfig::default().api_key("sk_local")).await?;
//! println!("fake API on {}", sim.url());
//! // … point a client at sim.url(), start an enrichment with an http://127.0.0.1 webhook …
//! for attempt in sim.attempts() {
//!     println!("{attempt}");
//! }
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]
#![allow(
    clippy::field_reassign_with_default,
    reason = "enrich-types structs are #[non_exhaustive]: they are built from Default, field by field"
)]

mod api;
mod config;
mod deliver;
mod engine;
mod generate;
mod log;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

pub use config::{DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET, SimConfig};
pub use log::{Attempt, DeliveryCopy, Outcome};

/// A running fake of the API, listening on a loopback port. Stops when dropped.
pub struct Sim {
    api: api::Api,
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<io::Result<()>>,
}

impl Sim {
    /// Starts the fake on a free port of `127.0.0.1`.
    pub async fn start(config: SimConfig) -> io::Result<Self> {
        Self::bind(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts the fake on `address`.
    pub async fn bind(config: SimConfig, address: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let engine =
            engine::Engine::new(config, format!("http://{address}")).map_err(io::Error::other)?;
        let api = api::Api {
            engine: Arc::new(engine),
            refusals: Arc::default(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let app = api::router(api.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self {
            api,
            address,
            stop: Some(stop),
            server,
        })
    }

    /// The base URL to give a client, such as `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// How many enrichments (people and companies) were started so far.
    pub fn enrichments_started(&self) -> u64 {
        self.api.engine.started()
    }

    /// Every delivery attempt so far, in the order they finished.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.api.engine.log.all()
    }

    /// A feed of delivery attempts from now on (lagging receivers lose the oldest).
    pub fn subscribe(&self) -> broadcast::Receiver<Attempt> {
        self.api.engine.log.subscribe()
    }

    /// Answers the next `requests` API calls `429 Too Many Requests` with
    /// `Retry-After: <retry_after in whole seconds>`, after checking their API key.
    pub fn throttle_next(&self, requests: u32, retry_after: Duration) {
        self.fail_next(requests, 429, Some(retry_after));
    }

    /// Answers the next `requests` API calls with `status` (such as `503`) and the API's error
    /// body, with `Retry-After` when given, after checking their API key. Replaces any refusal
    /// still pending.
    pub fn fail_next(&self, requests: u32, status: u16, retry_after: Option<Duration>) {
        self.api.refusals.set(requests, status, retry_after);
    }

    /// Waits until batch `enrichment_id` is enriched and every one of its deliveries is finished
    /// (delivered, dropped, or out of retries), the batch completion event included. Returns
    /// `false` at once for an unknown id.
    pub async fn finished(&self, enrichment_id: &str) -> bool {
        let Some(batch) = self.api.engine.batch(enrichment_id) else {
            return false;
        };
        let mut finished = batch.watch_finished();
        finished.wait_for(|done| *done).await.is_ok()
    }

    /// Stops accepting requests and waits for the server to finish the ones in flight.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.server).await;
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if self.stop.is_some() {
            self.server.abort();
        }
    }
}

/// The README's code blocks, compiled as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
