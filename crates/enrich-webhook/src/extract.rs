//! What an extractor takes from an accepted delivery: the one trait behind every adapter's
//! generic extractor.

use enrich_types::{CompanyEnrichmentCompleted, PersonEnrichmentCompleted, WebhookEvent};

use crate::delivery::Delivery;
use crate::rejection::Rejection;

/// A value an extractor hands a handler, taken from an accepted [`Delivery`].
///
/// Each adapter has one generic extractor, `Webhook<T>`, for any `T: FromDelivery`:
///
/// | `T` | the handler receives | any other genuine event |
/// |---|---|---|
/// | [`Delivery`] | the typed event, raw body, signature header and time, idempotency key | — |
/// | [`WebhookEvent`] | the typed event of any type (unknown types as `WebhookEvent::Unknown`) | — |
/// | [`PersonEnrichmentCompleted`] | a `person.enrichment.completed` event | ignored: `200` |
/// | [`CompanyEnrichmentCompleted`] | a `company.enrichment.completed` event | ignored: `200` |
///
/// Implement it for a type of your own to take something else (say, only the person's
/// `externalID`); return [`Rejection::Ignored`] for a genuine delivery you do not take.
///
/// ```
/// use enrich_webhook::{Delivery, FromDelivery, Rejection};
///
/// /// The caller's own id of an enriched person, for handlers that need nothing else.
/// struct ExternalId(String);
///
/// impl FromDelivery for ExternalId {
///     fn from_delivery(delivery: Delivery) -> Result<Self, Rejection> {
///         match delivery.event().external_id() {
///             Some(id) => Ok(Self(id.to_owned())),
///             None => Err(Rejection::Ignored {
///                 event_type: delivery.event().event_type().to_owned(),
///             }),
///         }
///     }
/// }
/// ```
pub trait FromDelivery: Sized {
    /// Takes the value from `delivery`, or returns the [`Rejection`] to answer instead
    /// (normally [`Rejection::Ignored`], for a genuine event of a type not taken).
    fn from_delivery(delivery: Delivery) -> Result<Self, Rejection>;
}

impl FromDelivery for Delivery {
    fn from_delivery(delivery: Delivery) -> Result<Self, Rejection> {
        Ok(delivery)
    }
}

impl FromDelivery for WebhookEvent {
    fn from_delivery(delivery: Delivery) -> Result<Self, Rejection> {
        Ok(delivery.into_event())
    }
}

impl FromDelivery for PersonEnrichmentCompleted {
    fn from_delivery(delivery: Delivery) -> Result<Self, Rejection> {
        match delivery.into_event() {
            WebhookEvent::PersonEnrichmentCompleted(event) => Ok(event),
            other => Err(ignored(&other)),
        }
    }
}

impl FromDelivery for CompanyEnrichmentCompleted {
    fn from_delivery(delivery: Delivery) -> Result<Self, Rejection> {
        match delivery.into_event() {
            WebhookEvent::CompanyEnrichmentCompleted(event) => Ok(event),
            other => Err(ignored(&other)),
        }
    }
}

/// The acknowledgement of a genuine `event` that an extractor does not take.
fn ignored(event: &WebhookEvent) -> Rejection {
    let rejection = Rejection::Ignored {
        event_type: event.event_type().to_owned(),
    };
    crate::receive::log_rejection(&rejection);
    rejection
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WebhookConfig;
    use crate::receive::RequestHeaders;

    fn delivery(body: &'static str) -> Delivery {
        WebhookConfig::insecure_skip_verification()
            .receive(&RequestHeaders::default(), body.as_bytes())
            .unwrap()
    }

    const PERSON: &str =
        r#"{"eventType":"person.enrichment.completed","data":{"person":{"externalID":"p-1"}}}"#;
    const COMPANY: &str =
        r#"{"eventType":"company.enrichment.completed","data":{"company":{"externalID":"c-1"}}}"#;
    const UNKNOWN: &str = r#"{"eventType":"person.enrichment.archived","data":{}}"#;

    #[test]
    fn each_extractor_takes_its_event_and_ignores_the_others() {
        assert!(PersonEnrichmentCompleted::from_delivery(delivery(PERSON)).is_ok());
        assert!(CompanyEnrichmentCompleted::from_delivery(delivery(COMPANY)).is_ok());
        for body in [PERSON, COMPANY, UNKNOWN] {
            assert!(WebhookEvent::from_delivery(delivery(body)).is_ok());
            assert!(Delivery::from_delivery(delivery(body)).is_ok());
        }
        for (body, event_type) in [
            (COMPANY, "company.enrichment.completed"),
            (UNKNOWN, "person.enrichment.archived"),
        ] {
            assert_eq!(
                PersonEnrichmentCompleted::from_delivery(delivery(body)).unwrap_err(),
                Rejection::Ignored {
                    event_type: event_type.to_owned()
                }
            );
        }
        let ignored = CompanyEnrichmentCompleted::from_delivery(delivery(PERSON)).unwrap_err();
        assert_eq!(ignored.status(), 200);
        assert!(!ignored.is_refusal());
    }
}
