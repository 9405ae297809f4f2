//! The durable path: what a user of the shipped `axum_receiver` gets from an inbox, and whether
//! the worker keeps up with it.
//!
//! ```text
//! bench-durable [--quick]
//! bench-durable --drain-only [--engine sqlite|postgres] [--backlog N] [--handler no-op|print]
//!               [--runs R] [--concurrency C]
//! ```
//!
//! It prints its figures as JSON, which `bench-report` renders into `BENCHMARKS.md` against
//! its targets (progress on stderr). It needs the example
//! built beside it (`cargo build --release -p enrich-axum --example axum_receiver`, which
//! `cargo xtask bench` does), and Postgres on `ENRICH_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`; its rows are left out when unreachable).
//!
//! - **acknowledgements**: `axum_receiver --insecure-skip-verification` (only storage is
//!   measured, no HMAC) at 64 keep-alive connections, each request a distinct person event,
//!   without an inbox (it prints each event, to `/dev/null`), with `--inbox sqlite:…` and with
//!   `--inbox postgres://…` (`ENRICH_INBOX_WORKER=off`: the web tier alone), a fresh process and
//!   database each time, the three alternating within each round; medians over the rounds, and
//!   the median of the rounds' ratios.
//! - **drain**: a backlog stored through the library (`Inbox::store` from 64 tasks), then a
//!   default `Worker` timed until its handler has seen all of it ([`durable::drain`]), with a
//!   no-op handler and with one that prints the line, at two backlog sizes; and at the large
//!   backlog, the same drain with `Inbox::counts` polled every second against one without,
//!   run back to back.
//!
//! `--drain-only` measures drains alone (for profiling: one engine, one backlog, one handler,
//! each by default both engines, 20000 pending, both handlers, one run), printing each rate on
//! stdout; `--concurrency` runs the worker with that many deliveries at once instead of the
//! default.
//!
//! [`durable::drain`]: enrich_benches::durable::drain

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use enrich_benches::client::{post_request, run_load_of};
use enrich_benches::durable::{Drain, Engine, Handler, drain, event_body, fill, fresh};
use enrich_benches::median;
use enrich_inbox::{Inbox, WorkerConfig};
use serde_json::{Value, json};
use sqlx::Connection;

const CONCURRENCY: usize = 64;

/// How much each part measures.
struct Plan {
    rounds: usize,
    requests: usize,
    warmup: usize,
    backlogs: [usize; 2],
    small_runs: usize,
    limit: Duration,
    /// The worker's configuration (the default: what the examples run).
    worker: WorkerConfig,
}

impl Plan {
    fn of(quick: bool) -> Self {
        if quick {
            Self {
                rounds: 2,
                requests: 1_000,
                warmup: 200,
                backlogs: [100, 1_000],
                small_runs: 1,
                limit: Duration::from_secs(120),
                worker: WorkerConfig::default(),
            }
        } else {
            Self {
                rounds: 7,
                requests: 20_000,
                warmup: 2_000,
                backlogs: [1_000, 100_000],
                small_runs: 3,
                limit: Duration::from_secs(1_800),
                worker: WorkerConfig::default(),
            }
        }
    }
}

/// A running `axum_receiver`.
struct Receiver {
    child: Child,
    addr: SocketAddr,
}

impl Receiver {
    async fn start(inbox: Option<&str>) -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|error| format!("a free port: {error}"))?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut command = Command::new(example()?);
        command
            .arg("--insecure-skip-verification")
            .env("PORT", port.to_string())
            .env("RUST_LOG", "warn")
            .env("ENRICH_INBOX_WORKER", "off")
            .env_remove("SURFE_WEBHOOK_SECRET")
            .env_remove("ENRICH_INBOX_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(url) = inbox {
            command.args(["--inbox", url]);
        }
        let receiver = Self {
            child: command
                .spawn()
                .map_err(|error| format!("axum_receiver: {error}"))?,
            addr,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if Instant::now() > deadline {
                return Err(format!(
                    "axum_receiver did not listen on {addr} within 20 s"
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(receiver)
    }

    /// Sends deliveries `range` (each its own person) at 64 connections; answers per second.
    async fn load(&self, range: std::ops::Range<usize>) -> Result<f64, String> {
        let headers = [("content-type", "application/json")];
        let requests: Vec<Arc<[u8]>> = range
            .clone()
            .map(|index| {
                Arc::from(post_request(
                    self.addr,
                    "/webhook",
                    &headers,
                    &event_body(index),
                ))
            })
            .collect();
        let result = run_load_of(self.addr, Arc::from(requests), range.len(), CONCURRENCY)
            .await
            .map_err(|error| format!("load on {}: {error}", self.addr))?;
        if result.non_ok > 0 {
            return Err(format!(
                "{} of {} answers were not 200",
                result.non_ok, result.requests
            ));
        }
        Ok(result.requests_per_second())
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The example binary, beside this one's directory (`target/release/examples/`).
fn example() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|error| format!("own path: {error}"))?;
    let path = exe
        .parent()
        .ok_or("no directory of its own")?
        .join("examples")
        .join("axum_receiver");
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found: build it with `cargo build --release -p enrich-axum --example axum_receiver`",
            path.display()
        ))
    }
}

