//! The HTTP load driver: starts each framework's benchmark server, loads its routes alternately
//! over several rounds, and prints the results as JSON on stdout.
//!
//! ```text
//! bench-load load [--rounds 5] [--requests 20000] [--warmup 2000] [--concurrency 32]
//!                 [--server-workers 1] [--frameworks axum,rocket,poem,actix]
//! bench-load receivers [--rounds 5] [--requests 20000] [--warmup 2000] [--concurrency 32]
//!                      [--frameworks axum,rocket,poem,actix]
//! bench-load recording [--rounds 5] [--requests 20000] [--warmup 2000] [--concurrency 32]
//!                      [--frameworks axum]
//! bench-load limits [--frameworks axum,rocket,poem,actix]
//! bench-load hit <port> <path> <requests> [connections]   # a server started by hand (profilers)
//! ```
//!
//! `load`: one fresh server per (round, framework, route, subscriber), so that its peak RSS
//! (`VmHWM`) belongs to that route alone; the realistic person event on every route, the same
//! request bytes (`Content-Type: application/json` and an `x-surfe-signature` signed with the
//! benchmark secret at the start of the run, which routes (d) and (e) verify with the default
//! tolerance); a warm-up, then a fixed number of requests over a fixed number of keep-alive
//! connections. Every route runs in a server without a `tracing` subscriber; routes (c), (d) and
//! (e) run again in a server with a `fmt` subscriber at INFO ([`SUBSCRIBED_ROUTES`]). The order
//! of frameworks and of these runs rotates every round.
//!
//! `receivers`: what users run. Each framework's shipped example receiver
//! (`target/release/examples/<framework>_receiver`) against `bench-hand-receiver`, the
//! hand-written receiver behind the same server limits doing the same work (verify, decode, print
//! the line), both verifying with the benchmark secret, `POST /webhook` with the same request as
//! `load`; both fresh each round, taking turns slice by slice within it.
//!
//! `recording`: what recording metrics costs (issue 17's "at most 3 %"): the shipped example
//! receiver with `ENRICH_METRICS_LISTEN` set (the Prometheus exporter installed as the `metrics`
//! recorder; the examples are built with the `metrics` features) against the same example
//! without it (no recorder: each recording call finds none), fresh each round, taking turns
//! slice by slice as `receivers` does. Nothing scrapes the recorder during the run.
//!
//! `limits`: route (c) of a fresh server per case, given a body exactly at the 1 MiB limit, then
//! one 100x over it (declared with `Content-Length`, and streamed chunked with no declared
//! length); the server's peak RSS after each.
//!
//! Servers listen on 127.0.0.1 only and are killed after each run, also on failure.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use enrich_benches::client::{Body, LoadResult, post_request, run_load, send_single};
use enrich_benches::payload::{SECRET, event_of_size, realistic_event};
use enrich_benches::server::{FRAMEWORKS, ROUTES, Route};

/// The routes also measured in a server with a `tracing_subscriber::fmt` subscriber at INFO:
/// ours, and the hand-written one they are compared with.
const SUBSCRIBED_ROUTES: [&str; 3] = ["c", "d", "e"];
use enrich_benches::{median, proc_status_kib, process_cpu_ns};
use enrich_webhook::DEFAULT_BODY_LIMIT;
use enrich_webhook::testing::{now, sign};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
struct Options {
    rounds: usize,
    requests: usize,
    warmup: usize,
    concurrency: usize,
    server_workers: usize,
    frameworks: Vec<String>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Self {
            rounds: 5,
            requests: 20_000,
            warmup: 2_000,
            concurrency: 32,
            server_workers: 1,
            frameworks: FRAMEWORKS.iter().map(|name| (*name).to_owned()).collect(),
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = || {
                value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{flag}: not a positive number: {value}"))
            };
            match flag.as_str() {
                "--rounds" => options.rounds = number()?,
                "--requests" => options.requests = number()?,
                "--warmup" => options.warmup = number()?,
                "--concurrency" => options.concurrency = number()?,
                "--server-workers" => options.server_workers = number()?,
                "--frameworks" => {
                    options.frameworks = value.split(',').map(str::to_owned).collect();
                    if let Some(unknown) = options
                        .frameworks
                        .iter()
                        .find(|name| !FRAMEWORKS.contains(&name.as_str()))
                    {
                        return Err(format!("unknown framework `{unknown}`"));
                    }
                }
                _ => return Err(format!("unknown option `{flag}`")),
            }
        }
        Ok(options)
    }
}

