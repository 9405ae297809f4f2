//! The local fake of the API (`enrich-sim`) for the reconciliation tests: started with a seed
//! that drops and duplicates some deliveries, an enrichment started through it, and what it
//! dropped and what reconciliation stored.

#![allow(
    clippy::field_reassign_with_default,
    reason = "enrich-types structs are #[non_exhaustive]: they are built from Default, field by field"
)]

use std::collections::BTreeSet;
use std::time::Duration;

use enrich_client::Client;
use enrich_inbox::{Inbox, Source, State};
use enrich_sim::{Outcome, Sim, SimConfig};
use enrich_webhook::enrich_types::{EnrichPeopleRequest, Include, PersonToEnrich};

use super::SECRET;

/// The API key the fake takes.
pub const KEY: &str = "sk_reconcile_test";

/// The fake, signing with [`SECRET`]; seeded to drop 30% and duplicate 20% of its deliveries.
pub async fn start_sim() -> Sim {
    Sim::start(
        SimConfig::default()
            .api_key(KEY)
            .webhook_secret(SECRET)
            .seed(7)
            .item_delay(Duration::from_millis(1))
            .retry_schedule(vec![Duration::from_millis(50)])
            .drop_rate(0.3)
            .duplicate_rate(0.2),
    )
    .await
    .expect("the fake starts")
}

/// A client of `sim`.
pub fn client(sim: &Sim) -> Client {
    Client::builder()
        .base_url(sim.url())
        .api_key(KEY)
        .build()
        .expect("a client")
}

/// Starts an enrichment of `with_ids` people with an `externalID` and `without_ids` people
/// without one, delivered to `webhook_url`; waits until the fake finished delivering.
pub async fn enrich(sim: &Sim, webhook_url: &str, with_ids: usize, without_ids: usize) -> String {
    let people: Vec<PersonToEnrich> = (0..with_ids + without_ids)
        .map(|index| {
            let mut person = PersonToEnrich::default();
            person.first_name = Some(format!("First{index}"));
            person.last_name = Some(format!("Last{index}"));
            person.company_domain = Some("engines.example".to_owned());
            person.external_id = (index < with_ids).then(|| format!("crm-{index}"));
            person
        })
        .collect();
    let mut include = Include::default();
    include.email = true;
    let request = EnrichPeopleRequest::new(include, people)
        .expect("a valid request")
        .with_webhook_url(webhook_url)
        .expect("a loopback webhook URL");
    let accepted = client(sim)
        .start_people(&request)
        .await
        .expect("the fake accepts the enrichment");
    let id = accepted.enrichment_id.expect("an enrichment id");
    assert!(sim.finished(&id).await, "the fake knows the enrichment");
    id
}

/// The `externalID`s of the people whose delivery the fake dropped.
pub fn dropped(sim: &Sim, enrichment_id: &str) -> BTreeSet<String> {
    sim.attempts()
        .into_iter()
        .filter(|attempt| attempt.enrichment_id == enrichment_id)
        .filter(|attempt| attempt.outcome == Outcome::Dropped)
        .filter_map(|attempt| attempt.external_id)
        .collect()
}

/// The `externalID`s of the reconciled deliveries of `enrichment_id` in the inbox.
pub async fn reconciled(inbox: &Inbox, enrichment_id: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for state in State::ALL {
        for delivery in inbox.list(state, 10_000).await.expect("list") {
            if delivery.source == Source::Reconciled
                && delivery.enrichment_id.as_deref() == Some(enrichment_id)
            {
                let external_id = delivery.external_id.expect("a reconciled person has an id");
                assert!(
                    ids.insert(external_id),
                    "one reconciled delivery per person"
                );
            }
        }
    }
    ids
}
