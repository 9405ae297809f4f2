//! Axum 0.8 extractors for Surfe API v2 enrichment webhooks.
//!
//! Take [`WebhookDelivery`], [`Event`] or [`PersonEvent`] in a handler and put a
//! [`WebhookConfig`] in the router state. Every decision (body limit, media type, signature,
//! decoding, the status and body of each refusal) is made by [`enrich_webhook`]; this crate only
//! reads the body, hands it over and renders the outcome. A refused request never reaches the
//! handler: it gets the pipeline's answer through [`WebhookRejection`].
//!
//! ```no_run
//! use axum::{Router, routing::post};
//! use enrich_axum::{PersonEvent, WebhookConfig};
//!
//! async fn person_enriched(PersonEvent(event): PersonEvent) {
//!     // Answer fast: the sender waits for this 200. Queue slow work instead.
//!     println!("enriched {:?}", event.person.external_id);
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = WebhookConfig::from_env()?; // SURFE_WEBHOOK_SECRET, comma-separated
//!     let app = Router::new()
//!         .route("/webhook", post(person_enriched))
//!         .with_state(config);
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! # Configuration from the state
//!
//! The extractors need `WebhookConfig: FromRef<S>` for the router's state `S`. The state can be
//! the configuration itself, as above, or an application state with a `FromRef` impl for it.
//! A router without one does not compile:
//!
//! ```compile_fail
//! use axum::{Router, routing::post};
//! use enrich_axum::WebhookDelivery;
//!
//! async fn handler(WebhookDelivery(_delivery): WebhookDelivery) {}
//!
//! let app: Router = Router::new().route("/webhook", post(handler)); // no WebhookConfig
//! ```
//!
//! # Body limit
//!
//! The body is read through axum's limited body, so two limits apply and the stricter wins:
//! [`WebhookConfig::body_limit`] (default 1 MiB) and axum's
//! [`DefaultBodyLimit`](axum::extract::DefaultBodyLimit) (2 MB when no layer sets it). To accept
//! larger bodies, raise both. A `413` names the limit that applied in its `limit` member.

#![warn(missing_docs)]

use std::convert::Infallible;
use std::error::Error as StdError;
use std::fmt;

use axum::RequestExt;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{Extensions, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use enrich_webhook::enrich_types::{PersonEnrichmentCompleted, WebhookEvent};
use enrich_webhook::{Answer, BodyCollector, RequestHeaders, SIGNATURE_HEADER, UnhandledEvent};
use http_body_util::{BodyExt, LengthLimitError};

pub use enrich_webhook;
pub use enrich_webhook::{Delivery, Refusal, Rejection, WebhookConfig};

/// Extracts a whole accepted delivery: the typed event, the raw body, the signature time and the
/// idempotency key.
///
/// ```
/// use enrich_axum::WebhookDelivery;
///
/// async fn handler(WebhookDelivery(delivery): WebhookDelivery) {
///     let key = delivery.idempotency_key(); // the same for every redelivery
///     println!("{key}: {}", delivery.event().event_type());
/// }
/// ```
#[derive(Debug, Clone)]
pub struct WebhookDelivery(pub Delivery);

/// Extracts the typed event of an accepted delivery, of any type (an unknown type arrives as
/// [`WebhookEvent::Unknown`]).
#[derive(Debug, Clone)]
pub struct Event(pub WebhookEvent);

/// Extracts a `person.enrichment.completed` event.
///
/// A genuine delivery of any other event type is acknowledged with `200 OK` (the
/// [`UnhandledEvent`] answer) without calling the handler, so the sender does not retry it.
#[derive(Debug, Clone)]
pub struct PersonEvent(pub PersonEnrichmentCompleted);

/// Why an extractor did not produce a value. Its response is exactly the pipeline's [`Answer`]:
/// status, `Content-Type` and body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRejection(pub Refusal);

impl WebhookRejection {
    /// The answer this renders: status, `Content-Type` and body.
    pub fn answer(&self) -> Answer {
        self.0.answer()
    }
}

impl From<Rejection> for WebhookRejection {
    fn from(rejection: Rejection) -> Self {
        Self(Refusal::Rejected(rejection))
    }
}

impl From<UnhandledEvent> for WebhookRejection {
    fn from(unhandled: UnhandledEvent) -> Self {
        Self(Refusal::Unhandled(unhandled))
    }
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for WebhookRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        render(self.answer())
    }
}

impl<S> FromRequest<S> for WebhookDelivery
where
    WebhookConfig: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            receive(request, WebhookConfig::from_ref(state)).await?,
        ))
    }
}

impl<S> FromRequest<S> for Event
where
    WebhookConfig: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let delivery = receive(request, WebhookConfig::from_ref(state)).await?;
        Ok(Self(delivery.into_event()))
    }
}

impl<S> FromRequest<S> for PersonEvent
where
    WebhookConfig: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let delivery = receive(request, WebhookConfig::from_ref(state)).await?;
        Ok(Self(delivery.into_person_event()?))
    }
}

/// Reads the body through axum's limited body into the pipeline's collector, then runs the
/// pipeline.
async fn receive(request: Request, config: WebhookConfig) -> Result<Delivery, Rejection> {
    let (mut parts, mut body) = request.with_limited_body().into_parts();
    // The stricter limit governs the declared length, the collector and the 413's `limit`.
    let config = match layer_limit(&mut parts.extensions) {
        Some(limit) if limit < config.max_body_bytes() => config.body_limit(limit),
        _ => config,
    };
    let first = |name: &str| parts.headers.get(name).map(HeaderValue::as_bytes);
    let headers = RequestHeaders {
        content_type: first(header::CONTENT_TYPE.as_str()),
        content_length: first(header::CONTENT_LENGTH.as_str()),
        signature: first(SIGNATURE_HEADER),
    };
    let mut collector = config.start(&headers)?;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| read_error(&error, &collector))?;
        if let Ok(chunk) = frame.into_data() {
            collector.push(chunk)?;
        }
    }
    config.receive(&headers, collector.finish())
}

/// The limit axum's `DefaultBodyLimit` puts on this request (its 2 MB default when no layer set
/// one), or `None` when disabled.
///
/// axum keeps the setting private, so apply it to an empty body of unknown length: the upper
/// bound of the size hint of the `http_body_util::Limited` it wraps that body in is the limit.
fn layer_limit(extensions: &mut Extensions) -> Option<usize> {
    let empty = futures_util::stream::empty::<Result<Bytes, Infallible>>();
    let mut probe = Request::new(Body::from_stream(empty));
    std::mem::swap(probe.extensions_mut(), extensions);
    let mut probe = probe.with_limited_body();
    std::mem::swap(probe.extensions_mut(), extensions);
    let limit = probe.body().size_hint().upper()?;
    usize::try_from(limit).ok()
}

/// A body read error: axum's length limit (found anywhere in the error's source chain) is the
/// pipeline's `payload_too_large` under the effective limit; anything else is `incomplete_body`.
fn read_error(error: &axum::Error, collector: &BodyCollector) -> Rejection {
    let first: &(dyn StdError + 'static) = error;
    let mut chain = std::iter::successors(Some(first), |error| (*error).source());
    if chain.any(|error| error.is::<LengthLimitError>()) {
        collector.limit_exceeded()
    } else {
        collector.read_failed()
    }
}

/// The one place an [`Answer`] becomes an axum response, byte for byte.
fn render(answer: Answer) -> Response {
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    if let Some(seconds) = answer.retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
