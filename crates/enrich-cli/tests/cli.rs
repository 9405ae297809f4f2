//! The `enrich` binary, run as a process: argument errors, bad input, the client commands
//! against the local fake, and `enrich send` against the three example receivers.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use enrich_sim::{Sim, SimConfig};

const KEY: &str = "sk_cli_test";
const SECRET: &str = "whsec_cli_test_secret";

/// `enrich` with `args`, with none of the variables it reads inherited from the environment.
fn enrich(args: &[&str], env: &[(&str, &str)]) -> Output {
    enrich_with_stdin(args, env, b"")
}

/// `enrich` with `args`, reading `stdin`.
fn enrich_with_stdin(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_enrich"));
    for variable in [
        "SURFE_API_KEY",
        "SURFE_API_URL",
        "SURFE_WEBHOOK_SECRET",
        "ENRICH_LOG",
    ] {
        command.env_remove(variable);
    }
    let mut child = command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("enrich runs");
    let mut input = child.stdin.take().expect("a stdin pipe");
    // A command that does not read stdin may exit first: a broken pipe is fine.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().expect("enrich runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the run failed with `code` and said `needle` on stderr, without a panic or a
/// `Debug` dump.
fn assert_fails(output: &Output, code: i32, needle: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    for dump in [
        "panicked",
        "RUST_BACKTRACE",
        "Error {",
        "Config(",
        "Api {",
        "Transport {",
    ] {
        assert!(!stderr.contains(dump), "{dump:?} in: {stderr}");
    }
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("enrich-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn argument_errors_are_usage_errors() {
    for (args, needle) in [
        (&[][..], "Usage: enrich"),
        (&["people", "start"][..], "<FILE>"),
        (&["send"][..], "<URL>"),
        (
            &["send", "http://127.0.0.1:1/", "--stale", "--tamper"][..],
            "cannot be used with",
        ),
        (
            &["people", "start", "x.csv", "--include", "email,shoe"][..],
            "invalid value 'shoe'",
        ),
        (
            &["send", "http://127.0.0.1:1/", "--repeat", "0"][..],
            "--repeat",
        ),
        (&["sim", "--drop-rate", "2"][..], "between 0 and 1"),
        (
            &["sim", "--retry-schedule", "1s,soon"][..],
            "is not a duration",
        ),
    ] {
        assert_fails(&enrich(args, &[]), 2, needle);
    }
}

#[test]
fn bad_input_is_named_clearly() {
    assert_fails(
        &enrich(
            &["people", "start", "/no/such/people.csv"],
            &[("SURFE_API_KEY", KEY)],
        ),
        1,
        "cannot read /no/such/people.csv",
    );
    let ragged = temp_file("ragged.csv", "firstName,lastName\nAda,Lovelace\nGrace\n");
    assert_fails(
        &enrich(
            &["people", "start", ragged.to_str().unwrap()],
            &[("SURFE_API_KEY", KEY)],
        ),
        1,
        "line 3: the row has 1 fields; the header row has 2",
    );
    let bad_json = temp_file("bad.json", "[\n  {\"firstName\": 5}\n]\n");
    assert_fails(
        &enrich(
            &["people", "start", bad_json.to_str().unwrap()],
            &[("SURFE_API_KEY", KEY)],
        ),
        1,
        "line 2",
    );
    let fine = temp_file("fine.csv", "firstName,lastName\nAda,Lovelace\n");
    assert_fails(
        &enrich(&["people", "start", fine.to_str().unwrap()], &[]),
        1,
        "no API key: set SURFE_API_KEY",
    );
    assert_fails(
        &enrich(
            &[
                "people",
                "start",
                fine.to_str().unwrap(),
                "--webhook-url",
                "http://hooks.example.com/x",
            ],
            &[("SURFE_API_KEY", KEY)],
        ),
        1,
        "is not an https URL",
    );
    assert_fails(
        &enrich(
            &["send", "http://127.0.0.1:1/", "no-such-fixture"],
            &[("SURFE_WEBHOOK_SECRET", SECRET)],
        ),
        1,
        "is not a built-in fixture (see `enrich send --list`)",
    );
    assert_fails(
        &enrich(&["send", "http://127.0.0.1:1/"], &[]),
        1,
        "no signing secret",
    );
    assert_fails(
        &enrich(&["send", "not a url"], &[("SURFE_WEBHOOK_SECRET", SECRET)]),
        1,
        "is not an http(s) URL",
    );
}

#[test]
fn send_lists_its_fixtures() {
    let output = enrich(&["send", "--list"], &[]);
    assert!(output.status.success());
    let listing = text(&output.stdout);
    for name in [
        "person-full",
        "company-full",
        "batch-completed",
        "unknown-type",
    ] {
        assert!(listing.contains(name), "{listing}");
    }
    let output = enrich(&["--json", "send", "--list"], &[]);
    let names: Vec<String> = serde_json::from_slice(&output.stdout).unwrap();
    assert!(names.len() >= 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_start_get_wait_against_the_fake() {
    let sim = Sim::start(
        SimConfig::default()
            .api_key(KEY)
            .item_delay(Duration::from_millis(20)),
    )
    .await
    .unwrap();
    let url = sim.url();
    let people = temp_file(
        "people.csv",
        "firstName,lastName,companyDomain,externalID\n\
         Ada,Lovelace,engines.example,crm-1\n\
         Grace,Hopper,navy.example,crm-2\n\
         Alan,Turing,bletchley.example,crm-3\n",
    );
    let run = |args: Vec<String>, key: &'static str| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            enrich(&args, &[("SURFE_API_KEY", key)])
        })
    };
    let args = |list: &[&str]| -> Vec<String> {
        list.iter()
            .map(|arg| (*arg).to_owned())
            .chain(["--api".to_owned(), url.clone()])
            .collect()
    };

    let started = run(
        args(&[
            "--json",
            "people",
            "start",
            people.to_str().unwrap(),
            "--include",
            "email,mobile",
        ]),
        KEY,
    )
    .await
    .unwrap();
    assert!(started.status.success(), "{}", text(&started.stderr));
    let accepted: serde_json::Value = serde_json::from_slice(&started.stdout).unwrap();
    let id = accepted[0]["enrichmentID"].as_str().unwrap().to_owned();

    let waited = run(args(&["people", "wait", &id]), KEY).await.unwrap();
    assert!(waited.status.success(), "{}", text(&waited.stderr));
    let table = text(&waited.stdout);
    assert!(
        table.starts_with(&format!("enrichment {id}: COMPLETED, 100% done\n")),
        "{table}"
    );
    // By default the table shows ids and counts, no name, email or phone.
    for expected in ["crm-1", "crm-3", "externalID", "emails", "mobiles"] {
        assert!(table.contains(expected), "{table}");
    }
    for personal in ["Ada", "Lovelace", "Grace", "Hopper", "@"] {
        assert!(!table.contains(personal), "{personal} in:\n{table}");
    }
    let shown = run(args(&["people", "get", &id, "--show-personal"]), KEY)
        .await
        .unwrap();
    let shown = text(&shown.stdout);
    for expected in ["crm-1", "Ada Lovelace", "Grace Hopper", "crm-3", "@"] {
        assert!(shown.contains(expected), "{shown}");
    }

    let got = run(args(&["--json", "people", "get", &id]), KEY)
        .await
        .unwrap();
    let result: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(result["people"].as_array().unwrap().len(), 3);

    // A deadline shorter than the enrichment: a clear error, not a hang.
    let slow = Sim::start(
        SimConfig::default()
            .api_key(KEY)
            .item_delay(Duration::from_secs(30)),
    )
    .await
    .unwrap();
    let request = people_json(1);
    let slow_url = slow.url();
    let started = tokio::task::spawn_blocking(move || {
        enrich_with_stdin(
            &["--json", "people", "start", "-", "--api", &slow_url],
            &[("SURFE_API_KEY", KEY)],
            request.as_bytes(),
        )
    })
    .await
    .unwrap();
    assert!(started.status.success(), "{}", text(&started.stderr));
    let accepted: serde_json::Value = serde_json::from_slice(&started.stdout).unwrap();
    let slow_id = accepted[0]["enrichmentID"].as_str().unwrap().to_owned();
    let slow_url = slow.url();
    let gave_up = tokio::task::spawn_blocking(move || {
        enrich(
            &[
                "people",
                "wait",
                &slow_id,
                "--timeout",
                "1",
                "--api",
                &slow_url,
            ],
            &[("SURFE_API_KEY", KEY)],
        )
    })
    .await
    .unwrap();
    assert_fails(&gave_up, 1, "gave up waiting for enrichment");

    let refused = run(args(&["people", "get", &id]), "sk_wrong")
        .await
        .unwrap();
    assert_fails(&refused, 1, "the API key was refused");

    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let unreachable = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let output = run(
        vec![
            "people".into(),
            "get".into(),
            id.clone(),
            "--api".into(),
            unreachable,
        ],
        KEY,
    )
    .await
    .unwrap();
    assert_fails(&output, 1, "cannot reach the API");
}

/// A JSON request body (the `{ "people": [...] }` form) of `count` people.
fn people_json(count: usize) -> String {
    let people: Vec<serde_json::Value> = (0..count)
        .map(
            |index| serde_json::json!({ "firstName": "Ada", "externalID": format!("crm-{index}") }),
        )
        .collect();
    serde_json::json!({ "people": people }).to_string()
}

/// The example receivers, built once for the whole test binary.
fn example_binaries() -> &'static [(String, PathBuf)] {
    static BUILT: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    BUILT.get_or_init(|| {
        const EXAMPLES: [(&str, &str); 4] = [
            ("enrich-axum", "axum_receiver"),
            ("enrich-rocket", "rocket_receiver"),
            ("enrich-poem", "poem_receiver"),
            ("enrich-actix", "actix_receiver"),
        ];
        // This test binary is target/<profile>/deps/cli-…; the examples go beside deps/.
        let profile_dir = std::env::current_exe()
            .unwrap()
            .parent()
            .and_then(|deps| deps.parent())
            .unwrap()
            .to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        command.args(["build", "--quiet"]);
        if profile_dir
            .file_name()
            .is_some_and(|name| name == "release")
        {
            command.arg("--release");
        }
        for (package, example) in EXAMPLES {
            command.args(["--package", package, "--example", example]);
        }
        let status = command.status().expect("cargo runs");
        assert!(status.success(), "building the example receivers failed");
        EXAMPLES
            .iter()
            .map(|(_, example)| {
                let path = profile_dir
                    .join("examples")
                    .join(format!("{example}{}", std::env::consts::EXE_SUFFIX));
                ((*example).to_owned(), path)
            })
            .collect()
    })
}

