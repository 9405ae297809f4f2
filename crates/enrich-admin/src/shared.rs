//! What every request of one mounted page shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use enrich_inbox::Inbox;

use crate::access::Authorize;
use crate::api::{Asked, Expected};
use crate::csrf::CsrfKey;
use crate::throughput::Throughput;

/// The inbox, the application's hook, the CSRF key and the throughput readings.
pub(crate) struct Shared {
    pub(crate) inbox: Inbox,
    pub(crate) authorize: Arc<dyn Authorize>,
    pub(crate) csrf: CsrfKey,
    pub(crate) throughput: Mutex<Throughput>,
    /// How many rows a list page shows at most.
    pub(crate) list_limit: usize,
    /// The mount path the application set, else found from the request.
    pub(crate) mount_path: Option<String>,
    /// What the API said each enrichment holds, when it was asked.
    pub(crate) expected: Mutex<HashMap<String, Expected>>,
    /// The API client that "check" and "reconcile now" use.
    #[cfg(feature = "reconcile")]
    pub(crate) client: Option<enrich_client::Client>,
}

impl Shared {
    /// Whether the page can ask the API.
    pub(crate) fn can_ask(&self) -> bool {
        #[cfg(feature = "reconcile")]
        return self.client.is_some();
        #[cfg(not(feature = "reconcile"))]
        false
    }

    /// Asks the API for enrichment `id`'s people (storing the missing ones with `store`), and
    /// remembers the answer.
    pub(crate) async fn ask(&self, id: &str, store: bool) -> Asked {
        #[cfg(feature = "reconcile")]
        let asked = crate::api::ask(self.client.as_ref(), &self.inbox, id, store).await;
        #[cfg(not(feature = "reconcile"))]
        let asked = {
            let _ = (id, store);
            Asked::NotConfigured
        };
        if let Asked::Expected { expected, .. } = &asked
            && let Ok(mut known) = self.expected.lock()
        {
            known.insert(id.to_owned(), expected.clone());
        }
        asked
    }

    /// What the API said `id` holds, if it was asked.
    pub(crate) fn expected_of(&self, id: &str) -> Option<Expected> {
        self.expected.lock().ok()?.get(id).cloned()
    }
}