/// A server process under load (a benchmark server or a receiver), killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// Starts `bench-server-<framework>`.
    async fn start(
        framework: &str,
        workers: usize,
        verify: bool,
        subscriber: bool,
    ) -> io::Result<Self> {
        let name = format!("bench-server-{framework}");
        let port = free_port()?;
        let mut command = Command::new(binary(&name)?);
        command.args([
            "--port",
            &port.to_string(),
            "--workers",
            &workers.to_string(),
        ]);
        if verify {
            command.arg("--verify");
        }
        if subscriber {
            command.arg("--subscriber");
        }
        Self::spawn(command, port, &name).await
    }

    /// Starts `framework`'s example receiver or the hand-written one, verifying with the
    /// benchmark secret and configured as a user runs it: `RUST_LOG` unset (each one's default
    /// filter), no inbox, the events it prints going to `/dev/null`.
    async fn start_receiver(framework: &str, receiver: Receiver) -> io::Result<Self> {
        let port = free_port()?;
        let example = || binary(&format!("examples/{framework}_receiver"));
        let mut command = match receiver {
            Receiver::Example => Command::new(example()?),
            Receiver::Hand => {
                let mut command = Command::new(binary("bench-hand-receiver")?);
                command.args(["--framework", framework]);
                command
            }
            Receiver::Recorded => Command::new(example()?),
        };
        command
            .env("PORT", port.to_string())
            .env("SURFE_WEBHOOK_SECRET", SECRET)
            .env_remove("RUST_LOG")
            .env_remove("ENRICH_INBOX_URL")
            .env_remove("ENRICH_INBOX_WORKER")
            .env_remove("ENRICH_METRICS_LISTEN")
            .stderr(Stdio::null());
        if receiver == Receiver::Recorded {
            // Nothing scrapes it: recording is what is measured, not serving the text.
            command.env(
                "ENRICH_METRICS_LISTEN",
                format!("127.0.0.1:{}", free_port()?),
            );
        }
        Self::spawn(command, port, &receiver.name(framework)).await
    }

    /// Spawns `command` (which listens on 127.0.0.1:`port`) with its stdout on `/dev/null`,
    /// and waits until it accepts connections.
    async fn spawn(mut command: Command, port: u16, name: &str) -> io::Result<Self> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        command.stdin(Stdio::null()).stdout(Stdio::null());
        let mut server = Self {
            child: command.spawn()?,
            addr,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(io::Error::other(format!("{name} exited: {status}")));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "{name} did not listen on {addr} within 20 s"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(server)
    }

    fn peak_rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.child.id(), "VmHWM")
    }

    fn cpu_ns(&self) -> Option<u64> {
        process_cpu_ns(self.child.id())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free now.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The binary at `relative` to the driver's own directory (`target/release`).
fn binary(relative: &str) -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| io::Error::other("the driver's own path has no directory"))?;
    let path = dir.join(relative);
    if path.exists() {
        Ok(path)
    } else {
        Err(io::Error::other(format!(
            "{} not found: build it with `cargo build --release -p enrich-benches --bins` (the \
             example receivers: `cargo build --release -p enrich-<framework> --examples`)",
            path.display()
        )))
    }
}

fn signed_headers(body: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".to_owned()),
        ("x-surfe-signature", sign(SECRET, now(), body)),
    ]
}

fn as_refs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    headers
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

/// What the measured loads of a started server measured.
struct Measured {
    result: LoadResult,
    /// The server's CPU time over the measured requests, in ns.
    cpu_ns: Option<u64>,
    peak_rss_kib: Option<u64>,
}

