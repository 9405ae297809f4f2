//! [Poem](https://docs.rs/poem/3) extractors for Surfe API v2 enrichment webhooks.
//!
//! Take a [`Webhook<T>`] as a handler argument — [`PersonEvent`], [`CompanyEvent`], [`Event`] or
//! [`WebhookDelivery`]: the request only reaches the handler if its body fits the limit, its
//! signature verifies and it decodes to a webhook event. Every other request is answered with the
//! status and body decided by [`enrich_webhook`], the same bytes as every other adapter sends: a
//! [`WebhookRefusal`] for a [`Refusal`], or the [`Acknowledgement`] of a genuine event the
//! extractor does not take.
//!
//! The configuration is request data: add `.data(config)` to the route or endpoint. Without it
//! every delivery is answered `500 receiver_not_configured`, and the mistake is logged at error
//! level (once).
//!
//! ```no_run
//! use enrich_poem::{PersonEvent, WebhookConfig};
//! use poem::{EndpointExt, Route, Server, handler, listener::TcpListener, post};
//!
//! #[handler]
//! fn person_enriched(event: PersonEvent) {
//!     // Only `person.enrichment.completed` gets here; other events are acknowledged with 200.
//!     println!("{:?} enriched", event.person.external_id);
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Refusals and warnings reach the operator; no colour codes in log files.
//!     tracing_subscriber::fmt().with_ansi(false).init();
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
//! refusals itself can take `poem::Result<WebhookDelivery>` and
//! [`downcast_ref`](poem::Error::downcast_ref) the error to [`WebhookRefusal`].
//!
//! Poem's `catch_error::<WebhookRefusal, _>` middleware sees refusals only. A Poem extractor
//! keeps the handler from running only by failing, so the `200` acknowledgement of an ignored
//! event is a `poem::Error` too, made from its response
//! ([`Error::from_response`](poem::Error::from_response)): `catch_all_error` sees it (with status
//! `200`); put that middleware elsewhere than in front of the webhook route.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Once;

use enrich_webhook::{Answer, BodyError, RequestHeaders, SIGNATURE_HEADER};
use poem::error::ResponseError;
use poem::http::StatusCode;
use poem::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use poem::{FromRequest, Request, RequestBody, Response};

pub use enrich_webhook;
pub use enrich_webhook::prelude::*;

#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;

const MISSING_CONFIG: &str = "add `.data(WebhookConfig::from_env()?)` (or another \
    `.data(WebhookConfig::...)`) to the Poem route or endpoint that takes the webhook extractor";
const BODY_TAKEN: &str = "the request body was already taken by another extractor: take only \
    one body extractor in the webhook handler";

/// The extractor: a verified, decoded delivery, as the `T` the handler asks for (see
/// [`FromDelivery`] for what `T` can be). It derefs to `T`.
///
/// ```
/// use enrich_poem::{PersonEnrichmentCompleted, Webhook};
///
/// #[poem::handler]
/// fn receive(Webhook(event): Webhook<PersonEnrichmentCompleted>) -> String {
///     event.person.external_id.unwrap_or_default()
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Webhook<T>(pub T);

/// The whole accepted delivery: the typed event, the raw body as signed, the signature header
/// and time, and the idempotency key.
///
/// ```
/// use enrich_poem::WebhookDelivery;
///
/// #[poem::handler]
/// fn receive(delivery: WebhookDelivery) -> String {
///     delivery.idempotency_key().to_string()
/// }
/// ```
pub type WebhookDelivery = Webhook<Delivery>;

/// The typed event of any type (an unknown type arrives as [`WebhookEvent::Unknown`]).
pub type Event = Webhook<WebhookEvent>;

/// A `person.enrichment.completed` event. Any other genuine event is acknowledged with `200 OK`
/// (an [`Acknowledgement`]) without calling the handler, so the sender does not retry it.
pub type PersonEvent = Webhook<PersonEnrichmentCompleted>;

/// A `company.enrichment.completed` event. Any other genuine event is acknowledged with `200 OK`
/// (an [`Acknowledgement`]) without calling the handler.
pub type CompanyEvent = Webhook<CompanyEnrichmentCompleted>;

impl<T> Deref for Webhook<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Webhook<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<'a, T: FromDelivery> FromRequest<'a> for Webhook<T> {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let delivery = receive(req, body).await.map_err(WebhookRefusal)?;
        match delivery.extract() {
            Extracted::Taken(value) => Ok(Self(value)),
            Extracted::Ignored(acknowledgement) => Err(poem::Error::from_response(render(
                Answer::from(&acknowledgement),
            ))),
            Extracted::Refused(refusal) => Err(WebhookRefusal(refusal).into()),
        }
    }
}

/// A refusal as Poem's [`ResponseError`]: exactly the pipeline's [`Answer`] for the [`Refusal`]
/// (status, `Content-Type`, `Retry-After` when any, and body).
///
/// Return it (`Err(WebhookRefusal(..).into())`) to refuse a delivery yourself, such as
/// [`Refusal::StorageUnavailable`] when storing it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRefusal(pub Refusal);

impl From<Refusal> for WebhookRefusal {
    fn from(refusal: Refusal) -> Self {
        Self(refusal)
    }
}

impl fmt::Display for WebhookRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for WebhookRefusal {
    /// Transparent, as `Display` is: the refusal's own source, so that no message prints twice.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl ResponseError for WebhookRefusal {
    fn status(&self) -> StatusCode {
        // The pipeline only produces valid codes; 500 keeps a bad one visible.
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn as_response(&self) -> Response {
        render(Answer::from(&self.0))
    }
}

/// The Poem response of an [`Answer`].
fn render(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::builder()
        .status(status)
        .content_type(answer.content_type);
    if let Some(seconds) = answer.retry_after_secs {
        response = response.header(RETRY_AFTER, seconds);
    }
    response.body(answer.body)
}

/// Reads the body under the limit into the pipeline.
async fn receive(req: &Request, body: &mut RequestBody) -> Result<Delivery, Refusal> {
    let Some(config) = req.data::<WebhookConfig>() else {
        static LOGGED: Once = Once::new();
        LOGGED.call_once(|| tracing::error!("webhook receiver not configured: {MISSING_CONFIG}"));
        return Err(Refusal::NotConfigured {
            hint: MISSING_CONFIG,
        });
    };
    let header = |name| req.headers().get(name).map(|value| value.as_bytes());
    let headers = RequestHeaders::new(
        header(CONTENT_TYPE.as_str()),
        header(CONTENT_LENGTH.as_str()),
        header(SIGNATURE_HEADER),
    )
    .with_traceparent_from(header);
    let body = body
        .take()
        .map_err(|_| Refusal::NotConfigured { hint: BODY_TAKEN })?;
    config
        .receive_body(&headers, body.into_bytes_stream(), |_| BodyError::Failed)
        .await
}

/// The README's code blocks, compiled (and the runnable ones run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct Readme;
