//! The properties the fuzz targets check, as plain functions: the targets in `fuzz_targets/` call
//! them under libFuzzer (`cargo xtask fuzz`), and `tests/replay.rs` calls them on every committed
//! corpus and crash file on stable Rust, so what fuzzing found stays guarded without a fuzzer.
//!
//! Each function panics when a property fails (that is how libFuzzer learns of a finding).

#![warn(missing_docs)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::{Pin, pin};
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use enrich_webhook::testing::sign;
use enrich_webhook::{
    Answer, PROBLEM_CONTENT_TYPE, Refusal, RequestHeaders, SignatureTimestamp, WebhookConfig,
};
use futures_core::Stream;
use serde_json::{Map, Value};

/// The secret every fuzzed delivery is verified against.
pub const SECRET: &str = "whsec_fuzz_secret";

/// How the raw-bytes target fills the signature header.
#[derive(Debug, Arbitrary)]
enum SignatureChoice<'a> {
    /// No header.
    Absent,
    /// These bytes, as sent.
    Raw(&'a [u8]),
    /// A genuine signature of the body, made now (or an hour ago: stale).
    Genuine { stale: bool },
}

/// A request made of raw bytes: headers, a limit, how the body is cut into chunks, the body.
#[derive(Debug, Arbitrary)]
struct RawRequest<'a> {
    verify: bool,
    limit: u16,
    content_type: Option<&'a [u8]>,
    content_length: Option<&'a [u8]>,
    signature: SignatureChoice<'a>,
    cuts: Vec<u16>,
    body: &'a [u8],
}

/// Target `pipeline`: raw bytes through `start` → chunks → `receive`, and through `receive` in one
/// piece. Checks that both ways agree, that no accepted body exceeds the limit, and that every
/// refusal is a valid problem+json answer.
pub fn pipeline(data: &[u8]) {
    let Ok(request) = RawRequest::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let limit = usize::from(request.limit).max(1);
    let config = if request.verify {
        verifying().clone()
    } else {
        skipping().clone()
    }
    .body_limit(limit);
    let signature = match request.signature {
        SignatureChoice::Absent => None,
        SignatureChoice::Raw(bytes) => Some(bytes.to_vec()),
        SignatureChoice::Genuine { stale } => {
            let now = SignatureTimestamp::now().to_system_time();
            let at = if stale {
                now - Duration::from_secs(3600)
            } else {
                now
            };
            let at = SignatureTimestamp::from_system_time(at);
            Some(sign(SECRET, at, request.body).into_bytes())
        }
    };
    let headers = RequestHeaders {
        content_type: request.content_type,
        content_length: request.content_length,
        signature: signature.as_deref(),
        traceparent: None,
    };

    let whole = outcome(config.receive(&headers, Bytes::copy_from_slice(request.body)));
    let chunked = outcome(receive_in_chunks(
        &config,
        &headers,
        request.body,
        &request.cuts,
    ));
    assert_eq!(
        whole, chunked,
        "whole and chunked bodies disagree (cuts {:?})",
        request.cuts
    );
    match &whole {
        Ok(_) => assert!(
            request.body.len() <= limit,
            "a body over the limit was accepted"
        ),
        Err(Outcome::Refused(refusal)) => check_answer(refusal),
        Err(Outcome::ClockDependent(_)) => {}
    }
    if request.body.len() > limit {
        assert!(whole.is_err(), "a body over the limit was accepted");
    }
}

/// The verifying configuration, made once.
fn verifying() -> &'static WebhookConfig {
    static CONFIG: OnceLock<WebhookConfig> = OnceLock::new();
    CONFIG.get_or_init(|| WebhookConfig::with_secret(SECRET).expect("a valid secret"))
}

/// The configuration without verification, made once (making one logs a warning).
fn skipping() -> &'static WebhookConfig {
    static CONFIG: OnceLock<WebhookConfig> = OnceLock::new();
    CONFIG.get_or_init(WebhookConfig::insecure_skip_verification)
}

