//! `enrich send`: sign events like the API does and POST them to a receiver, optionally with a
//! deliberate fault, and check every answer against the one the receiver documents.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use enrich_webhook::signature::{SIGNATURE_HEADER, SignatureTimestamp, sign};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::cli::SendArgs;
use crate::error::Error;
use crate::output::{json, table};
use crate::text::clean;

/// The built-in events: the project's own fixtures, by name.
const FIXTURES: &[(&str, &str)] = &[
    (
        "person-full",
        include_str!("../../enrich-types/tests/fixtures/event.person-full.json"),
    ),
    (
        "person-minimal",
        include_str!("../../enrich-types/tests/fixtures/event.person-minimal.json"),
    ),
    (
        "person-catch-all-leading-space",
        include_str!("../../enrich-types/tests/fixtures/event.person-catch-all-leading-space.json"),
    ),
    (
        "person-month-dates",
        include_str!("../../enrich-types/tests/fixtures/event.person-month-dates.json"),
    ),
    (
        "person-null-arrays",
        include_str!("../../enrich-types/tests/fixtures/event.person-null-arrays.json"),
    ),
    (
        "person-unknown-keys",
        include_str!("../../enrich-types/tests/fixtures/event.person-unknown-keys.json"),
    ),
    (
        "company-full",
        include_str!("../../enrich-types/tests/fixtures/event.company-full.json"),
    ),
    (
        "batch-completed",
        include_str!("../../enrich-types/tests/fixtures/event.batch-completed.json"),
    ),
    (
        "batch-completed-changelog-name",
        include_str!("../../enrich-types/tests/fixtures/event.batch-completed-changelog-name.json"),
    ),
    (
        "unknown-type",
        include_str!("../../enrich-types/tests/fixtures/event.unknown-type.json"),
    ),
];

/// The fixture sent when no event is named.
const DEFAULT_EVENT: &str = "person-full";

/// What `--wrong-secret` signs with: a secret no receiver is configured with.
const WRONG_SECRET: &str = "whsec_enrich_cli_deliberately_wrong_secret";

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// One event to send: a name to print, and its body.
struct Event {
    name: String,
    body: Vec<u8>,
}

/// The fault to inject, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Stale,
    Tamper,
    Unsigned,
    WrongSecret,
}

impl Fault {
    fn of(args: &SendArgs) -> Self {
        match (args.stale, args.tamper, args.unsigned, args.wrong_secret) {
            (true, ..) => Self::Stale,
            (_, true, ..) => Self::Tamper,
            (_, _, true, _) => Self::Unsigned,
            (.., true) => Self::WrongSecret,
            _ => Self::None,
        }
    }

    /// The answer the receiver documents for this fault.
    fn expected(self) -> (u16, Option<&'static str>) {
        match self {
            Self::None => (200, None),
            Self::Stale => (401, Some("stale_timestamp")),
            Self::Tamper | Self::WrongSecret => (401, Some("invalid_signature")),
            Self::Unsigned => (401, Some("missing_signature")),
        }
    }
}

/// What one request got. Its `--json` keys are camelCase (`asExpected`), as every other `--json`
/// output's are (the API's own casing).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Answered {
    event: String,
    repeat: u32,
    status: Option<u16>,
    code: Option<String>,
    error: Option<String>,
    as_expected: bool,
}

/// The built-in fixture names and event types, as printed by `--list`.
pub fn list(as_json: bool) -> Result<String, Error> {
    let rows: Vec<Vec<String>> = FIXTURES
        .iter()
        .map(|(name, body)| {
            let event_type = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|value| value["eventType"].as_str().map(str::to_owned))
                .unwrap_or_default();
            vec![(*name).to_owned(), event_type]
        })
        .collect();
    if as_json {
        let names: Vec<&str> = FIXTURES.iter().map(|(name, _)| *name).collect();
        return json(&names);
    }
    Ok(table(&["fixture", "eventType"], &rows))
}

/// Runs `enrich send`. Returns the output, and whether every answer was the expected one.
pub async fn run(args: SendArgs, as_json: bool) -> Result<(String, bool), Error> {
    if args.list {
        return list(as_json).map(|listing| (listing, true));
    }
    let url = args
        .url
        .clone()
        .ok_or_else(|| Error::Usage("a receiver URL is required".into()))?;
    let url = reqwest::Url::parse(&url)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or_else(|| Error::Usage(format!("{:?} is not an http(s) URL", clean(&url))))?;
    let fault = Fault::of(&args);
    let secret = match (fault, args.secret.as_deref()) {
        (Fault::Unsigned, _) => String::new(),
        (Fault::WrongSecret, _) => WRONG_SECRET.to_owned(),
        (_, Some(secret)) if !secret.is_empty() => secret.to_owned(),
        _ => {
            return Err(Error::Usage(
                "no signing secret: pass --secret or set SURFE_WEBHOOK_SECRET (or send --unsigned)"
                    .into(),
            ));
        }
    };
    let events = load(&args.events)?;
    let (default_status, default_code) = fault.expected();
    let expected_status = args.expect_status.unwrap_or(default_status);
    let expected_code = match (&args.expect_code, args.expect_status) {
        (Some(code), _) => Some(code.clone()),
        // A different status says nothing about the code: do not hold the fault's to it.
        (None, Some(_)) => None,
        (None, None) => default_code.map(str::to_owned),
    };

    let http = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .no_proxy()
        .build()
        .map_err(Error::HttpClient)?;
    let permits = Arc::new(Semaphore::new(args.concurrency as usize));
    let mut tasks = JoinSet::new();
    let events: Vec<Arc<Event>> = events.into_iter().map(Arc::new).collect();
    for repeat in 1..=args.repeat {
        for event in &events {
            let (http, url, secret, event, permits) = (
                http.clone(),
                url.clone(),
                secret.clone(),
                Arc::clone(event),
                Arc::clone(&permits),
            );
            let expected_code = expected_code.clone();
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let (status, code, error) = post(&http, url, &secret, fault, &event.body).await;
                let as_expected = error.is_none()
                    && status == Some(expected_status)
                    && (expected_code.is_none() || code == expected_code);
                Answered {
                    event: event.name.clone(),
                    repeat,
                    status,
                    code,
                    error,
                    as_expected,
                }
            });
        }
    }
    let mut answers = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        answers.push(joined.map_err(Error::Task)?);
    }
    let all_expected = answers.iter().all(|answer| answer.as_expected);
    let expectation = match &expected_code {
        Some(code) => format!("{expected_status} {code}"),
        None => expected_status.to_string(),
    };
    Ok((render(&answers, &expectation, as_json)?, all_expected))
}

