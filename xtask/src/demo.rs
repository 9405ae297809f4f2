//! `cargo xtask demo`: the three example receivers, side by side, answering the same deliveries.
//!
//! Builds the `axum_receiver`, `rocket_receiver` and `poem_receiver` examples, starts each on a
//! free loopback port with a fresh secret, sends each the same deliveries (signed with the
//! `test-util` signer), and prints a table of what each answered and printed. Exits non-zero if
//! any answer differs from the documented one. Then shows the durable inbox on an SQLite file
//! (see [`crate::demo_inbox`]), and an enrichment end to end, from the local fake of the API to
//! an inbox (see [`crate::demo_e2e`]). The receivers are stopped on every path: normal exit, failure,
//! and Ctrl-C.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use enrich_types::WebhookEvent;
use enrich_webhook::testing::{SignedRequest, now};
use enrich_webhook::{DEFAULT_BODY_LIMIT, SECRET_ENV_VAR, SignatureTimestamp};
use http1_wire::ResponseReader;

use crate::workspace_root;

/// The frameworks and the example that serves each.
pub(crate) const RECEIVERS: [(&str, &str, &str); 3] = [
    ("axum", "enrich-axum", "axum_receiver"),
    ("rocket", "enrich-rocket", "rocket_receiver"),
    ("poem", "enrich-poem", "poem_receiver"),
];

/// How long a receiver may take to start listening, and to answer or print.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Bodies above this size are sent only if the receiver has not already answered the headers.
const EARLY_ANSWER_THRESHOLD: usize = 64 * 1024;

/// One delivery the demo sends, and the answer the documentation promises for it.
struct Case {
    name: &'static str,
    request: SignedRequest,
    expected_status: u16,
    /// The problem `code` of a rejection; `None` for an accepted delivery, which the receiver
    /// must print as one JSON line equal to the event it was sent.
    expected_code: Option<&'static str>,
}

/// What one receiver did with one case.
struct Observed {
    status: Option<u16>,
    code: Option<String>,
    printed: Option<String>,
    problem: Option<String>,
}

/// Runs the demo.
pub fn run(args: &[String]) -> ExitCode {
    if !args.is_empty() {
        eprintln!("usage: cargo xtask demo");
        return ExitCode::from(2);
    }
    match demo() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("demo failed: {message}");
            ExitCode::FAILURE
        }
    }
}

fn demo() -> Result<bool, String> {
    let children = Children::default();
    let for_signal = children.clone();
    ctrlc::set_handler(move || {
        for_signal.stop_all();
        eprintln!("\ninterrupted: receivers stopped");
        std::process::exit(130);
    })
    .map_err(|error| format!("cannot handle Ctrl-C: {error}"))?;

    build_examples()?;
    let secret = fresh_secret();
    let cases = cases(&secret);
    let mut results = Vec::new();
    for (framework, _, example) in RECEIVERS {
        let receiver = children.start(example, &secret)?;
        eprintln!("{framework}: listening on {}", receiver.address);
        let observed: Vec<Observed> = cases.iter().map(|case| send(&receiver, case)).collect();
        results.push((framework, observed));
    }
    children.stop_all();
    let answers_ok = report(&cases, &results);
    let inbox_ok = crate::demo_inbox::run(&children, &secret)?;
    let end_to_end_ok = crate::demo_e2e::run(&children, &secret)?;
    Ok(answers_ok && inbox_ok && end_to_end_ok)
}

pub(crate) fn build_examples() -> Result<(), String> {
    let mut command = Command::new(env!("CARGO"));
    command
        .current_dir(workspace_root())
        .args(["build", "--quiet"]);
    for (_, package, example) in RECEIVERS {
        command.args(["--package", package, "--example", example]);
    }
    eprintln!("building the example receivers…");
    let status = command
        .status()
        .map_err(|error| format!("cannot run cargo: {error}"))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| "building the examples failed".to_owned())
}

fn example_binary(example: &str) -> PathBuf {
    target_dir()
        .join("debug")
        .join("examples")
        .join(format!("{example}{}", std::env::consts::EXE_SUFFIX))
}