/// A delivery's outcome in comparable terms: the re-serialized event and raw body, or the
/// refusal (by code for a stale or future timestamp, whose age in milliseconds depends on when
/// each way read the clock).
fn outcome(result: Result<enrich_webhook::Delivery, Refusal>) -> Result<(String, Bytes), Outcome> {
    match result {
        Ok(delivery) => {
            let event = serde_json::to_string(delivery.event()).expect("an event serializes");
            Ok((event, delivery.raw_body().clone()))
        }
        Err(refusal) => Err(Outcome::from(refusal)),
    }
}

/// A refusal, compared as a whole unless it depends on the clock.
#[derive(Debug, PartialEq)]
enum Outcome {
    Refused(Refusal),
    ClockDependent(&'static str),
}

impl From<Refusal> for Outcome {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::StaleTimestamp { .. } => Self::ClockDependent(refusal.code()),
            other => Self::Refused(other),
        }
    }
}

/// The body read by [`WebhookConfig::receive_body`] in chunks cut at `cuts` (offsets taken
/// modulo the body's length), as adapters do.
fn receive_in_chunks(
    config: &WebhookConfig,
    headers: &RequestHeaders<'_>,
    body: &[u8],
    cuts: &[u16],
) -> Result<enrich_webhook::Delivery, Refusal> {
    let mut offsets: Vec<usize> = cuts
        .iter()
        .map(|&cut| usize::from(cut) % body.len().max(1))
        .collect();
    offsets.push(body.len());
    offsets.sort_unstable();
    let mut from = 0;
    let mut chunks = VecDeque::new();
    for to in offsets {
        chunks.push_back(Bytes::copy_from_slice(&body[from..to]));
        from = to;
    }
    let reading = pin!(config.receive_body(headers, ReadyChunks(chunks), |never| match *never {}));
    // Every chunk is ready, so one poll with a waker that never wakes completes the read.
    match reading.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => panic!("a body of ready chunks made the pipeline wait"),
    }
}

/// A body whose chunks are all ready.
struct ReadyChunks(VecDeque<Bytes>);

impl Stream for ReadyChunks {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }
}

/// A refusal renders as problem+json whose `status` and `code` are the refusal's.
fn check_answer(refusal: &Refusal) {
    let answer = Answer::from(refusal);
    let body: Value = serde_json::from_slice(&answer.body).expect("every answer body is JSON");
    assert_eq!(answer.content_type, PROBLEM_CONTENT_TYPE);
    assert_eq!(body["status"], u64::from(answer.status));
    assert_eq!(body["code"], refusal.code());
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
}

/// The field names of the real payloads, at every level.
const FIELDS: &[&str] = &[
    "person",
    "company",
    "enrichmentID",
    "externalID",
    "firstName",
    "lastName",
    "jobTitle",
    "companyName",
    "companyDomain",
    "country",
    "location",
    "linkedInUrl",
    "linkedInURL",
    "departments",
    "seniorities",
    "emails",
    "email",
    "validationStatus",
    "emailType",
    "mobilePhones",
    "mobilePhone",
    "confidenceScore",
    "jobHistory",
    "startDate",
    "endDate",
    "status",
    "name",
    "employeeCount",
    "followersCountLinkedin",
    "isPublic",
    "keywords",
    "fundingRounds",
    "amount",
    "ipo",
    "sharePrice",
    "stocks",
];

/// Values that fit the real fields, so that the grammar also builds accepted events.
const FITTING: &[&str] = &[
    "\"2024-01-31\"",
    "\"2024-01\"",
    "\"VALID\"",
    "\"COMPLETED\"",
    "0.95",
    "12",
    "[]",
    "{}",
    "\"Engineering\"",
];

/// Builds a `data` value from the real field names, planting a marker (a string, a key or a
/// number no answer can contain by chance) at most leaves.
struct Grammar<'u, 'a> {
    input: &'u mut Unstructured<'a>,
    markers: Vec<String>,
}

impl Grammar<'_, '_> {
    fn marker_text(&mut self) -> arbitrary::Result<String> {
        let mut text = String::from("mk");
        for _ in 0..8 {
            text.push(char::from(b'a' + self.input.int_in_range(0..=25u8)?));
        }
        self.markers.push(text.clone());
        Ok(text)
    }

