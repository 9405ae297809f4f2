//! The worker: claims due deliveries in batches under a lease, keeps the lease alive while the
//! handler runs (a heartbeat), and records the outcome in a group with the others waiting, off
//! the handler's slot.
//!
//! Processing is **at least once**: a handler whose worker lost its lease before the outcome
//! was recorded (the process died or froze past the lease, or could not reach the database for
//! a whole lease) runs again once the lease expires. Make handlers idempotent (the delivery's
//! [`key`](crate::StoredDelivery::key) is a natural dedupe key downstream). Storage, in
//! contrast, is exactly once. The exact bound is in the crate's README ("What it guarantees").

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use enrich_webhook::enrich_types::WebhookEvent;
use tokio::sync::watch;
use tokio::task::{self, JoinError, JoinHandle, JoinSet};
use tokio::time::Instant;
use tracing::Instrument;

use crate::backend::{Outcome, Undecodable};
use crate::backoff::Backoff;
use crate::error::Error;
use crate::inbox::Inbox;
use crate::metrics::Stopwatch;
use crate::record::{DeliveryId, StoredDelivery, duration_millis};
use crate::retention::Retention;

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
    handler_timeout: Duration,
}

impl Default for WorkerConfig {
    /// 64 deliveries at once, a 60 s lease, a 30 s handler timeout, 10 attempts,
    /// [`Backoff::default`], polling every second when idle (a store in the same process wakes
    /// the worker at once).
    fn default() -> Self {
        Self {
            concurrency: 64,
            lease: Duration::from_secs(60),
            max_attempts: 10,
            backoff: Backoff::default(),
            poll_interval: Duration::from_secs(1),
            handler_timeout: Duration::from_secs(30),
        }
    }
}

impl WorkerConfig {
    /// How many deliveries run at once (64 by default; at least 1). The worker claims in
    /// batches: once at least half of these slots are free (or, while fewer are, at most 100 ms
    /// after its last claim), as many due deliveries as there are free slots, in one statement;
    /// so this is also how many rows one claim takes at most. A handler that calls a service
    /// with a rate limit may want fewer.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How long a claim lasts without news from its worker (60 s by default; at least 30 ms).
    /// While the handler runs, the worker extends the lease every third of it (a heartbeat), so
    /// a handler may take longer than the lease; the lease is how long a delivery waits after
    /// its worker died, froze or lost the database before another worker takes it. A worker
    /// that could not extend its lease before it ran out stops the handler (the delivery may
    /// already be another worker's).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(30));
        self
    }

    /// How long one handler run may take (30 s by default, at least 1 ms). A handler still
    /// running then is stopped (its future dropped), and the run counts as a failed attempt
    /// with the error "the handler did not finish within its timeout of …".
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = timeout.max(Duration::from_millis(1));
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
    /// Stops claiming (a claim already sent to the database finishes, and what it took is given
    /// back at once, its attempt not counted), waits up to `deadline` for in-flight deliveries,
    /// then cancels the rest and gives them back to the inbox. Before it returns, every outcome
    /// still on its way to the database is recorded (or, while the database fails, retried for
    /// up to 30 s, after which that delivery runs again once its lease expires).
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

/// Resolves when a stop is asked for or the handle is gone.
async fn stop_asked(stopped: &mut watch::Receiver<Option<Duration>>) {
    if stopped.borrow_and_update().is_none() {
        let _ = stopped.changed().await;
    }
}

/// One claim of the worker: its token, and the instant the claim was sent (its lease runs from
/// a moment after that, on the database's clock).
#[derive(Debug, Clone, Copy)]
struct Claim {
    token: i64,
    sent: Instant,
}

/// The longest a free slot waits for a claim while fewer than half the slots are free.
const CLAIM_COOLDOWN: Duration = Duration::from_millis(100);

/// What a handler's run (or a claimed row that cannot run) leaves to record.
struct Finished {
    id: DeliveryId,
    token: i64,
    /// `None` when nothing is to be recorded (the lease was lost).
    outcome: Option<Outcome>,
}

