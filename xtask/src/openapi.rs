//! `schema/openapi.json`: an OpenAPI 3.1 document of the webhooks and of the REST endpoints the
//! client calls, generated from the same schemas as the rest of `schema/`.
//!
//! Nothing here restates a payload: `components.schemas` holds every published schema and every
//! definition they share, each once (their `$defs` are hoisted and their references rewritten);
//! the webhooks are read off the `WebhookEvent` schema's `if eventType … then data …` branches;
//! the answers a receiver gives come from [`enrich_webhook::REFUSAL_KINDS`]; the signature's
//! bounds and default tolerance from [`enrich_webhook::signature`]. Only the problem-details
//! object (`ProblemDetails`, a pipeline type without a schema derive) is written here, and a test
//! validates every rejection body the pipeline makes against it.

use std::collections::BTreeMap;

use enrich_webhook::signature::{MAX_HEADER_BYTES, MAX_SIGNATURES, SIGNATURE_HEADER, Tolerance};
use enrich_webhook::{PROBLEM_CONTENT_TYPE, REFUSAL_KINDS};
use serde_json::{Map, Value, json};

/// The file name of the document in `schema/`.
pub const OPENAPI_FILE: &str = "openapi.json";

/// The REST endpoints: (path, method, operation id, summary, request schema, success status and
/// schema, error statuses).
const ENDPOINTS: [Endpoint; 4] = [
    Endpoint {
        path: "/v2/people/enrich",
        method: "post",
        operation_id: "startPeopleEnrichment",
        summary: "Start a bulk enrichment of people; one webhook per person when `notificationOptions.webhookUrl` is set",
        request: Some("EnrichPeopleRequest"),
        success: ("202", "EnrichmentAccepted"),
        errors: &["400", "401", "402", "403", "429", "500", "503"],
    },
    Endpoint {
        path: "/v2/people/enrich/{id}",
        method: "get",
        operation_id: "getPeopleEnrichment",
        summary: "Get the progress and results of a bulk people enrichment",
        request: None,
        success: ("200", "EnrichPeopleResult"),
        errors: &["401", "403", "404", "429", "500", "503"],
    },
    Endpoint {
        path: "/v2/companies/enrich",
        method: "post",
        operation_id: "startCompaniesEnrichment",
        summary: "Start a bulk enrichment of companies; one webhook per company when `notificationOptions.webhookUrl` is set",
        request: Some("EnrichCompaniesRequest"),
        success: ("202", "EnrichmentAccepted"),
        errors: &["400", "401", "402", "403", "429", "500", "503"],
    },
    Endpoint {
        path: "/v2/companies/enrich/{id}",
        method: "get",
        operation_id: "getCompaniesEnrichment",
        summary: "Get the progress and results of a bulk company enrichment",
        request: None,
        success: ("200", "EnrichCompaniesResult"),
        errors: &["401", "403", "404", "429", "500", "503"],
    },
];

struct Endpoint {
    path: &'static str,
    method: &'static str,
    operation_id: &'static str,
    summary: &'static str,
    request: Option<&'static str>,
    success: (&'static str, &'static str),
    errors: &'static [&'static str],
}

/// Why the document could not be built from the schemas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenApiError(pub String);

impl std::fmt::Display for OpenApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot build {OPENAPI_FILE}: {}", self.0)
    }
}

impl std::error::Error for OpenApiError {}

/// The document, from the published schemas (file name and JSON of each), as the file holds it.
pub fn render(documents: &[(&str, Value)], version: &str) -> Result<String, OpenApiError> {
    let document = build(documents, version)?;
    let mut text =
        serde_json::to_string_pretty(&document).map_err(|error| OpenApiError(error.to_string()))?;
    text.push('\n');
    Ok(text)
}

