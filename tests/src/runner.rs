//! The runner: every case against every adapter, then one comparison and one snapshot per case.

use std::fmt::Write as _;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::Value;

use crate::cases::{Case, Exchange, Expect};
use crate::client::{self, Response};
use crate::server::AdapterEntry;
use crate::view::VIEW_CONTENT_TYPE;

/// Everything one adapter answered in one case: a response per request, or the error that
/// stopped the exchange.
pub type Answers = Result<Vec<Response>, String>;

/// Starts a server of `adapter` configured for `case`, runs the exchange, stops the server.
pub async fn run_case(adapter: AdapterEntry, case: Case) -> Answers {
    let server = (adapter.start)(case.setup.config())
        .await
        .map_err(|error| format!("the server did not start: {error}"))?;
    let addr = server.addr();
    let answers: io::Result<Vec<Response>> = match &case.exchange {
        Exchange::One(request) => client::send(addr, request).await.map(|r| vec![r]),
        Exchange::FirstResponse(bytes) => client::send_bytes(addr, bytes).await.map(|r| vec![r]),
        Exchange::ThenStop(bytes) => client::send_then_stop(addr, bytes).await.map(|r| vec![r]),
        Exchange::HeadOnly(bytes) => client::send_head_only(addr, bytes).await.map(|r| vec![r]),
        Exchange::KeepAlive(requests) => client::send_keep_alive(addr, requests).await,
        Exchange::EndlessChunks { head, chunk } => {
            client::send_endless_chunks(addr, head, chunk, ENDLESS_BODY_CAP)
                .await
                .map(|outcome| vec![outcome.response])
        }
    };
    drop(server);
    answers.map_err(|error| format!("{error}"))
}

/// How much of a never-ending chunked body the client sends at most (then it waits, the body
/// still unfinished). Only a bound on the client's work: the body never ends, so a server that
/// waits for its end never answers, and the case fails on the read timeout.
pub const ENDLESS_BODY_CAP: usize = 4 << 20;

/// Runs every case against every adapter. Cases run one after another; within a case the
/// adapters run concurrently, each with its own server.
pub async fn run_all(adapters: &[AdapterEntry], cases: &[Case]) -> Vec<Vec<Answers>> {
    let mut all = Vec::with_capacity(cases.len());
    for case in cases {
        let runs: Vec<_> = adapters
            .iter()
            .map(|adapter| tokio::spawn(run_case(*adapter, case.clone())))
            .collect();
        let mut answers = Vec::with_capacity(runs.len());
        for run in runs {
            answers.push(
                run.await
                    .unwrap_or_else(|error| Err(format!("the run panicked: {error}"))),
            );
        }
        all.push(answers);
    }
    all
}

/// Checks one case: the adapters agree (status, `Content-Type`, body bytes up to the redacted
/// clock-dependent digits), each answer is what the case expects, and the answer matches the
/// case's snapshot. Returns every problem found.
pub fn check_case(adapters: &[AdapterEntry], case: &Case, answers: &[Answers]) -> Vec<String> {
    let mut problems = Vec::new();
    let divergent = |adapter: &AdapterEntry| {
        case.divergences
            .iter()
            .find(|divergence| divergence.adapter == adapter.name)
    };
    for (adapter, answer) in adapters.iter().zip(answers) {
        let expected = divergent(adapter).map_or(&case.expect, |divergence| &divergence.expect);
        match answer {
            Err(error) => problems.push(format!("{}: {error}", adapter.name)),
            Ok(responses) => {
                if responses.len() != expected.len() {
                    problems.push(format!(
                        "{}: {} responses for {} expected",
                        adapter.name,
                        responses.len(),
                        expected.len()
                    ));
                }
                for (index, (response, expect)) in responses.iter().zip(expected).enumerate() {
                    if let Err(problem) = check_expect(response, expect) {
                        problems.push(format!(
                            "{}: response {}: {problem}",
                            adapter.name,
                            index + 1
                        ));
                    }
                }
            }
        }
    }

    // The adapters must agree with each other, byte for byte (a documented divergence aside).
    let agreeing: Vec<(&str, Vec<Wire>)> = adapters
        .iter()
        .zip(answers)
        .filter(|(adapter, _)| divergent(adapter).is_none())
        .filter_map(|(adapter, answer)| {
            let responses = answer.as_ref().ok()?;
            Some((adapter.name, responses.iter().map(Wire::of).collect()))
        })
        .collect();
    let Some((first_name, first)) = agreeing.first() else {
        return problems;
    };
    for (name, other) in &agreeing[1..] {
        if other != first {
            problems.push(format!(
                "{name} differs from {first_name}:\n    {first_name}: {first:?}\n    {name}: {other:?}"
            ));
        }
    }

    // One snapshot per case, shared by the adapters, plus each documented divergence.
    let mut snapshot = render_snapshot(first);
    for (adapter, answer) in adapters.iter().zip(answers) {
        let (Some(divergence), Ok(responses)) = (divergent(adapter), answer) else {
            continue;
        };
        let wire: Vec<Wire> = responses.iter().map(Wire::of).collect();
        let _ = write!(
            snapshot,
            "=== {} only (framework-forced: {}) ===\n{}",
            adapter.name,
            divergence.why,
            render_snapshot(&wire)
        );
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path("../snapshots");
        settings.set_prepend_module_to_snapshot(false);
        settings.set_description(case.doc);
        settings.set_omit_expression(true);
        settings.bind(|| insta::assert_snapshot!(case.name, snapshot));
    }));
    if outcome.is_err() {
        problems.push(format!(
            "the answer differs from the snapshot tests/snapshots/{}.snap",
            case.name
        ));
    }
    problems
}