impl Measured {
    /// The server's CPU time per measured request, in µs (user and kernel): unlike requests/s,
    /// it barely depends on how much of the machine other processes take meanwhile.
    fn cpu_us(&self) -> Option<f64> {
        let requests = self.result.requests;
        self.cpu_ns
            .filter(|_| requests > 0)
            .map(|ns| ns as f64 / 1_000.0 / requests as f64)
    }

    /// Adds a later load of the same server.
    fn merge(&mut self, later: Measured) {
        self.result.merge(later.result);
        self.cpu_ns = self.cpu_ns.zip(later.cpu_ns).map(|(a, b)| a + b);
        self.peak_rss_kib = later.peak_rss_kib.or(self.peak_rss_kib);
    }

    /// The run's figures as JSON, beside `labels` (which run this was).
    fn to_json(&self, labels: Value) -> Value {
        let mut run = labels;
        run["requests"] = json!(self.result.requests);
        run["seconds"] = json!(self.result.elapsed.as_secs_f64());
        run["rps"] = json!(self.result.requests_per_second());
        run["p50_us"] = json!(self.result.percentile_us(0.50));
        run["p99_us"] = json!(self.result.percentile_us(0.99));
        run["cpu_us_per_request"] = json!(self.cpu_us());
        run["peak_rss_kib"] = json!(self.peak_rss_kib);
        run
    }

    /// The progress line: `what` and the figures.
    fn report(&self, what: &str) {
        eprintln!(
            "{what}: {:>8.0} req/s  p50 {:>6.0} µs  p99 {:>6.0} µs  CPU {:>5.1} µs/req  VmHWM {} KiB",
            self.result.requests_per_second(),
            self.result.percentile_us(0.50),
            self.result.percentile_us(0.99),
            self.cpu_us().unwrap_or(f64::NAN),
            self.peak_rss_kib
                .map_or("?".to_owned(), |kib| kib.to_string()),
        );
    }
}

/// Sends the realistic event, signed now (so a verifying server checks a fresh timestamp with
/// the default tolerance), to `path` of `server` (`name` in errors): one request that must be
/// answered 200, then the warm-up. Returns the request to load it with.
async fn prepare(
    options: &Options,
    server: &Server,
    name: &str,
    path: &str,
) -> io::Result<Arc<[u8]>> {
    let body = realistic_event();
    let headers = signed_headers(&body);
    let headers = as_refs(&headers);
    let check = send_single(
        server.addr,
        path,
        &headers,
        Body::Bytes(body.clone()),
        false,
    )
    .await?;
    if check.status != Some(200) {
        return Err(io::Error::other(format!(
            "{name} {path} answered {:?}: {}",
            check.status,
            String::from_utf8_lossy(&check.body)
        )));
    }
    let request: Arc<[u8]> = post_request(server.addr, path, &headers, &body).into();
    let warmup = run_load(
        server.addr,
        Arc::clone(&request),
        options.warmup,
        options.concurrency,
    )
    .await?;
    if warmup.non_ok > 0 {
        return Err(io::Error::other(format!(
            "{name} {path}: {} warm-up answers were not 200",
            warmup.non_ok
        )));
    }
    Ok(request)
}