/// A running example receiver, stopped when dropped.
struct Receiver {
    child: Child,
    url: String,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_receiver(binary: &PathBuf) -> Receiver {
    let address: SocketAddr = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap();
    let mut child = Command::new(binary)
        .env("PORT", address.port().to_string())
        .env("SURFE_WEBHOOK_SECRET", SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Drain stdout so the receiver never blocks printing events.
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || for _ in BufReader::new(stdout).lines() {});
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "{binary:?} did not start");
        assert!(child.try_wait().unwrap().is_none(), "{binary:?} exited");
        std::thread::sleep(Duration::from_millis(50));
    }
    Receiver {
        child,
        url: format!("http://{address}/webhook"),
    }
}

#[test]
fn send_gets_the_documented_answer_from_every_example_receiver() {
    for (name, binary) in example_binaries() {
        let receiver = start_receiver(binary);
        let secret = [("SURFE_WEBHOOK_SECRET", SECRET)];
        let url = receiver.url.as_str();

        // Genuine events of every kind are acknowledged 200, repeated and concurrent.
        let output = enrich(
            &[
                "send",
                url,
                "person-full",
                "company-full",
                "batch-completed",
                "batch-completed-changelog-name",
                "unknown-type",
                "--repeat",
                "3",
                "--concurrency",
                "4",
            ],
            &secret,
        );
        let stdout = text(&output.stdout);
        assert!(
            output.status.success(),
            "{name}: {stdout}{}",
            text(&output.stderr)
        );
        assert!(
            stdout.ends_with("15 sent, 15 as expected (200), 0 not\n"),
            "{name}: {stdout}"
        );

        // Every fault is refused with its documented code.
        for (fault, code) in [
            ("--stale", "stale_timestamp"),
            ("--tamper", "invalid_signature"),
            ("--unsigned", "missing_signature"),
            ("--wrong-secret", "invalid_signature"),
        ] {
            let output = enrich(&["send", url, "person-full", fault], &secret);
            let stdout = text(&output.stdout);
            assert!(output.status.success(), "{name} {fault}: {stdout}");
            assert!(
                stdout.contains(&format!("401     {code}")),
                "{name} {fault}: {stdout}"
            );
            assert!(
                stdout.ends_with(&format!("1 sent, 1 as expected (401 {code}), 0 not\n")),
                "{name} {fault}: {stdout}"
            );
        }

        // Events read from stdin are sent as they are.
        let person = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../enrich-types/tests/fixtures/event.person-month-dates.json"),
        )
        .unwrap();
        let output = enrich_with_stdin(&["send", url, "-"], &secret, &person);
        let stdout = text(&output.stdout);
        assert!(output.status.success(), "{name}: {stdout}");
        assert!(stdout.contains("stdin #1  200"), "{name}: {stdout}");

        // A body the receiver refuses for another reason is an unexpected answer: exit 1.
        let broken = temp_file("broken.json", "{\"eventType\":");
        let output = enrich(&["--json", "send", url, broken.to_str().unwrap()], &secret);
        assert_eq!(output.status.code(), Some(1), "{name}");
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["unexpected"], 1);
        assert_eq!(report["answers"][0]["status"], 400);
        assert_eq!(report["answers"][0]["code"], "malformed_json");
        // One casing for every `--json` output: camelCase, the API's.
        assert_eq!(report["answers"][0]["asExpected"], false);
        assert!(
            report["answers"][0].get("as_expected").is_none(),
            "{report}"
        );

        // …unless it is the answer asked for.
        let output = enrich(
            &[
                "send",
                url,
                broken.to_str().unwrap(),
                "--expect-status",
                "400",
                "--expect-code",
                "malformed_json",
            ],
            &secret,
        );
        assert!(output.status.success(), "{name}: {}", text(&output.stdout));
    }
}

