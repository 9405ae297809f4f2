//! Turning the verified body into a [`WebhookEvent`], or a refusal that says where it failed.

use enrich_types::WebhookEvent;
use serde_json::error::Category;

use crate::refusal::Refusal;

/// Decodes `body` as a webhook event.
///
/// The common case pays for one plain `serde_json` decode. Only when that fails is the body
/// read again: first for its syntax alone (a syntax error anywhere is `malformed_json`, even
/// after the point where the event stopped fitting, since syntax is checked before shape), then
/// with path tracking, to name the failing value as a JSON Pointer.
///
/// One rule for nesting and number size, everywhere: syntactically valid JSON is never
/// `malformed_json`. What the event's types read must fit them (`invalid_payload` otherwise,
/// a number beyond `f64` in a number field included); what they do not read (keys this version
/// does not know, the whole `data` of an unknown event type) is kept or skipped without a depth
/// or number limit, so an event is never refused for content it does not model.
pub(crate) fn decode_event(body: &[u8]) -> Result<WebhookEvent, Refusal> {
    // One UTF-8 check of the whole body is cheaper than `from_slice` checking each string; a
    // body that is not UTF-8 still goes through `from_slice`, for its exact error position.
    let decoded = match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str::<WebhookEvent>(text),
        Err(_) => serde_json::from_slice::<WebhookEvent>(body),
    };
    let error = match decoded {
        Ok(event) => return Ok(event),
        Err(error) => error,
    };
    // Syntax alone: `IgnoredAny` skips values without a depth limit or parsing numbers. It does
    // not check UTF-8 inside strings, so a body that is not UTF-8 is judged by `Value`, which
    // names the place where it breaks.
    let syntax = match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str::<serde::de::IgnoredAny>(text).map(drop),
        Err(_) => serde_json::from_slice::<serde_json::Value>(body).map(drop),
    };
    if let Err(syntax_error) = syntax {
        return Err(malformed_json(&syntax_error));
    }
    // Valid JSON that does not fit the event. The document as values, to say what kind of value
    // sits at the failing place, unless `Value` cannot hold it (deep nesting, huge numbers).
    let document = serde_json::from_slice::<serde_json::Value>(body).ok();
    Err(invalid_payload(body, document.as_ref(), error))
}

fn malformed_json(error: &serde_json::Error) -> Refusal {
    let message = strip_position(&error.to_string());
    let detail = if error.classify() == Category::Eof && error.column() == 0 && error.line() == 1 {
        "the body is empty; a JSON object is required".to_owned()
    } else if SYNTAX_MESSAGES.contains(&message.as_str()) {
        format!("the body is not valid JSON: {message}")
    } else {
        "the body is not valid JSON".to_owned()
    };
    Refusal::MalformedJson {
        detail,
        line: error.line(),
        column: error.column(),
    }
}

/// serde_json's syntax messages, which describe structure only. Any other message is left out of
/// the detail (fail closed), so a future message that quotes the body cannot reach an answer.
const SYNTAX_MESSAGES: &[&str] = &[
    "EOF while parsing a list",
    "EOF while parsing an object",
    "EOF while parsing a string",
    "EOF while parsing a value",
    "expected `:`",
    "expected `,` or `]`",
    "expected `,` or `}`",
    "expected ident",
    "expected value",
    "expected `\"`",
    "invalid escape",
    "invalid number",
    "number out of range",
    "invalid unicode code point",
    "control character (\\u0000-\\u001F) found while parsing a string",
    "key must be a string",
    "lone leading surrogate in hex escape",
    "trailing comma",
    "trailing characters",
    "unexpected end of hex escape",
    "recursion limit exceeded",
];