/// The document as a JSON value.
pub fn build(documents: &[(&str, Value)], version: &str) -> Result<Value, OpenApiError> {
    let mut schemas = components(documents)?;
    schemas.insert("ProblemDetails".into(), problem_details());
    schemas.insert("IgnoredEvent".into(), ignored_event());
    let webhooks = webhooks(&schemas)?;
    let mut paths = Map::new();
    for endpoint in &ENDPOINTS {
        for name in endpoint.request.iter().chain([&endpoint.success.1]) {
            if !schemas.contains_key(*name) {
                return Err(OpenApiError(format!("no published schema titled {name}")));
            }
        }
        let entry = paths
            .entry(endpoint.path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .ok_or_else(|| OpenApiError("a path entry is not an object".into()))?;
        entry.insert(endpoint.method.into(), operation(endpoint));
    }
    Ok(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Surfe API v2: people and company enrichment, and its webhooks",
            "version": version,
            "summary": "The enrichment API and its signed webhooks, as the enrich-webhooks crates model them.",
            "description": "Generated by `cargo xtask schema` from the Rust types of the enrich-webhooks workspace (the same source as the JSON Schemas beside this file), so it cannot drift from the code. `webhooks` describes what the API sends to a receiver and the answers this project's receivers give; `paths` describes the REST endpoints its client calls and its local fake serves.",
            "license": { "name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0" }
        },
        "servers": [{ "url": "https://api.surfe.com", "description": "The API" }],
        "security": [{ "apiKey": [] }],
        "paths": paths,
        "webhooks": webhooks,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The account's API key, sent as `Authorization: Bearer <key>`."
                }
            }
        }
    }))
}

/// Every published schema under its title, and every definition they share under its name, each
/// once, with `#/$defs/…` references pointing into `#/components/schemas/`.
fn components(documents: &[(&str, Value)]) -> Result<Map<String, Value>, OpenApiError> {
    // A root schema is its definition elsewhere plus a `title`: compared without it, and kept
    // with it.
    fn untitled(schema: &Value) -> Value {
        let mut schema = schema.clone();
        if let Value::Object(object) = &mut schema {
            object.remove("title");
        }
        schema
    }
    let mut schemas: BTreeMap<String, Value> = BTreeMap::new();
    let mut add = |name: String, schema: Value, from: &str| match schemas.get(&name) {
        Some(existing) if untitled(existing) != untitled(&schema) => Err(OpenApiError(format!(
            "{from} defines {name} differently from another schema"
        ))),
        Some(existing) if existing.get("title").is_some() => Ok(()),
        _ => {
            schemas.insert(name, schema);
            Ok(())
        }
    };
    for (file_name, document) in documents {
        let mut document = document.clone();
        rewrite_refs(&mut document);
        let Value::Object(mut object) = document else {
            return Err(OpenApiError(format!("{file_name} is not an object")));
        };
        object.remove("$id");
        object.remove("$schema");
        if let Some(Value::Object(definitions)) = object.remove("$defs") {
            for (name, definition) in definitions {
                add(name, definition, file_name)?;
            }
        }
        let title = object
            .get("title")
            .and_then(Value::as_str)
            .ok_or_else(|| OpenApiError(format!("{file_name} has no title")))?
            .to_owned();
        add(title, Value::Object(object), file_name)?;
    }
    Ok(schemas.into_iter().collect())
}

