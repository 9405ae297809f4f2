//! The example receivers (`crates/enrich-*/examples/*_receiver`), as a user runs them: each is
//! built, started with `PORT` and `SURFE_WEBHOOK_SECRET`, sent one signed delivery, and must answer
//! `200` and print the event as one line of JSON; the axum one again with `ENRICH_INBOX_URL` and
//! `ENRICH_INBOX_WORKER=off`, where it stores the delivery and prints nothing, and then with
//! `ENRICH_INBOX_WORKER=only` on the same file, where it serves nothing and prints what was stored. What the examples
//! promise beyond that is tested on the `receivers` fixture, which serves under their limits.
//!
//! Each example is also measured: under 80 code lines (not blank, not a comment), `limits.rs`
//! included, or exactly as long as its adapter's README says when it explains why the framework
//! needs more; its `main.rs` alone is never over 80.

use std::process::Command;
use std::time::Duration;

use conformance::fixture::{
    Processes, cargo_build, deliver, free_port, fresh_secret, get, head, person_delivery,
    post_bytes, remove_database, scratch_dir, workspace_root,
};
use enrich_webhook::SECRET_ENV_VAR;

const EXAMPLES: [(&str, &str); 4] = [
    ("enrich-axum", "axum_receiver"),
    ("enrich-rocket", "rocket_receiver"),
    ("enrich-poem", "poem_receiver"),
    ("enrich-actix", "actix_receiver"),
];

/// Starts `example` with the secret and `env`, sends one delivery; its answer and what it printed.
fn one_delivery(
    example: &str,
    env: &[(&str, &str)],
) -> Result<(u16, Option<String>, Vec<u8>), String> {
    let package = EXAMPLES
        .iter()
        .find_map(|(package, name)| (*name == example).then_some(*package))
        .ok_or("no such example")?;
    let binary = cargo_build(&["-p", package, "--example", example], example)?;
    let (secret, address) = (fresh_secret(), free_port()?);
    let mut command = Command::new(binary);
    command
        .env("PORT", address.port().to_string())
        .env(SECRET_ENV_VAR, &secret)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied());
    let processes = Processes::new(env!("CARGO_BIN_EXE_receivers"));
    let running = processes.spawn(example, command, address)?;
    let request = person_delivery(&secret, 7);
    let status = deliver(address, &request)?;
    let printed = running.lines.recv_timeout(Duration::from_secs(2)).ok();
    Ok((status, printed, request.body))
}

#[test]
fn each_example_answers_and_prints_a_signed_delivery() {
    for (_, example) in EXAMPLES {
        let (status, printed, sent) =
            one_delivery(example, &[]).unwrap_or_else(|error| panic!("{example}: {error}"));
        assert_eq!(status, 200, "{example}");
        let printed: serde_json::Value = serde_json::from_str(&printed.unwrap_or_default())
            .unwrap_or_else(|error| panic!("{example} printed no JSON line: {error}"));
        let sent: serde_json::Value = serde_json::from_slice(&sent).unwrap_or_default();
        assert_eq!(
            printed["data"]["person"]["externalID"], sent["data"]["person"]["externalID"],
            "{example}"
        );
    }
}

