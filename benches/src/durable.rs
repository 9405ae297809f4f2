//! The durable path's harness (`bench-durable`): distinct deliveries, a backlog filled through
//! the library (signed, so that the insecure mode's warning is not printed per task), and the worker's drain rate over it.
//!
//! The drain runs [`Worker`] with its default options (what the example receivers run), timed
//! from its start to the moment its handler has seen every delivery of the backlog. Progress is
//! counted by the handler itself, so that the measurement adds no query of its own; with
//! `poll_counts`, [`Inbox::counts`] is called every second meanwhile, as an operator's
//! `enrich inbox stats` or a metrics gauge would.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use enrich_inbox::{Inbox, Job, Worker, WorkerConfig};
use enrich_webhook::enrich_types::{PersonEnrichmentCompleted, WebhookEvent};
use enrich_webhook::testing::SignedRequest;
use enrich_webhook::{Delivery, WebhookConfig};
use sqlx::Connection;

use crate::payload::{ENRICHMENT_ID, Rng, Shape, person};

/// What the worker's handler does with each delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    /// Nothing: the inbox's own cost alone.
    Noop,
    /// Serializes the event and writes it as one line, flushed, as the example receivers print
    /// it (here to `/dev/null`, so that no terminal or pipe reader is measured).
    Print,
}

impl Handler {
    /// Its name in the report.
    pub fn label(self) -> &'static str {
        match self {
            Self::Noop => "no-op",
            Self::Print => "prints the line",
        }
    }
}

/// The body of the `index`th distinct delivery: a ~1.9 KB person event of its own person.
pub fn event_body(index: usize) -> Vec<u8> {
    let mut rng = Rng::new(index as u64 ^ 0x5eed);
    let mut data = PersonEnrichmentCompleted::default();
    data.enrichment_id = Some(ENRICHMENT_ID.to_owned());
    data.person = person(index as u64, Shape::FULL, &mut rng);
    // A generated event always serializes; an empty body would only be refused by the receiver.
    serde_json::to_vec(&WebhookEvent::PersonEnrichmentCompleted(data)).unwrap_or_default()
}

/// The secret [`fill`] signs its deliveries with.
const SECRET: &str = "whsec_bench_durable";

/// Stores deliveries `range` (distinct, signed and verified) into `inbox` from 64 concurrent
/// tasks, and returns how many were new.
pub async fn fill(inbox: &Inbox, range: std::ops::Range<usize>) -> Result<usize, String> {
    const TASKS: usize = 64;
    let config = Arc::new(
        WebhookConfig::with_secret(SECRET).map_err(|error| format!("the secret: {error}"))?,
    );
    let next = Arc::new(AtomicUsize::new(range.start));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let (inbox, next, config, end) = (inbox.clone(), next.clone(), config.clone(), range.end);
        tasks.spawn(async move {
            let mut new = 0;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= end {
                    return Ok::<usize, String>(new);
                }
                let request = SignedRequest::builder(event_body(index))
                    .secret(SECRET)
                    .build();
                let delivery: Delivery = config
                    .receive(&request.headers(), Bytes::from(request.body.clone()))
                    .map_err(|error| format!("delivery {index}: {error}"))?;
                let stored = inbox
                    .store(&delivery)
                    .await
                    .map_err(|error| format!("store {index}: {error}"))?;
                new += usize::from(stored.is_new());
            }
        });
    }
    let mut new = 0;
    for result in tasks.join_all().await {
        new += result?;
    }
    Ok(new)
}

/// One drain of a backlog.
#[derive(Debug, Clone, Copy)]
pub struct Drain {
    /// Deliveries the handler saw.
    pub processed: usize,
    /// From the worker's start to the last of them.
    pub elapsed: Duration,
    /// Calls of [`Inbox::counts`] made meanwhile.
    pub counts_polled: usize,
}

