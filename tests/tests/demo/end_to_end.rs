//! The third part of the demo: an enrichment end to end, from the local fake of the API
//! to a receiver's inbox, every person processed exactly once.
//!
//! 1. `enrich sim` (the fake API) starts with a fixed seed that makes it send some deliveries
//!    twice and drop some for good (never sent), and a short retry schedule.
//! 2. `enrich people start` sends 20 people to it, with the webhook URL of an axum receiver
//!    that is not listening yet: the first deliveries are refused and retried. Once the fake's
//!    log shows a refusal, the receiver starts, with an SQLite inbox and its worker.
//! 3. `enrich people wait`; then the fake's log is followed until the batch completion event is
//!    delivered, and the inbox until its worker has processed everything stored.
//! 4. `enrich reconcile --inbox …` stores the people whose delivery never arrived; the worker
//!    processes them.
//!
//! The table shows, per person, what the fake did (its attempt log) and how often the worker
//! processed it (the lines it printed). The part fails unless every person is processed exactly
//! once, by the way its deliveries call for, and the run shows a retry, a duplicate and a drop.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use conformance::fixture::{
    Processes, Running, cargo_build, free_port, fresh_secret, get, post_bytes, remove_database,
    scratch_dir,
};

/// How many people the enrichment has.
const PEOPLE: usize = 20;
/// The fake's seed, duplicate rate and drop rate: with these, 20 people show both duplicates and
/// drops (checked by the demo itself, which fails otherwise).
const SEED: &str = "3";
const DUPLICATE_RATE: &str = "0.2";
const DROP_RATE: &str = "0.15";
/// Short waits between retries, long enough in total for the receiver to start.
const RETRY_SCHEDULE: &str = "250ms,500ms,1s,2s,4s,8s";
/// The fake's pace: one person every 100 ms.
const ITEM_DELAY: &str = "100ms";

/// Bounds on every wait (the machine may be slow; none of them is a sleep).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);
/// After the inbox reports nothing left to process, how long a printed line may still be in the
/// pipe.
const LAST_LINES: Duration = Duration::from_millis(300);

/// Runs the end-to-end part; `Ok(false)` when a person is not processed exactly once as expected,
/// or when the run shows no retry, duplicate or drop.
pub fn run(children: &Processes, secret: &str) -> Result<bool, String> {
    let enrich = cargo_build(&["-p", "enrich-cli", "--bin", "enrich"], "enrich")?;
    let dir = scratch_dir()?;
    let stem = format!("e2e-{}", std::process::id());
    let database = dir.join(format!("{stem}.db"));
    let people_file = dir.join(format!("{stem}-people.csv"));
    remove_files(&database, &people_file);
    let external_ids = write_people(&people_file)?;
    let files = (database.as_path(), people_file.as_path());
    let result = enrich_end_to_end(children, secret, &enrich, files, &external_ids);
    children.stop_all();
    remove_files(&database, &people_file);
    let outcome = result?;
    Ok(report(&external_ids, &outcome) && outcome.admin_page)
}

/// Serves the inbox's admin page (`enrich inbox serve`) over the demo's inbox and prints its
/// URL; `false` unless it refuses a request without the token (`401`) and shows the counts
/// to a request with it. The page stops with the demo.
fn admin_page(children: &Processes, enrich: &Path, inbox: &str) -> Result<bool, String> {
    let address = free_port()?;
    let token = fresh_secret().replacen("whsec_", "admin_", 1);
    let mut command = Command::new(enrich);
    command
        .args(["inbox", "serve", "--listen", &address.to_string()])
        .args(["--inbox", inbox])
        .env("ENRICH_ADMIN_TOKEN", &token);
    children.spawn("enrich inbox serve", command, address)?;
    let (anonymous, _) = get(address, "/")?;
    let head = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nconnection: close\r\n\r\n"
    );
    let (signed_in, page) = post_bytes(address, head.as_bytes(), b"")?;
    let shows_counts = String::from_utf8_lossy(&page).contains("id=\"count-done\"");
    let ok = anonymous == 401 && signed_in == 200 && shows_counts;
    println!(
        "  the inbox's admin page: http://{address}/ (enrich inbox serve; sign in with {token})\n  \
         without the token: {anonymous}; with it: {signed_in}, the counts shown: {}  {}",
        if shows_counts { "yes" } else { "no" },
        if ok { "ok" } else { "WRONG" }
    );
    Ok(ok)
}