/// Where cargo puts what it builds: `CARGO_TARGET_DIR`, else `target/` in the workspace.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

/// A secret nobody else has: 128 bits from the standard library's per-process random keys.
pub(crate) fn fresh_secret() -> String {
    let random = |salt: u64| RandomState::new().hash_one(salt);
    format!("whsec_demo_{:016x}{:016x}", random(1), random(2))
}

fn cases(secret: &str) -> Vec<Case> {
    let signed = |body: &str| {
        SignedRequest::builder(body.as_bytes().to_vec())
            .secret(secret)
            .build()
    };
    let person = r#"{"eventType":"person.enrichment.completed","data":{"enrichmentID":"0195be44-1a0d-718a-967b-042c9d17ffd7","person":{"externalID":"crm-42","firstName":"Ada","lastName":"Lovelace","jobTitle":"Analyst","companyName":"Analytical Engines","emails":[{"email":"ada@example.com","validationStatus":" CATCH_ALL","emailType":"professional"}],"mobilePhones":[{"mobilePhone":"+33 6 12 34 56 78","confidenceScore":0.92}],"jobHistory":[{"companyName":"Analytical Engines","jobTitle":"Analyst","startDate":"2019-01","endDate":null,"linkedInURL":"urn:li:company:123456"}],"status":"COMPLETED"}}}"#;
    let company = r#"{"eventType":"company.enrichment.completed","data":{"enrichmentID":"0195be44-1a0d-718a-967b-042c9d17ffd8","company":{"externalID":"acct-7","name":"Analytical Engines","employeeCount":120,"isPublic":false,"websites":["https://example.com"]}}}"#;
    let unknown = r#"{"eventType":"person.enrichment.archived","data":{"enrichmentID":"0195be44-1a0d-718a-967b-042c9d17ffd7","total":2}}"#;

    let genuine = signed(person);
    let mut tampered = genuine.clone();
    tampered.body = person.replace("Ada", "Eve").into_bytes();
    let ten_minutes_ago =
        SignatureTimestamp::from_unix_millis(now().unix_millis() - 10 * 60 * 1000);
    let oversized = format!("{person}{}", " ".repeat(DEFAULT_BODY_LIMIT));

    let case = |name, request, expected_status, expected_code| Case {
        name,
        request,
        expected_status,
        expected_code,
    };
    vec![
        case("person event", genuine, 200, None),
        case("company event", signed(company), 200, None),
        case("unknown event type", signed(unknown), 200, None),
        case("tampered body", tampered, 401, Some("invalid_signature")),
        case(
            "stale timestamp (10 min)",
            SignedRequest::builder(person)
                .secret(secret)
                .timestamp(ten_minutes_ago)
                .build(),
            401,
            Some("stale_timestamp"),
        ),
        case(
            "unsigned",
            SignedRequest::builder(person).unsigned().build(),
            401,
            Some("missing_signature"),
        ),
        case(
            "over the 1 MiB limit",
            signed(&oversized),
            413,
            Some("payload_too_large"),
        ),
        case(
            "malformed JSON",
            signed(&person[..person.len() / 2]),
            400,
            Some("malformed_json"),
        ),
        case(
            "wrong type in person",
            signed(&person.replace("0.92", "\"high\"")),
            422,
            Some("invalid_payload"),
        ),
    ]
}

/// The example receivers started so far, stopped together.
#[derive(Clone, Default)]
pub(crate) struct Children(Arc<Mutex<Vec<Child>>>);

/// A started receiver: where it listens and the lines it prints.
pub(crate) struct Running {
    pub(crate) address: SocketAddr,
    pub(crate) lines: Receiver<String>,
    /// The receiver's process id (for its memory figures in `/proc`).
    pub(crate) pid: u32,
}

impl Children {
    pub(crate) fn start(&self, example: &str, secret: &str) -> Result<Running, String> {
        self.start_with(example, secret, &[])
    }

    /// Starts `example` with `secret` and the extra environment `env` (its server limits).
    pub(crate) fn start_with(
        &self,
        example: &str,
        secret: &str,
        env: &[(&str, String)],
    ) -> Result<Running, String> {
        self.start_on(free_port()?, example, secret, env)
    }

