//! Asking the API about an enrichment (feature `reconcile`): who it expects, and storing the
//! people whose delivery never arrived.

use std::collections::BTreeSet;
use std::time::SystemTime;

/// What the API said an enrichment holds, when asked.
#[derive(Debug, Clone)]
pub(crate) struct Expected {
    /// The `externalID`s of its people.
    pub(crate) people: BTreeSet<String>,
    /// Its people without an `externalID` (they cannot be matched to deliveries).
    pub(crate) without_id: u64,
    /// When the API was asked.
    pub(crate) asked_at: SystemTime,
}

/// The outcome of asking the API (only `NotConfigured` without the `reconcile` feature).
#[cfg_attr(not(feature = "reconcile"), allow(dead_code))]
pub(crate) enum Asked {
    /// The people it expects; `added` when the missing ones were stored.
    Expected {
        expected: Expected,
        added: Option<u64>,
    },
    /// No API client is configured.
    NotConfigured,
    /// The API could not answer (the message, for the operator).
    Failed(String),
}

#[cfg(feature = "reconcile")]
mod with_client {
    use super::{Asked, Expected};
    use enrich_inbox::Inbox;

    /// Asks `client` for enrichment `id`'s people; with `store`, stores the missing ones.
    pub(crate) async fn ask(
        client: Option<&enrich_client::Client>,
        inbox: &Inbox,
        id: &str,
        store: bool,
    ) -> Asked {
        let Some(client) = client else {
            return Asked::NotConfigured;
        };
        let people = match client.all_people(id).await {
            Ok(people) => people,
            Err(error) => return Asked::Failed(error.to_string()),
        };
        let added = if store {
            match inbox.reconcile_people(id, &people).await {
                Ok(report) => Some(report.added),
                Err(error) => return Asked::Failed(error.to_string()),
            }
        } else {
            None
        };
        let expected = Expected {
            people: people
                .iter()
                .filter_map(|p| p.external_id.clone())
                .collect(),
            without_id: people.iter().filter(|p| p.external_id.is_none()).count() as u64,
            asked_at: std::time::SystemTime::now(),
        };
        Asked::Expected { expected, added }
    }
}

#[cfg(feature = "reconcile")]
pub(crate) use with_client::ask;