/// What happened to the enrichment: the fake's attempts and the worker's printed lines.
struct Outcome {
    attempts: Vec<Attempt>,
    /// Per `externalID`, how many times the worker processed it before reconciliation.
    by_webhook: BTreeMap<String, usize>,
    /// The same, for what it processed after reconciliation.
    by_reconciliation: BTreeMap<String, usize>,
    /// Lines the worker printed that were not a person event (the batch completion event).
    other_events: usize,
    /// `enrich reconcile`'s counts: already stored, added.
    reconciled: (u64, u64),
    /// Whether the inbox's admin page refused a request without its token and showed the
    /// counts to one with it.
    admin_page: bool,
}

fn enrich_end_to_end(
    children: &Processes,
    secret: &str,
    enrich: &Path,
    (database, people_file): (&Path, &Path),
    external_ids: &[String],
) -> Result<Outcome, String> {
    let api_key = fresh_secret().replacen("whsec_", "sk_", 1);
    let cli = Cli {
        binary: enrich,
        api_key: &api_key,
    };
    let sim_address = free_port()?;
    let mut sim_command = Command::new(enrich);
    sim_command
        .args(["sim", "--port", &sim_address.port().to_string()])
        .args(["--seed", SEED, "--duplicate-rate", DUPLICATE_RATE])
        .args(["--drop-rate", DROP_RATE, "--retry-schedule", RETRY_SCHEDULE])
        .args(["--item-delay", ITEM_DELAY])
        .env("SURFE_API_KEY", &api_key)
        .env(enrich_webhook::SECRET_ENV_VAR, secret);
    let sim = children.spawn("enrich sim", sim_command, sim_address)?;
    let api = format!("http://{sim_address}");
    let receiver_address = free_port()?;
    let inbox = format!("sqlite:{}", database.display());
    println!(
        "\nAn enrichment end to end: {PEOPLE} people, the fake API delivering to an axum receiver with an \
         SQLite inbox\n(enrich sim --seed {SEED} --duplicate-rate {DUPLICATE_RATE} --drop-rate \
         {DROP_RATE} --retry-schedule {RETRY_SCHEDULE};\n the receiver started once a delivery \
         was refused):"
    );

    let started = cli.run(&[
        "--json",
        "people",
        "start",
        &people_file.display().to_string(),
        "--api",
        &api,
        "--webhook-url",
        &format!("http://{receiver_address}/webhook"),
    ])?;
    let enrichment_id = enrichment_id(&started)?;
    let mut attempts = Vec::new();
    follow(&sim, &mut attempts, "a refused delivery", |attempts| {
        attempts.iter().any(Attempt::refused)
    })?;

    let receiver = children.receiver_on(receiver_address, "axum", secret, &["--inbox", &inbox])?;
    cli.run(&[
        "people",
        "wait",
        &enrichment_id,
        "--api",
        &api,
        "--timeout",
        &SETTLE_TIMEOUT.as_secs().to_string(),
        "--max-interval",
        "1",
    ])?;
    follow(
        &sim,
        &mut attempts,
        "the batch completion event",
        |attempts| {
            attempts
                .iter()
                .any(|attempt| attempt.item.is_none() && attempt.delivered())
        },
    )?;
    let mut other_events = 0;
    let by_webhook = processed(&cli, &inbox, &receiver, &mut other_events)?;

    let reconciled = cli.run(&[
        "--json",
        "reconcile",
        "--inbox",
        &inbox,
        "--api",
        &api,
        &enrichment_id,
    ])?;
    let reconciled = reconcile_counts(&reconciled)?;
    let by_reconciliation = processed(&cli, &inbox, &receiver, &mut other_events)?;
    let unknown: Vec<&String> = by_webhook
        .keys()
        .chain(by_reconciliation.keys())
        .filter(|id| !external_ids.contains(id))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "the worker processed {} people that were not in the enrichment",
            unknown.len()
        ));
    }
    let admin_page = admin_page(children, enrich, &inbox)?;
    Ok(Outcome {
        attempts,
        by_webhook,
        by_reconciliation,
        other_events,
        reconciled,
        admin_page,
    })
}

/// Runs `enrich` commands with the demo's API key (in the environment, not on the command line).
struct Cli<'a> {
    binary: &'a Path,
    api_key: &'a str,
}