    /// Starts `example` listening on `address` (a port chosen beforehand, such as one a sender
    /// was already told about).
    pub(crate) fn start_on(
        &self,
        address: SocketAddr,
        example: &str,
        secret: &str,
        env: &[(&str, String)],
    ) -> Result<Running, String> {
        let mut command = Command::new(example_binary(example));
        command
            .env("PORT", address.port().to_string())
            .env(SECRET_ENV_VAR, secret)
            .envs(env.iter().map(|(name, value)| (name, value)));
        self.spawn(example, command, address)
    }

    /// Runs `command` (stdout piped to [`Running::lines`], stderr discarded) and waits until
    /// something listens on `address`.
    pub(crate) fn spawn(
        &self,
        name: &str,
        mut command: Command,
        address: SocketAddr,
    ) -> Result<Running, String> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start {name}: {error}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let pid = child.id();
        self.0.lock().map_err(|_| "lock poisoned")?.push(child);

        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("{name} did not start listening on {address}"));
            }
            if self.exited() {
                return Err(format!("{name} exited before listening on {address}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Running {
            address,
            lines,
            pid,
        })
    }

    fn exited(&self) -> bool {
        self.0.lock().is_ok_and(|mut children| {
            children
                .iter_mut()
                .any(|child| matches!(child.try_wait(), Ok(Some(_))))
        })
    }

    pub(crate) fn stop_all(&self) {
        if let Ok(mut children) = self.0.lock() {
            for mut child in children.drain(..) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        // The last handle stops whatever is still running (an early return or a panic).
        if Arc::strong_count(&self.0) == 1 {
            self.stop_all();
        }
    }
}

/// A loopback port that was free a moment ago (the receiver binds it right after).
pub(crate) fn free_port() -> Result<SocketAddr, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|error| format!("no free port: {error}"))
}

fn send(receiver: &Running, case: &Case) -> Observed {
    // Whatever an earlier case printed late belongs to it, not to this one.
    while receiver.lines.try_recv().is_ok() {}
    let response = http_post(receiver.address, &case.request);
    let (status, code, problem) = match &response {
        Ok((status, body)) => {
            let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
            let code = json
                .as_ref()
                .and_then(|json| json["code"].as_str().map(str::to_owned));
            (Some(*status), code, None)
        }
        Err(error) => (None, None, Some(error.clone())),
    };
    // An accepted delivery is printed; a rejected one must print nothing (checked briefly).
    let wait = if case.expected_code.is_none() {
        IO_TIMEOUT
    } else {
        Duration::from_millis(100)
    };
    let printed = receiver.lines.recv_timeout(wait).ok();
    Observed {
        status,
        code,
        printed,
        problem,
    }
}

/// Sends `request` as `POST /webhook` on a fresh connection and returns the status and body.
///
/// The headers go first: a receiver that refuses on `Content-Length` answers before the body is
/// sent, and may close the connection without reading it.
pub(crate) fn http_post(
    address: SocketAddr,
    request: &SignedRequest,
) -> Result<(u16, Vec<u8>), String> {
    let mut stream = TcpStream::connect_timeout(&address, IO_TIMEOUT)
        .map_err(|error| format!("connect: {error}"))?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|error| format!("socket: {error}"))?;
    let mut head = format!("POST /webhook HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in &request.header_pairs {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .map_err(|error| format!("write: {error}"))?;
    // A large body may be refused on its Content-Length alone: look for an early answer before
    // sending it, since writing into a connection the receiver has closed can reset it and lose
    // the answer. Otherwise a write cut off by the receiver is not an error by itself; its answer
    // is what counts.
    let answered_early = request.body.len() > EARLY_ANSWER_THRESHOLD && {
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let early = matches!(stream.peek(&mut [0; 1]), Ok(n) if n > 0);
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        early
    };
    if !answered_early {
        let _ = stream.write_all(&request.body);
    }
    let response = http1_wire::read_final_response(&mut stream, &mut ResponseReader::new())
        .map_err(|error| format!("no answer ({error})"))?;
    Ok((response.status, response.body))
}

