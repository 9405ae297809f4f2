//! The framework-free receive pipeline for Surfe API v2 enrichment webhooks.
//!
//! An endpoint that receives webhooks is a public door. This crate decides, once for every
//! framework adapter, what gets through: only bodies the API really signed, within a size limit,
//! that decode to a [`WebhookEvent`](enrich_types::WebhookEvent). Everything else gets one
//! [`Refusal`], with a status and an RFC 9457 `application/problem+json` body.
//!
//! The checks run in this order (1 to 3 from the headers alone, before the body is read):
//!
//! | # | check | `code` | status |
//! |---|---|---|---|
//! | 1 | `Content-Type`, if present, is `application/json` or `application/*+json` | `unsupported_media_type` | 415 |
//! | 2 | a declared `Content-Length` fits the limit | `payload_too_large` | 413 |
//! | 3 | `x-surfe-signature` is present, well-formed and fresh | `missing_signature`, `malformed_signature`, `stale_timestamp` | 401 |
//! | 4 | the body, as read, fits the limit | `payload_too_large` | 413 |
//! | 5 | a `v0` matches the body under a configured secret | `invalid_signature` | 401 |
//! | 6 | the body is one JSON document | `malformed_json` | 400 |
//! | 7 | the JSON is a webhook event whose `data` fits its type | `invalid_payload` | 422 |
//!
//! A body that cannot be read to its end is `incomplete_body` (400). An unknown `eventType` is
//! not a refusal: it is delivered as [`WebhookEvent::Unknown`](enrich_types::WebhookEvent),
//! which adapters acknowledge with 200 so that the sender does not retry it forever. An extractor
//! that does not take a genuine event answers its [`Acknowledgement`] (200): an `Ok` outcome,
//! [`Extracted::Ignored`], not a refusal.
//!
//! The public API holds no `http`, axum, Rocket, Poem or actix-web type: adapters pass header
//! values as bytes and the body as [`bytes::Bytes`]. The one opt-in exception is the `http`
//! feature, the entry point for any other server (hyper used directly, AWS Lambda through
//! `lambda_http`, a tower stack): `WebhookConfig::receive_request` takes an `http::Request` and
//! gives the [`Delivery`] or the `http::Response` to send instead, the same answers as every
//! adapter's.
//!
//! ```
//! use enrich_webhook::{RequestHeaders, SignatureTimestamp, WebhookConfig};
//!
//! let config = WebhookConfig::with_secret("whsec_test_secret")?;
//! let body = br#"{"eventType":"person.enrichment.completed","data":{}}"#;
//! let headers = RequestHeaders::from_strs(
//!     Some("application/json"),
//!     None,
//!     Some("t=1758468698287,v0=f1d03b2e214071b637728a7ae27f86adcf918434f2da11c74eef7128b93a9d28"),
//! );
//!
//! // Signed long ago: refused as stale with the default tolerance…
//! let refusal = config.receive(&headers, &body[..]).unwrap_err();
//! assert_eq!((refusal.status(), refusal.code()), (401, "stale_timestamp"));
//!
//! // …and accepted when received at the time it was sent.
//! let sent = SignatureTimestamp::from_unix_millis(1758468698287).to_system_time();
//! let delivery = config.receive_at(&headers, &body[..], sent).unwrap();
//! assert_eq!(delivery.event().event_type(), "person.enrichment.completed");
//! # Ok::<(), enrich_webhook::ConfigError>(())
//! ```
//!
//! Logs go through `tracing`: a DEBUG `webhook_delivery` span (event type, batch id, whether it
//! was verified, outcome) that the accepted [`Delivery`] carries, signature failures at WARN and
//! other refusals at DEBUG, each with its code. No name, email, phone or body content is logged.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod answer;
mod config;
mod decode;
mod delivery;
mod extract;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
mod http;
mod metrics;
mod receive;
mod refusal;
pub mod signature;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;
#[cfg(feature = "opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
mod trace_context;

pub use answer::Answer;
pub use config::{ConfigError, DEFAULT_BODY_LIMIT, SECRET_ENV_VAR, WebhookConfig};
pub use delivery::{Delivery, IdempotencyKey};
pub use enrich_types;

/// The names a webhook handler uses, in one place: every adapter crate re-exports these at its
/// root, so `use enrich_axum::{WebhookEvent, EnrichedPersonEmail, Refusal};` works without
/// naming this crate or `enrich-types` (never `enrich_axum::enrich_webhook::enrich_types::…`).
pub mod prelude {
    pub use crate::{
        Acknowledgement, ConfigError, Delivery, Extracted, FromDelivery, IdempotencyKey, Refusal,
        SignatureTimestamp, SigningKeys, Tolerance, WebhookConfig,
    };
    pub use enrich_types::{
        BatchEnrichmentCompleted, CompanyEnrichmentCompleted, EmailType, EnrichedCompanyResponse,
        EnrichedPersonEmail, EnrichedPersonMobilePhone, EnrichedPersonResponse, EnrichmentStatus,
        JobPosition, PersonEnrichmentCompleted, UnknownEvent, ValidationStatus, WebhookEvent,
    };
}
pub use extract::{Extracted, FromDelivery};
pub use receive::{BodyError, RequestHeaders, TRACEPARENT_HEADER, is_json_media_type};
pub use refusal::{
    Acknowledgement, PROBLEM_CONTENT_TYPE, PROBLEM_TYPE, ProblemDetails, REFUSAL_KINDS,
    REFUSAL_STATUSES, Refusal, RefusalKind,
};
pub use signature::{
    SIGNATURE_HEADER, SignatureError, SignatureProblem, SignatureTimestamp, SigningKeys, Tolerance,
};
#[cfg(feature = "opentelemetry")]
pub use trace_context::{format_traceparent, parse_traceparent};

/// The README's code blocks, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct Readme;
