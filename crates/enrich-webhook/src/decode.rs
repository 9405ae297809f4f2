//! Turning the verified body into a [`WebhookEvent`], or a rejection that says where it failed.

use enrich_types::WebhookEvent;
use serde_json::error::Category;

use crate::rejection::Rejection;

/// Decodes `body` as a webhook event.
///
/// The common case pays for one plain `serde_json` decode. Only when that fails is the body
/// read again: first as any JSON (a syntax error anywhere is `malformed_json`, even after the
/// point where the event stopped fitting, since syntax is checked before shape), then with path
/// tracking, to name the failing value as a JSON Pointer.
pub(crate) fn decode_event(body: &[u8]) -> Result<WebhookEvent, Rejection> {
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
    if error.classify() != Category::Data {
        return Err(malformed_json(&error));
    }
    // `Value` (not `IgnoredAny`) so that the nesting limit applies here too.
    match serde_json::from_slice::<serde_json::Value>(body) {
        Err(syntax_error) => Err(malformed_json(&syntax_error)),
        Ok(document) => Err(invalid_payload(body, &document, error)),
    }
}

fn malformed_json(error: &serde_json::Error) -> Rejection {
    // serde_json's syntax messages ("EOF while parsing a value", "trailing characters",
    // "recursion limit exceeded", …) describe structure only, never the body's content.
    let message = strip_position(&error.to_string());
    let detail = if error.classify() == Category::Eof && error.column() == 0 && error.line() == 1 {
        "the body is empty; a JSON object is required".to_owned()
    } else {
        format!("the body is not valid JSON: {message}")
    };
    Rejection::MalformedJson {
        detail,
        line: error.line(),
        column: error.column(),
    }
}