/// Sends `requests` copies of `request` to `server` (`name` in errors), every answer 200, and
/// measures them with the server's CPU time meanwhile.
async fn measured_load(
    options: &Options,
    server: &Server,
    name: &str,
    request: &Arc<[u8]>,
    requests: usize,
) -> io::Result<Measured> {
    let cpu_before = server.cpu_ns();
    let result = run_load(
        server.addr,
        Arc::clone(request),
        requests,
        options.concurrency,
    )
    .await?;
    let cpu_ns = match (cpu_before, server.cpu_ns()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    if result.non_ok > 0 {
        return Err(io::Error::other(format!(
            "{name}: {} answers were not 200",
            result.non_ok
        )));
    }
    Ok(Measured {
        result,
        cpu_ns,
        peak_rss_kib: server.peak_rss_kib(),
    })
}

/// One measured (round, framework, route, subscriber).
async fn measure(
    options: &Options,
    framework: &str,
    (route, subscriber): (&Route, bool),
    round: usize,
) -> io::Result<Value> {
    let server = Server::start(
        framework,
        options.server_workers,
        route.key == "d",
        subscriber,
    )
    .await?;
    let request = prepare(options, &server, framework, route.path).await?;
    let measured = measured_load(options, &server, framework, &request, options.requests).await?;
    drop(server);
    measured.report(&format!(
        "round {round} {framework:6} ({}) {:>14}{}",
        route.key,
        route.path,
        if subscriber { " +fmt" } else { "" },
    ));
    Ok(measured.to_json(json!({
        "framework": framework,
        "route": route.key,
        "subscriber": subscriber,
        "round": round,
    })))
}

fn rotated<T: Clone>(items: &[T], by: usize) -> Vec<T> {
    let mut items = items.to_vec();
    if !items.is_empty() {
        let len = items.len();
        items.rotate_left(by % len);
    }
    items
}

async fn load(options: Options) -> io::Result<Value> {
    let variants: Vec<(&Route, bool)> = ROUTES
        .iter()
        .map(|route| (route, false))
        .chain(
            ROUTES
                .iter()
                .filter(|route| SUBSCRIBED_ROUTES.contains(&route.key))
                .map(|route| (route, true)),
        )
        .collect();
    let mut runs = Vec::new();
    for round in 0..options.rounds {
        for framework in rotated(&options.frameworks, round) {
            for variant in rotated(&variants, round) {
                runs.push(measure(&options, &framework, variant, round).await?);
            }
        }
    }
    let field = |run: &Value, key: &str| run[key].as_f64().unwrap_or(f64::NAN);
    let mut summary = serde_json::Map::new();
    for framework in &options.frameworks {
        let of = |route: &str, subscriber: bool| -> Vec<&Value> {
            runs.iter()
                .filter(|run| {
                    run["framework"] == framework.as_str()
                        && run["route"] == route
                        && run["subscriber"] == subscriber
                })
                .collect()
        };
        let summarize = |subscriber: bool| {
            let mut routes = serde_json::Map::new();
            for route in &ROUTES {
                let runs = of(route.key, subscriber);
                if runs.is_empty() {
                    continue;
                }
                let values = |key: &str| runs.iter().map(|run| field(run, key)).collect::<Vec<_>>();
                routes.insert(
                    route.key.to_owned(),
                    json!({
                        "path": route.path,
                        "what": route.what,
                        "rps": median(&values("rps")),
                        "p50_us": median(&values("p50_us")),
                        "p99_us": median(&values("p99_us")),
                        "cpu_us_per_request": median(&values("cpu_us_per_request")),
                        "peak_rss_kib": median(&values("peak_rss_kib")),
                    }),
                );
            }
            routes
        };
        // Ratios within each round (the runs of a round are minutes apart at most), then their
        // median over the rounds. `top` and `bottom` are (route, with a subscriber).
        let ratio = |top: (&str, bool), bottom: (&str, bool), key: &str| {
            let per_round: Vec<f64> = (0..options.rounds)
                .filter_map(|round| {
                    let find = |(route, subscriber): (&str, bool)| {
                        runs.iter().find(|run| {
                            run["framework"] == framework.as_str()
                                && run["route"] == route
                                && run["subscriber"] == subscriber
                                && run["round"] == round
                        })
                    };
                    Some(field(find(top)?, key) / field(find(bottom)?, key))
                })
                .collect();
            median(&per_round)
        };
        let bare = |route| (route, false);
        let fmt = |route| (route, true);
        summary.insert(
            framework.clone(),
            json!({
                "routes": summarize(false),
                "routes_with_subscriber": summarize(true),
                "ratios": {
                    "rps_c_over_b": ratio(bare("c"), bare("b"), "rps"),
                    "rps_d_over_b": ratio(bare("d"), bare("b"), "rps"),
                    "rps_c_over_a": ratio(bare("c"), bare("a"), "rps"),
                    "rps_c_over_e": ratio(bare("c"), bare("e"), "rps"),
                    "rps_d_over_e": ratio(bare("d"), bare("e"), "rps"),
                    // Server CPU per request, (e) over ours: above 1 when ours needs less.
                    "cpu_e_over_c": ratio(bare("e"), bare("c"), "cpu_us_per_request"),
                    "cpu_e_over_d": ratio(bare("e"), bare("d"), "cpu_us_per_request"),
                    "cpu_b_over_c": ratio(bare("b"), bare("c"), "cpu_us_per_request"),
                    "rss_c_over_b": ratio(bare("c"), bare("b"), "peak_rss_kib"),
                    "rss_d_over_b": ratio(bare("d"), bare("b"), "peak_rss_kib"),
                },
                "ratios_with_subscriber": {
                    "rps_c_over_e": ratio(fmt("c"), fmt("e"), "rps"),
                    "rps_d_over_e": ratio(fmt("d"), fmt("e"), "rps"),
                    "cpu_e_over_d": ratio(fmt("e"), fmt("d"), "cpu_us_per_request"),
                    "cpu_d_without_over_with": ratio(bare("d"), fmt("d"), "cpu_us_per_request"),
                    "rps_c_with_over_without": ratio(fmt("c"), bare("c"), "rps"),
                    "rps_d_with_over_without": ratio(fmt("d"), bare("d"), "rps"),
                    "rps_e_with_over_without": ratio(fmt("e"), bare("e"), "rps"),
                },
            }),
        );
    }
    Ok(json!({
        "settings": {
            "rounds": options.rounds,
            "requests": options.requests,
            "warmup": options.warmup,
            "concurrency": options.concurrency,
            "server_workers": options.server_workers,
            "body_bytes": realistic_event().len(),
        },
        "summary": summary,
        "runs": runs,
    }))
}

/// The receivers `receivers` and `recording` compare, two at a time, for each framework.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Receiver {
    /// The shipped example (`crates/enrich-<framework>/examples/<framework>_receiver`).
    Example,
    /// `bench-hand-receiver`: the hand-written receiver behind the example's own limits.
    Hand,
    /// The shipped example with `ENRICH_METRICS_LISTEN` set: the Prometheus exporter installed
    /// as the `metrics` recorder, so every delivery is recorded (the example is built with the
    /// `metrics` features; without a recorder, as [`Receiver::Example`] runs, each recording
    /// call finds none and does nothing).
    Recorded,
}