/// Locates a shape error: by decoding the body again with path tracking, or, when `data` came
/// before `eventType` (so the decoder buffered it and the path stops at the envelope), by
/// decoding the buffered `data` on its own.
fn invalid_payload(
    body: &[u8],
    document: Option<&serde_json::Value>,
    fast_error: serde_json::Error,
) -> Refusal {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let (pointer, error, position) =
        match serde_path_to_error::deserialize::<_, WebhookEvent>(&mut deserializer) {
            Err(tracked) if tracked.path().iter().next().is_some() => {
                let pointer = json_pointer(tracked.path());
                let error = tracked.into_inner();
                let position = (Some(error.line()), Some(error.column()));
                (pointer, error, position)
            }
            // The path stops at the envelope: either the envelope itself is wrong, or `data` was
            // buffered; in the second case `data` decoded apart names the place.
            tracked => match document.and_then(data_error) {
                Some((pointer, error)) => (pointer, error, (None, None)),
                None => {
                    let error = tracked
                        .err()
                        .map_or(fast_error, |tracked| tracked.into_inner());
                    let position = (Some(error.line()), Some(error.column()));
                    (String::new(), error, position)
                }
            },
        };
    let found = document.and_then(|document| document.pointer(&pointer));
    let location = if pointer.is_empty() {
        "the document".to_owned()
    } else {
        pointer.clone()
    };
    Refusal::InvalidPayload {
        detail: format!(
            "the body is not a valid webhook event: {} (at {location})",
            describe(&error.to_string(), found)
        ),
        pointer,
        line: position.0,
        column: position.1,
    }
}

/// What is wrong at the failing place, built only from what the decoder expected (words of this
/// crate's types, mapped to JSON's) and the JSON kind found there: never from the message text
/// that could quote the body. An expectation this function does not know is left out rather
/// than quoted.
fn describe(message: &str, found: Option<&serde_json::Value>) -> String {
    if message.starts_with("number out of range") {
        return "a number too large for this field".to_owned();
    }
    for prefix in ["missing field `", "duplicate field `"] {
        if let Some(name) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .filter(|name| is_field_name(name))
        {
            return format!("{}`{name}`", &prefix[..prefix.len() - 1]);
        }
    }
    let expected = message
        .rsplit_once(", expected ")
        .map(|(_, expected)| strip_position(expected))
        .and_then(|expected| expected_in_json_terms(&expected));
    match (expected, found.map(json_kind)) {
        (Some(expected), Some(found)) => format!("expected {expected}, found {found}"),
        (Some(expected), None) => format!("expected {expected}"),
        (None, Some(found)) => format!("{found} is not accepted here"),
        (None, None) => "the value does not fit its field".to_owned(),
    }
}

/// A field name as this crate's types spell them (letters, digits, `_`): what `missing field`
/// and `duplicate field` errors name.
fn is_field_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// serde's and this crate's expectations in JSON's words; `None` for one not listed here.
fn expected_in_json_terms(expected: &str) -> Option<&'static str> {
    let expected = expected.trim();
    Some(match expected {
        _ if expected.starts_with("struct ") => "an object",
        "a map" | "map" => "an object",
        "a webhook event object with `eventType` and `data`" => {
            "an object with `eventType` and `data`"
        }
        "f64" | "f32" | "a number" => "a number",
        _ if expected.starts_with("a whole number or null") => "a whole number or null",
        _ if expected.starts_with("a whole number") => "a whole number",
        "u64" | "i64" | "u32" | "i32" | "u16" | "u8" | "usize" => "a whole number",
        "a sequence" | "sequence" => "an array",
        "a string" | "string" => "a string",
        "a boolean" | "bool" => "a boolean",
        "unit" | "null" => "null",
        _ => return None,
    })
}

/// The JSON kind of a value, in words.
fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The error in `data`, decoded apart from its envelope, with its pointer: `None` unless the
/// document has a string `eventType` and a `data` that fails to decode for that type.
fn data_error(document: &serde_json::Value) -> Option<(String, serde_json::Error)> {
    let event_type = document.get("eventType")?.as_str()?;
    let data = document.get("data")?;
    let mut track = serde_path_to_error::Track::new();
    let error = WebhookEvent::from_type_and_data(
        event_type,
        serde_path_to_error::Deserializer::new(data, &mut track),
    )
    .err()?;
    Some((format!("/data{}", json_pointer(&track.path())), error))
}

