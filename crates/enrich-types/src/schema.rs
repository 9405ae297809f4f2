//! The JSON Schemas (draft 2020-12) of the payloads, generated from the Rust types.
//!
//! [`published_schemas`] is the one list of what the project publishes in `schema/`; `cargo xtask
//! schema` writes it and the tests validate against it, so the files, the docs and the decoder
//! cannot drift apart.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::{
    ApiError, EnrichCompaniesRequest, EnrichCompaniesResult, EnrichPeopleRequest,
    EnrichPeopleResult, EnrichedCompanyResponse, EnrichedPersonResponse, EnrichmentAccepted,
    WebhookEvent,
};

/// One published schema: its file name in `schema/` and its content.
///
/// Each schema's `$id` is its file name, a relative URI: it names the file wherever the schemas
/// are served from, without the project claiming a host.
///
/// Serializing it (or [`to_file_contents`](Self::to_file_contents)) writes the schema document
/// with `$id`, `$schema`, `title`, `description`, `type` and `properties` first and `$defs` last.
/// The order of the other keys depends on the build: in declaration order with schemars'
/// `preserve_order` feature (which `cargo xtask schema` turns on, so the committed files have it),
/// sorted without it. The content is the same either way.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedSchema {
    file_name: &'static str,
    schema: schemars::Schema,
}

impl PublishedSchema {
    /// File name in `schema/`, such as `webhook-event.schema.json`; also the schema's `$id`.
    pub fn file_name(&self) -> &'static str {
        self.file_name
    }

    /// The schema, with `$id`, `$schema`, `title` and `description` set.
    pub fn as_value(&self) -> &Value {
        self.schema.as_value()
    }

    /// The schema as the file holds it: pretty-printed JSON with a final newline.
    pub fn to_file_contents(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.schema)
            .expect("a schema is a JSON value, which always serializes");
        text.push('\n');
        text
    }
}

impl Serialize for PublishedSchema {
    /// Writes the schema document, keywords in the published order.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.schema.serialize(serializer)
    }
}

/// Every published schema, in a fixed order: the webhook envelope, the enriched person and
/// company, then the REST requests and answers.
pub fn published_schemas() -> Vec<PublishedSchema> {
    vec![
        schema_of::<WebhookEvent>("webhook-event.schema.json"),
        schema_of::<EnrichedPersonResponse>("enriched-person-response.schema.json"),
        schema_of::<EnrichedCompanyResponse>("enriched-company-response.schema.json"),
        schema_of::<EnrichPeopleRequest>("enrich-people-request.schema.json"),
        schema_of::<EnrichmentAccepted>("enrichment-accepted.schema.json"),
        schema_of::<EnrichPeopleResult>("enrich-people-result.schema.json"),
        schema_of::<EnrichCompaniesRequest>("enrich-companies-request.schema.json"),
        schema_of::<EnrichCompaniesResult>("enrich-companies-result.schema.json"),
        schema_of::<ApiError>("api-error.schema.json"),
    ]
}

/// The schema of `T` as a standalone document, its `$id` (the file name) first.
fn schema_of<T: JsonSchema>(file_name: &'static str) -> PublishedSchema {
    let generated = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut object = serde_json::Map::new();
    object.insert("$id".into(), file_name.into());
    object.extend(
        generated
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    PublishedSchema {
        file_name,
        schema: schemars::Schema::from(object),
    }
}