/// Acknowledgements/s of each inbox and without one, per round.
struct Acks {
    without: Vec<f64>,
    with: Vec<(Engine, Vec<f64>)>,
}

async fn acknowledgements(
    plan: &Plan,
    engines: &[Engine],
    admin_url: &str,
) -> Result<Acks, String> {
    let mut acks = Acks {
        without: Vec::new(),
        with: engines.iter().map(|&engine| (engine, Vec::new())).collect(),
    };
    let kinds: Vec<Option<Engine>> = std::iter::once(None)
        .chain(engines.iter().copied().map(Some))
        .collect();
    let mut next = 0;
    for round in 0..plan.rounds {
        // Each kind goes first in turn, so that none always meets a warmer (or busier) machine.
        for offset in 0..kinds.len() {
            let kind = kinds[(round + offset) % kinds.len()];
            let database = match kind {
                Some(engine) => Some(fresh(engine, admin_url, &format!("acks_{round}")).await?),
                None => None,
            };
            let receiver = Receiver::start(database.as_ref().map(|(url, _)| url.as_str())).await?;
            receiver.load(next..next + plan.warmup).await?;
            next += plan.warmup;
            let per_second = receiver.load(next..next + plan.requests).await?;
            next += plan.requests;
            drop(receiver);
            eprintln!(
                "bench-durable: round {round}: {}: {per_second:.0} acks/s",
                kind.map_or("no inbox", Engine::label)
            );
            match kind {
                None => acks.without.push(per_second),
                Some(engine) => {
                    if let Some((_, runs)) = acks.with.iter_mut().find(|(e, _)| *e == engine) {
                        runs.push(per_second);
                    }
                }
            }
            if let Some((_, cleanup)) = database {
                cleanup.run().await;
            }
        }
    }
    Ok(acks)
}

/// One drain measurement on a fresh database.
async fn one_drain(
    engine: Engine,
    admin_url: &str,
    backlog: usize,
    handler: Handler,
    poll_counts: bool,
    plan: &Plan,
) -> Result<Drain, String> {
    let (url, cleanup) = fresh(engine, admin_url, "drain").await?;
    let inbox = Inbox::open(&url)
        .await
        .map_err(|error| format!("open {}: {error}", engine.label()))?;
    let filled = Instant::now();
    let new = fill(&inbox, 0..backlog).await?;
    if new != backlog {
        return Err(format!("stored {new} new deliveries of {backlog}"));
    }
    eprintln!(
        "bench-durable: {}: {backlog} stored in {:.1} s",
        engine.label(),
        filled.elapsed().as_secs_f64()
    );
    let run = drain(
        &inbox,
        backlog,
        handler,
        poll_counts,
        plan.limit,
        plan.worker.clone(),
    )
    .await;
    inbox.close().await;
    cleanup.run().await;
    let run = run?;
    eprintln!(
        "bench-durable: {}: drained {backlog} ({}{}) at {:.0}/s",
        engine.label(),
        handler.label(),
        if poll_counts { ", counts polled" } else { "" },
        run.per_second()
    );
    Ok(run)
}

/// The drain figures of one engine.
struct Drains {
    engine: Engine,
    /// (backlog, handler, median deliveries/s).
    rates: Vec<(usize, Handler, f64)>,
    /// At the large backlog, no-op handler: without polling, with polling, polls made.
    polled: (f64, f64, usize),
}

impl Drains {
    fn rate(&self, backlog: usize, handler: Handler) -> f64 {
        self.rates
            .iter()
            .find(|(b, h, _)| *b == backlog && *h == handler)
            .map_or(f64::NAN, |(_, _, rate)| *rate)
    }
}

async fn drains(plan: &Plan, engine: Engine, admin_url: &str) -> Result<Drains, String> {
    let mut rates = Vec::new();
    for backlog in plan.backlogs {
        let runs = if backlog == plan.backlogs[0] {
            plan.small_runs
        } else {
            1
        };
        for handler in [Handler::Noop, Handler::Print] {
            let mut measured = Vec::new();
            for _ in 0..runs {
                measured.push(
                    one_drain(engine, admin_url, backlog, handler, false, plan)
                        .await?
                        .per_second(),
                );
            }
            rates.push((backlog, handler, median(&measured)));
        }
    }
    let large = plan.backlogs[1];
    let unpolled = one_drain(engine, admin_url, large, Handler::Noop, false, plan).await?;
    let polled = one_drain(engine, admin_url, large, Handler::Noop, true, plan).await?;
    Ok(Drains {
        engine,
        rates,
        polled: (
            unpolled.per_second(),
            polled.per_second(),
            polled.counts_polled,
        ),
    })
}

