//! The second part of the demo: the durable inbox, on an SQLite file, with no server.
//!
//! 1. The axum receiver with `--inbox sqlite:…` gets the same signed delivery twice: both are
//!    answered `200` (the sender must stop retrying), and its worker prints the event once.
//! 2. A receiver that only stores (`--worker off`, as `ENRICH_INBOX_WORKER=off` in the examples)
//!    answers a new delivery `200` and prints nothing. Then senders that drop their connection
//!    while their delivery is being stored (the request sent whole, the answer never read), among
//!    senders that wait, then more deliveries: every one that waited is answered `200`. The
//!    receiver is killed, and the inbox's rows are read: every delivery answered `200` is stored.
//! 3. A receiver started again on the same file, with its worker, prints every stored delivery:
//!    what was acknowledged was not lost.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use conformance::fixture::{
    Processes, Running, deliver, head, person_delivery, remove_database, scratch_dir,
};
use enrich_inbox::{Inbox, State};
use enrich_webhook::testing::SignedRequest;

/// How long the worker may take to print a stored event, and how long a second line is waited
/// for before the demo concludes there is none.
const PRINT_TIMEOUT: Duration = Duration::from_secs(15);
const NO_SECOND_LINE: Duration = Duration::from_secs(3);

/// Runs the inbox part; `Ok(false)` when an answer or a printed line is not as documented.
pub fn run(children: &Processes, secret: &str) -> Result<bool, String> {
    let database = database_file()?;
    let inbox = format!("sqlite:{}", database.display());
    let mut ok = true;
    println!("\nThe inbox (SQLite file {}):", database.display());

    // 1. A duplicate is answered 200 and processed once.
    let receiver = start(children, secret, &inbox, true)?;
    let first = person_event("inbox-demo-1");
    let answers = [
        post(&receiver, secret, &first)?,
        post(&receiver, secret, &first)?,
    ];
    let printed = receiver.lines.recv_timeout(PRINT_TIMEOUT).ok();
    let again = receiver.lines.recv_timeout(NO_SECOND_LINE).ok();
    let duplicate_ok = answers == [200, 200] && printed.is_some() && again.is_none();
    ok &= duplicate_ok;
    println!(
        "  the same delivery sent twice: answered {} and {}, processed {} time(s)  {}",
        answers[0],
        answers[1],
        usize::from(printed.is_some()) + usize::from(again.is_some()),
        verdict(duplicate_ok)
    );
    children.stop_all();

    // 2. Stored by a receiver that does not process, then the process is killed.
    let storing_only = start(children, secret, &inbox, false)?;
    let second = person_event("inbox-demo-2");
    let answer = post(&storing_only, secret, &second)?;
    let printed_meanwhile = storing_only.lines.recv_timeout(NO_SECOND_LINE).ok();
    let stored_ok = answer == 200 && printed_meanwhile.is_none();
    ok &= stored_ok;
    println!(
        "  a delivery stored while no worker runs: answered {answer}, printed {}  {}",
        if printed_meanwhile.is_some() {
            "a line"
        } else {
            "nothing"
        },
        verdict(stored_ok)
    );

    let (acknowledged, dropped_ok) = drop_while_storing(&storing_only, secret)?;
    children.stop_all();
    ok &= dropped_ok;
    let stored = stored_external_ids(&inbox)?;
    let lost = acknowledged
        .iter()
        .filter(|id| !stored.contains(*id))
        .count();
    ok &= lost == 0;
    println!(
        "  the inbox's rows: of the {} deliveries answered 200 around the dropped connections, \
         {} stored, {lost} lost  {}",
        acknowledged.len(),
        acknowledged.len() - lost,
        verdict(lost == 0)
    );

    // 3. Processed after a restart.
    let restarted = start(children, secret, &inbox, true)?;
    let printed = printed_until(&restarted, |lines| lines.contains("inbox-demo-2"));
    let recovered_ok = printed.contains("inbox-demo-2");
    ok &= recovered_ok;
    println!(
        "  after a restart on the same file: the stored delivery was {}  {}",
        if recovered_ok {
            "processed"
        } else {
            "NOT processed"
        },
        verdict(recovered_ok)
    );
    children.stop_all();
    remove_database(&database);
    Ok(ok)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "NOT AS DOCUMENTED" }
}

fn start(children: &Processes, secret: &str, inbox: &str, worker: bool) -> Result<Running, String> {
    let worker = if worker { "on" } else { "off" };
    children.receiver("axum", secret, &["--inbox", inbox, "--worker", worker])
}

fn post(receiver: &Running, secret: &str, body: &[u8]) -> Result<u16, String> {
    let request = SignedRequest::builder(body.to_vec()).secret(secret).build();
    deliver(receiver.address, &request)
}