impl Cli<'_> {
    /// Runs `enrich ARGS` to its end; its stdout, or its error message if it fails.
    fn run(&self, args: &[&str]) -> Result<String, String> {
        let output = Command::new(self.binary)
            .args(args)
            .env("SURFE_API_KEY", self.api_key)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|error| format!("cannot run enrich: {error}"))?;
        let command = args
            .iter()
            .filter(|arg| !arg.starts_with('-'))
            .take(2)
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        if !output.status.success() {
            return Err(format!(
                "enrich {command} failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        String::from_utf8(output.stdout).map_err(|_| format!("enrich {command}: output not UTF-8"))
    }
}

/// Writes the people to enrich as CSV; returns their `externalID`s, in order.
fn write_people(path: &Path) -> Result<Vec<String>, String> {
    const FIRST: [&str; PEOPLE] = [
        "Ada",
        "Alan",
        "Grace",
        "Edsger",
        "Barbara",
        "Donald",
        "Frances",
        "John",
        "Margaret",
        "Ken",
        "Radia",
        "Dennis",
        "Sophie",
        "Tim",
        "Hedy",
        "Claude",
        "Katherine",
        "Niklaus",
        "Annie",
        "Leslie",
    ];
    const LAST: [&str; PEOPLE] = [
        "Lovelace",
        "Turing",
        "Hopper",
        "Dijkstra",
        "Liskov",
        "Knuth",
        "Allen",
        "Backus",
        "Hamilton",
        "Thompson",
        "Perlman",
        "Ritchie",
        "Wilson",
        "Berners-Lee",
        "Lamarr",
        "Shannon",
        "Johnson",
        "Wirth",
        "Easley",
        "Lamport",
    ];
    let mut csv = String::from("firstName,lastName,companyDomain,externalID\n");
    let mut ids = Vec::with_capacity(PEOPLE);
    for (index, (first, last)) in FIRST.iter().zip(LAST).enumerate() {
        let id = format!("crm-{:02}", index + 1);
        let _ = writeln!(csv, "{first},{last},example.com,{id}");
        ids.push(id);
    }
    std::fs::write(path, csv).map_err(|error| format!("{}: {error}", path.display()))?;
    Ok(ids)
}

fn remove_files(database: &Path, people_file: &Path) {
    remove_database(database);
    let _ = std::fs::remove_file(people_file);
}

/// The one enrichment id `enrich --json people start` printed.
fn enrichment_id(started: &str) -> Result<String, String> {
    let value: serde_json::Value = serde_json::from_str(started)
        .map_err(|error| format!("enrich people start printed no JSON: {error}"))?;
    match value.as_array().map(Vec::as_slice) {
        Some([accepted]) => accepted["enrichmentID"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "enrich people start printed no enrichment id".to_owned()),
        _ => Err("enrich people start did not start exactly one enrichment".to_owned()),
    }
}

/// `enrich --json reconcile`'s counts: already stored, added.
fn reconcile_counts(printed: &str) -> Result<(u64, u64), String> {
    let value: serde_json::Value = serde_json::from_str(printed)
        .map_err(|error| format!("enrich reconcile printed no JSON: {error}"))?;
    match (value["alreadyStored"].as_u64(), value["added"].as_u64()) {
        (Some(stored), Some(added)) => Ok((stored, added)),
        _ => Err("enrich reconcile printed no counts".to_owned()),
    }
}

/// Reads the fake's attempt lines into `attempts` until `done` holds for them (bounded).
fn follow(
    sim: &Running,
    attempts: &mut Vec<Attempt>,
    what: &str,
    done: impl Fn(&[Attempt]) -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while !done(attempts) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("the fake's log did not show {what} in time"));
        }
        match sim.lines.recv_timeout(left) {
            Ok(line) => attempts.extend(Attempt::parse(&line)),
            Err(_) => return Err(format!("the fake's log did not show {what} in time")),
        }
    }
    Ok(())
}

