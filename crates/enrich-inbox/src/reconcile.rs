//! Reconciliation: store the people of an enrichment whose webhook never arrived.
//!
//! The API's results (`GET /v2/people/enrich/{id}`) list every person of a finished enrichment.
//! Each one is turned into the `person.enrichment.completed` event its webhook would have
//! carried and stored with [`Inbox::store_reconciled`]: under the same idempotency key — (event
//! type, enrichment ID, external ID) — so a person whose delivery arrived is a
//! [`Stored::Duplicate`] and nothing is written, and a missing one is stored once, marked
//! [`Source::Reconciled`](crate::Source::Reconciled), for the worker to process like any other
//! delivery. Running it again adds nothing.
//!
//! **People without an `externalID` are not reconciled.** The key of their webhook is the
//! SHA-256 of the delivery's raw body, which reconciliation cannot rebuild byte for byte (the
//! API's bytes are not the ones a re-encoding writes), so storing them would process a person
//! twice whenever the webhook did arrive. They are counted in
//! [`Reconciliation::unmatched`]; give every person an `externalID` when you start an
//! enrichment you mean to reconcile.
//!
//! Reconcile while the inbox still holds the keys of the enrichment's deliveries: a delivery
//! whose key was forgotten by [`Inbox::purge`] (after `Retention::keys`) would be stored again.

use bytes::Bytes;
use enrich_webhook::enrich_types::{
    EnrichedPersonResponse, PersonEnrichmentCompleted, WebhookEvent,
};

use crate::error::StoreError;
use crate::inbox::Inbox;
use crate::record::Stored;

/// What a reconciliation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reconciliation {
    /// People whose delivery the inbox already held (by webhook or an earlier reconciliation).
    pub already_stored: u64,
    /// People whose delivery never arrived, stored now as reconciled deliveries.
    pub added: u64,
    /// People left alone because their webhook's key cannot be rebuilt: those without an
    /// `externalID` (see the [module](mod@crate::reconcile) docs).
    pub unmatched: u64,
}

impl Reconciliation {
    /// Every person of the enrichment that was looked at.
    pub fn people(&self) -> u64 {
        self.already_stored + self.added + self.unmatched
    }
}

/// The `person.enrichment.completed` event the webhook of `person` carries.
fn person_event(enrichment_id: &str, person: &EnrichedPersonResponse) -> WebhookEvent {
    let mut data = PersonEnrichmentCompleted::default();
    data.enrichment_id = Some(enrichment_id.to_owned());
    data.person = person.clone();
    WebhookEvent::PersonEnrichmentCompleted(data)
}

impl Inbox {
    /// Stores every person of enrichment `enrichment_id` whose delivery the inbox does not hold,
    /// as a reconciled delivery with the key its webhook would have had; `people` are the
    /// enrichment's results (`GET /v2/people/enrich/{id}`, such as `enrich_client`'s
    /// `Client::all_people`). See the [module](mod@crate::reconcile) for people without an
    /// `externalID`. Safe to run again, and concurrently with webhooks arriving: the key is
    /// unique, so each person is stored once.
    ///
    /// On a storage failure it stops and returns the error; what it stored before stays
    /// stored, and running it again completes it.
    ///
    /// ```no_run
    /// # async fn run(inbox: enrich_inbox::Inbox, people: Vec<enrich_webhook::enrich_types::EnrichedPersonResponse>)
    /// #     -> Result<(), enrich_inbox::StoreError> {
    /// let done = inbox.reconcile_people("0190b1e2-…", &people).await?;
    /// println!("{} added, {} already there", done.added, done.already_stored);
    /// # Ok(()) }
    /// ```
    pub async fn reconcile_people(
        &self,
        enrichment_id: &str,
        people: &[EnrichedPersonResponse],
    ) -> Result<Reconciliation, StoreError> {
        let mut report = Reconciliation::default();
        for person in people {
            if person.external_id.is_none() {
                report.unmatched += 1;
                crate::metrics::reconciled("unmatched");
                continue;
            }
            let event = person_event(enrichment_id, person);
            let raw = match serde_json::to_vec(&event) {
                Ok(raw) => Bytes::from(raw),
                // An event built from decoded values always encodes; should one not, it is left
                // alone rather than stored with a body that does not decode.
                Err(error) => {
                    tracing::error!(%error, "enrich-inbox: a reconciled event did not encode");
                    report.unmatched += 1;
                    crate::metrics::reconciled("unmatched");
                    continue;
                }
            };
            match self.store_reconciled(&event, raw).await? {
                Stored::New(_) => {
                    report.added += 1;
                    crate::metrics::reconciled("added");
                }
                Stored::Duplicate => {
                    report.already_stored += 1;
                    crate::metrics::reconciled("already_stored");
                }
            }
        }
        Ok(report)
    }
}

