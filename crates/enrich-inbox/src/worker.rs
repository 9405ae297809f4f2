//! The worker: claims due deliveries under a lease, runs the handler, records the outcome.
//!
//! Processing is **at least once**: a handler that finished but whose process died before the
//! inbox recorded it as done runs again once the lease expires. Make handlers idempotent (the
//! delivery's [`key`](crate::StoredDelivery::key) is a natural dedupe key downstream). Storage,
//! in contrast, is exactly once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use enrich_webhook::enrich_types::WebhookEvent;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle, JoinSet};

use crate::backoff::Backoff;
use crate::error::Error;
use crate::inbox::Inbox;
use crate::record::{DeliveryId, StoredDelivery, duration_millis, to_millis};

/// The error a handler returns.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

type BoxedHandler = Arc<
    dyn Fn(Job) -> Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>> + Send + Sync,
>;

/// One claimed delivery, handed to the handler: the decoded event and what the inbox stored.
#[derive(Debug)]
pub struct Job {
    event: WebhookEvent,
    delivery: StoredDelivery,
}

impl Job {
    /// The decoded event.
    pub fn event(&self) -> &WebhookEvent {
        &self.event
    }

    /// The stored delivery: id, key, source, times, raw body, signature header.
    pub fn delivery(&self) -> &StoredDelivery {
        &self.delivery
    }

    /// Which attempt this is (1 the first time).
    pub fn attempt(&self) -> u32 {
        self.delivery.attempts
    }

    /// Takes the decoded event.
    pub fn into_event(self) -> WebhookEvent {
        self.event
    }
}

/// How a worker runs.
///
/// ```
/// use std::time::Duration;
/// use enrich_inbox::{Backoff, WorkerConfig};
///
/// let options = WorkerConfig::default()
///     .concurrency(8)
///     .lease(Duration::from_secs(120))
///     .max_attempts(5)
///     .backoff(Backoff::exponential(Duration::from_secs(2), Duration::from_secs(300)));
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    concurrency: usize,
    lease: Duration,
    max_attempts: u32,
    backoff: Backoff,
    poll_interval: Duration,
}

impl Default for WorkerConfig {
    /// 4 deliveries at once, a 60 s lease, 10 attempts, [`Backoff::default`], polling every
    /// second when idle (a store in the same process wakes the worker at once).
    fn default() -> Self {
        Self {
            concurrency: 4,
            lease: Duration::from_secs(60),
            max_attempts: 10,
            backoff: Backoff::default(),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// Environment variables [`WorkerConfig::from_env`] reads, each optional.
pub const WORKER_ENV_VARS: [&str; 4] = [
    "ENRICH_INBOX_CONCURRENCY",
    "ENRICH_INBOX_LEASE_MS",
    "ENRICH_INBOX_MAX_ATTEMPTS",
    "ENRICH_INBOX_POLL_MS",
];

/// An environment variable of [`WORKER_ENV_VARS`] is set to something other than a positive
/// whole number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVarError {
    /// The variable.
    pub name: &'static str,
}

impl std::fmt::Display for EnvVarError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} must be a positive whole number", self.name)
    }
}

impl std::error::Error for EnvVarError {}

impl WorkerConfig {
    /// The defaults, overridden by `ENRICH_INBOX_CONCURRENCY`, `ENRICH_INBOX_LEASE_MS`,
    /// `ENRICH_INBOX_MAX_ATTEMPTS` and `ENRICH_INBOX_POLL_MS` where set.
    pub fn from_env() -> Result<Self, EnvVarError> {
        fn read(name: &'static str) -> Result<Option<u64>, EnvVarError> {
            match std::env::var(name) {
                Err(_) => Ok(None),
                Ok(text) => match text.trim().parse::<u64>() {
                    Ok(value) if value > 0 => Ok(Some(value)),
                    _ => Err(EnvVarError { name }),
                },
            }
        }
        let [concurrency, lease, attempts, poll] = WORKER_ENV_VARS;
        let mut options = Self::default();
        if let Some(value) = read(concurrency)? {
            options = options.concurrency(usize::try_from(value).unwrap_or(usize::MAX));
        }
        if let Some(value) = read(lease)? {
            options = options.lease(Duration::from_millis(value));
        }
        if let Some(value) = read(attempts)? {
            options = options.max_attempts(u32::try_from(value).unwrap_or(u32::MAX));
        }
        if let Some(value) = read(poll)? {
            options = options.poll_interval(Duration::from_millis(value));
        }
        Ok(options)
    }