/// Waits until the inbox has nothing pending or in progress, then counts the person events the
/// worker printed, per `externalID`; other events are added to `other_events`.
fn processed(
    cli: &Cli<'_>,
    inbox: &str,
    receiver: &Running,
    other_events: &mut usize,
) -> Result<BTreeMap<String, usize>, String> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let stats = cli.run(&["--json", "inbox", "stats", "--inbox", inbox])?;
        let stats: serde_json::Value = serde_json::from_str(&stats)
            .map_err(|error| format!("enrich inbox stats printed no JSON: {error}"))?;
        if stats["pending"].as_u64() == Some(0) && stats["processing"].as_u64() == Some(0) {
            break;
        }
        if Instant::now() > deadline {
            return Err("the inbox's worker did not finish in time".to_owned());
        }
        std::thread::sleep(POLL);
    }
    // Every delivery marked done was printed before; its line may still be in the pipe.
    let mut counts = BTreeMap::new();
    for line in drain(&receiver.lines) {
        match person_id(&line) {
            Some(id) => *counts.entry(id).or_insert(0) += 1,
            None => *other_events += 1,
        }
    }
    Ok(counts)
}

fn drain(lines: &Receiver<String>) -> Vec<String> {
    let mut drained = Vec::new();
    while let Ok(line) = lines.recv_timeout(LAST_LINES) {
        drained.push(line);
    }
    drained
}

/// The `externalID` of a printed person event.
fn person_id(line: &str) -> Option<String> {
    let event: serde_json::Value = serde_json::from_str(line).ok()?;
    if event["eventType"] != "person.enrichment.completed" {
        return None;
    }
    event["data"]["person"]["externalID"]
        .as_str()
        .map(str::to_owned)
}

/// One line of the fake's attempt log (`enrich sim`'s stdout), such as
/// `<id> person.enrichment.completed item 3 (duplicate) attempt 2: 200`.
#[derive(Debug, PartialEq)]
struct Attempt {
    /// The person's position in the batch; none for the batch completion event.
    item: Option<usize>,
    duplicate: bool,
    /// 1 for the first attempt; 0 for a delivery dropped without being sent.
    attempt: u32,
    outcome: String,
}

impl Attempt {
    fn parse(line: &str) -> Option<Self> {
        let (head, outcome) = line.split_once(": ")?;
        let words: Vec<&str> = head.split(' ').collect();
        let after = |word: &str| {
            words
                .iter()
                .position(|candidate| *candidate == word)
                .and_then(|at| words.get(at + 1))
        };
        Some(Self {
            item: after("item").and_then(|item| item.parse().ok()),
            duplicate: words.contains(&"(duplicate)"),
            attempt: match after("attempt") {
                Some(number) => number.parse().ok()?,
                None => 0,
            },
            outcome: outcome.to_owned(),
        })
    }

    fn delivered(&self) -> bool {
        self.attempt > 0 && (self.outcome == "200" || self.outcome.starts_with("200 "))
    }

    fn refused(&self) -> bool {
        self.outcome.starts_with("connection failed")
    }

    fn dropped(&self) -> bool {
        self.attempt == 0
    }

    /// A short word for the table.
    fn short(&self) -> String {
        let outcome = if self.dropped() {
            "dropped"
        } else if self.refused() {
            "refused"
        } else {
            self.outcome.as_str()
        };
        if self.duplicate {
            format!("dup {outcome}")
        } else {
            outcome.to_owned()
        }
    }
}