impl Receiver {
    /// Its key in the JSON.
    fn key(self) -> &'static str {
        match self {
            Self::Example => "example",
            Self::Hand => "hand",
            Self::Recorded => "recorded",
        }
    }

    /// Its name in messages: the binary it runs.
    fn name(self, framework: &str) -> String {
        match self {
            Self::Example => format!("{framework}_receiver"),
            Self::Hand => format!("bench-hand-receiver --framework {framework}"),
            Self::Recorded => format!("{framework}_receiver --metrics-listen"),
        }
    }
}

/// The slices each receiver's measured requests of a round are cut into: the two receivers take
/// turns slice by slice (A B B A A B …), so that both meet the same moments of a shared machine.
const SLICES: usize = 10;

/// `receivers`: each framework's shipped example receiver against the hand-written receiver
/// behind the same limits ([`compare`]).
async fn receivers(options: Options) -> io::Result<Value> {
    compare(options, [Receiver::Example, Receiver::Hand]).await
}

/// `recording`: what recording metrics costs a receiver: the shipped example with a Prometheus
/// recorder installed against the same example without one ([`compare`]).
async fn recording(options: Options) -> io::Result<Value> {
    compare(options, [Receiver::Recorded, Receiver::Example]).await
}

/// `top` against `bottom`. Per round and framework: both started fresh and warmed up, then their
/// measured requests in [`SLICES`] turns each, alternating (which goes first alternates every
/// round, the order of frameworks rotates); per framework, the medians over the rounds, the
/// ratio of the medians, and the median of the rounds' ratios (`top` ÷ `bottom` by requests/s,
/// `bottom` ÷ `top` by server CPU per request: above 1 when `top` needs less).
async fn compare(options: Options, [top, bottom]: [Receiver; 2]) -> io::Result<Value> {
    let mut runs = Vec::new();
    let slice = options.requests.div_ceil(SLICES);
    for round in 0..options.rounds {
        for framework in rotated(&options.frameworks, round) {
            let pair = [top, bottom];
            let mut started = Vec::new();
            for receiver in pair {
                let name = receiver.name(&framework);
                let server = Server::start_receiver(&framework, receiver).await?;
                let request = prepare(&options, &server, &name, "/webhook").await?;
                started.push((name, server, request));
            }
            let mut measured: [Option<Measured>; 2] = [None, None];
            for turn in 0..SLICES {
                let order = if (turn + round) % 2 == 0 {
                    [0, 1]
                } else {
                    [1, 0]
                };
                for index in order {
                    let (name, server, request) = &started[index];
                    let load = measured_load(&options, server, name, request, slice).await?;
                    match &mut measured[index] {
                        Some(total) => total.merge(load),
                        slot => *slot = Some(load),
                    }
                }
            }
            drop(started);
            for (receiver, measured) in pair.into_iter().zip(measured) {
                let Some(measured) = measured else { continue };
                measured.report(&format!("round {round} {:38}", receiver.name(&framework)));
                runs.push(measured.to_json(json!({
                    "framework": framework,
                    "receiver": receiver.key(),
                    "round": round,
                })));
            }
        }
    }
    let mut summary = serde_json::Map::new();
    for framework in &options.frameworks {
        let figure = |receiver: Receiver, key: &str, round: usize| {
            runs.iter()
                .find(|run| {
                    run["framework"] == framework.as_str()
                        && run["receiver"] == receiver.key()
                        && run["round"] == round
                })
                .and_then(|run| run[key].as_f64())
                .unwrap_or(f64::NAN)
        };
        let rounds = |receiver: Receiver, key: &str| -> Vec<f64> {
            (0..options.rounds)
                .map(|round| figure(receiver, key, round))
                .collect()
        };
        // `high` over `low` within each round.
        let per_round = |high: Receiver, low: Receiver, key: &str| -> Vec<f64> {
            (0..options.rounds)
                .map(|round| figure(high, key, round) / figure(low, key, round))
                .collect()
        };
        let (top_rps, bottom_rps) = (rounds(top, "rps"), rounds(bottom, "rps"));
        let (top_cpu, bottom_cpu) = (
            rounds(top, "cpu_us_per_request"),
            rounds(bottom, "cpu_us_per_request"),
        );
        let rps_ratios = per_round(top, bottom, "rps");
        // Written the way round of the requests/s ratio: above 1 when `top` needs less.
        let cpu_ratios = per_round(bottom, top, "cpu_us_per_request");
        let (t, b) = (top.key(), bottom.key());
        summary.insert(
            framework.clone(),
            json!({
                t: top.name(framework),
                format!("{t}_rps"): median(&top_rps),
                format!("{b}_rps"): median(&bottom_rps),
                format!("{t}_cpu_us_per_request"): median(&top_cpu),
                format!("{b}_cpu_us_per_request"): median(&bottom_cpu),
                format!("{t}_p99_us"): median(&rounds(top, "p99_us")),
                format!("{b}_p99_us"): median(&rounds(bottom, "p99_us")),
                "rps_ratio_of_medians": median(&top_rps) / median(&bottom_rps),
                "rps_median_of_ratios": median(&rps_ratios),
                "rps_ratios": rps_ratios,
                "cpu_ratio_of_medians": median(&bottom_cpu) / median(&top_cpu),
                "cpu_median_of_ratios": median(&cpu_ratios),
            }),
        );
    }
    Ok(json!({
        "settings": {
            "rounds": options.rounds,
            "requests": options.requests,
            "warmup": options.warmup,
            "concurrency": options.concurrency,
            "body_bytes": realistic_event().len(),
        },
        "summary": summary,
        "runs": runs,
    }))
}