/// Locates a shape error: by decoding the body again with path tracking, or, when `data` came
/// before `eventType` (so the decoder buffered it and the path stops at the envelope), by
/// decoding the buffered `data` on its own.
fn invalid_payload(
    body: &[u8],
    document: &serde_json::Value,
    fast_error: serde_json::Error,
) -> Rejection {
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
            tracked => match data_error(document) {
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
    let message = in_json_terms(&redact_strings(&strip_position(&error.to_string())));
    let location = if pointer.is_empty() {
        "the document".to_owned()
    } else {
        pointer.clone()
    };
    Rejection::InvalidPayload {
        detail: format!("the body is not a valid webhook event: {message} (at {location})"),
        pointer,
        line: position.0,
        column: position.1,
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

/// Says serde's expectations in JSON's words, not Rust's: `expected f64` becomes `expected a
/// number`, `expected struct EnrichedPersonResponse` becomes `expected an object`.
fn in_json_terms(message: &str) -> String {
    // A struct decoded from an array reports the array's length; what is wrong is the array.
    if message.starts_with("invalid length ") && message.contains(", expected struct ") {
        return "invalid type: array, expected an object".to_owned();
    }
    let mut message = match message.find("expected struct ") {
        Some(index) => format!("{}expected an object", &message[..index]),
        None => message.to_owned(),
    };
    for (rust, json) in [
        ("expected f64", "expected a number"),
        ("expected u64", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected an object"),
        ("sequence, expected", "array, expected"),
        ("map, expected", "object, expected"),
    ] {
        message = message.replace(rust, json);
    }
    message
}

/// serde_json appends " at line L column C"; the problem body carries those as numbers instead.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// Replaces the content of quoted string values in a serde message (`invalid type: string
/// "ada@example.com", expected f64`) so that no value from the body reaches the response.
fn redact_strings(message: &str) -> String {
    let mut redacted = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find("string \"") {
        let (before, quoted) = rest.split_at(start + "string ".len());
        redacted.push_str(before);
        redacted.push_str("\"…\"");
        rest = match closing_quote(&quoted[1..]) {
            Some(end) => &quoted[1 + end + 1..],
            None => "",
        };
    }
    redacted.push_str(rest);
    redacted
}

/// The index of the first `"` not escaped by a backslash (serde quotes values with `{:?}`).
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (index, c) in text.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(index),
            _ => escaped = false,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(body: &str) -> Rejection {
        decode_event(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn names_the_pointer_of_a_wrong_type_deep_in_person() {
        let body = r#"{"eventType":"person.enrichment.completed","data":{"person":
            {"mobilePhones":[{"mobilePhone":"+33 6","confidenceScore":"very \"high\""}]}}}"#;
        let Rejection::InvalidPayload {
            pointer, detail, ..
        } = rejection(body)
        else {
            panic!("expected invalid_payload");
        };
        assert_eq!(pointer, "/data/person/mobilePhones/0/confidenceScore");
        assert!(!detail.contains("high"), "{detail}");
        assert_eq!(
            detail,
            "the body is not a valid webhook event: invalid type: string \"…\", expected a number \
             (at /data/person/mobilePhones/0/confidenceScore)"
        );
    }

    #[test]
    fn tells_syntax_from_data_errors() {
        for body in ["", "{", "{} x", "{\"a\":\u{1}}", "[[[[", "nul"] {
            assert_eq!(rejection(body).code(), "malformed_json", "{body:?}");
        }
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert_eq!(rejection(&deep).code(), "malformed_json");
        for body in [
            "[]",
            "42",
            "{}",
            r#"{"data":{}}"#,
            r#"{"eventType":7,"data":{}}"#,
            r#"{"eventType":"x","data":[]}"#,
            r#"{"eventType":"person.enrichment.completed","data":"x"}"#,
        ] {
            assert_eq!(rejection(body).code(), "invalid_payload", "{body:?}");
        }
    }

    #[test]
    fn names_the_pointer_when_data_comes_before_the_event_type() {
        let body = r#"{"data":{"person":{"emails":[{"email":"a@b.c","validationStatus":7}]}},
            "eventType":"person.enrichment.completed"}"#;
        let Rejection::InvalidPayload {
            pointer,
            line,
            column,
            ..
        } = rejection(body)
        else {
            panic!("expected invalid_payload");
        };
        assert_eq!(pointer, "/data/person/emails/0/validationStatus");
        assert_eq!((line, column), (None, None));

        let unknown_with_text_data = r#"{"data":"text","eventType":"future.event"}"#;
        let Rejection::InvalidPayload { pointer, .. } = rejection(unknown_with_text_data) else {
            panic!("expected invalid_payload");
        };
        assert_eq!(pointer, "/data");
    }

    #[test]
    fn speaks_json_not_rust() {
        let detail = |body: &str| rejection(body).to_string();
        assert!(
            detail(r#"{"eventType":"person.enrichment.completed","data":[]}"#)
                .contains("invalid type: array, expected an object (at /data)")
        );
        assert!(
            detail(r#"{"eventType":"person.enrichment.completed","data":{"person":7}}"#)
                .contains("invalid type: integer `7`, expected an object (at /data/person)")
        );
        assert!(
            detail(
                r#"{"eventType":"person.enrichment.completed","data":{"person":{"emails":{}}}}"#
            )
            .contains("invalid type: object, expected an array (at /data/person/emails)")
        );
    }

    #[test]
    fn an_empty_body_says_so() {
        assert_eq!(
            rejection("").to_string(),
            "the body is empty; a JSON object is required"
        );
    }

    #[test]
    fn points_into_arrays_and_redacts_every_quoted_value() {
        let body = r#"{"eventType":"person.enrichment.completed","data":{"person":{"emails":[{"email":1}]}}}"#;
        let Rejection::InvalidPayload { pointer, .. } = rejection(body) else {
            panic!("expected invalid_payload");
        };
        assert_eq!(pointer, "/data/person/emails/0/email");
        assert_eq!(
            redact_strings(r#"string "a\"b" and string "c""#),
            r#"string "…" and string "…""#
        );
    }
}