/// A worker's deliveries in flight: handlers running, each holding one of the `concurrency`
/// slots, and outcomes on their way to the database, off the slots (a handler's slot is free as
/// soon as it returns; its outcome is recorded in a group with others meanwhile).
struct InFlight {
    inbox: Inbox,
    running: JoinSet<Finished>,
    /// The claim each running task holds, to give back if it is cancelled at shutdown.
    claims: HashMap<task::Id, (DeliveryId, i64)>,
    /// Outcomes being recorded, and claims being given back.
    recording: JoinSet<()>,
}

impl InFlight {
    /// Runs the handler for a claimed delivery in a slot.
    fn start(
        &mut self,
        handler: &BoxedHandler,
        options: &Arc<WorkerConfig>,
        delivery: StoredDelivery,
        claim: Claim,
    ) {
        let id = delivery.id;
        let span = crate::trace::processing_span(&delivery);
        let task = self.running.spawn(
            process(
                self.inbox.clone(),
                handler.clone(),
                options.clone(),
                delivery,
                claim,
            )
            .instrument(span),
        );
        self.claims.insert(task.id(), (id, claim.token));
    }

    /// A claimed row that does not read back: a dead letter at once, with the reason.
    fn bury(&mut self, undecodable: Undecodable, token: i64) {
        let Undecodable { id, error } = undecodable;
        let outcome = cannot_run(id, format!("the stored row does not read back: {error}"));
        self.record(id, token, outcome);
    }

    fn record(&mut self, id: DeliveryId, token: i64, outcome: Outcome) {
        self.recording
            .spawn(record_outcome(self.inbox.clone(), id, token, outcome));
    }

    /// Gives a claim back (at shutdown).
    fn give_back(&mut self, id: DeliveryId, token: i64) {
        self.recording
            .spawn(give_back(self.inbox.clone(), id, token));
    }

    /// A running task ended: its slot is free, and its outcome goes to be recorded.
    fn finished(&mut self, result: Result<(task::Id, Finished), JoinError>) {
        match result {
            Ok((task, finished)) => {
                self.claims.remove(&task);
                if let Some(outcome) = finished.outcome {
                    self.record(finished.id, finished.token, outcome);
                }
            }
            // A cancelled delivery keeps its claim: it is given back.
            Err(error) if error.is_cancelled() => {}
            // `process` catches the handler's panics; should it panic itself, the delivery
            // waits for its lease to expire.
            Err(error) => {
                self.claims.remove(&error.id());
            }
        }
    }

    /// Takes in every task that ended, without waiting.
    fn reap(&mut self) {
        while let Some(result) = self.running.try_join_next_with_id() {
            self.finished(result);
        }
        while self.recording.try_join_next().is_some() {}
    }
}