/// Sends one body to route (c) of a fresh server and reports the answer and the peak RSS.
async fn limit_case(
    framework: &str,
    case: &str,
    body: Body,
    chunked: bool,
    length: u64,
) -> io::Result<Value> {
    let server = Server::start(framework, 1, false, false).await?;
    let headers = [("content-type", "application/json")];
    let result = tokio::time::timeout(
        Duration::from_secs(120),
        send_single(server.addr, "/ours", &headers, body, chunked),
    )
    .await
    .map_err(|_| io::Error::other(format!("{framework} {case}: no answer within 120 s")))??;
    // Let the server finish whatever it still does with the connection before reading its peak.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let peak_rss_kib = server.peak_rss_kib();
    eprintln!(
        "{framework:6} {case:28}: status {:?}, {} of {length} body bytes sent, VmHWM {} KiB",
        result.status,
        result.body_bytes_sent,
        peak_rss_kib.map_or("?".to_owned(), |kib| kib.to_string()),
    );
    Ok(json!({
        "framework": framework,
        "case": case,
        "body_bytes": length,
        "chunked": chunked,
        "status": result.status,
        "body_bytes_sent": result.body_bytes_sent,
        "peak_rss_kib": peak_rss_kib,
    }))
}

async fn limits(options: Options) -> io::Result<Value> {
    let limit = DEFAULT_BODY_LIMIT;
    let at_limit = event_of_size(limit).ok_or_else(|| io::Error::other("no event that size"))?;
    let small = realistic_event();
    let over = 100 * limit as u64;
    let mut cases = Vec::new();
    for framework in &options.frameworks {
        let small_len = small.len() as u64;
        cases.push(
            limit_case(
                framework,
                "small",
                Body::Bytes(small.clone()),
                false,
                small_len,
            )
            .await?,
        );
        cases.push(
            limit_case(
                framework,
                "at_limit",
                Body::Bytes(at_limit.clone()),
                false,
                limit as u64,
            )
            .await?,
        );
        cases.push(
            limit_case(
                framework,
                "over_100x_declared",
                Body::Filler(over),
                false,
                over,
            )
            .await?,
        );
        cases.push(
            limit_case(
                framework,
                "over_100x_chunked",
                Body::Filler(over),
                true,
                over,
            )
            .await?,
        );
    }
    Ok(json!({ "limit_bytes": limit, "cases": cases }))
}