/// The RFC 6901 pointer of a `serde_path_to_error` path: `data.person.emails[0]` becomes
/// `/data/person/emails/0`.
fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => {
                pointer.push('/');
                pointer.push_str(&index.to_string());
            }
            Segment::Map { key } => {
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    pointer
}

/// serde_json appends " at line L column C"; the problem body carries those as numbers instead.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(body: &str) -> Refusal {
        decode_event(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn names_the_pointer_of_a_wrong_type_deep_in_person() {
        let body = r#"{"eventType":"person.enrichment.completed","data":{"person":
            {"mobilePhones":[{"mobilePhone":"+33 6","confidenceScore":"very \"high\""}]}}}"#;
        let Refusal::InvalidPayload {
            pointer, detail, ..
        } = refusal(body)
        else {
            panic!("expected invalid_payload");
        };
        assert_eq!(pointer, "/data/person/mobilePhones/0/confidenceScore");
        assert!(!detail.contains("high"), "{detail}");
        assert_eq!(
            detail,
            "the body is not a valid webhook event: expected a number, found a string \
             (at /data/person/mobilePhones/0/confidenceScore)"
        );
    }

    #[test]
    fn tells_syntax_from_data_errors() {
        for body in ["", "{", "{} x", "{\"a\":\u{1}}", "[[[[", "nul"] {
            assert_eq!(refusal(body).code(), "malformed_json", "{body:?}");
        }
        // Valid JSON, however deep, is never malformed_json; broken JSON, however deep, is.
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert_eq!(refusal(&deep).code(), "invalid_payload");
        let deep_and_broken = "[".repeat(10_000) + &"]".repeat(9_999);
        assert_eq!(refusal(&deep_and_broken).code(), "malformed_json");
        for body in [
            "[]",
            "42",
            "{}",
            r#"{"data":{}}"#,
            r#"{"eventType":7,"data":{}}"#,
            r#"{"eventType":"x","data":[]}"#,
            r#"{"eventType":"person.enrichment.completed","data":"x"}"#,
        ] {
            assert_eq!(refusal(body).code(), "invalid_payload", "{body:?}");
        }
    }

    #[test]
    fn names_the_pointer_when_data_comes_before_the_event_type() {
        let body = r#"{"data":{"person":{"emails":[{"email":"a@b.c","validationStatus":7}]}},
            "eventType":"person.enrichment.completed"}"#;
        let Refusal::InvalidPayload {
            pointer,
            line,
            column,
            ..
        } = refusal(body)
        else {
            panic!("expected invalid_payload");
        };
        assert_eq!(pointer, "/data/person/emails/0/validationStatus");
        assert_eq!((line, column), (None, None));

        let unknown_with_text_data = r#"{"data":"text","eventType":"future.event"}"#;
        let Refusal::InvalidPayload { pointer, .. } = refusal(unknown_with_text_data) else {
            panic!("expected invalid_payload");
        };
        assert_eq!(pointer, "/data");
    }

    #[test]
    fn speaks_json_not_rust_and_quotes_no_value() {
        let detail = |body: &str| refusal(body).to_string();
        assert!(
            detail(r#"{"eventType":"person.enrichment.completed","data":[]}"#)
                .ends_with(": expected an object, found an array (at /data)")
        );
        let number =
            detail(r#"{"eventType":"person.enrichment.completed","data":{"person":33612345678}}"#);
        assert!(
            number.ends_with(": expected an object, found a number (at /data/person)"),
            "{number}"
        );
        assert!(
            detail(
                r#"{"eventType":"person.enrichment.completed","data":{"person":{"emails":{}}}}"#
            )
            .ends_with(": expected an array, found an object (at /data/person/emails)")
        );
        assert!(
            detail(
                r#"{"data":{"company":{"employeeCount":-12345}},"eventType":"company.enrichment.completed"}"#
            )
            .ends_with(": expected a whole number, found a number (at /data/company/employeeCount)")
        );
        assert!(
            detail(r#"{"data":{}}"#).ends_with(": missing field `eventType` (at the document)")
        );
    }

    #[test]
    fn one_rule_for_depth_and_number_size() {
        let deep = |inner: &str| "[".repeat(100_000) + inner + &"]".repeat(100_000);
        // An unknown event type is never refused for what its data holds, and is kept exactly.
        for data in [
            format!(r#"{{"nested":{}}}"#, deep("1")),
            r#"{"huge":1e309,"enrichmentID":"b-1"}"#.to_owned(),
        ] {
            let body = format!(r#"{{"eventType":"person.enrichment.archived","data":{data}}}"#);
            let event = decode_event(body.as_bytes()).expect("an unknown event is kept");
            let WebhookEvent::Unknown(unknown) = &event else {
                panic!("expected an unknown event");
            };
            assert_eq!(unknown.data().get(), data);
            assert_eq!(serde_json::to_string(&event).unwrap(), body);
            // The same data before the event type is kept the same way.
            let data_first =
                format!(r#"{{"data":{data},"eventType":"person.enrichment.archived"}}"#);
            assert!(decode_event(data_first.as_bytes()).is_ok());
        }
        // Keys a known event does not model are skipped, whatever they hold.
        let person = format!(
            r#"{{"eventType":"person.enrichment.completed","data":{{"future":{},"big":1e309,"person":{{"externalID":"p-1"}}}}}}"#,
            deep("{}")
        );
        assert!(decode_event(person.as_bytes()).is_ok());
        // What the event's types read must fit them: a number beyond f64 in a number field is
        // invalid_payload (valid JSON), not malformed_json.
        let huge = r#"{"eventType":"person.enrichment.completed","data":{"person":{"mobilePhones":[{"confidenceScore":1e309}]}}}"#;
        let Refusal::InvalidPayload {
            pointer, detail, ..
        } = refusal(huge)
        else {
            panic!("expected invalid_payload");
        };
        assert_eq!(pointer, "/data/person/mobilePhones/0/confidenceScore");
        assert!(
            detail.contains("a number too large for this field"),
            "{detail}"
        );
        // A known event with a wrong type deep in a modelled field is invalid_payload too.
        let wrong = format!(
            r#"{{"eventType":"person.enrichment.completed","data":{{"person":{{"departments":{}}}}}}}"#,
            deep("1")
        );
        assert_eq!(refusal(&wrong).code(), "invalid_payload");
    }

    #[test]
    fn an_empty_body_says_so() {
        assert_eq!(
            refusal("").to_string(),
            "the body is empty; a JSON object is required"
        );
    }

    #[test]
    fn points_into_arrays() {
        let body = r#"{"eventType":"person.enrichment.completed","data":{"person":{"emails":[{"email":1}]}}}"#;
        let Refusal::InvalidPayload { pointer, .. } = refusal(body) else {
            panic!("expected invalid_payload");
        };
        assert_eq!(pointer, "/data/person/emails/0/email");
    }

    #[test]
    fn an_unknown_expectation_is_left_out_not_quoted() {
        assert_eq!(
            describe(
                "invalid value: string \"secret\", expected something new",
                None
            ),
            "the value does not fit its field"
        );
        assert_eq!(
            describe(
                "invalid type: integer `42`, expected whatever",
                Some(&serde_json::json!(42))
            ),
            "a number is not accepted here"
        );
        assert_eq!(
            describe("missing field `a b`", None),
            "the value does not fit its field"
        );
    }
}
