//! Batches: their state, and the task that enriches each item and delivers its webhook.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use enrich_types::{CompanyToEnrich, Include, PersonToEnrich};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::SimConfig;
use crate::deliver::{Subject, deliver};
use crate::generate;
use crate::log::{AttemptLog, DeliveryCopy, Outcome};

/// Which enrichment endpoint a batch came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    People,
    Companies,
}

impl Kind {
    pub(crate) fn path(self) -> &'static str {
        match self {
            Self::People => "/v2/people/enrich",
            Self::Companies => "/v2/companies/enrich",
        }
    }

    /// The key of the items in the `GET` answer and in each event's `data`.
    fn items_key(self) -> &'static str {
        match self {
            Self::People => "people",
            Self::Companies => "companies",
        }
    }

    fn item_key(self) -> &'static str {
        match self {
            Self::People => "person",
            Self::Companies => "company",
        }
    }

    fn event_type(self) -> &'static str {
        match self {
            Self::People => "person.enrichment.completed",
            Self::Companies => "company.enrichment.completed",
        }
    }
}

/// What a batch enriches.
pub(crate) enum Items {
    People(Include, Vec<PersonToEnrich>),
    Companies(Vec<CompanyToEnrich>),
}

impl Items {
    fn len(&self) -> usize {
        match self {
            Self::People(_, people) => people.len(),
            Self::Companies(companies) => companies.len(),
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Self::People(..) => Kind::People,
            Self::Companies(_) => Kind::Companies,
        }
    }

    fn enrich(&self, config: &SimConfig, batch: u64, index: usize) -> Option<Value> {
        let rng = generate::rng_for(config.seed, batch, index, PURPOSE_VALUES);
        match self {
            Self::People(include, people) => people
                .get(index)
                .map(|wanted| generate::person(rng, wanted, include)),
            Self::Companies(companies) => companies
                .get(index)
                .map(|wanted| generate::company(rng, wanted)),
        }
    }
}

/// Seeds of the random streams, per purpose, so that changing one rate never changes the data.
const PURPOSE_VALUES: u64 = 1;
const PURPOSE_FATE: u64 = 2;
const PURPOSE_ID: u64 = 3;

/// One batch, shared by the task that runs it and the `GET` handler.
pub(crate) struct Batch {
    pub(crate) id: String,
    pub(crate) kind: Kind,
    total: usize,
    results: Mutex<Vec<Value>>,
    /// `true` once every delivery of the batch, the completion event included, is finished.
    finished: watch::Sender<bool>,
}

impl Batch {
    /// The `GET` answer: status, integer percentage, and the items so far.
    pub(crate) fn snapshot(&self) -> Value {
        let results = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        let done = results.len();
        let percent = (done * 100).checked_div(self.total).unwrap_or(100);
        let status = if done == self.total {
            "COMPLETED"
        } else {
            "IN_PROGRESS"
        };
        let mut answer = json!({
            "enrichmentID": self.id,
            "status": status,
            "percentCompleted": percent,
        });
        answer[self.kind.items_key()] = Value::Array(results.clone());
        answer
    }

    pub(crate) fn watch_finished(&self) -> watch::Receiver<bool> {
        self.finished.subscribe()
    }
}

/// Everything the server and the batch tasks share.
pub(crate) struct Engine {
    pub(crate) config: SimConfig,
    pub(crate) log: AttemptLog,
    pub(crate) base_url: String,
    http: reqwest::Client,
    batches: Mutex<HashMap<String, Arc<Batch>>>,
    started: AtomicU64,
}

impl Engine {
    pub(crate) fn new(config: SimConfig, base_url: String) -> Result<Self, reqwest::Error> {
        Ok(Self {
            config,
            log: AttemptLog::new(),
            base_url,
            // No proxy: deliveries go to the URL given, like the API's.
            http: reqwest::Client::builder().no_proxy().build()?,
            batches: Mutex::default(),
            started: AtomicU64::new(0),
        })
    }