/// Sends `requests` realistic signed requests to `path` of a server already listening on
/// 127.0.0.1:`port`, e.g. one running under `valgrind --tool=callgrind` or `perf record`, over
/// `connections` keep-alive connections (default 4).
async fn hit(args: &[String]) -> io::Result<Value> {
    let connections = match args.get(3) {
        None => Some(4),
        Some(n) => n.parse::<usize>().ok().filter(|n| *n > 0),
    };
    let (Some(port), Some(path), Some(requests), Some(connections)) = (
        args.first().and_then(|port| port.parse::<u16>().ok()),
        args.get(1),
        args.get(2).and_then(|n| n.parse::<usize>().ok()),
        connections,
    ) else {
        return Err(io::Error::other(
            "usage: bench-load hit <port> <path> <requests> [connections]",
        ));
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let body = realistic_event();
    let headers = signed_headers(&body);
    let request: Arc<[u8]> = post_request(addr, path, &as_refs(&headers), &body).into();
    let result = run_load(addr, request, requests, connections).await?;
    Ok(json!({ "requests": result.requests, "non_ok": result.non_ok }))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = args.split_first() else {
        eprintln!("usage: bench-load <load|receivers|recording|limits|hit> [options]");
        return ExitCode::from(2);
    };
    let options = match Options::parse(if mode == "hit" { &[] } else { rest }) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("bench-load: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("bench-load: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match mode.as_str() {
        "load" => runtime.block_on(load(options)),
        "receivers" => runtime.block_on(receivers(options)),
        "recording" => runtime.block_on(recording(options)),
        "limits" => runtime.block_on(limits(options)),
        "hit" => runtime.block_on(hit(rest)),
        other => {
            eprintln!("bench-load: unknown mode `{other}`");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(value) => {
            println!("{value:#}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("bench-load: {error}");
            ExitCode::FAILURE
        }
    }
}
