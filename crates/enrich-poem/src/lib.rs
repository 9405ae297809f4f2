//! [Poem](https://docs.rs/poem/3) extractors for Surfe API v2 enrichment webhooks.
//!
//! Take [`WebhookDelivery`], [`Event`] or [`PersonEvent`] as a handler argument: the request only
//! reaches the handler if its body fits the limit, its signature verifies and it decodes to a
//! webhook event. Every other request is answered by [`WebhookRejection`] with the status and
//! `application/problem+json` body decided by [`enrich_webhook`], the same bytes as every other
//! adapter sends.
//!
//! The configuration is request data: add `.data(config)` to the route or endpoint.
//!
//! ```no_run
//! use enrich_poem::{PersonEvent, WebhookConfig};
//! use poem::{EndpointExt, Route, Server, handler, listener::TcpListener, post};
//!
//! #[handler]
//! fn person_enriched(PersonEvent(event): PersonEvent) {
//!     // Only `person.enrichment.completed` gets here; other events are acknowledged with 200.
//!     println!("{:?} enriched", event.person.external_id);
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = WebhookConfig::from_env()?; // SURFE_WEBHOOK_SECRET
//!     let app = Route::new()
//!         .at("/webhook", post(person_enriched))
//!         .data(config);
//!     Server::new(TcpListener::bind("127.0.0.1:3000")).run(app).await?;
//!     Ok(())
//! }
//! ```
//!
//! The body is read chunk by chunk and reading stops at the configured
//! [`WebhookConfig::body_limit`] (Poem itself sets no limit). A handler that wants to answer
//! rejections itself can take `poem::Result<WebhookDelivery>` and
//! [`downcast_ref`](poem::Error::downcast_ref) the error to [`WebhookRejection`].

#![warn(missing_docs)]

use std::fmt;
use std::pin::pin;

use enrich_webhook::enrich_types::{self, PersonEnrichmentCompleted};
use enrich_webhook::{Answer, RequestHeaders, SIGNATURE_HEADER, UnhandledEvent};

use futures_util::StreamExt;
use poem::error::ResponseError;
use poem::http::StatusCode;
use poem::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use poem::{FromRequest, Request, RequestBody, Response};

pub use enrich_webhook;
pub use enrich_webhook::{Delivery, Refusal, Rejection, WebhookConfig};

const MISSING_CONFIG: &str = "add `.data(WebhookConfig::from_env()?)` (or another \
    `.data(WebhookConfig::...)`) to the Poem route or endpoint that takes the webhook extractor";
const BODY_TAKEN: &str = "the request body was already taken by another extractor: take only \
    one body extractor in the webhook handler";

/// Extracts a complete accepted delivery: the typed event, the raw body, the signature time and
/// the idempotency key.
///
/// ```
/// use enrich_poem::WebhookDelivery;
///
/// #[poem::handler]
/// fn receive(WebhookDelivery(delivery): WebhookDelivery) -> String {
///     delivery.idempotency_key().to_string()
/// }
/// ```
#[derive(Debug, Clone)]
pub struct WebhookDelivery(pub Delivery);

/// Extracts the typed event of an accepted delivery, whatever its type (an unknown type arrives
/// as [`WebhookEvent::Unknown`](enrich_types::WebhookEvent::Unknown)).
#[derive(Debug, Clone)]
pub struct Event(pub enrich_types::WebhookEvent);

/// Extracts a `person.enrichment.completed` event. A genuine event of any other type is
/// acknowledged with `200 OK` and [`UnhandledEvent`]'s body without calling the handler, so the
/// sender does not retry it.
#[derive(Debug, Clone)]
pub struct PersonEvent(pub PersonEnrichmentCompleted);

/// Why an extractor did not call the handler. Its response is exactly the pipeline's [`Answer`]:
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

impl ResponseError for WebhookRejection {
    fn status(&self) -> StatusCode {
        status_of(&self.answer())
    }

    fn as_response(&self) -> Response {
        render(self.answer())
    }
}

fn status_of(answer: &Answer) -> StatusCode {
    // The pipeline only produces valid codes; 500 keeps a bad one visible rather than panicking.
    StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn render(answer: Answer) -> Response {
    let mut response = Response::builder()
        .status(status_of(&answer))
        .content_type(answer.content_type);
    if let Some(seconds) = answer.retry_after_secs {
        response = response.header(poem::http::header::RETRY_AFTER, seconds);
    }
    response.body(answer.body)
}

/// Reads the body under the limit and runs the pipeline on it.
async fn receive(req: &Request, body: &mut RequestBody) -> Result<Delivery, Rejection> {
    let config = req
        .data::<WebhookConfig>()
        .ok_or(Rejection::NotConfigured {
            hint: MISSING_CONFIG,
        })?;
    let header = |name| req.headers().get(name).map(|value| value.as_bytes());
    let headers = RequestHeaders {
        content_type: header(CONTENT_TYPE.as_str()),
        content_length: header(CONTENT_LENGTH.as_str()),
        signature: header(SIGNATURE_HEADER),
    };
    let mut collector = config.start(&headers)?;
    let body = body
        .take()
        .map_err(|_| Rejection::NotConfigured { hint: BODY_TAKEN })?;
    let mut chunks = pin!(body.into_bytes_stream());
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| collector.read_failed())?;
        collector.push(chunk)?;
    }
    config.receive(&headers, collector.finish())
}

impl<'a> FromRequest<'a> for WebhookDelivery {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        receive(req, body)
            .await
            .map(Self)
            .map_err(|rejection| WebhookRejection::from(rejection).into())
    }
}

impl<'a> FromRequest<'a> for Event {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let WebhookDelivery(delivery) = WebhookDelivery::from_request(req, body).await?;
        Ok(Self(delivery.into_event()))
    }
}

impl<'a> FromRequest<'a> for PersonEvent {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let WebhookDelivery(delivery) = WebhookDelivery::from_request(req, body).await?;
        let person = delivery
            .into_person_event()
            .map_err(WebhookRejection::from)?;
        Ok(Self(person))
    }
}