/// Prints the table, one row per person; whether every row is as expected and the run showed a
/// retry, a duplicate and a drop.
fn report(external_ids: &[String], outcome: &Outcome) -> bool {
    let header = format!(
        "  {:<8} {:<34} {:<24} {}",
        "person", "the fake's deliveries", "arrived by", "processed"
    );
    println!("{header}");
    println!("  {}", "-".repeat(header.len() - 2));
    let (mut all_ok, mut retried, mut duplicated, mut dropped) = (true, 0, 0, 0);
    for (index, id) in external_ids.iter().enumerate() {
        let mine: Vec<&Attempt> = outcome
            .attempts
            .iter()
            .filter(|attempt| attempt.item == Some(index))
            .collect();
        let was_dropped = mine.iter().any(|attempt| attempt.dropped());
        let first_delivery = mine
            .iter()
            .find(|attempt| !attempt.duplicate && attempt.delivered());
        let sent = mine.iter().filter(|attempt| !attempt.dropped()).count();
        let webhook = outcome.by_webhook.get(id).copied().unwrap_or(0);
        let reconciliation = outcome.by_reconciliation.get(id).copied().unwrap_or(0);
        let arrived = match (webhook, reconciliation, first_delivery) {
            (0, 0, _) => "never".to_owned(),
            (_, 0, Some(attempt)) if attempt.attempt == 1 => "webhook, first try".to_owned(),
            (_, 0, Some(attempt)) => match attempt.attempt - 1 {
                1 => "webhook after 1 retry".to_owned(),
                retries => format!("webhook after {retries} retries"),
            },
            (_, 0, None) => "webhook (not in the log)".to_owned(),
            (0, _, _) => "reconciliation".to_owned(),
            _ => "webhook and reconciliation".to_owned(),
        };
        // Delivered by webhook exactly when the fake did not drop it, and processed once.
        let ok = webhook + reconciliation == 1
            && if was_dropped {
                reconciliation == 1
            } else {
                webhook == 1 && first_delivery.is_some()
            };
        all_ok &= ok;
        retried += usize::from(first_delivery.is_some_and(|attempt| attempt.attempt > 1));
        duplicated += usize::from(mine.iter().any(|attempt| attempt.duplicate));
        dropped += usize::from(was_dropped);
        let deliveries = format!(
            "{sent} ({})",
            mine.iter()
                .map(|attempt| attempt.short())
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "  {id:<8} {deliveries:<34} {arrived:<24} {} {}",
            webhook + reconciliation,
            if ok { "ok" } else { "WRONG" }
        );
    }
    let (already_stored, added) = outcome.reconciled;
    println!(
        "  reconciliation: {already_stored} people already in the inbox, {added} added; \
         the worker also processed {} batch completion event(s)",
        outcome.other_events
    );
    let shown = retried > 0 && duplicated > 0 && dropped > 0;
    println!(
        "  {}",
        match (all_ok, shown) {
            (true, true) => format!(
                "every person processed exactly once ({retried} after a retry, {duplicated} \
                 delivered twice, {dropped} dropped and reconciled)"
            ),
            (true, false) => format!(
                "THE RUN SHOWED {retried} RETRIES, {duplicated} DUPLICATES, {dropped} DROPS: \
                 change the seed or the rates so that it shows each"
            ),
            (false, _) => "SOME PEOPLE WERE NOT PROCESSED EXACTLY ONCE (marked WRONG)".to_owned(),
        }
    );
    all_ok && shown
}

#[test]
fn attempt_lines_are_read_as_the_fake_writes_them() {
    let id = "0195be44-1a0d-718a-967b-042c9d17ffd7";
    let read = |line: &str| Attempt::parse(&format!("{id} {line}"));
    let first = read("person.enrichment.completed item 3 attempt 1: 200").unwrap();
    assert_eq!(first.item, Some(3));
    assert!(first.delivered() && !first.duplicate && !first.dropped());
    let refused =
        read("person.enrichment.completed item 0 attempt 1: connection failed: Connection refused")
            .unwrap();
    assert!(refused.refused() && !refused.delivered());
    assert_eq!(refused.short(), "refused");
    let duplicate = read("person.enrichment.completed item 4 (duplicate) attempt 2: 200").unwrap();
    assert!(duplicate.duplicate && duplicate.delivered());
    assert_eq!(
        (duplicate.attempt, duplicate.short().as_str()),
        (2, "dup 200")
    );
    let dropped = read("person.enrichment.completed item 7: dropped, not sent").unwrap();
    assert!(dropped.dropped() && !dropped.delivered());
    assert_eq!(dropped.item, Some(7));
    let rejected =
        read("person.enrichment.completed item 1 attempt 1: 503 inbox_unavailable").unwrap();
    assert!(!rejected.delivered());
    let batch = read("person.batch-enrichment.completed attempt 1: 200").unwrap();
    assert!(batch.item.is_none() && batch.delivered());
    assert_eq!(Attempt::parse("no colon here"), None);
}

#[test]
fn only_person_events_count_as_people() {
    let person = r#"{"eventType":"person.enrichment.completed","data":{"enrichmentID":"x","person":{"externalID":"crm-01"}}}"#;
    assert_eq!(person_id(person).as_deref(), Some("crm-01"));
    let batch = r#"{"eventType":"person.batch-enrichment.completed","data":{"enrichmentID":"x"}}"#;
    assert_eq!(person_id(batch), None);
    assert_eq!(person_id("not json"), None);
}
