//! Axum 0.8 extractors for Surfe API v2 enrichment webhooks.
//!
//! Take a [`Webhook<T>`] in a handler — [`PersonEvent`], [`CompanyEvent`], [`Event`] or
//! [`WebhookDelivery`] — and put a [`WebhookConfig`] in the router state. Every decision (body
//! limit, media type, signature, decoding, the status and body of each answer) is made by
//! [`enrich_webhook`]; this crate only reads the body, hands it over and renders the outcome. A
//! refused request never reaches the handler, nor does a genuine event the extractor does not
//! take: the extractor's [`WebhookRejection`] answers with the pipeline's [`Refusal`] or
//! [`Acknowledgement`]. A handler refuses a delivery itself by returning a [`WebhookRefusal`].
//!
//! ```no_run
//! use axum::{Router, routing::post};
//! use enrich_axum::{PersonEvent, WebhookConfig};
//!
//! async fn person_enriched(event: PersonEvent) {
//!     // Answer fast: the sender waits for this 200. Queue slow work instead.
//!     println!("enriched {:?}", event.person.external_id);
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Refusals and warnings reach the operator; no colour codes in log files.
//!     tracing_subscriber::fmt().with_ansi(false).init();
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
//! async fn handler(_delivery: WebhookDelivery) {}
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
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::error::Error as StdError;
use std::fmt;
use std::ops::{Deref, DerefMut};

use axum::RequestExt;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{self, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use enrich_webhook::{Answer, BodyError, RequestHeaders, SIGNATURE_HEADER};
use http_body_util::Full;

pub use enrich_webhook;
pub use enrich_webhook::prelude::*;

#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;

/// The extractor: a verified, decoded delivery, as the `T` the handler asks for (see
/// [`FromDelivery`] for what `T` can be). It derefs to `T`.
///
/// ```
/// use enrich_axum::{PersonEnrichmentCompleted, Webhook};
///
/// async fn handler(Webhook(event): Webhook<PersonEnrichmentCompleted>) {
///     println!("{:?}", event.person.external_id);
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Webhook<T>(pub T);

/// The whole accepted delivery: the typed event, the raw body as signed, the signature header
/// and time, and the idempotency key.
///
/// ```
/// use enrich_axum::WebhookDelivery;
///
/// async fn handler(delivery: WebhookDelivery) {
///     let key = delivery.idempotency_key(); // the same for every redelivery
///     println!("{key}: {}", delivery.event().event_type());
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

impl<S, T> FromRequest<S> for Webhook<T>
where
    WebhookConfig: FromRef<S>,
    S: Send + Sync,
    T: FromDelivery,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let delivery = receive(request, WebhookConfig::from_ref(state)).await?;
        match delivery.extract() {
            Extracted::Taken(value) => Ok(Self(value)),
            Extracted::Ignored(acknowledgement) => Err(WebhookRejection::Ignored(acknowledgement)),
            Extracted::Refused(refusal) => Err(WebhookRejection::Refused(refusal)),
        }
    }
}

/// Why the handler was not called: the extractor's rejection, as axum names it.
///
/// axum calls no handler whose extractor fails, and an extractor can only fail with its
/// `Rejection` type; so the acknowledgement of an event the extractor does not take travels here
/// too, beside the refusals, though it is no error: it answers `200`. As a response it is exactly
/// the pipeline's [`Answer`] (status, `Content-Type`, `Retry-After` when any, and body bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// The delivery is refused (4xx or 5xx).
    Refused(Refusal),
    /// A genuine event of a type the extractor does not take, acknowledged with `200`.
    Ignored(Acknowledgement),
}

impl From<Refusal> for WebhookRejection {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(refusal) => refusal.fmt(f),
            Self::Ignored(acknowledgement) => acknowledgement.fmt(f),
        }
    }
}

impl StdError for WebhookRejection {}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Refused(refusal) => render(Answer::from(&refusal)),
            Self::Ignored(acknowledgement) => render(Answer::from(&acknowledgement)),
        }
    }
}

/// A refusal as an axum response: exactly the pipeline's [`Answer`] for the [`Refusal`].
///
/// Return it from a handler to refuse a delivery yourself, such as
/// [`Refusal::StorageUnavailable`] when storing it failed (`?` turns a [`Refusal`] into one).
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

impl StdError for WebhookRefusal {
    /// Transparent, as [`Display`](fmt::Display) is: the refusal's own source, so that no message
    /// prints twice.
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}

impl IntoResponse for WebhookRefusal {
    fn into_response(self) -> Response {
        render(Answer::from(&self.0))
    }
}

/// The axum response of an [`Answer`]: the `http` entry point's, with axum's body type.
fn render(answer: Answer) -> Response {
    http::Response::<Full<Bytes>>::from(answer).map(Body::new)
}

/// Reads the body through axum's limited body into the pipeline, under the stricter limit.
async fn receive(request: Request, config: WebhookConfig) -> Result<Delivery, Refusal> {
    let own_bound = request.body().size_hint().upper();
    let (parts, body) = request.with_limited_body().into_parts();
    let first = |name: &str| parts.headers.get(name).map(HeaderValue::as_bytes);
    let headers = RequestHeaders::new(
        first(header::CONTENT_TYPE.as_str()),
        first(header::CONTENT_LENGTH.as_str()),
        first(SIGNATURE_HEADER),
    )
    .with_traceparent_from(first);
    let config = match layer_limit(own_bound, &body) {
        Some(limit) if limit < config.get_body_limit() => config.body_limit(limit),
        _ => config,
    };
    config
        .receive_body(&headers, body.into_data_stream(), |error| {
            // axum's length limit (`http_body_util`'s) is `payload_too_large`, as anywhere.
            BodyError::classify(error)
        })
        .await
}

/// The limit axum's `DefaultBodyLimit` puts on this body, when it can cut it short, so that a
/// `413` names the limit that applied.
///
/// axum keeps the setting private, but `with_limited_body` wraps the body in an
/// `http_body_util::Limited`, whose size hint is the body's own (`own_bound` its upper bound)
/// capped at the limit. So a cap below the body's own bound is the limit; no cap means the limit
/// is at least the body's length (or no limit applies), and it cannot cut the body.
fn layer_limit(own_bound: Option<u64>, limited: &Body) -> Option<usize> {
    let capped = limited.size_hint().upper()?;
    if own_bound.is_some_and(|bound| bound <= capped) {
        return None;
    }
    usize::try_from(capped).ok()
}

/// The README's code blocks, compiled (and the runnable ones run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct Readme;