#[cfg(feature = "reconcile")]
#[cfg_attr(docsrs, doc(cfg(feature = "reconcile")))]
pub use with_client::{ReconcileError, reconcile, reconcile_on_batch_completed};

#[cfg(feature = "reconcile")]
mod with_client {
    use std::fmt;

    use enrich_webhook::enrich_types::WebhookEvent;

    use super::Reconciliation;
    use crate::error::StoreError;
    use crate::inbox::Inbox;

    /// Why a reconciliation failed.
    #[derive(Debug)]
    #[non_exhaustive]
    pub enum ReconcileError {
        /// The enrichment's results could not be fetched from the API.
        Api(enrich_client::Error),
        /// A missing person could not be stored (those stored before stay stored).
        Store(StoreError),
    }

    impl fmt::Display for ReconcileError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Self::Api(error) => write!(f, "cannot fetch the enrichment's results: {error}"),
                Self::Store(error) => fmt::Display::fmt(error, f),
            }
        }
    }

    impl std::error::Error for ReconcileError {
        /// Defers past what `Display` already printed (the inner error's message): its source.
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            match self {
                Self::Api(error) => error.source(),
                Self::Store(error) => error.source(),
            }
        }
    }

    /// Fetches the results of people enrichment `enrichment_id` through `client` (waiting for
    /// it to finish, with the client's poll policy) and stores every person whose delivery
    /// never arrived: [`Inbox::reconcile_people`] on [`enrich_client::Client::all_people`].
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let inbox = enrich_inbox::Inbox::open("sqlite:inbox.db").await?;
    /// let client = enrich_client::Client::from_env()?;
    /// let done = enrich_inbox::reconcile(&inbox, &client, "0190b1e2-…").await?;
    /// println!("{} of {} people added", done.added, done.people());
    /// # Ok(()) }
    /// ```
    pub async fn reconcile(
        inbox: &Inbox,
        client: &enrich_client::Client,
        enrichment_id: &str,
    ) -> Result<Reconciliation, ReconcileError> {
        let people = client
            .all_people(enrichment_id)
            .await
            .map_err(ReconcileError::Api)?;
        inbox
            .reconcile_people(enrichment_id, &people)
            .await
            .map_err(ReconcileError::Store)
    }

    /// Opt-in automatic reconciliation: call it from your worker's handler with every event it
    /// processes. On a batch completion event (`person.batch-enrichment.completed` or
    /// `batch.enrichment.completed`) it [`reconcile`]s the batch and returns what it did; on any
    /// other event, a batch event without an id, or a batch the people endpoint does not know
    /// (`404`: a companies enrichment) it does nothing and returns `None`.
    ///
    /// An error (the API unreachable, the inbox failing) is returned so that the handler fails
    /// and the worker retries the batch event later, with its backoff.
    ///
    /// ```no_run
    /// use enrich_inbox::{Inbox, Job, Worker, reconcile_on_batch_completed};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let inbox = Inbox::open("sqlite:inbox.db").await?;
    /// let client = enrich_client::Client::from_env()?;
    /// let worker_inbox = inbox.clone();
    /// let _worker = Worker::new(inbox, move |job: Job| {
    ///     let (inbox, client) = (worker_inbox.clone(), client.clone());
    ///     async move {
    ///         reconcile_on_batch_completed(&inbox, &client, job.event()).await?;
    ///         // … your own processing of job.event() …
    ///         Ok::<(), enrich_inbox::ReconcileError>(())
    ///     }
    /// })
    /// .spawn();
    /// # Ok(()) }
    /// ```
    pub async fn reconcile_on_batch_completed(
        inbox: &Inbox,
        client: &enrich_client::Client,
        event: &WebhookEvent,
    ) -> Result<Option<Reconciliation>, ReconcileError> {
        let WebhookEvent::BatchEnrichmentCompleted(batch) = event else {
            return Ok(None);
        };
        let Some(enrichment_id) = batch.batch_id() else {
            return Ok(None);
        };
        match reconcile(inbox, client, enrichment_id).await {
            Err(ReconcileError::Api(error)) if error.status() == Some(404) => Ok(None),
            outcome => outcome.map(Some),
        }
    }
}
