//! The HTTP side of the fake: the four REST endpoints, the API key, throttling and errors.

use std::sync::Arc;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use enrich_types::{
    ApiError, EnrichCompaniesRequest, EnrichPeopleRequest, EnrichmentAccepted, RequestError,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::engine::{Engine, Items, Kind};

/// The largest request body read: a 10,000-person request with every field is about 3 MB.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// State of the handlers.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) engine: Arc<Engine>,
    pub(crate) refusals: Arc<Refusals>,
}

/// API calls to refuse before serving again: how many, with which status and `Retry-After`.
#[derive(Default)]
pub(crate) struct Refusals(Mutex<Option<Refusing>>);

#[derive(Clone, Copy)]
struct Refusing {
    remaining: u32,
    status: StatusCode,
    retry_after_secs: Option<u64>,
}

impl Refusals {
    pub(crate) fn set(&self, requests: u32, status: u16, retry_after: Option<Duration>) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(Refusing {
            remaining: requests,
            status,
            retry_after_secs: retry_after.map(|wait| wait.as_secs()),
        });
    }

    /// The refusal for this call, if any is left.
    fn take(&self) -> Option<Failure> {
        let mut refusing = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let current = refusing
            .as_mut()
            .filter(|refusing| refusing.remaining > 0)?;
        current.remaining -= 1;
        let message = match current.status {
            StatusCode::TOO_MANY_REQUESTS => "rate limit exceeded",
            status if status.is_server_error() => "the service is unavailable; try again later",
            _ => "the request was refused",
        };
        let mut failure = Failure::new(current.status, message);
        failure.retry_after_secs = current.retry_after_secs;
        Some(failure)
    }
}

pub(crate) fn router(api: Api) -> Router {
    Router::new()
        .route(Kind::People.path(), post(start_people))
        .route("/v2/people/enrich/{id}", get(get_people))
        .route(Kind::Companies.path(), post(start_companies))
        .route("/v2/companies/enrich/{id}", get(get_companies))
        .fallback(|| async { Failure::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(api)
}

async fn start_people(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    api.admit(&headers)?;
    let request: EnrichPeopleRequest = decode(&body)?;
    request.validate().map_err(|broken| rule_error(&broken))?;
    let url = webhook_url(request.notification_options.as_ref());
    let count = request.people.len();
    let batch = api
        .engine
        .start(Items::People(request.include, request.people), url);
    Ok(api.accepted(&batch.id, Kind::People, count, "people"))
}

async fn start_companies(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    api.admit(&headers)?;
    let request: EnrichCompaniesRequest = decode(&body)?;
    request.validate().map_err(|broken| rule_error(&broken))?;
    let url = webhook_url(request.notification_options.as_ref());
    let count = request.companies.len();
    let batch = api.engine.start(Items::Companies(request.companies), url);
    Ok(api.accepted(&batch.id, Kind::Companies, count, "companies"))
}

async fn get_people(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    api.result(&headers, &id, Kind::People)
}

async fn get_companies(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    api.result(&headers, &id, Kind::Companies)
}

impl Api {
    /// The API key, then any refusal asked for (`429`, `503`, …), else go on.
    fn admit(&self, headers: &HeaderMap) -> Result<(), Failure> {
        let key = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim);
        let expected = self.engine.config.api_key.as_bytes();
        if !key.is_some_and(|key| bool::from(key.as_bytes().ct_eq(expected))) {
            return Err(Failure::new(
                StatusCode::UNAUTHORIZED,
                "missing or invalid API key (Authorization: Bearer <key>)",
            ));
        }
        if let Some(refused) = self.refusals.take() {
            return Err(refused);
        }
        Ok(())
    }

    fn accepted(&self, id: &str, kind: Kind, count: usize, noun: &str) -> Response {
        let mut accepted = EnrichmentAccepted::default();
        accepted.enrichment_id = Some(id.to_owned());
        accepted.enrichment_callback_url =
            Some(format!("{}{}/{id}", self.engine.base_url, kind.path()));
        accepted.message = Some(format!(
            "Enrichment of {count} {noun} started; it should be done in about {} s",
            self.engine.estimate(count).as_secs().max(1)
        ));
        json(StatusCode::ACCEPTED, &accepted)
    }

    fn result(&self, headers: &HeaderMap, id: &str, kind: Kind) -> Result<Response, Failure> {
        self.admit(headers)?;
        match self.engine.batch(id).filter(|batch| batch.kind == kind) {
            Some(batch) => Ok(json(StatusCode::OK, &batch.snapshot())),
            None => Err(Failure::new(
                StatusCode::NOT_FOUND,
                "no enrichment has this id",
            )),
        }
    }
}

fn webhook_url(options: Option<&enrich_types::NotificationOptions>) -> Option<String> {
    options.and_then(|options| options.webhook_url.clone())
}

/// Decodes a request body, naming where it does not fit (never echoing its content).
///
/// serde's derived structs also accept a JSON array of their fields in order; the API's requests
/// are objects, so an array where the request has an object is refused too.
fn decode<T: DeserializeOwned + Serialize>(body: &[u8]) -> Result<T, Failure> {
    let value: T = decode_fields(body)?;
    let (Ok(sent), Ok(read)) = (
        serde_json::from_slice::<serde_json::Value>(body),
        serde_json::to_value(&value),
    ) else {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "the body is not valid JSON",
        ));
    };
    match array_read_as_object(&sent, &read, String::new()) {
        None => Ok(value),
        Some(path) if path.is_empty() => Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "the body does not have the shape of this request",
        )),
        Some(path) => Err(Failure::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the body does not fit the request at `{path}`: an array where an object is expected"
            ),
        )),
    }
}