impl Drain {
    /// Deliveries processed per second.
    pub fn per_second(&self) -> f64 {
        self.processed as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs a worker with `config` (the default one is what the examples run) over `inbox` until its
/// handler has seen `backlog` deliveries (within `limit`), then shuts it down.
pub async fn drain(
    inbox: &Inbox,
    backlog: usize,
    handler: Handler,
    poll_counts: bool,
    limit: Duration,
    config: WorkerConfig,
) -> Result<Drain, String> {
    let seen = Arc::new(AtomicUsize::new(0));
    let sink = Arc::new(Mutex::new(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .map_err(|error| format!("/dev/null: {error}"))?,
    ));
    let counter = seen.clone();
    let worker = Worker::new(inbox.clone(), move |job: Job| {
        let (counter, sink) = (counter.clone(), sink.clone());
        async move {
            if handler == Handler::Print {
                let line = serde_json::to_string(job.event())?;
                let mut sink = sink
                    .lock()
                    .map_err(|_| std::io::Error::other("the sink's lock is poisoned"))?;
                writeln!(sink, "{line}")?;
                sink.flush()?;
            }
            counter.fetch_add(1, Ordering::Relaxed);
            Ok::<(), std::io::Error>(())
        }
    })
    .config(config);
    let started = Instant::now();
    let worker = worker.spawn();
    let mut counts_polled = 0;
    let mut next_poll = started + Duration::from_secs(1);
    let outcome = loop {
        let processed = seen.load(Ordering::Relaxed);
        if processed >= backlog {
            break Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            break Err(format!(
                "the worker processed {processed} of {backlog} within {limit:?}"
            ));
        }
        if poll_counts && Instant::now() >= next_poll {
            inbox
                .counts()
                .await
                .map_err(|error| format!("counts: {error}"))?;
            counts_polled += 1;
            next_poll += Duration::from_secs(1);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    worker.shutdown(Duration::from_secs(10)).await;
    Ok(Drain {
        processed: seen.load(Ordering::Relaxed),
        elapsed: outcome?,
        counts_polled,
    })
}

/// An inbox engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// A SQLite file in the temporary directory.
    Sqlite,
    /// A throwaway database on the Postgres server.
    Postgres,
}

impl Engine {
    /// Its name in the report.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "Postgres",
        }
    }
}

/// A fresh database of `engine` with the inbox's schema; its URL and a guard that removes it.
pub async fn fresh(
    engine: Engine,
    admin_url: &str,
    label: &str,
) -> Result<(String, Cleanup), String> {
    match engine {
        Engine::Sqlite => {
            let path = std::env::temp_dir()
                .join(format!("enrich_bench_{}_{label}.db", std::process::id()));
            remove_sqlite(&path);
            Ok((format!("sqlite:{}", path.display()), Cleanup::Sqlite(path)))
        }
        Engine::Postgres => {
            let name = format!("enrich_bench_{}_{label}", std::process::id());
            let mut admin = sqlx::PgConnection::connect(admin_url)
                .await
                .map_err(|error| format!("connect to Postgres: {error}"))?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .map_err(|error| format!("drop the old {name}: {error}"))?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .map_err(|error| format!("create {name}: {error}"))?;
            let (base, _) = admin_url
                .rsplit_once('/')
                .ok_or_else(|| format!("no database in {admin_url}"))?;
            Ok((
                format!("{base}/{name}"),
                Cleanup::Postgres {
                    admin_url: admin_url.to_owned(),
                    name,
                },
            ))
        }
    }
}

/// What [`fresh`] made, to remove once measured.
pub enum Cleanup {
    /// A SQLite file (and its `-wal` and `-shm`).
    Sqlite(std::path::PathBuf),
    /// A Postgres database.
    Postgres {
        /// The server's URL with a database to connect to meanwhile.
        admin_url: String,
        /// The database to drop.
        name: String,
    },
}

impl Cleanup {
    /// Removes it (a failure is ignored: the database is a throwaway).
    pub async fn run(self) {
        match self {
            Self::Sqlite(path) => remove_sqlite(&path),
            Self::Postgres { admin_url, name } => {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                }
            }
        }
    }
}

fn remove_sqlite(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