/// A fresh SQLite file under `target/` (removed at the end).
fn database_file() -> Result<PathBuf, String> {
    let file = scratch_dir()?.join(format!("inbox-{}.db", std::process::id()));
    remove_database(&file);
    Ok(file)
}

/// Rounds of senders at once, and how many of each round drop their connection.
const ROUNDS: u64 = 10;
const SENDERS: u64 = 64;
/// Deliveries sent one by one after the rounds.
const AFTERWARDS: u64 = 20;

/// Senders that drop their connection while their delivery is being stored (the whole request
/// written, the socket closed before the answer), each round among as many senders that wait for
/// their answer; then more deliveries, one at a time. Returns the `externalID`s answered `200`,
/// and whether every sender that waited was answered `200`.
fn drop_while_storing(receiver: &Running, secret: &str) -> Result<(Vec<String>, bool), String> {
    let address = receiver.address;
    let mut acknowledged = Vec::new();
    let mut waited = 0;
    let mut refused: BTreeMap<u16, usize> = BTreeMap::new();
    for round in 0..ROUNDS {
        let senders: Vec<_> = (0..2 * SENDERS)
            .map(|n| {
                let request = person_delivery(secret, 1_000 + round * 100 + n);
                std::thread::spawn(move || {
                    if n % 2 == 0 {
                        let mut bytes = head(&request, &[]);
                        bytes.extend_from_slice(&request.body);
                        let mut stream =
                            TcpStream::connect(address).map_err(|error| error.to_string())?;
                        stream
                            .write_all(&bytes)
                            .map_err(|error| error.to_string())?;
                        // Dropped here: the receiver is storing the delivery (or about to).
                        return Ok(None);
                    }
                    deliver(address, &request).map(|status| Some((status, external_id(&request))))
                })
            })
            .collect();
        for sender in senders {
            let answered = sender
                .join()
                .map_err(|_| "a sender panicked".to_owned())??;
            if let Some((status, id)) = answered {
                waited += 1;
                match status {
                    200 => acknowledged.push(id),
                    other => *refused.entry(other).or_insert(0) += 1,
                }
            }
        }
    }
    for n in 0..AFTERWARDS {
        let request = person_delivery(secret, 9_000 + n);
        waited += 1;
        match deliver(address, &request)? {
            200 => acknowledged.push(external_id(&request)),
            other => *refused.entry(other).or_insert(0) += 1,
        }
    }
    let all_answered = acknowledged.len() == waited;
    let others: Vec<String> = refused
        .iter()
        .map(|(status, count)| format!(", {count} answered {status}"))
        .collect();
    println!(
        "  {} senders dropping their connection while storing, among {} that waited, then {AFTERWARDS} \
         more: {} of {waited} answered 200{}; the receiver killed  {}",
        ROUNDS * SENDERS,
        ROUNDS * SENDERS,
        acknowledged.len(),
        others.concat(),
        verdict(all_answered)
    );
    Ok((acknowledged, all_answered))
}

/// The `externalID` a [`person_delivery`] carries.
fn external_id(request: &SignedRequest) -> String {
    let event: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
    event["data"]["person"]["externalID"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The `externalID` of every row waiting in the inbox at `url`, read with the inbox's own API.
fn stored_external_ids(url: &str) -> Result<BTreeSet<String>, String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|error| format!("runtime: {error}"))?;
    runtime.block_on(async {
        let inbox = Inbox::open(url).await.map_err(|error| error.to_string())?;
        let rows = inbox.list(State::Pending, 1_000_000).await;
        inbox.close().await;
        let rows = rows.map_err(|error| error.to_string())?;
        Ok(rows.into_iter().filter_map(|row| row.external_id).collect())
    })
}

/// The lines `receiver` prints until `done` holds for them all (or [`PRINT_TIMEOUT`] passes
/// without a new line, or four times that in all).
fn printed_until(receiver: &Running, done: impl Fn(&str) -> bool) -> String {
    let mut printed = String::new();
    let deadline = Instant::now() + PRINT_TIMEOUT * 4;
    while !done(&printed) && Instant::now() < deadline {
        match receiver.lines.recv_timeout(PRINT_TIMEOUT) {
            Ok(line) => {
                printed.push_str(&line);
                printed.push('\n');
            }
            Err(_) => break,
        }
    }
    printed
}

fn person_event(external_id: &str) -> Vec<u8> {
    format!(
        r#"{{"eventType":"person.enrichment.completed","data":{{"enrichmentID":"0195be44-1a0d-718a-967b-042c9d17ffd7","person":{{"externalID":"{external_id}","firstName":"Camille"}}}}}}"#
    )
    .into_bytes()
}