/// Whether `observed` is what the documentation promises for `case`.
fn as_documented(case: &Case, observed: &Observed) -> bool {
    if observed.status != Some(case.expected_status) {
        return false;
    }
    match case.expected_code {
        Some(code) => observed.code.as_deref() == Some(code) && observed.printed.is_none(),
        None => observed
            .printed
            .as_deref()
            .is_some_and(|line| prints_the_sent_event(line, &case.request.body)),
    }
}

/// A printed line is right when it is the event we sent, as this library decodes it.
fn prints_the_sent_event(line: &str, sent: &[u8]) -> bool {
    let Ok(printed) = serde_json::from_str::<serde_json::Value>(line) else {
        return false;
    };
    serde_json::from_slice::<WebhookEvent>(sent)
        .ok()
        .and_then(|event| serde_json::to_value(event).ok())
        .is_some_and(|expected| expected == printed)
}

fn report(cases: &[Case], results: &[(&str, Vec<Observed>)]) -> bool {
    let cell = |observed: &Observed, case: &Case| {
        let answer = match (&observed.status, &observed.code, &observed.problem) {
            (Some(status), Some(code), _) => format!("{status} {code}"),
            (Some(status), None, _) => status.to_string(),
            (None, _, Some(problem)) => format!("error: {problem}"),
            (None, _, None) => "no answer".to_owned(),
        };
        let mark = if as_documented(case, observed) {
            "ok"
        } else {
            "WRONG"
        };
        format!("{answer} {mark}")
    };
    let mut header = format!("{:<26} {:<22}", "case", "documented");
    for (framework, _) in results {
        header.push_str(&format!(" {framework:<28}"));
    }
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    let mut all_ok = true;
    for (index, case) in cases.iter().enumerate() {
        let documented = match case.expected_code {
            Some(code) => format!("{} {code}", case.expected_status),
            None => format!("{} + printed", case.expected_status),
        };
        let mut row = format!("{:<26} {documented:<22}", case.name);
        for (_, observed) in results {
            row.push_str(&format!(" {:<28}", cell(&observed[index], case)));
            all_ok &= as_documented(case, &observed[index]);
        }
        println!("{row}");
    }
    println!("\nwhat each receiver printed (the event as the library understood it):");
    for (index, case) in cases.iter().enumerate() {
        let printed: Vec<(&str, &String)> = results
            .iter()
            .filter_map(|(framework, observed)| {
                Some((*framework, observed[index].printed.as_ref()?))
            })
            .collect();
        let all_alike =
            printed.len() == results.len() && printed.windows(2).all(|pair| pair[0].1 == pair[1].1);
        match printed.first() {
            Some((_, line)) if all_alike => println!("  {} (all alike): {line}", case.name),
            _ => {
                for (framework, line) in printed {
                    println!("  {} / {framework}: {line}", case.name);
                }
            }
        }
    }
    println!(
        "\n{}",
        if all_ok {
            "every answer is as documented"
        } else {
            "SOME ANSWERS DIFFER FROM THE DOCUMENTED ONES (marked WRONG)"
        }
    );
    all_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accepted_case_must_print_the_event_it_was_sent() {
        let body = br#"{"eventType":"x.y","data":{"a":1}}"#;
        assert!(prints_the_sent_event(
            r#"{"eventType":"x.y","data":{"a":1}}"#,
            body
        ));
        assert!(!prints_the_sent_event(
            r#"{"eventType":"x.y","data":{"a":2}}"#,
            body
        ));
        assert!(!prints_the_sent_event("not json", body));
    }

    #[test]
    fn every_case_is_signed_with_the_demo_secret_unless_it_tests_the_signature() {
        let secret = fresh_secret();
        assert_ne!(secret, fresh_secret(), "each run gets its own secret");
        let cases = cases(&secret);
        assert_eq!(cases.len(), 9);
        let unsigned = cases
            .iter()
            .filter(|case| case.request.header("x-surfe-signature").is_none());
        assert_eq!(unsigned.count(), 1);
    }
}
