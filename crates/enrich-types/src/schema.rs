//! The JSON Schemas (draft 2020-12) of the payloads, generated from the Rust types.
//!
//! [`published_schemas`] is the one list of what the project publishes in `schema/`; `cargo xtask
//! schema` writes it and the tests validate against it, so the files, the docs and the decoder
//! cannot drift apart.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};

use crate::{
    ApiError, EnrichCompaniesRequest, EnrichCompaniesResult, EnrichPeopleRequest,
    EnrichPeopleResult, EnrichedCompanyResponse, EnrichedPersonResponse, EnrichmentAccepted,
    WebhookEvent,
};

/// Where the published schema files live; each file's `$id` is this followed by its file name.
pub const SCHEMA_BASE_URI: &str = "https://enrich-webhooks.dev/schema/";

/// One published schema: its file name in `schema/` and its content.
#[derive(Debug, Clone)]
pub struct PublishedSchema {
    /// File name in `schema/`, such as `webhook-event.schema.json`.
    pub file_name: &'static str,
    /// The schema, with `$schema`, `$id`, `title` and `description` set.
    pub schema: Schema,
}

impl PublishedSchema {
    /// The schema as the file holds it: pretty-printed JSON with a final newline.
    pub fn to_file_contents(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.schema)
            .expect("a schema is a JSON value, which always serializes");
        text.push('\n');
        text
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

/// The schema of `T` as a standalone document, its `$id` first.
fn schema_of<T: JsonSchema>(file_name: &'static str) -> PublishedSchema {
    let generated = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut object = serde_json::Map::new();
    object.insert("$id".into(), format!("{SCHEMA_BASE_URI}{file_name}").into());
    object.extend(
        generated
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    PublishedSchema {
        file_name,
        schema: Schema::from(object),
    }
}
