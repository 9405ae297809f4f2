//! What every request of one mounted page shares.

use std::sync::{Arc, Mutex};

use enrich_inbox::Inbox;

use crate::access::Authorize;
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
}