    /// How many batches were started.
    pub(crate) fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    pub(crate) fn batch(&self, id: &str) -> Option<Arc<Batch>> {
        self.batches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// Registers a new batch and starts enriching it; returns it.
    pub(crate) fn start(self: &Arc<Self>, items: Items, webhook_url: Option<String>) -> Arc<Batch> {
        let number = self.started.fetch_add(1, Ordering::Relaxed) + 1;
        let kind = items.kind();
        let batch = Arc::new(Batch {
            id: enrichment_id(self.config.seed, number),
            kind,
            total: items.len(),
            results: Mutex::default(),
            finished: watch::channel(false).0,
        });
        self.batches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(batch.id.clone(), batch.clone());
        tokio::spawn(Arc::clone(self).run(batch.clone(), number, items, webhook_url));
        batch
    }

    /// Enriches each item in turn, delivering its webhook as soon as it is done; then, once every
    /// delivery has finished, sends the batch completion event.
    async fn run(
        self: Arc<Self>,
        batch: Arc<Batch>,
        number: u64,
        items: Items,
        url: Option<String>,
    ) {
        let mut deliveries = JoinSet::new();
        for index in 0..items.len() {
            tokio::time::sleep(self.config.item_delay).await;
            let Some(value) = items.enrich(&self.config, number, index) else {
                break;
            };
            batch
                .results
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(value.clone());
            if let Some(url) = &url {
                let engine = Arc::clone(&self);
                let (batch, url) = (batch.clone(), url.clone());
                deliveries.spawn(async move {
                    engine
                        .deliver_item(&batch, number, index, value, &url)
                        .await
                });
            }
        }
        while deliveries.join_next().await.is_some() {}
        if let Some(url) = &url {
            self.deliver_batch_event(&batch, url).await;
        }
        batch.finished.send_replace(true);
    }

    /// Delivers one item's event, unless its fate is to be dropped; then maybe a duplicate.
    async fn deliver_item(
        &self,
        batch: &Batch,
        number: u64,
        index: usize,
        value: Value,
        url: &str,
    ) {
        let mut fate = generate::rng_for(self.config.seed, number, index, PURPOSE_FATE);
        let dropped = fate.f64() < self.config.drop_rate;
        let duplicated = fate.f64() < self.config.duplicate_rate;
        let mut subject = Subject {
            enrichment_id: batch.id.clone(),
            event_type: batch.kind.event_type().to_owned(),
            external_id: value
                .get("externalID")
                .and_then(Value::as_str)
                .map(str::to_owned),
            item: Some(index),
            copy: DeliveryCopy::Original,
        };
        if dropped {
            self.log.record(subject.attempt(0, Outcome::Dropped));
            return;
        }
        let mut data = json!({ "enrichmentID": batch.id });
        data[batch.kind.item_key()] = value;
        let body = event_body(batch.kind.event_type(), data);
        let delivered = deliver(&self.http, &self.config, &self.log, url, &body, &subject).await;
        if delivered && duplicated {
            subject.copy = DeliveryCopy::Duplicate;
            deliver(&self.http, &self.config, &self.log, url, &body, &subject).await;
        }
    }

    async fn deliver_batch_event(&self, batch: &Batch, url: &str) {
        let event_type = self.config.batch_event_name.as_str();
        let noun = match batch.kind {
            Kind::People => "people",
            Kind::Companies => "companies",
        };
        let data = json!({
            "enrichmentID": batch.id,
            "enrichmentCallbackURL": format!("{}{}/{}", self.base_url, batch.kind.path(), batch.id),
            "message": format!("The enrichment of {} {noun} is complete", batch.total),
        });
        let subject = Subject {
            enrichment_id: batch.id.clone(),
            event_type: event_type.to_owned(),
            external_id: None,
            item: None,
            copy: DeliveryCopy::Original,
        };
        let body = event_body(event_type, data);
        deliver(&self.http, &self.config, &self.log, url, &body, &subject).await;
    }

    /// The time the API's `202` message announces for `items` items.
    pub(crate) fn estimate(&self, items: usize) -> Duration {
        self.config
            .item_delay
            .saturating_mul(u32::try_from(items).unwrap_or(u32::MAX))
    }
}

/// The envelope `{"eventType": …, "data": …}`, serialized once: these exact bytes are signed.
fn event_body(event_type: &str, data: Value) -> Vec<u8> {
    let envelope = json!({ "eventType": event_type, "data": data });
    // A `Value` always serializes.
    serde_json::to_vec(&envelope).unwrap_or_default()
}

/// A UUID-shaped batch id (version 7 layout), derived from the seed and the batch number.
fn enrichment_id(seed: u64, number: u64) -> String {
    let mut rng = generate::rng_for(seed, number, 0, PURPOSE_ID);
    format!(
        "{:08x}-{:04x}-7{:03x}-{:04x}-{:012x}",
        rng.u32(..),
        rng.u16(..),
        rng.u16(..0x1000),
        rng.u16(0x8000..0xc000),
        rng.u64(..1 << 48)
    )
}

#[cfg(test)]
mod tests {
    use super::enrichment_id;

    #[test]
    fn ids_are_uuid_shaped_deterministic_and_distinct() {
        let id = enrichment_id(1, 1);
        assert_eq!(id.len(), 36);
        assert_eq!(
            id.split('-').map(str::len).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert_eq!(id, enrichment_id(1, 1));
        assert_ne!(id, enrichment_id(1, 2));
        assert_ne!(id, enrichment_id(2, 1));
    }
}
