//! The metrics as an operator scrapes them: the axum example receiver (a real process, its
//! `GET /metrics` on a listener of its own) with an inbox, after a scripted mix of deliveries —
//! accepted, a duplicate, a refused one — on a SQLite file, then on a Postgres database
//! (`ENRICH_REQUIRE_POSTGRES=1` makes a missing server a failure).
//!
//! The example's worker prints every event and cannot fail on demand, so it runs with
//! `ENRICH_INBOX_WORKER=off` (a web tier) and the worker part — a handler that fails twice then
//! succeeds, one that dead-letters — runs through the library in this process, on the same
//! database, recorded by this process's Prometheus recorder (the exporter the example uses,
//! rendered as `GET /metrics` would). The example's gauges, read from that database, show the
//! worker's outcome. The API client and reconciliation are driven the same way, against the
//! local fake of the API.
//!
//! Then every metric name that `ops/prometheus-rules.yml` and `ops/grafana-dashboard.json` use
//! must be in those scrapes.

#[path = "../../crates/enrich-inbox/tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use conformance::fixture::{
    Processes, cargo_build, deliver, free_port, fresh_secret, get, person_delivery,
    remove_database, scratch_dir, workspace_root,
};
use enrich_inbox::{Backoff, Inbox, Job, State, Worker, WorkerConfig};
use enrich_webhook::SECRET_ENV_VAR;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// This process's recorder, installed once (the worker, the client and reconciliation record
/// into it).
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &[0.01, 0.1, 1.0, 10.0])
            .and_then(|builder| {
                builder.set_buckets_for_metric(Matcher::Suffix("_batch_size".into()), &[1.0, 8.0])
            })
            .and_then(|builder| builder.install_recorder())
            .expect("the recorder of this test binary")
    })
}

/// One sample of a scrape: its series name, labels and value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of a Prometheus text scrape (comments and blank lines skipped).
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a value");
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once("=\"").expect("key=\"value\"");
                    (key.to_owned(), value.trim_end_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().expect("a number"),
            }
        })
        .collect()
}

/// The value of the one sample named `name` with exactly `labels` (`None` when absent).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    samples
        .iter()
        .find(|sample| sample.name == name && sample.labels == labels)
        .map(|sample| sample.value)
}

/// A sample expected: its series name, exact labels and value.
type Expected<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

