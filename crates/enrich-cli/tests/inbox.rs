//! `enrich inbox …` and `enrich reconcile`, run as processes against real SQLite inbox files
//! (and, for `reconcile`, the local fake of the API).

#![allow(
    clippy::field_reassign_with_default,
    reason = "enrich-types structs are #[non_exhaustive]: they are built from Default, field by field"
)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use enrich_inbox::{DeliveryId, Inbox, Job, State, Worker, WorkerConfig};
use enrich_sim::{Sim, SimConfig};
use fixtures::event;
use serde_json::Value;

const KEY: &str = "sk_cli_inbox_test";

/// Events to store, built from their JSON.
mod fixtures {
    use enrich_types::WebhookEvent;

    /// A `person.enrichment.completed` event and its JSON.
    pub fn event(enrichment_id: &str, external_id: &str) -> (WebhookEvent, Vec<u8>) {
        let body = format!(
            r#"{{"eventType":"person.enrichment.completed","data":{{"enrichmentID":"{enrichment_id}","person":{{"externalID":"{external_id}"}}}}}}"#
        );
        let event = serde_json::from_str(&body).expect("a valid event");
        (event, body.into_bytes())
    }
}

/// `enrich` with `args`, with none of the variables it reads inherited.
fn enrich(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_enrich"));
    for variable in [
        "SURFE_API_KEY",
        "SURFE_API_URL",
        "SURFE_WEBHOOK_SECRET",
        "ENRICH_LOG",
        "ENRICH_INBOX_URL",
        "ENRICH_ADMIN_TOKEN",
        "ENRICH_ADMIN_READ_ONLY_TOKEN",
        "ENRICH_INBOX_KEYS",
    ] {
        command.env_remove(variable);
    }
    command.args(args).output().expect("enrich runs")
}