/// The first place where `sent` holds an array that decoding read as an object (its fields in
/// order), as a dotted path of key names and indexes; `None` when there is none.
fn array_read_as_object(
    sent: &serde_json::Value,
    read: &serde_json::Value,
    path: String,
) -> Option<String> {
    use serde_json::Value;
    match (sent, read) {
        (Value::Array(_), Value::Object(_)) => Some(path),
        (Value::Array(sent), Value::Array(read)) => {
            sent.iter()
                .zip(read)
                .enumerate()
                .find_map(|(index, (sent, read))| {
                    array_read_as_object(sent, read, format!("{path}[{index}]"))
                })
        }
        (Value::Object(sent), Value::Object(read)) => sent.iter().find_map(|(key, sent)| {
            // Keys are the request's own field names here (`read` holds only known fields).
            let read = read.get(key)?;
            let path = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            array_read_as_object(sent, read, path)
        }),
        _ => None,
    }
}

/// [`decode`] before the shape check: serde with the path of the first field that does not fit.
fn decode_fields<T: DeserializeOwned>(body: &[u8]) -> Result<T, Failure> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = if error.inner().is_syntax() || error.inner().is_eof() {
            "the body is not valid JSON".to_owned()
        } else if path == "." {
            "the body does not have the shape of this request".to_owned()
        } else {
            format!("the body does not fit the request at `{path}`")
        };
        Failure::new(StatusCode::BAD_REQUEST, message)
    })?;
    deserializer
        .end()
        .map_err(|_| Failure::new(StatusCode::BAD_REQUEST, "the body is not valid JSON"))?;
    Ok(value)
}

/// A `400` naming the broken rule, in words that quote nothing from the request.
fn rule_error(broken: &RequestError) -> Failure {
    let message = match broken {
        RequestError::WebhookUrlNotHttps { .. } => {
            "notificationOptions.webhookUrl must be an https URL (or http to a loopback host)"
                .to_owned()
        }
        // The other rules' messages hold counts at most, never request content.
        other => other.to_string(),
    };
    Failure::new(StatusCode::BAD_REQUEST, message)
}

/// An error answer: the status, the API's error body `{ "code": <status>, "message": … }`, and
/// `Retry-After` for a `429`.
#[derive(Debug)]
pub(crate) struct Failure {
    status: StatusCode,
    message: String,
    retry_after_secs: Option<u64>,
}

impl Failure {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after_secs: None,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut body = ApiError::default();
        body.code = Some(i64::from(self.status.as_u16()));
        body.message = Some(self.message);
        let mut answer = json(self.status, &body);
        if let Some(seconds) = self.retry_after_secs {
            answer
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        answer
    }
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => (status, [(CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