/// Asserts each `(name, labels, value)` of `expected` in `samples`.
fn assert_values(samples: &[Sample], expected: &[Expected<'_>], scrape: &str) {
    for (name, labels, want) in expected {
        assert_eq!(
            value(samples, name, labels),
            Some(*want),
            "{name}{labels:?} in {scrape}"
        );
    }
}

/// `GET /metrics` of the example, parsed.
fn scrape(metrics: SocketAddr) -> Vec<Sample> {
    let (status, body) = get(metrics, "/metrics").expect("the metrics listener answers");
    assert_eq!(status, 200);
    parse(&String::from_utf8(body).expect("UTF-8 text"))
}

/// The example receiver on `url` with its worker off and metrics on: its webhook and metrics
/// addresses.
fn start_example(processes: &Processes, url: &str, secret: &str) -> (SocketAddr, SocketAddr) {
    let binary = cargo_build(
        &["-p", "enrich-axum", "--example", "axum_receiver"],
        "axum_receiver",
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let (webhook, metrics) = (free_port().unwrap(), free_port().unwrap());
    let mut command = Command::new(binary);
    command
        .env("PORT", webhook.port().to_string())
        .env(SECRET_ENV_VAR, secret)
        .env("ENRICH_INBOX_URL", url)
        .env("ENRICH_INBOX_WORKER", "off")
        .env("ENRICH_METRICS_LISTEN", metrics.to_string())
        .env("ENRICH_METRICS_INTERVAL", "0.1")
        .env("RUST_LOG", "warn");
    processes
        .spawn("axum_receiver", command, webhook)
        .unwrap_or_else(|error| panic!("{error}"));
    (webhook, metrics)
}

/// Polls `check` every 50 ms for up to a minute (a bound for a hung test, not a speed check).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The scripted mix on the inbox at `url` (`engine`); `round` counts the runs so far in this
/// process (1, 2), which this process's counters add up over. Returns the example's last scrape.
fn scripted_mix(runtime: &tokio::runtime::Runtime, url: &str, engine: &str, round: f64) -> String {
    let processes = Processes::new(env!("CARGO_BIN_EXE_receivers"));
    let secret = fresh_secret();
    let (webhook, metrics) = start_example(&processes, url, &secret);
    eventually("the example to be ready", || {
        get(webhook, "/readyz").is_ok_and(|(status, _)| status == 200)
    });
    assert_eq!(get(webhook, "/healthz").unwrap().0, 200);

    // Three people accepted, the first delivered again (a duplicate), one refused.
    for n in 1..=3 {
        assert_eq!(deliver(webhook, &person_delivery(&secret, n)).unwrap(), 200);
    }
    assert_eq!(deliver(webhook, &person_delivery(&secret, 1)).unwrap(), 200);
    let forged = person_delivery("whsec_not_the_secret", 4);
    assert_eq!(deliver(webhook, &forged).unwrap(), 401);

    // The worker, through the library: crm-1 fails twice then succeeds, crm-2 fails all its 3
    // attempts (a dead letter), crm-3 succeeds at once.
    runtime.block_on(async {
        let inbox = Inbox::open(url).await.expect("open the example's inbox");
        let runs = Arc::new(Mutex::new(Vec::new()));
        let seen = runs.clone();
        let worker = Worker::new(inbox.clone(), move |job: Job| {
            let seen = seen.clone();
            async move {
                let person = job.event().external_id().unwrap_or_default().to_owned();
                seen.lock().unwrap().push(person.clone());
                match (person.as_str(), job.attempt()) {
                    ("crm-1", 1 | 2) | ("crm-2", _) => {
                        Err(std::io::Error::other(format!("{person} failed")))
                    }
                    _ => Ok(()),
                }
            }
        })
        .config(
            WorkerConfig::default()
                .poll_interval(Duration::from_millis(20))
                .max_attempts(3)
                .backoff(Backoff::exponential(
                    Duration::from_millis(10),
                    Duration::from_millis(20),
                )),
        )
        .spawn();
        support::eventually("two done and one dead letter", || async {
            let counts = inbox.counts().await.unwrap();
            (counts.done == 2 && counts.dead == 1).then_some(())
        })
        .await;
        worker.shutdown(Duration::from_secs(10)).await;
        assert_eq!(runs.lock().unwrap().len(), 7, "3 + 3 + 1 runs");
        assert_eq!(inbox.list(State::Dead, 10).await.unwrap().len(), 1);
        inbox.close().await;
    });

    // The example's gauges catch up with the database on their schedule.
    let mut last = Vec::new();
    eventually("the example's gauges to show the worker's outcome", || {
        last = scrape(metrics);
        value(&last, "enrich_inbox_deliveries", &[("state", "done")]) == Some(2.0)
            && value(&last, "enrich_inbox_deliveries", &[("state", "dead")]) == Some(1.0)
    });
    let person = "person.enrichment.completed";
    assert_values(
        &last,
        &[
            (
                "enrich_webhook_deliveries_total",
                &[("code", "accepted"), ("event_type", person)],
                4.0,
            ),
            (
                "enrich_webhook_deliveries_total",
                &[("code", "invalid_signature"), ("event_type", "none")],
                1.0,
            ),
            ("enrich_webhook_pipeline_duration_seconds_count", &[], 5.0),
            (
                "enrich_inbox_stores_total",
                &[("engine", engine), ("result", "new")],
                3.0,
            ),
            (
                "enrich_inbox_stores_total",
                &[("engine", engine), ("result", "duplicate")],
                1.0,
            ),
            (
                "enrich_inbox_store_duration_seconds_count",
                &[("engine", engine)],
                4.0,
            ),
            ("enrich_inbox_deliveries", &[("state", "due")], 0.0),
            ("enrich_inbox_deliveries", &[("state", "backoff")], 0.0),
            ("enrich_inbox_deliveries", &[("state", "processing")], 0.0),
            ("enrich_inbox_oldest_claimable_age_seconds", &[], 0.0),
            ("enrich_inbox_ready", &[], 1.0),
        ],
        "the example's scrape",
    );
    // Bodies read: the four accepted and the forged one (its signature is checked on its body).
    let bodies = value(&last, "enrich_webhook_body_bytes_count", &[]);
    assert_eq!(bodies, Some(5.0), "enrich_webhook_body_bytes_count");
    // Every store shared a commit with at most a few others (the health probes and the gauges'
    // reads write nothing but the probe).
    let commits = value(
        &last,
        "enrich_inbox_commit_batch_size_sum",
        &[("engine", engine)],
    );
    assert!(commits.is_some_and(|writes| writes >= 4.0), "{commits:?}");

    let local = parse(&recorder().render());
    assert_values(
        &local,
        &[
            (
                "enrich_inbox_attempts_total",
                &[("outcome", "done")],
                2.0 * round,
            ),
            (
                "enrich_inbox_attempts_total",
                &[("outcome", "retried")],
                4.0 * round,
            ),
            ("enrich_inbox_attempts_total", &[("outcome", "dead")], round),
            ("enrich_inbox_claimed_total", &[("engine", engine)], 7.0),
            (
                "enrich_inbox_handler_duration_seconds_count",
                &[],
                7.0 * round,
            ),
            (
                "enrich_inbox_queue_duration_seconds_count",
                &[],
                2.0 * round,
            ),
        ],
        "this process's scrape (the worker)",
    );
    processes.stop_all();
    last.iter()
        .map(|sample| sample.name.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The API client and reconciliation, against the local fake of the API: one `429` (a retry
/// after a one-second wait), an enrichment of three people whose deliveries go nowhere, and
/// their reconciliation into an inbox of their own.
fn client_and_reconciliation(runtime: &tokio::runtime::Runtime) {
    runtime.block_on(async {
        let sim = support::sim::start_sim().await;
        sim.throttle_next(1, Duration::from_secs(1));
        // Nothing listens there: every delivery fails, so every person is reconciled.
        let nowhere = format!("http://{}/webhook", free_port().unwrap());
        let enrichment = support::sim::enrich(&sim, &nowhere, 3, 0).await;
        let inbox = Inbox::open("sqlite::memory:").await.unwrap();
        let client = support::sim::client(&sim);
        let report = enrich_inbox::reconcile(&inbox, &client, &enrichment)
            .await
            .expect("reconcile");
        assert_eq!(report.added, 3, "{report:?}");
        inbox.close().await;
    });
    let local = parse(&recorder().render());
    assert_values(
        &local,
        &[
            (
                "enrich_client_requests_total",
                &[("endpoint", "people_start"), ("status", "429")],
                1.0,
            ),
            (
                "enrich_client_requests_total",
                &[("endpoint", "people_start"), ("status", "202")],
                1.0,
            ),
            (
                "enrich_client_retries_total",
                &[("endpoint", "people_start")],
                1.0,
            ),
            (
                "enrich_client_rate_limited_wait_seconds_total",
                &[("endpoint", "people_start")],
                1.0,
            ),
            ("enrich_inbox_reconciled_total", &[("result", "added")], 3.0),
        ],
        "this process's scrape (client and reconciliation)",
    );
}

/// The `enrich_…` metric names in `text` (PromQL expressions, JSON strings): identifiers that
/// start with `enrich_`, taken whole.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let is_ident = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let mut index = 0;
    while let Some(found) = text[index..].find("enrich_") {
        let start = index + found;
        let preceded = start > 0 && is_ident(bytes[start - 1]);
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(text.len(), |offset| start + offset);
        if !preceded {
            names.insert(text[start..end].to_owned());
        }
        index = end;
    }
    names
}

#[test]
fn metric_names_are_found_whole() {
    let names = metric_names(
        r#"sum by (job) (rate(enrich_webhook_deliveries_total{code!~"a"}[5m])) / x_enrich_y + enrich_inbox_ready"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["enrich_inbox_ready", "enrich_webhook_deliveries_total"]
    );
}

#[test]
fn the_scripted_mix_is_counted_exactly_and_every_name_the_rules_and_dashboard_use_is_scraped() {
    recorder(); // installed before anything records
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = scratch_dir()
        .map(|dir| dir.join(format!("metrics-scrape-{}.db", std::process::id())))
        .unwrap_or_else(|error| panic!("{error}"));
    remove_database(&database);
    let sqlite = scripted_mix(
        &runtime,
        &format!("sqlite:{}", database.display()),
        "sqlite",
        1.0,
    );
    remove_database(&database);

    let postgres = runtime.block_on(support::TestDb::postgres("metrics_scrape"));
    if let Some(db) = &postgres {
        scripted_mix(&runtime, &db.url, "postgres", 2.0);
    }
    client_and_reconciliation(&runtime);

    let mut scraped: BTreeSet<String> = sqlite.lines().map(str::to_owned).collect();
    scraped.extend(
        parse(&recorder().render())
            .into_iter()
            .map(|sample| sample.name),
    );
    for file in ["ops/prometheus-rules.yml", "ops/grafana-dashboard.json"] {
        let text = std::fs::read_to_string(workspace_root().join(file)).unwrap();
        let used = metric_names(&text);
        assert!(used.len() >= 5, "{file} names {used:?}");
        let missing: Vec<&String> = used
            .iter()
            .filter(|name| !scraped.contains(*name))
            .collect();
        assert!(
            missing.is_empty(),
            "{file} uses metrics no scrape has: {missing:?}"
        );
    }
}