/// `enrich --json args…`, which must succeed; its output decoded.
fn enrich_json(args: &[&str]) -> Value {
    let output = enrich(&[&["--json"], args].concat());
    assert!(
        output.status.success(),
        "enrich {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

/// Asserts `enrich args…` failed with exit status 1 and said `needle`, without a panic.
fn assert_fails(args: &[&str], needle: &str) {
    let output = enrich(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "enrich {args:?}: {stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A fresh SQLite inbox URL in the temporary directory (files removed when dropped).
struct TempInbox(PathBuf);

impl TempInbox {
    fn new(name: &str) -> Self {
        static SEQUENCE: AtomicUsize = AtomicUsize::new(0);
        Self(std::env::temp_dir().join(format!(
            "enrich-cli-inbox-{}-{}-{name}.db",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        )))
    }

    fn url(&self) -> String {
        format!("sqlite:{}", self.0.display())
    }
}

impl Drop for TempInbox {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// Processes every due delivery once: `crm-fail-…` people fail (and, with one attempt allowed,
/// become dead letters); the others are done.
async fn process_all(inbox: &Inbox) {
    let worker = Worker::new(inbox.clone(), |job: Job| async move {
        match job.event().external_id() {
            Some(id) if id.starts_with("crm-fail") => Err(std::io::Error::other("refused by test")),
            _ => Ok(()),
        }
    })
    .config(
        WorkerConfig::default()
            .max_attempts(1)
            .poll_interval(Duration::from_millis(10)),
    )
    .spawn();
    for _ in 0..3000 {
        let counts = inbox.counts().await.expect("counts");
        if counts.pending == 0 && counts.processing == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    worker.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_commands_operate_a_real_sqlite_inbox() {
    let file = TempInbox::new("ops");
    let url = file.url();
    let inbox = Inbox::open(&url).await.expect("open");
    for external_id in ["crm-1", "crm-2", "crm-3", "crm-fail-1", "crm-fail-2"] {
        let (event, raw) = event("e-1", external_id);
        inbox
            .store_reconciled(&event, raw.into())
            .await
            .expect("store");
    }
    process_all(&inbox).await;

    let stats = enrich_json(&["inbox", "stats", "--inbox", &url]);
    assert_eq!(stats["done"], 3, "{stats}");
    assert_eq!(stats["dead"], 2, "{stats}");
    assert_eq!(stats["pending"], 0, "{stats}");
    assert_eq!(stats["total"], 5, "{stats}");
    let table =
        String::from_utf8_lossy(&enrich(&["inbox", "stats", "--inbox", &url]).stdout).into_owned();
    assert!(
        table
            .lines()
            .any(|line| line.split_whitespace().eq(["dead", "2"])),
        "{table}"
    );

    let dead = enrich_json(&["inbox", "dead", "--inbox", &url]);
    let dead = dead.as_array().expect("an array");
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0]["externalID"], "crm-fail-1");
    assert_eq!(dead[0]["attempts"], 1);
    assert_eq!(dead[0]["lastError"], "refused by test");
    let dead_id = dead[0]["id"].as_i64().expect("an id");
    // Error texts may repeat personal data: tables show them only when asked.
    let table =
        String::from_utf8_lossy(&enrich(&["inbox", "dead", "--inbox", &url]).stdout).into_owned();
    assert!(
        !table.contains("refused by test")
            && table.contains("(15 chars, --show-personal)")
            && table.contains("crm-fail-2"),
        "{table}"
    );
    let table = String::from_utf8_lossy(
        &enrich(&["inbox", "dead", "--show-personal", "--inbox", &url]).stdout,
    )
    .into_owned();
    assert!(
        table.contains("refused by test") && table.contains("crm-fail-2"),
        "{table}"
    );

    // Retry one, by id, through the environment variable.
    let output = Command::new(env!("CARGO_BIN_EXE_enrich"))
        .args(["--json", "inbox", "retry", &dead_id.to_string()])
        .env("ENRICH_INBOX_URL", &url)
        .output()
        .expect("enrich runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let retried: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(retried["requeued"], 1);
    let delivery = inbox
        .get(DeliveryId(dead_id))
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(delivery.state, State::Pending);
    assert_eq!(delivery.attempts, 0);

    // Clear errors: an unknown id, a delivery in another state, a missing file.
    assert_fails(
        &["inbox", "retry", "9999", "--inbox", &url],
        "the inbox holds no delivery 9999",
    );
    assert_fails(
        &["inbox", "retry", &dead_id.to_string(), "--inbox", &url],
        "is pending, not a dead letter",
    );
    assert_fails(
        &["inbox", "replay", &dead_id.to_string(), "--inbox", &url],
        "not a done delivery",
    );
    let missing = format!("{url}.missing");
    assert_fails(
        &["inbox", "stats", "--inbox", &missing],
        "the file does not exist",
    );
    assert!(
        !std::path::Path::new(&missing["sqlite:".len()..]).exists(),
        "no file created"
    );
    assert_fails(
        &["inbox", "stats", "--inbox", "mysql://h/db"],
        "must start with `sqlite:`",
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    assert_fails(
        &[
            "inbox",
            "dead",
            "--inbox",
            &format!("postgres://postgres@{closed}/inbox"),
        ],
        "is its Postgres server running and reachable?",
    );

    // Retry every dead letter, then the failing ones die again.
    let all = enrich_json(&["inbox", "retry", "--all", "--inbox", &url]);
    assert_eq!(all["requeued"], 1, "the other one is already pending");
    process_all(&inbox).await;
    assert_eq!(inbox.counts().await.expect("counts").dead, 2);

    // Replay a done delivery.
    let done = inbox.list(State::Done, 1).await.expect("list");
    let done_id = done[0].id;
    let replayed = enrich_json(&["inbox", "replay", &done_id.to_string(), "--inbox", &url]);
    assert_eq!(replayed["replayed"], done_id.0);
    assert_eq!(
        inbox.get(done_id).await.expect("get").expect("kept").state,
        State::Pending
    );
    process_all(&inbox).await;

    // Purge: nothing is old enough for a day; with no retention every done delivery goes.
    let kept = enrich_json(&["inbox", "purge", "--older-than", "1d", "--inbox", &url]);
    assert_eq!(kept["bodiesDropped"], 0);
    assert_eq!(kept["keysForgotten"], 0);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let purged = enrich_json(&[
        "inbox",
        "purge",
        "--older-than",
        "0s",
        "--keep-keys",
        "0s",
        "--inbox",
        &url,
    ]);
    assert_eq!(purged["keysForgotten"], 3, "{purged}");
    let counts = inbox.counts().await.expect("counts");
    assert_eq!((counts.done, counts.dead, counts.total()), (0, 2, 2));
    // Dead letters lose their body and error text after --dead-letters (30 days by default).
    let dead = enrich_json(&["inbox", "purge", "--dead-letters", "0s", "--inbox", &url]);
    assert_eq!(dead["deadLettersDropped"], 2, "{dead}");
    let counts = inbox.counts().await.expect("counts");
    assert_eq!((counts.dead, counts.purged), (0, 2));
    for letter in inbox.list(State::Purged, 10).await.expect("list") {
        assert_eq!((letter.raw_body, letter.last_error), (None, None));
    }
    inbox.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_stores_the_people_whose_delivery_never_arrived() {
    // Every delivery goes to a closed port: none arrives.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let sim = Sim::start(
        SimConfig::default()
            .api_key(KEY)
            .item_delay(Duration::from_millis(1))
            .retry_schedule(Vec::new()),
    )
    .await
    .expect("the fake starts");
    let client = enrich_client::Client::builder()
        .base_url(sim.url())
        .api_key(KEY)
        .build()
        .expect("a client");
    let people: Vec<enrich_types::PersonToEnrich> = (0..8)
        .map(|index| {
            let mut person = enrich_types::PersonToEnrich::default();
            person.first_name = Some(format!("First{index}"));
            person.last_name = Some("Last".to_owned());
            person.company_domain = Some("engines.example".to_owned());
            person.external_id = (index < 7).then(|| format!("crm-{index}"));
            person
        })
        .collect();
    let mut include = enrich_types::Include::default();
    include.email = true;
    let request = enrich_types::EnrichPeopleRequest::new(include, people)
        .expect("a request")
        .with_webhook_url(&format!("http://{closed}/webhook"))
        .expect("a loopback URL");
    let id = client
        .start_people(&request)
        .await
        .expect("started")
        .enrichment_id
        .expect("an id");
    assert!(sim.finished(&id).await);

    // Three people already in the inbox (as if their webhook had arrived).
    let file = TempInbox::new("reconcile");
    let url = file.url();
    let inbox = Inbox::open(&url).await.expect("open");
    for external_id in ["crm-0", "crm-3", "crm-6"] {
        let (event, raw) = event(&id, external_id);
        inbox
            .store_reconciled(&event, raw.into())
            .await
            .expect("store");
    }

    let api = sim.url();
    let args = [
        "reconcile",
        id.as_str(),
        "--inbox",
        &url,
        "--api",
        &api,
        "--api-key",
        KEY,
    ];
    let first = enrich_json(&args);
    assert_eq!(first["added"], 4, "{first}");
    assert_eq!(first["alreadyStored"], 3, "{first}");
    assert_eq!(first["unmatched"], 1, "{first}");
    assert_eq!(first["people"], 8, "{first}");
    assert_eq!(inbox.counts().await.expect("counts").total(), 7);

    let again = enrich(&args);
    assert!(again.status.success());
    let table = String::from_utf8_lossy(&again.stdout).into_owned();
    assert!(
        table
            .lines()
            .any(|line| line.starts_with("added") && line.ends_with(" 0")),
        "a second run adds nothing:\n{table}"
    );
    assert!(
        table
            .lines()
            .any(|line| line.starts_with("already stored") && line.ends_with(" 7")),
        "{table}"
    );
    assert_eq!(inbox.counts().await.expect("counts").total(), 7);

    // Clear errors: a wrong key, an unknown enrichment, no inbox.
    let wrong = [
        "reconcile",
        id.as_str(),
        "--inbox",
        &url,
        "--api",
        &api,
        "--api-key",
        "sk_wrong",
    ];
    assert_fails(&wrong, "401");
    assert_fails(
        &[
            "reconcile",
            "no-such-id",
            "--inbox",
            &url,
            "--api",
            &api,
            "--api-key",
            KEY,
        ],
        "404",
    );
    let missing = format!("{url}.missing");
    assert_fails(
        &[
            "reconcile",
            id.as_str(),
            "--inbox",
            &missing,
            "--api",
            &api,
            "--api-key",
            KEY,
        ],
        "the file does not exist",
    );
    inbox.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_erase_erases_one_person_and_prints_only_ids() {
    let file = TempInbox::new("erase");
    let url = file.url();
    let inbox = Inbox::open(&url).await.expect("open");
    let mut ids = Vec::new();
    for (enrichment, person, email) in [
        ("e-1", "crm-1", "Ada@Example.com"),
        ("e-1", "crm-2", "grace@example.com"),
        ("e-2", "crm-3", "alan@example.com"),
    ] {
        let body = format!(
            r#"{{"eventType":"person.enrichment.completed","data":{{"enrichmentID":"{enrichment}","person":{{"externalID":"{person}","emails":[{{"email":"{email}"}}]}}}}}}"#
        );
        let event = serde_json::from_str(&body).expect("a valid event");
        match inbox
            .store_reconciled(&event, body.into_bytes().into())
            .await
            .expect("store")
        {
            enrich_inbox::Stored::New(id) => ids.push(id),
            enrich_inbox::Stored::Duplicate => panic!("a new delivery"),
        }
    }

    // At TRACE, no command prints a stored person's email on stderr or stdout.
    for args in [
        &["inbox", "stats"][..],
        &["inbox", "dead"],
        &["inbox", "erase", "--enrichment", "e-1", "--dry-run"],
        &[
            "inbox",
            "erase",
            "--email",
            "grace@example.com",
            "--dry-run",
        ],
        &["inbox", "purge"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_enrich"))
            .env("ENRICH_LOG", "trace")
            .env_remove("ENRICH_INBOX_URL")
            .args(args)
            .args(["--inbox", &url])
            .output()
            .expect("enrich runs");
        assert!(output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("TRACE") || stderr.contains("DEBUG"),
            "{args:?} logged nothing: {stderr}"
        );
        for stream in [stderr, String::from_utf8_lossy(&output.stdout)] {
            assert!(
                !stream.to_lowercase().contains("example.com"),
                "{args:?}: {stream}"
            );
        }
    }

    let preview = enrich_json(&[
        "inbox",
        "erase",
        "--email",
        "ada@example.com",
        "--dry-run",
        "--inbox",
        &url,
    ]);
    assert_eq!(preview["dryRun"], true, "{preview}");
    assert_eq!(preview["deliveries"], serde_json::json!([ids[0].0]));
    assert_eq!(preview["byState"]["pending"], 1);
    assert_eq!(preview["bodies"], 1);
    let body = |id: DeliveryId| {
        let inbox = inbox.clone();
        async move { inbox.get(id).await.expect("get").expect("kept").raw_body }
    };
    assert!(body(ids[0]).await.is_some(), "a dry run changes nothing");

    // The table names no person: counts and ids only.
    let output = enrich(&[
        "inbox",
        "erase",
        "--email",
        "ada@example.com",
        "--inbox",
        &url,
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("erased") && stdout.contains(&format!("deliveries: {}", ids[0])),
        "{stdout}"
    );
    assert!(
        !stdout.to_lowercase().contains("ada@example.com"),
        "{stdout}"
    );
    assert_eq!(body(ids[0]).await, None);
    let erased = inbox.get(ids[0]).await.expect("get").expect("kept");
    assert_eq!(erased.state, State::Purged);

    let by_id = enrich_json(&["inbox", "erase", "--external-id", "crm-2", "--inbox", &url]);
    assert_eq!(
        by_id["deliveries"],
        serde_json::json!([ids[1].0]),
        "{by_id}"
    );
    assert_eq!(by_id["scrubbed"], true, "{by_id}");
    let by_enrichment = enrich_json(&["inbox", "erase", "--enrichment", "e-2", "--inbox", &url]);
    assert_eq!(by_enrichment["deliveries"], serde_json::json!([ids[2].0]));
    assert_eq!(body(ids[2]).await, None);

    // Exactly one subject.
    assert!(
        !enrich(&["inbox", "erase", "--inbox", &url])
            .status
            .success()
    );
    assert!(
        !enrich(&[
            "inbox",
            "erase",
            "--email",
            "a@b.c",
            "--external-id",
            "x",
            "--inbox",
            &url
        ])
        .status
        .success()
    );
    inbox.close().await;
}

/// Stores `external_ids` in `inbox` as deliveries of enrichment `e-w`.
async fn store_people(inbox: &Inbox, external_ids: &[&str]) {
    for external_id in external_ids {
        let (event, raw) = event("e-w", external_id);
        inbox
            .store_reconciled(&event, raw.into())
            .await
            .expect("store");
    }
}

// Issue 17, item 6: `inbox stats` shows the gauges' figures (due, backoff, processing, dead,
// done, the oldest claimable age), and `inbox watch` reads them again every interval: one JSON
// object per line with --json, the table after a blank line when stdout is not a terminal (a
// pipe, here), following the inbox as it changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_and_watch_show_the_gauges() {
    let file = TempInbox::new("watch");
    let url = file.url();
    let inbox = Inbox::open(&url).await.expect("open");
    store_people(&inbox, &["w-1", "w-2"]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;

    let stats = enrich_json(&["inbox", "stats", "--inbox", &url]);
    for (figure, expected) in [
        ("due", 2),
        ("backoff", 0),
        ("pending", 2),
        ("processing", 0),
        ("dead", 0),
        ("done", 0),
        ("total", 2),
    ] {
        assert_eq!(stats[figure], expected, "{figure}: {stats}");
    }
    let waited = stats["oldestClaimableAgeSeconds"]
        .as_f64()
        .expect("a number");
    assert!(waited > 0.0 && waited < 60.0, "{stats}");
    let table =
        String::from_utf8_lossy(&enrich(&["inbox", "stats", "--inbox", &url]).stdout).into_owned();
    assert!(
        table
            .lines()
            .any(|line| line.split_whitespace().eq(["due", "2"])),
        "{table}"
    );
    assert!(table.contains("oldest claimable: "), "{table}");

    // Three readings 300 ms apart; a delivery stored after the first shows in the next ones.
    let mut child = Command::new(env!("CARGO_BIN_EXE_enrich"))
        .args([
            "--json",
            "inbox",
            "watch",
            "--interval",
            "300ms",
            "--count",
            "3",
        ])
        .args(["--inbox", &url])
        .env_remove("ENRICH_INBOX_URL")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("enrich runs");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped"));
    let read_line = |mut stdout: std::io::BufReader<std::process::ChildStdout>| {
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut stdout, &mut line).expect("read a line");
            (stdout, line)
        })
    };
    let (rest, first) = read_line(stdout).await.unwrap();
    stdout = rest;
    store_people(&inbox, &["w-3"]).await;
    let mut lines = vec![first];
    for _ in 0..2 {
        let (rest, line) = read_line(stdout).await.unwrap();
        stdout = rest;
        lines.push(line);
    }
    let (_, after) = read_line(stdout).await.unwrap();
    assert_eq!(after, "", "three readings, then the end");
    assert!(child.wait().expect("enrich ends").success());
    let lines: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines[0]["due"], 2, "{lines:?}");
    assert_eq!(lines[1]["due"], 3, "{lines:?}");
    assert_eq!(lines[2]["total"], 3, "{lines:?}");

    // Not a terminal: each reading is the table after a blank line, no escape sequences.
    let output = enrich(&[
        "inbox",
        "watch",
        "--interval",
        "100ms",
        "--count",
        "2",
        "--inbox",
        &url,
    ]);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{text}");
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert_eq!(
        text.matches("\nstate        deliveries\n").count(),
        2,
        "{text}"
    );
    assert_eq!(text.matches("due          3\n").count(), 2, "{text}");

    // A usage error (clap's exit status 2), before anything is read.
    let output = enrich(&["inbox", "watch", "--interval", "10ms", "--inbox", &url]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("shorter than the shortest interval, 100ms"),
        "{stderr}"
    );
    inbox.close().await;
}

#[tokio::test]
async fn serve_refuses_to_start_without_a_token_and_serves_the_page_behind_it() {
    let temp = TempInbox::new("serve");
    let url = temp.url();
    let inbox = Inbox::open(&url).await.expect("create the inbox");
    store_people(&inbox, &["serve-1"]).await;
    assert_fails(
        &["inbox", "serve", "--inbox", &url],
        "without an access token",
    );
    assert_fails(
        &["inbox", "serve", "--inbox", &url, "--token", ""],
        "without an access token",
    );
    assert_fails(
        &["inbox", "serve", "--inbox", &url, "--token", "short"],
        "at least 16",
    );
    let token = "serve-test-token-0123456789";
    let mut child = Command::new(env!("CARGO_BIN_EXE_enrich"))
        .args(["inbox", "serve", "--listen", "127.0.0.1:0", "--inbox", &url])
        .env("ENRICH_ADMIN_TOKEN", token)
        .env_remove("ENRICH_INBOX_URL")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("enrich runs");
    let stderr = child.stderr.take().expect("piped");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stderr), &mut line)
            .expect("read a line");
        line
    })
    .await
    .unwrap();
    let page = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    let client = reqwest::Client::new();
    let anonymous = client.get(&page).send().await.expect("the page answers");
    assert_eq!(anonymous.status(), 401);
    assert!(!anonymous.text().await.unwrap().contains("serve-1"));
    let wrong = client
        .get(&page)
        .bearer_auth("serve-test-token-wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let dead = client
        .get(format!("{page}deliveries?state=pending"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(dead.status(), 200);
    assert!(dead.text().await.unwrap().contains("serve-1"));
    child.kill().expect("stop the server");
    let _ = child.wait();
    inbox.close().await;
}

/// `ENRICH_INBOX_KEYS` with one key, `cli-key`, of 32 bytes of 1.
const KEYS: &str = "cli-key:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_rekey_seals_plaintext_rows_under_the_keys_of_the_environment() {
    let file = TempInbox::new("rekey");
    let url = file.url();
    let inbox = Inbox::open(&url).await.expect("open");
    let mut ids = Vec::new();
    for person in ["crm-1", "crm-2", "crm-3", "crm-4", "crm-5"] {
        let (event, body) = event("e-1", person);
        match inbox
            .store_reconciled(&event, body.into())
            .await
            .expect("store")
        {
            enrich_inbox::Stored::New(id) => ids.push(id),
            enrich_inbox::Stored::Duplicate => panic!("a new delivery"),
        }
    }
    inbox.close().await;

    assert_fails(
        &["inbox", "rekey", "--inbox", &url],
        "a keyring (InboxConfig::keys or ENRICH_INBOX_KEYS)",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_enrich"))
        .env("ENRICH_INBOX_KEYS", "cli-key:not-base64")
        .args(["inbox", "rekey", "--inbox", &url])
        .output()
        .expect("enrich runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the key of entry 1 is not base64"),
        "{stderr}"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_enrich"))
        .env("ENRICH_INBOX_KEYS", KEYS)
        .args([
            "--json",
            "inbox",
            "rekey",
            "--batch-size",
            "2",
            "--inbox",
            &url,
        ])
        .output()
        .expect("enrich runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    assert_eq!(report["keyId"], "cli-key");
    assert_eq!(report["resealed"], 5);
    assert_eq!(report["batches"], 3);
    assert_eq!(
        stderr.matches("re-sealed").count(),
        3,
        "progress after each batch: {stderr}"
    );

    // Sealed now: unreadable without the key, read with it.
    let unkeyed = Inbox::open(&url).await.expect("open");
    assert!(matches!(
        unkeyed.get(ids[0]).await,
        Err(enrich_inbox::Error::MissingKey { key_id }) if key_id == "cli-key"
    ));
    unkeyed.close().await;
    let keyed = Inbox::open_with(
        &url,
        enrich_inbox::InboxConfig::default()
            .keys(enrich_inbox::Keyring::parse(KEYS).expect("valid keys")),
    )
    .await
    .expect("open");
    for id in ids {
        let delivery = keyed.get(id).await.expect("opens").expect("stored");
        let body: Value =
            serde_json::from_slice(delivery.raw_body.as_deref().expect("a body")).expect("JSON");
        assert_eq!(
            body["data"]["person"]["externalID"],
            delivery.external_id.unwrap().as_str()
        );
    }
    keyed.close().await;
}
