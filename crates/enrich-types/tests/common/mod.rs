//! Shared by the integration tests: the generated schemas as validators, the fixture kinds, and
//! the decode / round-trip helpers.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use enrich_types::schema::published_schemas;
use enrich_types::{
    ApiError, EnrichCompaniesRequest, EnrichCompaniesResult, EnrichPeopleRequest,
    EnrichPeopleResult, EnrichedCompanyResponse, EnrichedPersonResponse, EnrichmentAccepted,
    WebhookEvent,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// One compiled validator per published schema file, with format validation on.
static VALIDATORS: LazyLock<BTreeMap<&'static str, jsonschema::Validator>> = LazyLock::new(|| {
    published_schemas()
        .into_iter()
        .map(|published| {
            let validator = jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(published.as_value())
                .unwrap_or_else(|error| panic!("{} compiles: {error}", published.file_name()));
            (published.file_name(), validator)
        })
        .collect()
});

/// The validator of a published schema file.
pub fn validator(schema_file: &str) -> &'static jsonschema::Validator {
    VALIDATORS
        .get(schema_file)
        .unwrap_or_else(|| panic!("{schema_file} is not a published schema"))
}

/// Every way `instance` breaks the schema, each with its path; empty when it is valid.
pub fn schema_errors(schema_file: &str, instance: &Value) -> Vec<String> {
    validator(schema_file)
        .iter_errors(instance)
        .map(|error| format!("{error} (at `{}`)", error.instance_path()))
        .collect()
}

/// Decodes `text` as `T`, encodes it, decodes that again, and checks both decodings are equal.
/// Returns the encoded JSON.
pub fn round_trip<T>(text: &str) -> Result<Value, String>
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let first: T = serde_json::from_str(text).map_err(|error| format!("decoding: {error}"))?;
    let encoded = serde_json::to_string(&first).map_err(|error| format!("encoding: {error}"))?;
    let second: T = serde_json::from_str(&encoded)
        .map_err(|error| format!("decoding the re-encoded {encoded}: {error}"))?;
    if first != second {
        return Err(format!(
            "decode → encode → decode changed the value:\nfirst:  {first:?}\nsecond: {second:?}"
        ));
    }
    serde_json::from_str(&encoded).map_err(|error| error.to_string())
}

/// The decoding error of `text` as `T`, or `None` if it decodes.
pub fn decode_error<T: DeserializeOwned>(text: &str) -> Option<String> {
    serde_json::from_str::<T>(text)
        .err()
        .map(|error| error.to_string())
}

/// A kind of payload: the fixture file prefix that names it, its schema, and its decoder.
pub struct Kind {
    /// Fixture files named `<prefix>.<case>.json` hold this kind.
    pub prefix: &'static str,
    /// The published schema file of this kind.
    pub schema_file: &'static str,
    /// [`round_trip`] with the kind's Rust type.
    pub round_trip: fn(&str) -> Result<Value, String>,
    /// [`decode_error`] with the kind's Rust type.
    pub decode_error: fn(&str) -> Option<String>,
}

macro_rules! kind {
    ($prefix:literal, $schema:literal, $ty:ty) => {
        Kind {
            prefix: $prefix,
            schema_file: $schema,
            round_trip: round_trip::<$ty>,
            decode_error: decode_error::<$ty>,
        }
    };
}

/// Every payload kind, one per published schema.
pub static KINDS: &[Kind] = &[
    kind!("event", "webhook-event.schema.json", WebhookEvent),
    kind!(
        "person",
        "enriched-person-response.schema.json",
        EnrichedPersonResponse
    ),
    kind!(
        "company",
        "enriched-company-response.schema.json",
        EnrichedCompanyResponse
    ),
    kind!(
        "people-request",
        "enrich-people-request.schema.json",
        EnrichPeopleRequest
    ),
    kind!(
        "accepted",
        "enrichment-accepted.schema.json",
        EnrichmentAccepted
    ),
    kind!(
        "people-result",
        "enrich-people-result.schema.json",
        EnrichPeopleResult
    ),
    kind!(
        "companies-request",
        "enrich-companies-request.schema.json",
        EnrichCompaniesRequest
    ),
    kind!(
        "companies-result",
        "enrich-companies-result.schema.json",
        EnrichCompaniesResult
    ),
    kind!("api-error", "api-error.schema.json", ApiError),
];

/// The kind a fixture file's name says it holds (`<prefix>.<case>.json`).
pub fn kind_of(path: &Path) -> &'static Kind {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("");
    let prefix = name.split('.').next().unwrap_or("");
    KINDS
        .iter()
        .find(|kind| kind.prefix == prefix)
        .unwrap_or_else(|| panic!("fixture {name}: no payload kind has the prefix `{prefix}`"))
}

/// The fixture directory (`valid` = the top level, else `invalid/`).
pub fn fixture_dir(valid: bool) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    if valid { dir } else { dir.join("invalid") }
}

/// The `*.json` files of a fixture directory, sorted.
pub fn fixture_files(valid: bool) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir(valid))
        .expect("the fixture directory exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// The text of a positive fixture, by file name.
pub fn fixture(name: &str) -> String {
    let path = fixture_dir(true).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}
