//! What a handler receives: the typed event and everything needed to store or deduplicate it.

use std::fmt;

use bytes::Bytes;
use enrich_types::WebhookEvent;
use sha2::{Digest, Sha256};

use crate::signature::{self, SignatureTimestamp};

/// One accepted delivery.
///
/// The API delivers at least once, so the same delivery may arrive again: use
/// [`Delivery::idempotency_key`] to recognise it.
#[derive(Clone)]
pub struct Delivery {
    /// Boxed: a decoded event is several hundred bytes, and a `Delivery` is moved through every
    /// framework's extractor futures by value, which would copy it each time.
    pub(crate) event: Box<WebhookEvent>,
    pub(crate) raw_body: Bytes,
    pub(crate) signature_header: Option<Box<str>>,
    /// The verified signature's `t`; `None` when unverified (then [`Delivery::signed_at`] reads
    /// it from the header when asked, rather than on every request).
    pub(crate) signed_at: Option<SignatureTimestamp>,
    pub(crate) verified: bool,
    /// Accepted unverified by [`WebhookConfig::quarantine`](crate::WebhookConfig::quarantine):
    /// its signature header was well-formed and fresh, its tag not checked.
    pub(crate) quarantined: bool,
    pub(crate) span: tracing::Span,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("event", &self.event)
            .field("raw_body", &self.raw_body)
            .field("signature_header", &self.signature_header)
            .field("signed_at", &self.signed_at())
            .field("verified", &self.verified)
            .field("quarantined", &self.quarantined)
            .field("span", &self.span)
            .finish()
    }
}

impl Delivery {
    /// The decoded event.
    pub fn event(&self) -> &WebhookEvent {
        &self.event
    }

    /// Takes the decoded event, dropping the rest.
    pub fn into_event(self) -> WebhookEvent {
        *self.event
    }

    /// The body exactly as received and signed. Store or forward these bytes, never a
    /// re-serialization: only these bytes verify against the signature.
    pub fn raw_body(&self) -> &Bytes {
        &self.raw_body
    }

    /// The `x-surfe-signature` header value as received (`None` when absent or not UTF-8, which
    /// only an unverified delivery can be). Store it with [`Delivery::raw_body`] to verify the
    /// delivery again later with [`signature::verify`](crate::signature::verify).
    pub fn signature_header(&self) -> Option<&str> {
        self.signature_header.as_deref()
    }

    /// When the sender signed the delivery (the signature's `t`). `None` when verification is
    /// skipped and the request carried no readable signature header.
    pub fn signed_at(&self) -> Option<SignatureTimestamp> {
        if self.verified || self.quarantined {
            self.signed_at
        } else {
            signature::timestamp_of(self.signature_header.as_deref()?.as_bytes())
        }
    }

    /// Whether the signature was verified. `false` only when the configuration explicitly skips
    /// verification, or quarantines deliveries until the secret is known.
    pub fn is_verified(&self) -> bool {
        self.verified
    }

    /// Whether this delivery was accepted **unverified**, to be quarantined
    /// ([`WebhookConfig::quarantine`](crate::WebhookConfig::quarantine)): its signature header
    /// is well-formed and was fresh, but no secret was known to check it. Store it in an
    /// inbox, which keeps it out of processing until it is released with the secret; never
    /// process it.
    pub fn is_quarantined(&self) -> bool {
        self.quarantined
    }

    /// The `webhook_delivery` tracing span of this delivery (level DEBUG, with the fields
    /// `event_type`, `enrichment_id`, `verified` and `outcome`). Enter it, or instrument the
    /// handler's work with it, to have the handler's own log lines carry those fields:
    /// `tracing::Instrument::instrument(work, delivery.span().clone())`.
    ///
    /// At DEBUG it costs nothing measurable when the subscriber is at INFO (the span is then
    /// disabled, and this is a disabled span); recorded by a `fmt` subscriber it costs about
    /// 14,000 instructions per delivery (1.2 µs on the benchmark machine).
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The receive span's OpenTelemetry context as a W3C `traceparent` value (feature
    /// `opentelemetry`): what an inbox stores with the delivery, so that its processing joins
    /// the trace. `None` when the span has no OpenTelemetry context: no `tracing-opentelemetry`
    /// layer is installed, or its filter leaves the `webhook_delivery` span (DEBUG, target
    /// `enrich_webhook::receive`) disabled.
    #[cfg(feature = "opentelemetry")]
    pub fn traceparent(&self) -> Option<String> {
        crate::trace_context::traceparent_of(&self.span)
    }

