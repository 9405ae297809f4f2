//! The first part of the demo: the four receivers (the `receivers` fixture, one per framework),
//! side by side, answering the conformance suite's own cases.
//!
//! Every case of [`conformance::cases::cases`] that sends one request to `/webhook` under the
//! standard configuration (or its small body limit, `--body-limit`) is sent to each receiver over
//! loopback; the table shows what each
//! answered and whether it printed the event, against what the case documents. `Ok(false)` if
//! any answer differs.

use std::time::Duration;

use conformance::cases::{self, Exchange, Expect, SECRET, SMALL_LIMIT, Setup};
use conformance::client::RawRequest;
use conformance::fixture::{FRAMEWORKS, IO_TIMEOUT, Processes, Running, post_bytes};
use enrich_types::WebhookEvent;

/// One case the demo sends, and the answer the suite documents for it.
struct Case {
    name: &'static str,
    /// The receiver configuration: the standard one, or a small body limit.
    setup: Setup,
    request: RawRequest,
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

/// Runs the first part; `Ok(false)` when an answer is not as documented.
pub fn run(processes: &Processes) -> Result<bool, String> {
    let cases = demo_cases();
    let small_limit = SMALL_LIMIT.to_string();
    let mut results = Vec::new();
    for framework in FRAMEWORKS {
        let mut observed: Vec<Option<Observed>> = cases.iter().map(|_| None).collect();
        for (setup, args) in [
            (Setup::Standard, vec![]),
            (
                Setup::SmallLimit,
                vec!["--body-limit", small_limit.as_str()],
            ),
        ] {
            let receiver = processes.receiver(framework, SECRET, &args)?;
            eprintln!("{framework} ({setup:?}): listening on {}", receiver.address);
            for (case, seen) in cases.iter().zip(&mut observed) {
                if case.setup == setup {
                    *seen = Some(send(&receiver, case));
                }
            }
            processes.stop_all();
        }
        results.push((framework, observed.into_iter().flatten().collect()));
    }
    processes.stop_all();
    println!(
        "The conformance suite's cases that send one request to /webhook, sent to each receiver:"
    );
    Ok(report(&cases, &results))
}

/// The suite's cases that send one request to `/webhook` under the standard configuration (or
/// its small body limit) and answer alike on every framework: accepted (printed) or refused (a
/// problem code).
fn demo_cases() -> Vec<Case> {
    cases::cases()
        .into_iter()
        .filter(|case| matches!(case.setup, Setup::Standard | Setup::SmallLimit))
        .filter(|case| case.divergences.is_empty())
        .filter_map(|case| {
            let Exchange::One(request) = case.exchange else {
                return None;
            };
            // A chunked body is framed on the wire: what the receiver prints is not those bytes.
            let chunked = request
                .headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("transfer-encoding"));
            if chunked {
                return None;
            }
            let (expected_status, expected_code) = match case.expect.as_slice() {
                [Expect::Handled { route, .. }] if request.path == route.path() => (200, None),
                [Expect::Refusal { status, code, .. }] => (*status, Some(*code)),
                _ => return None,
            };
            (request.path == "/webhook").then_some(Case {
                name: case.name,
                setup: case.setup,
                request,
                expected_status,
                expected_code,
            })
        })
        .collect()
}

fn send(receiver: &Running, case: &Case) -> Observed {
    // Whatever an earlier case printed late belongs to it, not to this one.
    while receiver.lines.try_recv().is_ok() {}
    let mut request = case.request.clone();
    request
        .headers
        .push(("connection".to_owned(), b"close".to_vec()));
    let body = std::mem::take(&mut request.body);
    let response = post_bytes(receiver.address, &request.to_bytes(), &body);
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
    let mut header = format!("{:<48} {:<26}", "case", "documented");
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
        let mut row = format!("{:<48} {documented:<26}", case.name);
        for (_, observed) in results {
            row.push_str(&format!(" {:<28}", cell(&observed[index], case)));
            all_ok &= as_documented(case, &observed[index]);
        }
        println!("{row}");
    }
    println!("\nwhat each receiver printed (the event as the library understood it; each once):");
    let mut shown = std::collections::HashSet::new();
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
            Some((_, line)) if all_alike && !shown.insert(*line) => {}
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
fn the_demo_shows_accepted_and_refused_cases_of_the_suite() {
    let cases = demo_cases();
    assert!(cases.iter().any(|case| case.expected_code.is_none()));
    for code in [
        "invalid_signature",
        "stale_timestamp",
        "missing_signature",
        "payload_too_large",
    ] {
        assert!(
            cases.iter().any(|case| case.expected_code == Some(code)),
            "no case refused with {code}"
        );
    }
}