#[test]
fn send_reports_an_unreachable_receiver() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhook", closed.local_addr().unwrap());
    drop(closed);
    let output = enrich(&["send", &url], &[("SURFE_WEBHOOK_SECRET", SECRET)]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("cannot connect"), "{stdout}");
    assert!(
        stdout.ends_with("1 sent, 0 as expected (200), 1 not\n"),
        "{stdout}"
    );
}

#[test]
fn sim_runs_the_fake_with_its_options_and_prints_each_attempt() {
    let mut sim = Command::new(env!("CARGO_BIN_EXE_enrich"))
        .args([
            "sim",
            "--port",
            "0",
            "--api-key",
            KEY,
            "--item-delay",
            "1ms",
            "--retry-schedule",
            "10ms",
        ])
        .env_remove("SURFE_API_KEY")
        .env_remove("SURFE_WEBHOOK_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    struct Stop(Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut stderr = BufReader::new(sim.stderr.take().unwrap());
    let stdout = BufReader::new(sim.stdout.take().unwrap());
    let _stop = Stop(sim);
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let url = first
        .trim()
        .strip_prefix("fake API listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_owned();
    // Keep draining stderr so the fake never blocks on it.
    std::thread::spawn(move || for _ in stderr.lines() {});

    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let webhook = format!("http://{}/webhook", closed.local_addr().unwrap());
    drop(closed);
    let people = temp_file("one.csv", "firstName,lastName\nAda,Lovelace\n");
    let started = enrich(
        &[
            "--json",
            "people",
            "start",
            people.to_str().unwrap(),
            "--api",
            &url,
            "--webhook-url",
            &webhook,
        ],
        &[("SURFE_API_KEY", KEY)],
    );
    assert!(started.status.success(), "{}", text(&started.stderr));
    let accepted: serde_json::Value = serde_json::from_slice(&started.stdout).unwrap();
    let id = accepted[0]["enrichmentID"].as_str().unwrap().to_owned();

    // Two attempts (the first and the one retry of the schedule), then the batch event's two.
    let lines: Vec<String> = stdout.lines().take(4).map(Result::unwrap).collect();
    assert!(
        lines[0].starts_with(&format!(
            "{id} person.enrichment.completed item 0 attempt 1: connection failed"
        )),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("item 0 attempt 2: connection failed"),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with(&format!("{id} person.batch-enrichment.completed attempt 1")),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|line| line.contains("Ada")), "{lines:?}");
}