    /// A key that is the same for every redelivery of this event and differs between events.
    ///
    /// It is (`eventType`, `enrichmentID`, `externalID`) when the event carries both ids (the
    /// batch id alone would make two people of one batch collide), otherwise the SHA-256 of the
    /// raw body (a retry resends the same body).
    pub fn idempotency_key(&self) -> IdempotencyKey {
        IdempotencyKey::of(&self.event, &self.raw_body)
    }
}

/// Identifies one event across redeliveries. Its `Display` form is a compact string suitable as
/// a database key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdempotencyKey {
    /// The event's own identity.
    Ids {
        /// The event type.
        event_type: String,
        /// The batch id.
        enrichment_id: String,
        /// The caller's id of the person or company.
        external_id: String,
    },
    /// SHA-256 of the raw body, for events without both ids.
    BodyDigest([u8; 32]),
}

impl IdempotencyKey {
    /// The key of `event`, whose raw body is `raw_body`.
    pub fn of(event: &WebhookEvent, raw_body: &[u8]) -> Self {
        match (event.enrichment_id(), event.external_id()) {
            (Some(enrichment_id), Some(external_id)) => Self::Ids {
                event_type: event.event_type().to_owned(),
                enrichment_id: enrichment_id.to_owned(),
                external_id: external_id.to_owned(),
            },
            _ => Self::BodyDigest(Sha256::digest(raw_body).into()),
        }
    }
}

impl fmt::Display for IdempotencyKey {
    /// `<eventType>/<enrichmentID>/<externalID>` (each part percent-encoding `%` and `/`, so the
    /// form is unambiguous) or `sha256:<hex>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ids {
                event_type,
                enrichment_id,
                external_id,
            } => {
                let escape = |part: &str| part.replace('%', "%25").replace('/', "%2F");
                write!(
                    f,
                    "{}/{}/{}",
                    escape(event_type),
                    escape(enrichment_id),
                    escape(external_id)
                )
            }
            Self::BodyDigest(digest) => write!(f, "sha256:{}", hex::encode(digest)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(body: &str) -> IdempotencyKey {
        let event: WebhookEvent = serde_json::from_str(body).unwrap();
        IdempotencyKey::of(&event, body.as_bytes())
    }

    #[test]
    fn a_delivery_is_small_to_move() {
        // Extractors move the delivery through several futures by value; the event stays put.
        let delivery = std::mem::size_of::<Delivery>();
        let event = std::mem::size_of::<WebhookEvent>();
        assert!(delivery <= 128, "Delivery is {delivery} bytes");
        assert!(
            event > 2 * delivery,
            "WebhookEvent is {event} bytes, Delivery {delivery}"
        );
    }

    #[test]
    fn uses_both_ids_when_present_else_the_body_digest() {
        let ids = key(
            r#"{"eventType":"person.enrichment.completed","data":{"enrichmentID":"b/1","person":{"externalID":"p%1"}}}"#,
        );
        assert_eq!(ids.to_string(), "person.enrichment.completed/b%2F1/p%251");

        let body = r#"{"eventType":"person.enrichment.completed","data":{"enrichmentID":"b1","person":{}}}"#;
        let digest = key(body);
        assert_eq!(
            digest,
            IdempotencyKey::BodyDigest(Sha256::digest(body.as_bytes()).into())
        );
        assert!(digest.to_string().starts_with("sha256:"));
        assert_eq!(digest.to_string().len(), "sha256:".len() + 64);
    }

    #[test]
    fn two_people_of_one_batch_get_different_keys() {
        let person = |id: &str| {
            key(&format!(
                r#"{{"eventType":"person.enrichment.completed","data":{{"enrichmentID":"b1","person":{{"externalID":"{id}"}}}}}}"#
            ))
        };
        assert_ne!(person("1"), person("2"));
        assert_eq!(person("1"), person("1"));
    }
}
