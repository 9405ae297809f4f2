//! The HTTP load driver: starts each framework's benchmark server, loads its routes alternately
//! over several rounds, and prints the results as JSON on stdout.
//!
//! ```text
//! bench-load load [--rounds 5] [--requests 20000] [--warmup 2000] [--concurrency 32]
//!                 [--server-workers 1] [--frameworks axum,rocket,poem]
//! bench-load limits [--frameworks axum,rocket,poem]
//! bench-load hit <port> <path> <requests>   # load a server started by hand (for profilers)
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

use enrich_benches::client::{Body, post_request, run_load, send_single};
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

/// A benchmark server process, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    async fn start(
        framework: &str,
        workers: usize,
        verify: bool,
        subscriber: bool,
    ) -> io::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut command = Command::new(server_binary(framework)?);
        command
            .args([
                "--port",
                &port.to_string(),
                "--workers",
                &workers.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if verify {
            command.arg("--verify");
        }
        if subscriber {
            command.arg("--subscriber");
        }
        let server = Self {
            child: command.spawn()?,
            addr,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "bench-server-{framework} did not listen on {addr} within 20 s"
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

fn server_binary(framework: &str) -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| io::Error::other("the driver's own path has no directory"))?;
    let path = dir.join(format!("bench-server-{framework}"));
    if path.exists() {
        Ok(path)
    } else {
        Err(io::Error::other(format!(
            "{} not found: build it with `cargo build --release -p enrich-benches --bins`",
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

/// One measured (round, framework, route, subscriber).
async fn measure(
    options: &Options,
    framework: &str,
    (route, subscriber): (&Route, bool),
    round: usize,
) -> io::Result<Value> {
    let body = realistic_event();
    let server = Server::start(
        framework,
        options.server_workers,
        route.key == "d",
        subscriber,
    )
    .await?;
    // Signed now, so route (d) checks a fresh timestamp with the default tolerance.
    let headers = signed_headers(&body);
    let headers = as_refs(&headers);
    let check = send_single(
        server.addr,
        route.path,
        &headers,
        Body::Bytes(body.clone()),
        false,
    )
    .await?;
    if check.status != Some(200) {
        return Err(io::Error::other(format!(
            "{framework} {} answered {:?}: {}",
            route.path,
            check.status,
            String::from_utf8_lossy(&check.body)
        )));
    }
    let request: Arc<[u8]> = post_request(server.addr, route.path, &headers, &body).into();
    let warmup = run_load(
        server.addr,
        Arc::clone(&request),
        options.warmup,
        options.concurrency,
    )
    .await?;
    let cpu_before = server.cpu_ns();
    let result = run_load(server.addr, request, options.requests, options.concurrency).await?;
    // The server's own CPU time per request (user and kernel): unlike requests/s, it barely
    // depends on how much of the machine other processes take meanwhile.
    let cpu_us = match (cpu_before, server.cpu_ns()) {
        (Some(before), Some(after)) if result.requests > 0 => {
            Some(after.saturating_sub(before) as f64 / 1_000.0 / result.requests as f64)
        }
        _ => None,
    };
    let peak_rss_kib = server.peak_rss_kib();
    drop(server);
    if warmup.non_ok + result.non_ok > 0 {
        return Err(io::Error::other(format!(
            "{framework} {}: {} answers were not 200",
            route.path,
            warmup.non_ok + result.non_ok
        )));
    }
    let run = json!({
        "framework": framework,
        "route": route.key,
        "subscriber": subscriber,
        "round": round,
        "requests": result.requests,
        "seconds": result.elapsed.as_secs_f64(),
        "rps": result.requests_per_second(),
        "p50_us": result.percentile_us(0.50),
        "p99_us": result.percentile_us(0.99),
        "cpu_us_per_request": cpu_us,
        "peak_rss_kib": peak_rss_kib,
    });
    eprintln!(
        "round {round} {framework:6} ({}) {:>14}{}: {:>8.0} req/s  p50 {:>6.0} µs  p99 {:>6.0} µs  CPU {:>5.1} µs/req  VmHWM {} KiB",
        route.key,
        route.path,
        if subscriber { " +fmt" } else { "" },
        result.requests_per_second(),
        result.percentile_us(0.50),
        result.percentile_us(0.99),
        cpu_us.unwrap_or(f64::NAN),
        peak_rss_kib.map_or("?".to_owned(), |kib| kib.to_string()),
    );
    Ok(run)
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
/// 127.0.0.1:`port`, e.g. one running under `valgrind --tool=callgrind`.
async fn hit(args: &[String]) -> io::Result<Value> {
    let (Some(port), Some(path), Some(requests)) = (
        args.first().and_then(|port| port.parse::<u16>().ok()),
        args.get(1),
        args.get(2).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        return Err(io::Error::other(
            "usage: bench-load hit <port> <path> <requests>",
        ));
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let body = realistic_event();
    let headers = signed_headers(&body);
    let request: Arc<[u8]> = post_request(addr, path, &as_refs(&headers), &body).into();
    let result = run_load(addr, request, requests, 4).await?;
    Ok(json!({ "requests": result.requests, "non_ok": result.non_ok }))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = args.split_first() else {
        eprintln!("usage: bench-load <load|limits|hit> [options]");
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