/// The events named on the command line: fixtures, files, or `-` for stdin.
fn load(names: &[String]) -> Result<Vec<Event>, Error> {
    let default = [DEFAULT_EVENT.to_owned()];
    let names = if names.is_empty() {
        &default[..]
    } else {
        names
    };
    names
        .iter()
        .map(|name| {
            if let Some((_, body)) = FIXTURES.iter().find(|(fixture, _)| fixture == name) {
                return Ok(Event {
                    name: name.clone(),
                    body: body.trim_end().as_bytes().to_vec(),
                });
            }
            let body = if name == "-" {
                let mut body = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut body)
                    .map_err(Error::io("cannot read stdin"))?;
                body
            } else {
                std::fs::read(name).map_err(Error::io(format!(
                    "{:?} is not a built-in fixture (see `enrich send --list`) and cannot be read \
                     as a file",
                    clean(name)
                )))?
            };
            Ok(Event {
                name: if name == "-" {
                    "stdin".into()
                } else {
                    clean(name)
                },
                body,
            })
        })
        .collect()
}

/// Sends one request; returns the status and `code` of the answer, or why there was none.
async fn post(
    http: &reqwest::Client,
    url: reqwest::Url,
    secret: &str,
    fault: Fault,
    body: &[u8],
) -> (Option<u16>, Option<String>, Option<String>) {
    let now = SignatureTimestamp::now();
    let mut request = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    let sent_body = match fault {
        Fault::Unsigned => body.to_vec(),
        Fault::Stale => {
            let ten_minutes_ago =
                SignatureTimestamp::from_unix_millis(now.unix_millis().saturating_sub(600_000));
            request = request.header(SIGNATURE_HEADER, sign(secret, ten_minutes_ago, body));
            body.to_vec()
        }
        Fault::Tamper => {
            request = request.header(SIGNATURE_HEADER, sign(secret, now, body));
            // Still one JSON document, so only the signature can fail.
            let mut tampered = body.to_vec();
            tampered.push(b' ');
            tampered
        }
        Fault::None | Fault::WrongSecret => {
            request = request.header(SIGNATURE_HEADER, sign(secret, now, body));
            body.to_vec()
        }
    };
    match request.body(sent_body).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let code = response
                .bytes()
                .await
                .ok()
                .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
                .and_then(|value| value.get("code")?.as_str().map(clean));
            (Some(status), code, None)
        }
        Err(error) => (None, None, Some(describe(&error))),
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "no answer in time".into();
    }
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        reason = inner.to_string();
        source = inner.source();
    }
    if error.is_connect() {
        format!("cannot connect: {reason}")
    } else {
        reason
    }
}

fn render(answers: &[Answered], expectation: &str, as_json: bool) -> Result<String, Error> {
    let unexpected = answers.iter().filter(|answer| !answer.as_expected).count();
    if as_json {
        #[derive(Serialize)]
        struct Report<'a> {
            answers: &'a [Answered],
            expected: &'a str,
            sent: usize,
            unexpected: usize,
        }
        return json(&Report {
            answers,
            expected: expectation,
            sent: answers.len(),
            unexpected,
        });
    }
    let rows: Vec<Vec<String>> = answers
        .iter()
        .map(|answer| {
            vec![
                format!("{} #{}", answer.event, answer.repeat),
                answer
                    .status
                    .map_or_else(|| "-".to_owned(), |status| status.to_string()),
                answer.code.clone().unwrap_or_else(|| "-".to_owned()),
                if answer.as_expected {
                    "ok".to_owned()
                } else {
                    answer
                        .error
                        .clone()
                        .unwrap_or_else(|| format!("UNEXPECTED (expected {expectation})"))
                },
            ]
        })
        .collect();
    let mut out = table(&["event", "status", "code", "result"], &rows);
    out.push_str(&format!(
        "{} sent, {} as expected ({expectation}), {unexpected} not\n",
        answers.len(),
        answers.len() - unexpected
    ));
    Ok(out)
}