/// A response as compared across adapters: status, `Content-Type`, body bytes with the
/// clock-dependent digits redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Wire {
    status: u16,
    content_type: Option<String>,
    retry_after: Option<String>,
    body: Vec<u8>,
}

impl Wire {
    fn of(response: &Response) -> Self {
        Self {
            status: response.status,
            content_type: response.content_type().map(str::to_owned),
            retry_after: response.header("retry-after").map(str::to_owned),
            body: redact_clock(&response.body),
        }
    }
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:?} retry-after={:?} {}",
            self.status,
            self.content_type.as_deref().unwrap_or("<no content-type>"),
            self.retry_after,
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// The only part of an answer that depends on the clock is the age in a `stale_timestamp`
/// detail (`the signature timestamp is 600012 ms old; …`): its digits become `[age]`. The
/// body is otherwise left byte for byte as sent.
pub fn redact_clock(body: &[u8]) -> Vec<u8> {
    const MARKER: &[u8] = b"the signature timestamp is ";
    if !contains(body, b"\"code\":\"stale_timestamp\"") {
        return body.to_vec();
    }
    let Some(start) = body
        .windows(MARKER.len())
        .position(|window| window == MARKER)
    else {
        return body.to_vec();
    };
    let digits_start = start + MARKER.len();
    let digits = body[digits_start..]
        .iter()
        .take_while(|byte| byte.is_ascii_digit())
        .count();
    let mut redacted = body[..digits_start].to_vec();
    redacted.extend_from_slice(b"[age]");
    redacted.extend_from_slice(&body[digits_start + digits..]);
    redacted
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// The snapshot text: per response, the status and `Content-Type`, then the body
/// pretty-printed if it is JSON (the exact bytes are compared across adapters separately).
fn render_snapshot(responses: &[Wire]) -> String {
    let mut text = String::new();
    for (index, response) in responses.iter().enumerate() {
        if responses.len() > 1 {
            let _ = writeln!(text, "--- response {} ---", index + 1);
        }
        let _ = writeln!(text, "status: {}", response.status);
        let _ = writeln!(
            text,
            "content-type: {}",
            response.content_type.as_deref().unwrap_or("<none>")
        );
        if let Some(retry_after) = &response.retry_after {
            let _ = writeln!(text, "retry-after: {retry_after}");
        }
        let body = match serde_json::from_slice::<Value>(&response.body) {
            Ok(json) => serde_json::to_string_pretty(&json).unwrap_or_default(),
            Err(_) => format!("{:?}", String::from_utf8_lossy(&response.body)),
        };
        let _ = writeln!(text, "{body}");
    }
    text
}

/// Checks one response against what the case expects of it.
fn check_expect(response: &Response, expect: &Expect) -> Result<(), String> {
    let json: Option<serde_json::Value> = serde_json::from_slice(&response.body).ok();
    let field = |name: &str| json.as_ref().and_then(|json| json.get(name)).cloned();
    let want = |ok: bool, what: String| if ok { Ok(()) } else { Err(what) };
    match expect {
        Expect::Handled {
            route,
            event_type,
            external_id,
            verified,
            event,
        } => {
            want(
                response.status == 200 && response.content_type() == Some(VIEW_CONTENT_TYPE),
                format!(
                    "expected the {} handler's 200 {VIEW_CONTENT_TYPE}, got {} {:?}: {}",
                    route.name(),
                    response.status,
                    response.content_type(),
                    String::from_utf8_lossy(&response.body)
                ),
            )?;
            want(
                field("route") == Some(route.name().into()),
                format!(
                    "handled by route {:?}, not {}",
                    field("route"),
                    route.name()
                ),
            )?;
            want(
                field("eventType") == Some((*event_type).into()),
                format!(
                    "the handler saw eventType {:?}, not {event_type}",
                    field("eventType")
                ),
            )?;
            want(
                field("verified") == verified.map(Value::Bool),
                format!(
                    "the handler saw verified {:?}, not {verified:?}",
                    field("verified")
                ),
            )?;
            let seen_event = field("event").unwrap_or(Value::Null);
            let seen_id = ["person", "company"]
                .iter()
                .find_map(|key| seen_event["data"][key]["externalID"].as_str());
            want(
                seen_id == *external_id,
                format!("the handler saw externalID {seen_id:?}, not {external_id:?}"),
            )?;
            if let Some(event) = event {
                want(
                    &seen_event == event,
                    format!("the handler saw the event {seen_event}, not {event}"),
                )?;
            }
            Ok(())
        }
        Expect::Ignored { event_type } => {
            let expected = enrich_webhook::Answer::from(
                &enrich_webhook::Acknowledgement::of_event_type(*event_type),
            );
            want(
                response.status == expected.status
                    && response.content_type() == Some(expected.content_type)
                    && response.body == expected.body,
                format!(
                    "expected the pipeline's acknowledgement {} {} {}, got {} {:?} {}",
                    expected.status,
                    expected.content_type,
                    String::from_utf8_lossy(&expected.body),
                    response.status,
                    response.content_type(),
                    String::from_utf8_lossy(&response.body)
                ),
            )
        }
        Expect::Refusal {
            status,
            code,
            pointer,
        } => {
            want(
                response.status == *status
                    && response.content_type() == Some(enrich_webhook::PROBLEM_CONTENT_TYPE)
                    && field("code") == Some((*code).into())
                    && field("status") == Some((*status).into()),
                format!(
                    "expected {status} {code} as application/problem+json, got {} {:?}: {}",
                    response.status,
                    response.content_type(),
                    String::from_utf8_lossy(&response.body)
                ),
            )?;
            let content_types = response
                .headers
                .iter()
                .filter(|(name, _)| name == "content-type")
                .count();
            want(
                content_types == 1,
                format!("expected one Content-Type header, got {content_types}"),
            )?;
            let retry_after = response.header("retry-after");
            want(
                (*status == 503) == retry_after.is_some_and(|value| value.parse::<u32>().is_ok()),
                format!(
                    "a 503, and only a 503, carries Retry-After in seconds: got {retry_after:?}"
                ),
            )?;
            if let Some(pointer) = pointer {
                want(
                    field("pointer") == Some((*pointer).into()),
                    format!("expected pointer {pointer:?}, got {:?}", field("pointer")),
                )?;
            }
            Ok(())
        }
        Expect::MethodNotAllowed => want(
            response.status == 405
                && response.header("allow") == Some("POST")
                && response.body.is_empty(),
            format!(
                "expected 405 with Allow: POST and no body, got {} (allow {:?}): {}",
                response.status,
                response.header("allow"),
                String::from_utf8_lossy(&response.body)
            ),
        ),
        Expect::Interim { status } => want(
            response.status == *status,
            format!(
                "expected the interim answer {status}, got {}",
                response.status
            ),
        ),
    }
}

/// Runs the whole suite and panics with every problem of every case.
///
/// `CONFORMANCE_CASE=<text>` runs only the cases whose name contains `<text>`.
pub async fn run_suite(adapters: &[AdapterEntry], mut cases: Vec<Case>) {
    if let Ok(filter) = std::env::var("CONFORMANCE_CASE") {
        cases.retain(|case| case.name.contains(filter.as_str()));
    }
    assert!(!cases.is_empty(), "no case selected");
    let cases = &cases[..];
    let answers = run_all(adapters, cases).await;
    let mut report = String::new();
    let mut failed = 0;
    for (case, answers) in cases.iter().zip(&answers) {
        let problems = check_case(adapters, case, answers);
        if !problems.is_empty() {
            failed += 1;
            let _ = writeln!(report, "\n[{}] {}", case.name, case.doc);
            for problem in problems {
                let _ = writeln!(report, "  - {problem}");
            }
        }
    }
    let names: Vec<&str> = adapters.iter().map(|adapter| adapter.name).collect();
    println!(
        "conformance: {} cases on each of {} adapters ({}); {failed} cases with problems",
        cases.len(),
        adapters.len(),
        names.join(", "),
    );
    assert!(
        failed == 0,
        "{failed} of {} cases failed:{report}",
        cases.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_only_the_age_of_a_stale_timestamp() {
        let stale = br#"{"detail":"the signature timestamp is 600012 ms old; at most 300000 ms is accepted","code":"stale_timestamp"}"#;
        assert_eq!(
            redact_clock(stale),
            br#"{"detail":"the signature timestamp is [age] ms old; at most 300000 ms is accepted","code":"stale_timestamp"}"#
        );
        let other =
            br#"{"detail":"the signature timestamp is 5 ms old","code":"invalid_signature"}"#;
        assert_eq!(redact_clock(other), other);
    }
}