    /// How many deliveries run at once (at least 1).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How long a claim lasts. A delivery whose worker has not finished it by then (it died, or
    /// the handler is that slow) is claimed again: make the lease longer than the slowest
    /// handler run.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How many attempts a delivery gets before it becomes a dead letter (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The wait between attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How often an idle worker looks for due deliveries (stores by another process, retries
    /// coming due, expired leases).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }
}

/// Processes an inbox with an async handler.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use enrich_inbox::{Inbox, Job, Worker, WorkerConfig};
///
/// let inbox = Inbox::open("sqlite:inbox.db").await?;
/// let worker = Worker::new(inbox, |job: Job| async move {
///     // Idempotent work: a rare crash can make it run twice.
///     println!("{} (attempt {})", job.event().event_type(), job.attempt());
///     Ok::<(), std::io::Error>(())
/// })
/// .config(WorkerConfig::default().concurrency(8))
/// .spawn();
/// // …
/// let report = worker.shutdown(Duration::from_secs(10)).await;
/// assert_eq!(report.abandoned, 0);
/// # Ok(()) }
/// ```
pub struct Worker {
    inbox: Inbox,
    handler: BoxedHandler,
    options: WorkerConfig,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("inbox", &self.inbox)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker of `inbox` that runs `handler` for each delivery. An `Err` (or a panic) is a
    /// failed attempt: retried after the backoff, a dead letter after the last attempt.
    pub fn new<F, Fut, E>(inbox: Inbox, handler: F) -> Self
    where
        F: Fn(Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<HandlerError>,
    {
        let handler: BoxedHandler = Arc::new(move |job| {
            let run = handler(job);
            Box::pin(async move { run.await.map_err(Into::into) })
        });
        Self {
            inbox,
            handler,
            options: WorkerConfig::default(),
        }
    }

    /// Runs with `config`.
    pub fn config(mut self, config: WorkerConfig) -> Self {
        self.options = config;
        self
    }

    /// Starts the worker on the current Tokio runtime. It runs until
    /// [`WorkerHandle::shutdown`], until the handle is dropped (then it stops claiming and lets
    /// in-flight deliveries finish within one lease), or until the inbox is closed.
    pub fn spawn(self) -> WorkerHandle {
        let (stop, stopped) = watch::channel(None);
        let task = tokio::spawn(run(self, stopped));
        WorkerHandle { stop, task }
    }
}

/// A running worker.
#[derive(Debug)]
pub struct WorkerHandle {
    stop: watch::Sender<Option<Duration>>,
    task: JoinHandle<ShutdownReport>,
}

/// How a worker's shutdown went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Deliveries still running at the deadline: cancelled and given back to the inbox (due at
    /// once, the attempt not counted).
    pub abandoned: usize,
}

impl WorkerHandle {
    /// Stops claiming, waits up to `deadline` for in-flight deliveries, then cancels the rest and
    /// gives them back to the inbox.
    pub async fn shutdown(self, deadline: Duration) -> ShutdownReport {
        let _ = self.stop.send(Some(deadline));
        self.task.await.unwrap_or_default()
    }
}

/// Aborts the task when dropped, so that cancelling a delivery cancels its handler too.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn now_ms() -> i64 {
    to_millis(SystemTime::now())
}

/// Resolves when a stop is asked for or the handle is gone.
async fn stop_asked(stopped: &mut watch::Receiver<Option<Duration>>) {
    if stopped.borrow_and_update().is_none() {
        let _ = stopped.changed().await;
    }
}

