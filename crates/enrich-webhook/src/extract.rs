//! What an extractor takes from an accepted delivery: the one trait behind every adapter's
//! generic extractor.

use enrich_types::{CompanyEnrichmentCompleted, PersonEnrichmentCompleted, WebhookEvent};

use crate::delivery::Delivery;
use crate::metrics;
use crate::refusal::{Acknowledgement, Refusal};

/// What an extractor makes of an accepted delivery: a value for the handler, or the
/// acknowledgement of an event it does not take. Both are successful outcomes: the sender is
/// answered `200` either way (by the handler, or by the adapter with the acknowledgement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extracted<T> {
    /// The handler is called with this value.
    Taken(T),
    /// The handler is not called: a genuine event of a type not taken, acknowledged with `200`.
    Ignored(Acknowledgement),
    /// The handler is not called: the delivery is refused. A quarantined delivery (its
    /// signature not verified, see [`WebhookConfig::quarantine`](crate::WebhookConfig::quarantine))
    /// reaches only a handler that takes the whole [`Delivery`]; any other extractor refuses it
    /// with `500` `receiver_not_configured`, so that no handler processes an unverified event by
    /// accident.
    Refused(Refusal),
}

impl<T> Extracted<T> {
    /// The value taken, or `None` for an ignored event.
    pub fn taken(self) -> Option<T> {
        match self {
            Self::Taken(value) => Some(value),
            Self::Ignored(_) | Self::Refused(_) => None,
        }
    }
}

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
/// `externalID`); return [`Extracted::Ignored`] for a genuine delivery you do not take.
///
/// ```
/// use enrich_webhook::{Acknowledgement, Delivery, Extracted, FromDelivery};
///
/// /// The caller's own id of an enriched person, for handlers that need nothing else.
/// struct ExternalId(String);
///
/// impl FromDelivery for ExternalId {
///     fn from_delivery(delivery: Delivery) -> Extracted<Self> {
///         match delivery.event().external_id() {
///             Some(id) => Extracted::Taken(Self(id.to_owned())),
///             None => Extracted::Ignored(Acknowledgement::ignoring(delivery.event())),
///         }
///     }
/// }
/// ```
pub trait FromDelivery: Sized {
    /// Whether this extractor takes a quarantined delivery (one whose signature could not be
    /// verified yet). Only [`Delivery`] does, to be stored in an inbox's quarantine; for any
    /// other type [`Delivery::extract`] refuses such a delivery before calling
    /// [`FromDelivery::from_delivery`].
    const TAKES_QUARANTINED: bool = false;

    /// Takes the value from `delivery`, or acknowledges a genuine event of a type not taken.
    fn from_delivery(delivery: Delivery) -> Extracted<Self>;
}

impl FromDelivery for Delivery {
    const TAKES_QUARANTINED: bool = true;

    fn from_delivery(delivery: Delivery) -> Extracted<Self> {
        Extracted::Taken(delivery)
    }
}

impl FromDelivery for WebhookEvent {
    fn from_delivery(delivery: Delivery) -> Extracted<Self> {
        Extracted::Taken(delivery.into_event())
    }
}

impl FromDelivery for PersonEnrichmentCompleted {
    fn from_delivery(delivery: Delivery) -> Extracted<Self> {
        match delivery.into_event() {
            WebhookEvent::PersonEnrichmentCompleted(event) => Extracted::Taken(event),
            other => Extracted::Ignored(Acknowledgement::ignoring(&other)),
        }
    }
}

impl FromDelivery for CompanyEnrichmentCompleted {
    fn from_delivery(delivery: Delivery) -> Extracted<Self> {
        match delivery.into_event() {
            WebhookEvent::CompanyEnrichmentCompleted(event) => Extracted::Taken(event),
            other => Extracted::Ignored(Acknowledgement::ignoring(&other)),
        }
    }
}

/// What a typed extractor answers for a quarantined delivery.
const QUARANTINE_NEEDS_A_DELIVERY: &str = "a quarantined (unverified) delivery must be taken \
    whole (`Webhook<Delivery>`) and stored in an inbox, never handed to a typed extractor";

impl Delivery {
    /// Takes a `T` from this delivery ([`FromDelivery`]), logging an ignored event at DEBUG: what
    /// every adapter's extractor calls. With the `metrics` feature, this is where a genuine
    /// delivery is counted, as `accepted` or `ignored` (refusals are counted by the pipeline).
    ///
    /// A quarantined delivery is taken only as a whole [`Delivery`] (whose handler stores it in
    /// an inbox); any other `T` gets [`Extracted::Refused`], and the handler is not called.
    pub fn extract<T: FromDelivery>(self) -> Extracted<T> {
        let event_type = metrics::event_type_label(self.event());
        if self.is_quarantined() && !T::TAKES_QUARANTINED {
            let refusal = Refusal::NotConfigured {
                hint: QUARANTINE_NEEDS_A_DELIVERY,
            };
            crate::receive::log_refusal(&refusal);
            return Extracted::Refused(refusal);
        }
        let extracted = T::from_delivery(self);
        match &extracted {
            Extracted::Taken(_) => metrics::delivered(metrics::ACCEPTED, event_type),
            Extracted::Ignored(_) => {
                crate::receive::log_acknowledgement();
                metrics::delivered(Acknowledgement::CODE, event_type);
            }
            Extracted::Refused(_) => {}
        }
        extracted
    }
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
        assert!(
            delivery(PERSON)
                .extract::<PersonEnrichmentCompleted>()
                .taken()
                .is_some()
        );
        assert!(
            delivery(COMPANY)
                .extract::<CompanyEnrichmentCompleted>()
                .taken()
                .is_some()
        );
        for body in [PERSON, COMPANY, UNKNOWN] {
            assert!(delivery(body).extract::<WebhookEvent>().taken().is_some());
            assert!(delivery(body).extract::<Delivery>().taken().is_some());
        }
        for (body, event_type) in [
            (COMPANY, "company.enrichment.completed"),
            (UNKNOWN, "person.enrichment.archived"),
        ] {
            assert_eq!(
                delivery(body).extract::<PersonEnrichmentCompleted>(),
                Extracted::Ignored(Acknowledgement::of_event_type(event_type))
            );
        }
        let Extracted::Ignored(ignored) = delivery(PERSON).extract::<CompanyEnrichmentCompleted>()
        else {
            panic!("a person event is not a company event");
        };
        assert_eq!(ignored.event_type(), "person.enrichment.completed");
    }
}