#[test]
fn the_axum_example_stores_when_its_worker_is_off_and_processes_when_it_is_only_a_worker() {
    let database = scratch_dir()
        .map(|dir| dir.join(format!("example-{}.db", std::process::id())))
        .unwrap_or_else(|error| panic!("{error}"));
    remove_database(&database);
    let url = format!("sqlite:{}", database.display());
    let stored = one_delivery(
        "axum_receiver",
        &[("ENRICH_INBOX_URL", &url), ("ENRICH_INBOX_WORKER", "off")],
    );
    let processed = stored
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|_| worker_only("axum_receiver", &url));
    remove_database(&database);
    let (status, printed, _) = stored.unwrap_or_else(|error| panic!("{error}"));
    assert_eq!((status, printed), (200, None), "stored, not printed");
    let line = processed.unwrap_or_else(|error| panic!("{error}"));
    assert!(line.contains(r#""externalID":"crm-7""#), "{line}");
}

#[test]
fn the_axum_example_with_its_inbox_unreachable_stays_up_and_unready() {
    let binary = cargo_build(
        &["-p", "enrich-axum", "--example", "axum_receiver"],
        "axum_receiver",
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let (secret, address) = (fresh_secret(), free_port().unwrap());
    let mut command = Command::new(binary);
    command
        .env("PORT", address.port().to_string())
        .env(SECRET_ENV_VAR, &secret)
        // A directory that does not exist: SQLite cannot create the file.
        .env(
            "ENRICH_INBOX_URL",
            "sqlite:/nonexistent-enrich-dir/inbox.db",
        )
        .env("RUST_LOG", "warn");
    let processes = Processes::new(env!("CARGO_BIN_EXE_receivers"));
    processes
        .spawn("axum_receiver", command, address)
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(get(address, "/healthz").unwrap().0, 200, "alive");
    let (status, body) = get(address, "/readyz").unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(
        (status, &body["check"], &body["code"]),
        (503, &"database".into(), &"not_ready".into())
    );
    let (status, body) = post_bytes(
        address,
        &head(&person_delivery(&secret, 1), &["connection: close"]),
        &person_delivery(&secret, 1).body,
    )
    .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(
        (status, &body["code"]),
        (503, &"storage_unavailable".into())
    );
    processes.stop_all();
}

/// Runs the `enrich` binary with `args` and `env`; its stdout as JSON.
fn enrich_json(args: &[&str], env: &[(&str, &str)]) -> Result<serde_json::Value, String> {
    let binary = cargo_build(&["-p", "enrich-cli", "--bin", "enrich"], "enrich")?;
    let output = Command::new(binary)
        .args(args)
        .env_remove(SECRET_ENV_VAR)
        .envs(env.iter().copied())
        .output()
        .map_err(|error| format!("cannot run enrich: {error}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("enrich {} failed: {stderr}", args.join(" ")));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|error| format!("enrich printed no JSON: {error}"))
}

#[test]
fn the_axum_example_without_a_secret_quarantines_until_enrich_inbox_release() {
    let database = scratch_dir()
        .map(|dir| dir.join(format!("quarantine-{}.db", std::process::id())))
        .unwrap_or_else(|error| panic!("{error}"));
    remove_database(&database);
    let url = format!("sqlite:{}", database.display());
    let outcome = quarantine_then_release(&url);
    remove_database(&database);
    outcome.unwrap_or_else(|error| panic!("{error}"));
}

/// Starts the axum example on the inbox at `url` without a secret, sends it a signed delivery
/// (200, quarantined, not printed) and an unsigned one (401), releases the quarantine with
/// `enrich inbox release`, and waits for the example's worker to print the delivery.
fn quarantine_then_release(url: &str) -> Result<(), String> {
    let binary = cargo_build(
        &["-p", "enrich-axum", "--example", "axum_receiver"],
        "axum_receiver",
    )?;
    let (secret, address) = (fresh_secret(), free_port()?);
    let mut command = Command::new(binary);
    command
        .env("PORT", address.port().to_string())
        .env_remove(SECRET_ENV_VAR)
        .env("ENRICH_INBOX_URL", url)
        .env("RUST_LOG", "warn");
    let processes = Processes::new(env!("CARGO_BIN_EXE_receivers"));
    let running = processes.spawn("axum_receiver", command, address)?;
    let signed = person_delivery(&secret, 11);
    assert_eq!(
        deliver(address, &signed)?,
        200,
        "a signed delivery is quarantined"
    );
    let unsigned = enrich_webhook::testing::SignedRequest::builder(signed.body.clone())
        .unsigned()
        .build();
    let (status, body) = post_bytes(
        address,
        &head(&unsigned, &["connection: close"]),
        &unsigned.body,
    )?;
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!((status, &body["code"]), (401, &"missing_signature".into()));
    let inbox = ["--inbox", url];
    let stats = enrich_json(&[&["--json", "inbox", "stats"][..], &inbox].concat(), &[])?;
    assert_eq!(
        (&stats["quarantined"], &stats["pending"]),
        (&1.into(), &0.into()),
        "{stats}"
    );
    assert!(
        running.lines.try_recv().is_err(),
        "a quarantined delivery is not processed"
    );
    let released = enrich_json(
        &[&["--json", "inbox", "release"][..], &inbox].concat(),
        &[(SECRET_ENV_VAR, &secret)],
    )?;
    assert_eq!(
        (&released["released"], &released["dead"]),
        (&1.into(), &0.into()),
        "{released}"
    );
    let line = running.lines.recv_timeout(Duration::from_secs(15));
    processes.stop_all();
    let line = line.map_err(|_| "the released delivery was not processed".to_owned())?;
    assert!(line.contains(r#""externalID":"crm-11""#), "{line}");
    Ok(())
}

/// Runs `example` with `ENRICH_INBOX_WORKER=only` on the inbox at `url` (no `PORT`: it serves
/// nothing) and returns the first line its worker prints.
fn worker_only(example: &str, url: &str) -> Result<String, String> {
    let binary = cargo_build(&["-p", "enrich-axum", "--example", example], example)?;
    let mut command = Command::new(binary);
    command
        .env(SECRET_ENV_VAR, fresh_secret())
        .env("ENRICH_INBOX_URL", url)
        .env("ENRICH_INBOX_WORKER", "only")
        .env("RUST_LOG", "warn");
    let processes = Processes::new(env!("CARGO_BIN_EXE_receivers"));
    let (_, lines) = processes.run(example, command)?;
    let line = lines.recv_timeout(Duration::from_secs(15));
    processes.stop_all();
    line.map_err(|_| format!("{example} as a worker printed nothing"))
}

/// A short example's most code lines (not blank, not a comment), its server limits included.
const SHORT: usize = 80;

/// The code lines (not blank, not a comment) of `text`.
fn code_lines(text: &str) -> usize {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .count()
}

/// The number right after `before` in `text`, if `text` says it.
fn stated(text: &str, before: &str) -> Option<usize> {
    let (_, rest) = text.split_once(before)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[test]
fn each_example_is_short_or_as_long_as_its_readme_explains() {
    for (package, example) in EXAMPLES {
        let crate_dir = workspace_root().join("crates").join(package);
        let examples = crate_dir.join("examples");
        let files: Vec<(String, usize)> = match std::fs::read_dir(examples.join(example)) {
            // A directory: main.rs and its modules (limits.rs).
            Ok(entries) => entries
                .map(|entry| {
                    entry
                        .unwrap_or_else(|error| panic!("{example}: {error}"))
                        .path()
                })
                .map(|path| {
                    let text = std::fs::read_to_string(&path)
                        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
                    let name = path
                        .file_name()
                        .map(|name| name.to_string_lossy().into_owned());
                    (name.unwrap_or_default(), code_lines(&text))
                })
                .collect(),
            Err(_) => {
                let path = examples.join(format!("{example}.rs"));
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
                vec![("main.rs".to_owned(), code_lines(&text))]
            }
        };
        let total: usize = files.iter().map(|(_, lines)| lines).sum();
        let main = files
            .iter()
            .find(|(name, _)| name == "main.rs")
            .map_or(0, |(_, n)| *n);
        assert!(
            main > 0 && main <= SHORT,
            "{example}: main.rs is {main} code lines"
        );
        let readme = std::fs::read_to_string(crate_dir.join("README.md"))
            .unwrap_or_else(|error| panic!("{package}'s README: {error}"));
        let claim = format!("`{example}` is ");
        match stated(&readme, &claim) {
            None => assert!(
                total < SHORT,
                "{example} is {total} code lines: explain why in {package}'s README"
            ),
            Some(said) => {
                assert_eq!(said, total, "{package}'s README says how long {example} is");
                let (_, explanation) = readme.split_once(&claim).unwrap_or_default();
                for (name, lines) in &files {
                    let said = stated(explanation, &format!("`{name}` "));
                    assert_eq!(
                        said,
                        Some(*lines),
                        "{package}'s README says how long {name} is"
                    );
                }
            }
        }
    }
}