async fn run(worker: Worker, mut stopped: watch::Receiver<Option<Duration>>) -> ShutdownReport {
    let Worker {
        inbox,
        handler,
        options,
    } = worker;
    let options = Arc::new(options);
    let mut tasks = JoinSet::new();
    let mut claims: HashMap<tokio::task::Id, (DeliveryId, i64)> = HashMap::new();
    let finished = |claims: &mut HashMap<_, _>,
                    result: Result<(tokio::task::Id, ()), JoinError>| {
        let id = match result {
            Ok((id, ())) => id,
            Err(error) => error.id(),
        };
        claims.remove(&id);
    };
    loop {
        while let Some(result) = tasks.try_join_next_with_id() {
            finished(&mut claims, result);
        }
        let free = options.concurrency.saturating_sub(tasks.len());
        if free == 0 {
            tokio::select! {
                Some(result) = tasks.join_next_with_id() => finished(&mut claims, result),
                () = stop_asked(&mut stopped) => break,
            }
            continue;
        }
        let now = now_ms();
        let token = fastrand::i64(..);
        let claimed = tokio::select! {
            claimed = inbox.backend().claim(
                now,
                now.saturating_add(duration_millis(options.lease)),
                token,
                i64::try_from(free).unwrap_or(i64::MAX),
            ) => claimed,
            () = stop_asked(&mut stopped) => break,
        };
        match claimed {
            Ok(deliveries) if !deliveries.is_empty() => {
                for delivery in deliveries {
                    let id = delivery.id;
                    let task = tasks.spawn(process(
                        inbox.clone(),
                        handler.clone(),
                        options.clone(),
                        delivery,
                        token,
                    ));
                    claims.insert(task.id(), (id, token));
                }
            }
            Ok(_) => {
                tokio::select! {
                    () = tokio::time::sleep(options.poll_interval) => {}
                    () = inbox.stored() => {}
                    Some(result) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                        finished(&mut claims, result);
                    }
                    () = stop_asked(&mut stopped) => break,
                }
            }
            Err(Error::Closed) => break,
            Err(error) => {
                tracing::warn!(%error, "enrich-inbox: could not claim deliveries");
                tokio::select! {
                    () = tokio::time::sleep(options.poll_interval) => {}
                    () = stop_asked(&mut stopped) => break,
                }
            }
        }
    }

    let deadline = stopped.borrow().unwrap_or(options.lease);
    let drain = async {
        while let Some(result) = tasks.join_next_with_id().await {
            finished(&mut claims, result);
        }
    };
    if tokio::time::timeout(deadline, drain).await.is_ok() {
        return ShutdownReport::default();
    }
    tasks.abort_all();
    while let Some(result) = tasks.join_next_with_id().await {
        // A cancelled delivery keeps its entry: its claim is given back below.
        if let Ok((task, ())) = result {
            claims.remove(&task);
        }
    }
    let abandoned = claims.len();
    for (id, token) in claims.into_values() {
        if let Err(error) = inbox.backend().release(id, token, now_ms()).await {
            tracing::warn!(%error, delivery = %id, "enrich-inbox: could not give a claim back; it is processed again when its lease expires");
        }
    }
    ShutdownReport { abandoned }
}

/// Runs the handler for one claimed delivery and records the outcome.
async fn process(
    inbox: Inbox,
    handler: BoxedHandler,
    options: Arc<WorkerConfig>,
    delivery: StoredDelivery,
    token: i64,
) {
    let id = delivery.id;
    let attempt = delivery.attempts;
    let outcome = if attempt > options.max_attempts {
        // Claimed again after its last attempt's lease expired (its worker died).
        Err("the lease of the last attempt expired before it finished".to_owned())
    } else {
        match decode(&delivery) {
            Err(problem) => Err(problem),
            Ok(event) => {
                let mut task = AbortOnDrop(tokio::spawn(handler(Job { event, delivery })));
                match (&mut task.0).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(error)) => Err(error.to_string()),
                    Err(error) if error.is_panic() => Err("the handler panicked".to_owned()),
                    Err(_) => Err("the handler was cancelled".to_owned()),
                }
            }
        }
    };
    let now = now_ms();
    let recorded = match outcome {
        Ok(()) => inbox.backend().complete(id, token, now).await,
        Err(error) => {
            let next = (attempt < options.max_attempts).then(|| options.backoff.delay(attempt));
            match next {
                Some(wait) => tracing::warn!(
                    delivery = %id,
                    attempt,
                    retry_in_ms = duration_millis(wait),
                    "enrich-inbox: processing failed; it will be retried"
                ),
                None => tracing::warn!(
                    delivery = %id,
                    attempt,
                    "enrich-inbox: processing failed on the last attempt; it is now a dead letter"
                ),
            }
            let next_due = next.map(|wait| now.saturating_add(duration_millis(wait)));
            let error = truncate(error, 2000);
            inbox.backend().fail(id, token, now, next_due, &error).await
        }
    };
    match recorded {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            delivery = %id,
            "enrich-inbox: the claim expired before the outcome was recorded; another worker may process it again"
        ),
        Err(error) => tracing::warn!(
            %error,
            delivery = %id,
            "enrich-inbox: could not record the outcome; it is processed again when its lease expires"
        ),
    }
}

/// The stored body decoded. The message names where it failed, never what it read.
fn decode(delivery: &StoredDelivery) -> Result<WebhookEvent, String> {
    let body = delivery
        .raw_body
        .as_ref()
        .ok_or_else(|| "the delivery has no stored body".to_owned())?;
    serde_json::from_slice(body).map_err(|error| {
        format!(
            "the stored body does not decode as a webhook event (line {}, column {})",
            error.line(),
            error.column()
        )
    })
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
