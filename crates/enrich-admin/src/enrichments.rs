//! Per enrichment: the people whose delivery arrived, processed, dead, waiting; whether the
//! batch completion event arrived; and, once the API was asked, who is expected and who is
//! missing.

use std::collections::{BTreeMap, BTreeSet};

use enrich_inbox::{Inbox, State};

/// The event types of a person and of a batch completion.
const PERSON_EVENT: &str = "person.enrichment.completed";
const BATCH_EVENTS: [&str; 2] = [
    "person.batch-enrichment.completed",
    "batch.enrichment.completed",
];

/// What the inbox holds of one enrichment.
#[derive(Debug, Default)]
pub(crate) struct Enrichment {
    /// The `externalID`s of the people whose delivery arrived (or was reconciled).
    pub(crate) received: BTreeSet<String>,
    /// Person deliveries without an `externalID`.
    pub(crate) received_without_id: u64,
    /// Person deliveries processed (done, or done and purged).
    pub(crate) processed: u64,
    /// Person deliveries that are dead letters.
    pub(crate) dead: u64,
    /// Person deliveries pending or processing.
    pub(crate) waiting: u64,
    /// Whether the batch completion event is in the inbox.
    pub(crate) batch_completed: bool,
}

impl Enrichment {
    /// People delivered, with or without an `externalID`.
    pub(crate) fn people(&self) -> u64 {
        self.received.len() as u64 + self.received_without_id
    }

    /// The expected people whose delivery is not in the inbox.
    pub(crate) fn missing<'a>(&'a self, expected: &'a BTreeSet<String>) -> Vec<&'a str> {
        expected
            .difference(&self.received)
            .map(String::as_str)
            .collect()
    }
}

/// Every enrichment of the first `limit` deliveries of each state, by id; and whether a state
/// had more than `limit` (then the figures are of what was read).
pub(crate) async fn read(
    inbox: &Inbox,
    limit: usize,
) -> Result<(BTreeMap<String, Enrichment>, bool), enrich_inbox::Error> {
    let mut enrichments: BTreeMap<String, Enrichment> = BTreeMap::new();
    let mut truncated = false;
    for state in State::ALL {
        let deliveries = inbox.list(state, limit).await?;
        truncated |= deliveries.len() >= limit;
        for delivery in deliveries {
            let Some(id) = delivery.enrichment_id else {
                continue;
            };
            let enrichment = enrichments.entry(id).or_default();
            if BATCH_EVENTS.contains(&delivery.event_type.as_str()) {
                enrichment.batch_completed = true;
                continue;
            }
            if delivery.event_type != PERSON_EVENT {
                continue;
            }
            match delivery.external_id {
                Some(external_id) => {
                    enrichment.received.insert(external_id);
                }
                None => enrichment.received_without_id += 1,
            }
            match state {
                State::Done | State::Purged => enrichment.processed += 1,
                State::Dead => enrichment.dead += 1,
                _ => enrichment.waiting += 1,
            }
        }
    }
    Ok((enrichments, truncated))
}