async fn run(worker: Worker, mut stopped: watch::Receiver<Option<Duration>>) -> ShutdownReport {
    let Worker {
        inbox,
        handler,
        options,
    } = worker;
    let options = Arc::new(options);
    let _retention = AbortOnDrop(tokio::spawn(run_retention_schedule(
        inbox.clone(),
        inbox.retention(),
        stopped.clone(),
    )));
    let lease_ms = duration_millis(options.lease);
    // Claims come in batches: once at least half the slots are free, as many rows as there are
    // free slots, while the other half still run (a prefetch), rather than a row per handler
    // that returns.
    let refill_at = options.concurrency.div_ceil(2);
    // Past this many outcomes still on their way to the database, the worker claims no more.
    let most_recording = options.concurrency.saturating_mul(2);
    let mut flight = InFlight {
        inbox: inbox.clone(),
        running: JoinSet::new(),
        claims: HashMap::new(),
        recording: JoinSet::new(),
    };
    // Slots left free by handlers slower than that are filled anyway, at most this long after
    // the last claim (River's fetch cooldown).
    let cooldown = options.poll_interval.min(CLAIM_COOLDOWN);
    let mut last_claim = Instant::now();
    'claiming: loop {
        flight.reap();
        let free = options.concurrency.saturating_sub(flight.running.len());
        let backlog = flight.recording.len() >= most_recording;
        if free < refill_at || backlog {
            let fill_anyway = (!backlog && free > 0).then_some(last_claim + cooldown);
            tokio::select! {
                Some(result) = flight.running.join_next_with_id(), if !flight.running.is_empty() => {
                    flight.finished(result);
                    continue;
                }
                Some(_) = flight.recording.join_next(), if backlog => continue,
                () = tokio::time::sleep_until(fill_anyway.unwrap_or(last_claim)), if fill_anyway.is_some() => {}
                () = stop_asked(&mut stopped) => break,
            }
        }
        last_claim = Instant::now();
        let claim = Claim {
            token: fastrand::i64(..),
            sent: Instant::now(),
        };
        let claiming = inbox.backend().claim(
            lease_ms,
            claim.token,
            i64::try_from(free).unwrap_or(i64::MAX),
        );
        tokio::pin!(claiming);
        // A claim is never cut short: dropped, it could still commit (rows leased to nobody
        // until the lease ran out). Asked to stop meanwhile, the worker lets it finish and gives
        // back whatever it claimed. Handlers that return meanwhile hand on their outcomes at once.
        let mut stopping = false;
        let claimed = loop {
            tokio::select! {
                claimed = &mut claiming => break claimed,
                Some(result) = flight.running.join_next_with_id(), if !flight.running.is_empty() => {
                    flight.finished(result);
                }
                () = stop_asked(&mut stopped), if !stopping => stopping = true,
            }
        };
        if stopping {
            if let Ok(rows) = claimed {
                for row in rows {
                    let id = match row {
                        Ok(delivery) => delivery.id,
                        Err(undecodable) => undecodable.id,
                    };
                    flight.give_back(id, claim.token);
                }
            }
            break;
        }
        match claimed {
            Ok(rows) if !rows.is_empty() => {
                crate::metrics::claimed(inbox.engine(), rows.len());
                for row in rows {
                    match row {
                        Ok(delivery) => flight.start(&handler, &options, delivery, claim),
                        Err(undecodable) => flight.bury(undecodable, claim.token),
                    }
                }
            }
            Ok(_) => {
                // Nothing due: wait for a store, the poll interval or a stop; handlers that
                // return meanwhile free their slots without a claim of their own.
                let idle = tokio::time::sleep(options.poll_interval);
                let stored = inbox.stored();
                tokio::pin!(idle, stored);
                loop {
                    tokio::select! {
                        () = &mut idle => break,
                        () = &mut stored => break,
                        Some(result) = flight.running.join_next_with_id(), if !flight.running.is_empty() => {
                            flight.finished(result);
                        }
                        () = stop_asked(&mut stopped) => break 'claiming,
                    }
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
    let finishing = async {
        while let Some(result) = flight.running.join_next_with_id().await {
            flight.finished(result);
        }
    };
    let mut abandoned = 0;
    if tokio::time::timeout(deadline, finishing).await.is_err() {
        flight.running.abort_all();
        // A run that ended meanwhile has its outcome recorded; a cancelled one keeps its claim.
        while let Some(result) = flight.running.join_next_with_id().await {
            flight.finished(result);
        }
        let cancelled: Vec<(DeliveryId, i64)> =
            flight.claims.drain().map(|(_, claim)| claim).collect();
        abandoned = cancelled.len();
        for (id, token) in cancelled {
            flight.give_back(id, token);
        }
    }
    // Outcomes still on their way are recorded (or their recording has given up) before the
    // worker stops.
    while flight.recording.join_next().await.is_some() {}
    ShutdownReport { abandoned }
}

/// Gives a claim back at shutdown (due at once, the attempt not counted).
async fn give_back(inbox: Inbox, id: DeliveryId, token: i64) {
    if let Err(error) = record(id, || inbox.backend().release(id, token)).await {
        tracing::warn!(%error, delivery = %id, "enrich-inbox: could not give a claim back; it is processed again when its lease expires");
    }
}

/// How one handler run ended.
enum Ran {
    /// The handler returned `Ok`.
    Succeeded,
    /// A failed attempt: the handler's error, a panic, or the handler timeout.
    Failed(String),
    /// The worker could not keep the lease (another worker holds the delivery now, or the lease
    /// ran out before a heartbeat could extend it): the handler was stopped, nothing recorded.
    LeaseLost(&'static str),
}

/// Runs the handler for one claimed delivery, keeping the lease alive; the outcome to record.
async fn process(
    inbox: Inbox,
    handler: BoxedHandler,
    options: Arc<WorkerConfig>,
    delivery: StoredDelivery,
    claim: Claim,
) -> Finished {
    let id = delivery.id;
    let attempt = delivery.attempts;
    let received_at = delivery.received_at;
    let token = claim.token;
    let ran = if attempt > options.max_attempts.saturating_mul(2) {
        // Every earlier run lost its lease without an outcome (its worker died, froze or lost
        // the database each time): a delivery that, say, kills its process is not run forever.
        Ran::Failed(unrecorded_runs(
            attempt,
            options.max_attempts,
            delivery.last_error.is_some(),
        ))
    } else {
        match inbox.sealer().open_delivery(delivery) {
            // Sealed under a key the keyring lacks, or another key under its id: a failed
            // attempt, retried with backoff like a handler's failure, so that a keyring fixed
            // before the last attempt loses no time; then a dead letter that still holds its
            // sealed body, for `retry` once the key is back.
            Err(error) => {
                tracing::error!(
                    %error,
                    delivery = %id,
                    "enrich-inbox: a claimed delivery does not open with the inbox's keys"
                );
                Ran::Failed(format!("the stored delivery does not open: {error}"))
            }
            Ok(delivery) => match decode(&delivery) {
                // A body that does not decode now never will: no retries.
                Err(problem) => {
                    return Finished {
                        id,
                        token,
                        outcome: Some(cannot_run(id, problem)),
                    };
                }
                Ok(event) => {
                    let stopwatch = Stopwatch::start();
                    let ran =
                        run_leased(&inbox, &handler, &options, Job { event, delivery }, claim)
                            .await;
                    crate::metrics::handler_ran(stopwatch);
                    ran
                }
            },
        }
    };
    let outcome = match ran {
        Ran::LeaseLost(why) => {
            tracing::warn!(
                delivery = %id,
                attempt,
                "enrich-inbox: {why}; the handler was stopped, and the delivery is processed again by whoever claims it next"
            );
            None
        }
        Ran::Succeeded => Some(Outcome::Done),
        Ran::Failed(error) => {
            let error = truncate(error, 2000);
            // An attempt past `max_attempts` (a rescue of an interrupted last attempt) that
            // fails is the last.
            if attempt < options.max_attempts {
                let wait = options.backoff.delay(attempt);
                tracing::warn!(
                    delivery = %id,
                    attempt,
                    retry_in_ms = duration_millis(wait),
                    "enrich-inbox: processing failed; it will be retried"
                );
                Some(Outcome::Retry {
                    after_ms: duration_millis(wait),
                    error,
                })
            } else {
                tracing::warn!(
                    delivery = %id,
                    attempt,
                    "enrich-inbox: processing failed on the last attempt; it is now a dead letter"
                );
                Some(Outcome::Dead { error })
            }
        }
    };
    if let Some(outcome) = &outcome {
        // Receipt (the database's clock when it was stored) to now (this process's clock, the
        // crate's one): a skew between the two shows here, never in a lease.
        let queued = inbox.process_now().duration_since(received_at).ok();
        crate::metrics::attempt(outcome, queued);
    }
    Finished { id, token, outcome }
}

/// The error of a delivery claimed `attempt` times, more than twice `max_attempts`, without
/// running it again. Every run from attempt `max_attempts` on ended without an outcome (an
/// outcome there would have finished the delivery); when no failure was ever recorded
/// (`failure_recorded` false: its `last_error` is empty), so did every run before.
fn unrecorded_runs(attempt: u32, max_attempts: u32, failure_recorded: bool) -> String {
    let (at_least, runs) = if failure_recorded {
        ("at least ", attempt.saturating_sub(max_attempts))
    } else {
        ("", attempt.saturating_sub(1))
    };
    format!(
        "claimed {attempt} times with no outcome recorded for {at_least}the last {runs} \
         (each run's worker stopped or lost its lease)"
    )
}

/// A claimed delivery that cannot be processed: a dead letter with `reason`, without running the
/// handler.
fn cannot_run(id: DeliveryId, reason: String) -> Outcome {
    tracing::warn!(
        delivery = %id,
        "enrich-inbox: a claimed delivery cannot be processed; it is now a dead letter"
    );
    let outcome = Outcome::Dead { error: reason };
    crate::metrics::attempt(&outcome, None);
    outcome
}

/// Records an outcome (in a group with the others waiting), retrying a failure of the database.
async fn record_outcome(inbox: Inbox, id: DeliveryId, token: i64, outcome: Outcome) {
    // The error text is sealed like the body (encryption at rest), bound to the delivery.
    let outcome = match outcome {
        Outcome::Retry { after_ms, error } => inbox
            .sealer()
            .seal_text(id, error)
            .map(|error| Outcome::Retry { after_ms, error }),
        Outcome::Dead { error } => inbox
            .sealer()
            .seal_text(id, error)
            .map(|error| Outcome::Dead { error }),
        Outcome::Done => Ok(Outcome::Done),
    };
    let recorded = match outcome {
        Ok(outcome) => record(id, || inbox.backend().record(id, token, outcome.clone())).await,
        Err(error) => Err(error),
    };
    report_recorded(id, recorded);
}

fn report_recorded(id: DeliveryId, recorded: Result<bool, Error>) {
    match recorded {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            delivery = %id,
            "enrich-inbox: the claim was lost before the outcome was recorded; whoever holds the delivery now processes it again"
        ),
        Err(error) => tracing::warn!(
            %error,
            delivery = %id,
            "enrich-inbox: could not record the outcome; it is processed again when its lease expires"
        ),
    }
}

/// How long recording an outcome keeps retrying a transient failure.
const RECORD_RETRY_FOR: Duration = Duration::from_secs(30);

/// Runs `operation` (recording an outcome or giving a claim back), retrying a failure of the
/// database with backoff for up to [`RECORD_RETRY_FOR`]: the outcome is worth keeping, and a
/// delivery whose outcome is lost runs again.
async fn record<F, Fut>(id: DeliveryId, mut operation: F) -> Result<bool, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, Error>>,
{
    let backoff = Backoff::exponential(Duration::from_millis(50), Duration::from_secs(2));
    let started = Instant::now();
    let mut failures = 0u32;
    loop {
        match operation().await {
            Ok(changed) => return Ok(changed),
            Err(Error::Closed) => return Err(Error::Closed),
            Err(error) => {
                failures += 1;
                let wait = backoff.delay(failures);
                if started.elapsed() + wait > RECORD_RETRY_FOR {
                    return Err(error);
                }
                tracing::warn!(
                    %error,
                    delivery = %id,
                    retry_in_ms = duration_millis(wait),
                    "enrich-inbox: could not record an outcome; retrying"
                );
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Runs the handler under its timeout, extending the lease every third of it. The handler is
/// stopped (its task aborted) on a timeout or when the lease is lost.
async fn run_leased(
    inbox: &Inbox,
    handler: &BoxedHandler,
    options: &WorkerConfig,
    job: Job,
    claim: Claim,
) -> Ran {
    let id = job.delivery.id;
    let lease = options.lease;
    let lease_ms = duration_millis(lease);
    let beat_every = lease / 3;
    // The lease as this worker may rely on it: measured from before the statement that set it,
    // so it never ends later here than in the database.
    let mut lease_end = claim.sent + lease;
    let mut next_beat = claim.sent + beat_every;
    // In the processing span (if any), so that the handler's own logs and spans carry it.
    let mut task = AbortOnDrop(tokio::spawn(handler(job).in_current_span()));
    let timeout = tokio::time::sleep(options.handler_timeout);
    tokio::pin!(timeout);
    loop {
        tokio::select! {
            biased;
            joined = &mut task.0 => {
                return match joined {
                    Ok(Ok(())) => Ran::Succeeded,
                    Ok(Err(error)) => Ran::Failed(error.to_string()),
                    Err(error) if error.is_panic() => Ran::Failed("the handler panicked".to_owned()),
                    Err(_) => Ran::Failed("the handler was cancelled".to_owned()),
                };
            }
            () = &mut timeout => {
                return Ran::Failed(format!(
                    "the handler did not finish within its timeout of {} ms \
                     (WorkerConfig::handler_timeout)",
                    duration_millis(options.handler_timeout)
                ));
            }
            () = tokio::time::sleep_until(next_beat.min(lease_end)) => {
                let sent = Instant::now();
                if sent >= lease_end {
                    return Ran::LeaseLost("the lease ran out before a heartbeat could extend it");
                }
                let beat = inbox.backend().extend_lease(id, claim.token, lease_ms);
                match tokio::time::timeout(lease_end - sent, beat).await {
                    Ok(Ok(true)) => {
                        lease_end = sent + lease;
                        next_beat = sent + beat_every;
                    }
                    Ok(Ok(false)) => {
                        return Ran::LeaseLost("the lease was taken over (another worker claimed the delivery)");
                    }
                    Ok(Err(error)) => {
                        tracing::warn!(%error, delivery = %id, "enrich-inbox: a lease heartbeat failed; retrying");
                        next_beat = Instant::now() + beat_every / 4;
                    }
                    Err(_) => {
                        return Ran::LeaseLost("the lease ran out while a heartbeat was waiting for the database");
                    }
                }
            }
        }
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

/// Runs a retention pass every [`Retention::interval`] until `stopped` says stop (or the inbox
/// closes); a failed pass is logged and tried again at the next interval.
async fn run_retention_schedule(
    inbox: Inbox,
    retention: Retention,
    mut stopped: watch::Receiver<Option<Duration>>,
) {
    if retention.keeps_everything() {
        return;
    }
    loop {
        match inbox.purge(retention).await {
            Ok(report) if report.batches > 0 => tracing::info!(
                bodies_dropped = report.bodies_dropped,
                dead_letters_dropped = report.dead_letters_dropped,
                keys_forgotten = report.keys_forgotten,
                batches = report.batches,
                "enrich-inbox: retention pass"
            ),
            Ok(_) => {}
            Err(Error::Closed) => return,
            Err(error) => tracing::warn!(%error, "enrich-inbox: a retention pass failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(retention.interval()) => {}
            _ = stopped.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unrecorded_runs;

    // Issue 16, item 1: the error of a delivery claimed past twice `max_attempts` counts the
    // runs that ended without an outcome: every earlier run when no failure was ever recorded,
    // else at least those from attempt `max_attempts` on (a failure recorded earlier ended an
    // earlier run).
    #[test]
    fn a_delivery_claimed_too_often_says_how_many_runs_ended_without_an_outcome() {
        assert_eq!(
            unrecorded_runs(21, 10, false),
            "claimed 21 times with no outcome recorded for the last 20 \
             (each run's worker stopped or lost its lease)"
        );
        assert_eq!(
            unrecorded_runs(21, 10, true),
            "claimed 21 times with no outcome recorded for at least the last 11 \
             (each run's worker stopped or lost its lease)"
        );
        assert_eq!(
            unrecorded_runs(3, 1, false),
            "claimed 3 times with no outcome recorded for the last 2 \
             (each run's worker stopped or lost its lease)"
        );
    }
}