/// Rewrites every `"$ref": "#/$defs/X"` in `value` to `"#/components/schemas/X"`.
fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, item) in object.iter_mut() {
                match (key.as_str(), item) {
                    ("$ref", Value::String(target)) => {
                        if let Some(name) = target.strip_prefix("#/$defs/") {
                            *target = format!("#/components/schemas/{name}");
                        }
                    }
                    (_, item) => rewrite_refs(item),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

/// One webhook per event type the `WebhookEvent` schema types (its `if eventType … then data …`
/// branches), each a `POST` whose body is that event.
fn webhooks(schemas: &Map<String, Value>) -> Result<Map<String, Value>, OpenApiError> {
    let envelope = schemas
        .get("WebhookEvent")
        .ok_or_else(|| OpenApiError("no WebhookEvent schema".into()))?;
    let branches = envelope
        .get("allOf")
        .and_then(Value::as_array)
        .ok_or_else(|| OpenApiError("WebhookEvent has no allOf branches".into()))?;
    let mut webhooks = Map::new();
    for branch in branches {
        let condition = &branch["if"]["properties"]["eventType"];
        let names: Vec<&str> = match (&condition["const"], &condition["enum"]) {
            (Value::String(name), _) => vec![name],
            (_, Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let data = &branch["then"]["properties"]["data"];
        if names.is_empty() || data.is_null() {
            return Err(OpenApiError(format!(
                "a WebhookEvent branch names no event type or data: {branch}"
            )));
        }
        let description = data
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|target| target.strip_prefix("#/components/schemas/"))
            .and_then(|name| schemas.get(name))
            .and_then(|schema| schema.get("description"))
            .and_then(Value::as_str)
            .unwrap_or("");
        for name in &names {
            webhooks.insert((*name).into(), webhook(name, description));
        }
    }
    Ok(webhooks)
}

fn webhook(event_type: &str, description: &str) -> Value {
    json!({
        "post": {
            "operationId": format!("receive:{event_type}"),
            "summary": format!("A `{event_type}` delivery"),
            "description": format!(
                "{description}\n\nSent as `POST` to the `notificationOptions.webhookUrl` of the \
                 enrichment request, at least once: a delivery not answered `200` may be sent \
                 again, and the same body can arrive twice. Deduplicate on (`eventType`, \
                 `enrichmentID`, `externalID`), falling back to the body's SHA-256."
            ),
            "security": [],
            "parameters": [signature_parameter()],
            "requestBody": {
                "required": true,
                "content": {
                    "application/json": {
                        "schema": {
                            "allOf": [{ "$ref": "#/components/schemas/WebhookEvent" }],
                            "properties": { "eventType": { "const": event_type } }
                        }
                    }
                }
            },
            "responses": receiver_answers()
        }
    })
}

fn signature_parameter() -> Value {
    let tolerance = Tolerance::default();
    let minutes = |duration: Option<std::time::Duration>| {
        duration.map_or(0, |duration| duration.as_secs() / 60)
    };
    json!({
        "name": SIGNATURE_HEADER,
        "in": "header",
        "required": true,
        "description": format!(
            "`t=<Unix milliseconds>,v0=<lowercase hex HMAC-SHA256>`. The HMAC key is the signing \
             secret shown in the account's API settings (UTF-8 bytes); the message is `t` exactly \
             as written, then `.`, then the raw request body bytes as received (never \
             re-serialized JSON). Compare in constant time against every `v0`, under every secret \
             accepted while rotating. This project's receivers refuse a header longer than \
             {MAX_HEADER_BYTES} bytes or with more than {MAX_SIGNATURES} `v0` elements, and a `t` \
             more than {} minutes old or {} minute(s) ahead (configurable), before reading the body.",
            minutes(tolerance.max_age()),
            minutes(tolerance.max_future()),
        ),
        "schema": {
            "type": "string",
            "maxLength": MAX_HEADER_BYTES,
            "pattern": "^ *t *= *[0-9]+ *(, *[^,=]+ *= *[^,]* *)+$"
        },
        "example": "t=1758468698287,v0=f1d03b2e214071b637728a7ae27f86adcf918434f2da11c74eef7128b93a9d28"
    })
}

/// `200`, and one answer per refusal status with the codes it carries, from the pipeline's table.
fn receiver_answers() -> Value {
    let mut answers = Map::new();
    answers.insert(
        "200".into(),
        json!({
            "description": "Acknowledged: the delivery was genuine and taken (the body is the \
                receiver's own), or genuine but of a type this endpoint does not take (the body is \
                then `IgnoredEvent`, in `components.schemas`). Only `200` stops the sender from \
                retrying."
        }),
    );
    let mut by_status: BTreeMap<u16, Vec<(&str, &str)>> = BTreeMap::new();
    for kind in REFUSAL_KINDS {
        by_status
            .entry(kind.status)
            .or_default()
            .push((kind.code, kind.when));
    }
    for (status, kinds) in by_status {
        let codes: Vec<&str> = kinds.iter().map(|(code, _)| *code).collect();
        let description = kinds
            .iter()
            .map(|(code, when)| format!("`{code}`: {when}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut answer = json!({
            "description": format!("Refused. {description}."),
            "content": {
                PROBLEM_CONTENT_TYPE: {
                    "schema": {
                        "allOf": [{ "$ref": "#/components/schemas/ProblemDetails" }],
                        "properties": { "code": { "enum": codes } }
                    }
                }
            }
        });
        if status == 503 {
            answer["headers"] = json!({
                "Retry-After": {
                    "description": "Seconds to wait before sending the delivery again.",
                    "schema": { "type": "integer", "minimum": 0 }
                }
            });
        }
        answers.insert(status.to_string(), answer);
    }
    Value::Object(answers)
}

fn operation(endpoint: &Endpoint) -> Value {
    let mut operation = json!({
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "responses": {
            endpoint.success.0: {
                "description": "Success.",
                "content": {
                    "application/json": {
                        "schema": { "$ref": format!("#/components/schemas/{}", endpoint.success.1) }
                    }
                }
            }
        }
    });
    if let Some(request) = endpoint.request {
        operation["requestBody"] = json!({
            "required": true,
            "content": {
                "application/json": {
                    "schema": { "$ref": format!("#/components/schemas/{request}") }
                }
            }
        });
    }
    if endpoint.path.contains("{id}") {
        operation["parameters"] = json!([{
            "name": "id",
            "in": "path",
            "required": true,
            "description": "The `enrichmentID` the start call answered.",
            "schema": { "type": "string" }
        }]);
    }
    for status in endpoint.errors {
        operation["responses"][*status] = json!({
            "description": error_description(status),
            "content": {
                "application/json": { "schema": { "$ref": "#/components/schemas/ApiError" } }
            }
        });
    }
    operation
}

fn error_description(status: &str) -> &'static str {
    match status {
        "400" => "The request is not valid.",
        "401" => "The API key is missing or wrong.",
        "402" => "Not enough credits, or the daily quota is used up.",
        "403" => "The key may not do this.",
        "404" => "No enrichment has this id.",
        "429" => "Too many requests: wait for `Retry-After` seconds.",
        "503" => "The service is unavailable for a while.",
        _ => "The API failed.",
    }
}

/// The problem details object of every refusal (RFC 9457), as `enrich_webhook::ProblemDetails`
/// serializes it.
fn problem_details() -> Value {
    json!({
        "title": "ProblemDetails",
        "description": "An RFC 9457 problem: why a receiver refused a delivery. `code` tells problems apart; `detail` says what is wrong without quoting the request.",
        "type": "object",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": { "description": "Always `about:blank`.", "const": "about:blank" },
            "title": { "description": "The status phrase.", "type": "string" },
            "status": { "description": "The HTTP status.", "type": "integer" },
            "detail": { "description": "What is wrong with this request.", "type": "string" },
            "code": { "description": "The stable, machine-readable code.", "type": "string" },
            "pointer": { "description": "JSON Pointer to the offending value (`invalid_payload`).", "type": "string" },
            "line": { "description": "Line of the error in the body.", "type": "integer", "minimum": 1 },
            "column": { "description": "Column of the error in the body.", "type": "integer", "minimum": 0 },
            "limit": { "description": "The body limit in bytes (`payload_too_large`).", "type": "integer", "minimum": 0 }
        },
        "additionalProperties": false
    })
}

/// The acknowledgement of a genuine event an endpoint does not take.
fn ignored_event() -> Value {
    json!({
        "title": "IgnoredEvent",
        "description": "The `200` body of a genuine event that an endpoint does not take: acknowledged so the sender does not retry it.",
        "type": "object",
        "required": ["status", "eventType"],
        "properties": {
            "status": { "const": "ignored" },
            "eventType": { "type": "string" }
        },
        "additionalProperties": false
    })
}
