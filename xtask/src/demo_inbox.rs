//! The second part of `cargo xtask demo`: the durable inbox, on an SQLite file, with no server.
//!
//! 1. `axum_receiver --inbox sqlite:…` gets the same signed delivery twice: both are answered
//!    `200` (the sender must stop retrying), and its worker prints the event once.
//! 2. A receiver that only stores (`ENRICH_INBOX_WORKER=off`) answers a new delivery `200` and
//!    prints nothing; it is killed.
//! 3. A receiver started again on the same file, with its worker, prints the stored delivery:
//!    what was acknowledged was not lost.

use std::path::{Path, PathBuf};
use std::time::Duration;

use enrich_webhook::testing::SignedRequest;

use crate::demo::{Children, Running, http_post};
use crate::workspace_root;

/// How long the worker may take to print a stored event, and how long a second line is waited
/// for before the demo concludes there is none.
const PRINT_TIMEOUT: Duration = Duration::from_secs(15);
const NO_SECOND_LINE: Duration = Duration::from_secs(3);

/// Runs the inbox part; `Ok(false)` when an answer or a printed line is not as documented.
pub(crate) fn run(children: &Children, secret: &str) -> Result<bool, String> {
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
    children.stop_all();
    let stored_ok = answer == 200 && printed_meanwhile.is_none();
    ok &= stored_ok;
    println!(
        "  a delivery stored while no worker runs: answered {answer}, printed {}, receiver killed  {}",
        if printed_meanwhile.is_some() {
            "a line"
        } else {
            "nothing"
        },
        verdict(stored_ok)
    );

    // 3. Processed after a restart.
    let restarted = start(children, secret, &inbox, true)?;
    let recovered = restarted.lines.recv_timeout(PRINT_TIMEOUT).ok();
    let recovered_ok = recovered
        .as_deref()
        .is_some_and(|line| line.contains("inbox-demo-2"));
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

fn start(children: &Children, secret: &str, inbox: &str, worker: bool) -> Result<Running, String> {
    let mut env = vec![("ENRICH_INBOX_URL", inbox.to_owned())];
    if !worker {
        env.push(("ENRICH_INBOX_WORKER", "off".to_owned()));
    }
    children.start_with("axum_receiver", secret, &env)
}

fn post(receiver: &Running, secret: &str, body: &[u8]) -> Result<u16, String> {
    let request = SignedRequest::builder(body.to_vec()).secret(secret).build();
    http_post(receiver.address, &request).map(|(status, _)| status)
}

/// A fresh SQLite file under `target/` (removed at the end).
fn database_file() -> Result<PathBuf, String> {
    let dir = workspace_root().join("target").join("demo");
    std::fs::create_dir_all(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    let file = dir.join(format!("inbox-{}.db", std::process::id()));
    remove_database(&file);
    Ok(file)
}

/// Removes an SQLite file and its write-ahead log files, if they exist.
pub(crate) fn remove_database(file: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}

fn person_event(external_id: &str) -> Vec<u8> {
    format!(
        r#"{{"eventType":"person.enrichment.completed","data":{{"enrichmentID":"0195be44-1a0d-718a-967b-042c9d17ffd7","person":{{"externalID":"{external_id}","firstName":"Camille"}}}}}}"#
    )
    .into_bytes()
}
