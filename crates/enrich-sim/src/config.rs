//! How the fake behaves: keys, seed, retry schedule, fault rates and pace.

use std::fmt;
use std::time::Duration;

use enrich_types::BatchEventName;

/// The fake's settings. Every one has a default; tests and `enrich sim` change a few.
///
/// ```
/// use std::time::Duration;
/// use enrich_sim::SimConfig;
///
/// let config = SimConfig::default()
///     .api_key("sk_sim")
///     .webhook_secret("whsec_sim")
///     .retry_schedule(vec![Duration::from_millis(50), Duration::from_millis(200)])
///     .duplicate_rate(0.1)
///     .drop_rate(0.05);
/// assert!(!format!("{config:?}").contains("whsec_sim"));
/// ```
#[derive(Clone)]
pub struct SimConfig {
    pub(crate) api_key: String,
    pub(crate) webhook_secret: String,
    pub(crate) seed: u64,
    pub(crate) retry_schedule: Vec<Duration>,
    pub(crate) delivery_timeout: Duration,
    pub(crate) duplicate_rate: f64,
    pub(crate) drop_rate: f64,
    pub(crate) item_delay: Duration,
    pub(crate) batch_event_name: BatchEventName,
}

/// The API key the fake accepts unless configured otherwise.
pub const DEFAULT_API_KEY: &str = "sk_sim_local";

/// The webhook signing secret the fake signs with unless configured otherwise (the same as the
/// `enrich-webhook` test helpers).
pub const DEFAULT_WEBHOOK_SECRET: &str = "whsec_test_secret";

impl Default for SimConfig {
    /// Key [`DEFAULT_API_KEY`], secret [`DEFAULT_WEBHOOK_SECRET`], seed 1, retries after 1 s, 5 s,
    /// 25 s and 2 min 5 s, 10 s per attempt, no duplicates or drops, 50 ms per item, the batch
    /// event named `person.batch-enrichment.completed`.
    fn default() -> Self {
        Self {
            api_key: DEFAULT_API_KEY.to_owned(),
            webhook_secret: DEFAULT_WEBHOOK_SECRET.to_owned(),
            seed: 1,
            retry_schedule: [1, 5, 25, 125].map(Duration::from_secs).to_vec(),
            delivery_timeout: Duration::from_secs(10),
            duplicate_rate: 0.0,
            drop_rate: 0.0,
            item_delay: Duration::from_millis(50),
            batch_event_name: BatchEventName::default(),
        }
    }
}

impl SimConfig {
    /// Sets the API key the fake accepts as `Authorization: Bearer <key>`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }

    /// Sets the secret the fake signs webhooks with.
    pub fn webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.webhook_secret = secret.into();
        self
    }

    /// Sets the seed of every random choice (ids, people, duplicates, drops).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the waits before each retry of a delivery that was not answered `200` (or timed out,
    /// or could not connect). One entry per retry: `[1s, 5s]` means up to three attempts. The
    /// real API's schedule is not published.
    pub fn retry_schedule(mut self, schedule: Vec<Duration>) -> Self {
        self.retry_schedule = schedule;
        self
    }

    /// Sets how long one delivery attempt may take before it counts as failed.
    pub fn delivery_timeout(mut self, timeout: Duration) -> Self {
        self.delivery_timeout = timeout;
        self
    }

    /// Sets the share (0 to 1) of delivered items that are delivered a second time.
    pub fn duplicate_rate(mut self, rate: f64) -> Self {
        self.duplicate_rate = rate.clamp(0.0, 1.0);
        self
    }

    /// Sets the share (0 to 1) of items whose delivery is lost as if every retry had failed: no
    /// request is sent, the log records [`Outcome::Dropped`](crate::Outcome::Dropped), and the
    /// item is only in the `GET` results.
    pub fn drop_rate(mut self, rate: f64) -> Self {
        self.drop_rate = rate.clamp(0.0, 1.0);
        self
    }

    /// Sets how long enriching one item takes (the pace of progress and deliveries).
    pub fn item_delay(mut self, delay: Duration) -> Self {
        self.item_delay = delay;
        self
    }

    /// Sets which of the two reported names the batch completion event is sent under.
    pub fn batch_event_name(mut self, name: BatchEventName) -> Self {
        self.batch_event_name = name;
        self
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("api_key", &"redacted")
            .field("webhook_secret", &"redacted")
            .field("seed", &self.seed)
            .field("retry_schedule", &self.retry_schedule)
            .field("delivery_timeout", &self.delivery_timeout)
            .field("duplicate_rate", &self.duplicate_rate)
            .field("drop_rate", &self.drop_rate)
            .field("item_delay", &self.item_delay)
            .field("batch_event_name", &self.batch_event_name)
            .finish()
    }
}