/// The figures as JSON, for `bench-report` (which holds the targets and renders them).
fn json(plan: &Plan, acks: &Acks, drains: &[Drains], postgres: bool, quick: bool) -> Value {
    let without = median(&acks.without);
    let engines: Vec<Value> = acks
        .with
        .iter()
        .map(|(engine, runs)| {
            let ratios: Vec<f64> = runs
                .iter()
                .zip(&acks.without)
                .map(|(with, without)| with / without)
                .collect();
            json!({
                "engine": engine.label(),
                "acks_per_second": median(runs),
                "over_without": median(&ratios),
                "rounds": runs,
            })
        })
        .collect();
    let [small, large] = plan.backlogs;
    let drains: Vec<Value> = drains
        .iter()
        .map(|drains| {
            let handlers: Vec<Value> = [Handler::Noop, Handler::Print]
                .into_iter()
                .map(|handler| {
                    json!({
                        "handler": handler.label(),
                        "small": drains.rate(small, handler),
                        "large": drains.rate(large, handler),
                    })
                })
                .collect();
            let (unpolled, polled, polls) = drains.polled;
            json!({
                "engine": drains.engine.label(),
                "handlers": handlers,
                "unpolled": unpolled,
                "polled": polled,
                "polls": polls,
            })
        })
        .collect();
    json!({
        "quick": quick,
        "postgres": postgres,
        "concurrency": CONCURRENCY,
        "rounds": plan.rounds,
        "requests": plan.requests,
        "warmup": plan.warmup,
        "backlogs": plan.backlogs,
        "small_runs": plan.small_runs,
        "without_per_second": without,
        "without_rounds": acks.without,
        "acks": engines,
        "drains": drains,
    })
}

/// `--drain-only`: each chosen drain `runs` times, one line per run on stdout.
async fn drains_alone(args: &[String]) -> Result<Value, String> {
    let value_of = |flag: &str| {
        args.iter()
            .position(|arg| arg == flag)
            .and_then(|at| args.get(at + 1))
            .map(String::as_str)
    };
    let admin_url = std::env::var("ENRICH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let engines = match value_of("--engine") {
        None => vec![Engine::Sqlite, Engine::Postgres],
        Some("sqlite") => vec![Engine::Sqlite],
        Some("postgres") => vec![Engine::Postgres],
        Some(other) => return Err(format!("--engine {other}: expected sqlite or postgres")),
    };
    let handlers = match value_of("--handler") {
        None => vec![Handler::Noop, Handler::Print],
        Some("no-op") => vec![Handler::Noop],
        Some("print") => vec![Handler::Print],
        Some(other) => return Err(format!("--handler {other}: expected no-op or print")),
    };
    let number = |flag: &str, default: usize| match value_of(flag) {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .map_err(|error| format!("{flag} {text}: {error}")),
    };
    let backlog = number("--backlog", 20_000)?;
    let runs = number("--runs", 1)?;
    let mut plan = Plan::of(false);
    if value_of("--concurrency").is_some() {
        plan.worker = WorkerConfig::default().concurrency(number("--concurrency", 0)?);
    }
    let mut rates = Vec::new();
    for _ in 0..runs {
        for &engine in &engines {
            for &handler in &handlers {
                let run = one_drain(engine, &admin_url, backlog, handler, false, &plan).await?;
                rates.push(json!({
                    "concurrency": value_of("--concurrency"),
                    "engine": engine.label(),
                    "handler": handler.label(),
                    "backlog": backlog,
                    "per_second": run.per_second(),
                }));
            }
        }
    }
    Ok(Value::Array(rates))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|arg| arg == "--quick");
    let measured = if args.iter().any(|arg| arg == "--drain-only") {
        drains_alone(&args).await
    } else {
        measure(quick).await
    };
    match measured {
        Ok(figures) => {
            println!("{figures}");
            std::process::ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("bench-durable: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn measure(quick: bool) -> Result<Value, String> {
    let plan = Plan::of(quick);
    let admin_url = std::env::var("ENRICH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let postgres = sqlx::PgConnection::connect(&admin_url).await.is_ok();
    let engines: Vec<Engine> = if postgres {
        vec![Engine::Sqlite, Engine::Postgres]
    } else {
        eprintln!("bench-durable: no Postgres at {admin_url}; measuring SQLite only");
        vec![Engine::Sqlite]
    };
    let acks = acknowledgements(&plan, &engines, &admin_url).await?;
    let mut all = Vec::new();
    for &engine in &engines {
        all.push(drains(&plan, engine, &admin_url).await?);
    }
    Ok(json(&plan, &acks, &all, postgres, quick))
}
