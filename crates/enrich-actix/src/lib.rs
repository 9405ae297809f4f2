//! [actix-web](https://docs.rs/actix-web/4) extractors for Surfe API v2 enrichment webhooks.
//!
//! Take a [`Webhook<T>`] as a handler argument ([`PersonEvent`], [`CompanyEvent`], [`Event`],
//! [`WebhookDelivery`]): the handler runs only if the body fits the limit, the signature verifies
//! and it decodes to an event. Every other request gets the bytes [`enrich_webhook`] decides, as
//! every adapter sends them: a [`WebhookRefusal`], or the [`Acknowledgement`] of an event not taken.
//!
//! The configuration is app data: `.app_data(config)` on the `App`, scope or resource. Without it
//! every delivery is answered `500 receiver_not_configured`, logged at error level (once).
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use enrich_actix::{PersonEvent, WebhookConfig};
//!
//! async fn person_enriched(event: PersonEvent) -> String {
//!     // Only `person.enrichment.completed` gets here; other events are acknowledged with 200.
//!     event.person.external_id.clone().unwrap_or_default()
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = WebhookConfig::from_env()?; // SURFE_WEBHOOK_SECRET
//!     // A resource, not `App::route`: other methods get `405` with `Allow: POST`.
//!     let webhook = move || web::resource("/webhook").route(web::post().to(person_enriched));
//!     let app = move || App::new().app_data(config.clone()).service(webhook());
//!     HttpServer::new(app).bind(("127.0.0.1", 3000))?.run().await?;
//!     Ok(())
//! }
//! ```
//!
//! The body is read from `web::Payload` chunk by chunk, and reading stops at the configured
//! [`WebhookConfig::body_limit`]. A handler that answers refusals itself takes
//! `Result<WebhookDelivery, actix_web::Error>` and [`as_error`](actix_web::Error::as_error)s it to
//! a [`WebhookRefusal`]. The `200` acknowledgement of an ignored event is an `actix_web::Error`
//! too (an extractor keeps the handler from running only by failing), made from its response.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::{fmt, sync::Once};

use actix_web::dev::Payload;
use actix_web::error::{InternalError, PayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError};
use derive_more::{Deref, DerefMut};
use enrich_webhook::{Answer, BodyError, RequestHeaders, SIGNATURE_HEADER};
use futures_util::{FutureExt, StreamExt, future::LocalBoxFuture};

pub use enrich_webhook;
pub use enrich_webhook::prelude::*;

#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;

const MISSING_CONFIG: &str = "add `.app_data(WebhookConfig::from_env()?)` (or another \
    `.app_data(WebhookConfig::...)`) to the App, scope or resource taking the webhook extractor";

/// The extractor: a verified, decoded delivery, as the `T` the handler asks for (see
/// [`FromDelivery`] for what `T` can be). It derefs to `T`.
///
/// ```
/// use enrich_actix::{PersonEnrichmentCompleted, Webhook};
///
/// async fn receive(Webhook(event): Webhook<PersonEnrichmentCompleted>) -> String {
///     event.person.external_id.unwrap_or_default()
/// }
/// ```
#[derive(Debug, Clone, Deref, DerefMut)]
pub struct Webhook<T>(pub T);

/// The whole accepted delivery: the typed event, the raw body as signed, the signature header
/// and time, and the idempotency key.
///
/// ```
/// use enrich_actix::WebhookDelivery;
///
/// async fn receive(delivery: WebhookDelivery) -> String {
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

impl<T: FromDelivery> FromRequest for Webhook<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let delivery = receive(&req, payload).await.map_err(WebhookRefusal)?;
            match delivery.extract() {
                Extracted::Taken(value) => Ok(Self(value)),
                // A fixed cause: actix-web may log it, and the event type is a body value.
                Extracted::Ignored(ack) => Err(InternalError::from_response(
                    "an event not taken, acknowledged",
                    render(Answer::from(&ack)),
                )
                .into()),
                Extracted::Refused(refusal) => Err(WebhookRefusal(refusal).into()),
            }
        })
    }
}

/// A refusal as actix-web's [`ResponseError`]: exactly the pipeline's [`Answer`] for the
/// [`Refusal`] (status, `Content-Type`, `Retry-After` when any, and body).
///
/// Return it to refuse a delivery yourself ([`Refusal::StorageUnavailable`] when storing failed).
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
    fn status_code(&self) -> StatusCode {
        // The pipeline only produces valid codes; 500 keeps a bad one visible.
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        render(Answer::from(&self.0))
    }
}

/// The actix-web response of an [`Answer`].
fn render(answer: Answer) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    if let Some(seconds) = answer.retry_after_secs {
        response.insert_header((RETRY_AFTER, seconds));
    }
    response.content_type(answer.content_type).body(answer.body)
}

/// Reads the body under the limit into the pipeline.
async fn receive(req: &HttpRequest, mut payload: Payload) -> Result<Delivery, Refusal> {
    let Some(config) = req.app_data::<WebhookConfig>() else {
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
    let classify = |error: &_| match error {
        PayloadError::Overflow => BodyError::TooLarge,
        _ => BodyError::Failed,
    };
    let received = config.receive_body(&headers, &mut payload, classify).await;
    if received.is_err() {
        // actix-web closes a connection with an unread body: discard what arrived (after a yield).
        actix_web::rt::task::yield_now().await;
        while let Some(Some(Ok(_))) = payload.next().now_or_never() {}
    }
    received
}

/// The README's code blocks, compiled (and the runnable ones run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct Readme;
