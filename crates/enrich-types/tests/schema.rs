//! The generated JSON Schemas: snapshots of each, and the rules every published schema obeys.

mod common;

use enrich_types::schema::published_schemas;
use enrich_types::{AcceptedEmailType, EmailType, EnrichmentStatus, EventType, ValidationStatus};
use serde_json::Value;

#[test]
fn snapshots_of_every_published_schema() {
    for published in published_schemas() {
        let name = published
            .file_name()
            .strip_suffix(".schema.json")
            .expect("schema files end in .schema.json");
        insta::assert_json_snapshot!(name, published);
    }
}

#[test]
fn the_published_files_are_the_expected_ones() {
    let names: Vec<&str> = published_schemas()
        .iter()
        .map(|published| published.file_name())
        .collect();
    assert_eq!(
        names,
        [
            "webhook-event.schema.json",
            "enriched-person-response.schema.json",
            "enriched-company-response.schema.json",
            "enrich-people-request.schema.json",
            "enrichment-accepted.schema.json",
            "enrich-people-result.schema.json",
            "enrich-companies-request.schema.json",
            "enrich-companies-result.schema.json",
            "api-error.schema.json",
        ]
    );
    // Every published schema has a payload kind, and so fixtures (checked in fixtures.rs).
    for name in names {
        assert!(
            common::KINDS.iter().any(|kind| kind.schema_file == name),
            "{name} has no fixture kind"
        );
    }
}

#[test]
fn every_schema_is_valid_draft_2020_12_with_id_title_and_description() {
    for published in published_schemas() {
        let schema = published.as_value();
        let file = published.file_name();
        if let Err(error) = jsonschema::draft202012::meta::validate(schema) {
            panic!("{file} is not a valid draft 2020-12 schema: {error}");
        }
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{file}"
        );
        // A relative `$id`: the file's own name, wherever the schemas are served from.
        assert_eq!(schema["$id"], file, "{file}");
        // `$id` comes first, so a reader sees what the file is before anything else.
        assert_eq!(
            schema
                .as_object()
                .unwrap()
                .keys()
                .next()
                .map(String::as_str),
            Some("$id")
        );
        for key in ["title", "description"] {
            let text = schema[key].as_str().unwrap_or_default();
            assert!(!text.trim().is_empty(), "{file} has no {key}");
        }
    }
}

/// Every sub-schema of `value`, with its JSON pointer.
fn walk<'a>(value: &'a Value, pointer: String, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(object) => {
            out.push((pointer.clone(), value));
            for (key, child) in object {
                walk(child, format!("{pointer}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                walk(child, format!("{pointer}/{index}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn no_schema_refuses_unknown_keys() {
    for published in published_schemas() {
        let mut nodes = Vec::new();
        walk(published.as_value(), String::new(), &mut nodes);
        for (pointer, node) in nodes {
            for keyword in ["additionalProperties", "unevaluatedProperties"] {
                assert_ne!(
                    node.get(keyword),
                    Some(&Value::Bool(false)),
                    "{}#{pointer} refuses unknown keys",
                    published.file_name()
                );
            }
        }
    }
}

#[test]
fn open_enums_list_exactly_the_known_values_of_the_rust_types() {
    let all = published_schemas();
    let find = |file: &str, name: &str| -> Vec<String> {
        let schema = all
            .iter()
            .find(|published| published.file_name() == file)
            .unwrap()
            .as_value();
        let any_of = schema["$defs"][name]["anyOf"].as_array().unwrap();
        // The last alternative is the open fallback: any string.
        assert_eq!(any_of.last().unwrap()["type"], "string", "{name}");
        any_of
            .iter()
            .filter_map(|alternative| alternative.get("const"))
            .map(|value| value.as_str().unwrap().to_owned())
            .collect()
    };
    let event = "webhook-event.schema.json";
    assert_eq!(find(event, "EventType"), EventType::KNOWN);
    assert_eq!(find(event, "EnrichmentStatus"), EnrichmentStatus::KNOWN);
    assert_eq!(find(event, "ValidationStatus"), ValidationStatus::KNOWN);
    assert_eq!(find(event, "EmailType"), EmailType::KNOWN);
    assert_eq!(
        find("enrich-people-request.schema.json", "AcceptedEmailType"),
        AcceptedEmailType::KNOWN
    );
}

#[test]
fn generation_is_deterministic() {
    let first: Vec<String> = published_schemas()
        .iter()
        .map(|published| published.to_file_contents())
        .collect();
    let second: Vec<String> = published_schemas()
        .iter()
        .map(|published| published.to_file_contents())
        .collect();
    assert_eq!(first, second);
}

#[test]
fn published_text_names_no_rust_api() {
    // The schemas are read by people writing any language: no Rust paths, types or values.
    let rust = ["::", "Option<", "Vec<", "`None`", "`Some", "Rust"];
    for published in published_schemas() {
        let mut nodes = Vec::new();
        walk(published.as_value(), String::new(), &mut nodes);
        for (pointer, node) in nodes {
            for key in ["title", "description"] {
                let Some(text) = node.get(key).and_then(Value::as_str) else {
                    continue;
                };
                for word in rust {
                    assert!(
                        !text.contains(word),
                        "{}#{pointer}/{key} names the Rust API ({word}): {text}",
                        published.file_name()
                    );
                }
            }
        }
    }
}