    fn value(&mut self, depth: u32) -> arbitrary::Result<Value> {
        let most = if depth >= 5 { 4 } else { 6 };
        Ok(match self.input.int_in_range(0..=most)? {
            0 => Value::Null,
            1 => Value::Bool(self.input.arbitrary()?),
            2 => {
                let fitting = FITTING[self.input.choose_index(FITTING.len())?];
                serde_json::from_str(fitting).expect("the fitting values are JSON")
            }
            3 => Value::String(self.marker_text()?),
            4 => {
                // At least ten digits: no count, limit, line or column of these bodies has as many.
                let number = self.input.int_in_range(1_000_000_000u64..=u64::MAX / 2)?;
                self.markers.push(number.to_string());
                if self.input.arbitrary()? {
                    Value::from(number)
                } else {
                    let fraction = self.input.int_in_range(1..=999u32)?;
                    let text = format!("{number}.{fraction}");
                    Value::from(text.parse::<f64>().unwrap_or(1.5))
                }
            }
            5 => {
                let length = self.input.int_in_range(0..=3usize)?;
                let mut items = Vec::with_capacity(length);
                for _ in 0..length {
                    items.push(self.value(depth + 1)?);
                }
                Value::Array(items)
            }
            _ => {
                let length = self.input.int_in_range(0..=5usize)?;
                let mut object = Map::new();
                for _ in 0..length {
                    let key = if self.input.ratio(1, 5)? {
                        self.marker_text()?
                    } else {
                        FIELDS[self.input.choose_index(FIELDS.len())?].to_owned()
                    };
                    let value = self.value(depth + 1)?;
                    object.insert(key, value);
                }
                Value::Object(object)
            }
        })
    }
}

/// Target `signed_envelope`: a genuinely signed envelope of a known, unknown or marker event type
/// around a `data` built from the real field names with planted personal-data markers. No marker
/// may reach a refusal's answer or its `Debug`/`Display`; an accepted event must round-trip: its
/// re-serialization decodes to the same event, and an event of an unknown type is kept exactly.
pub fn signed_envelope(data: &[u8]) {
    let mut input = Unstructured::new(data);
    let Ok((body, markers, unknown_type)) = envelope(&mut input) else {
        return;
    };
    let config = verifying();
    let signature = sign(SECRET, SignatureTimestamp::now(), &body);
    let headers = RequestHeaders::from_strs(Some("application/json"), None, Some(&signature));
    match config.receive(&headers, body.clone()) {
        Err(refusal) => {
            check_answer(&refusal);
            let answer = Answer::from(&refusal);
            let seen = format!(
                "{} {refusal:?} {refusal}",
                String::from_utf8_lossy(&answer.body)
            );
            for marker in &markers {
                assert!(
                    !seen.contains(marker.as_str()),
                    "{marker} leaked into {seen}"
                );
            }
        }
        Ok(delivery) => {
            let again = serde_json::to_vec(delivery.event()).expect("an event serializes");
            let reread = skipping()
                .receive(&RequestHeaders::default(), again.clone())
                .expect("a re-serialized event is accepted");
            assert_eq!(
                reread.event(),
                delivery.event(),
                "the event changed on a round trip"
            );
            if unknown_type {
                let sent: Value = serde_json::from_slice(&body).expect("the body is JSON");
                let kept: Value = serde_json::from_slice(&again).expect("the event is JSON");
                assert_eq!(sent, kept, "an unknown event was not kept as received");
            }
        }
    }
}

/// The envelope: `{"eventType":…,"data":…}` (in either order), its markers, and whether the type
/// is one this library does not know.
fn envelope(input: &mut Unstructured<'_>) -> arbitrary::Result<(Vec<u8>, Vec<String>, bool)> {
    let mut grammar = Grammar {
        input,
        markers: Vec::new(),
    };
    let (event_type, unknown) = match grammar.input.int_in_range(0..=2u8)? {
        0 => ("person.enrichment.completed".to_owned(), false),
        1 => ("company.enrichment.completed".to_owned(), false),
        _ => (grammar.marker_text()?, true),
    };
    let data = grammar.value(0)?;
    let data_first: bool = grammar.input.arbitrary()?;
    let event_type = Value::String(event_type).to_string();
    let body = if data_first {
        format!(r#"{{"data":{data},"eventType":{event_type}}}"#)
    } else {
        format!(r#"{{"eventType":{event_type},"data":{data}}}"#)
    };
    Ok((body.into_bytes(), grammar.markers, unknown))
}
