//! One trace from receipt to processing (feature `opentelemetry`): a stored delivery keeps the
//! W3C `traceparent` of the span that received it, and the span its worker processes it in
//! joins that trace. The first attempt is a child of the receive span; a retry starts a trace
//! of its own with a link to the receive span (as messaging instrumentations do: one trace per
//! attempt, each findable from the receipt), so that a delivery retried for hours does not
//! stretch one trace over them.
//!
//! Without the feature, nothing is stored and no span is made.

use enrich_webhook::Delivery;

use crate::record::StoredDelivery;

/// The `traceparent` to store with `delivery`: its receive span's context.
#[cfg(feature = "opentelemetry")]
pub(crate) fn receipt_of(delivery: &Delivery) -> Option<String> {
    delivery.traceparent()
}

/// Without the feature, nothing is stored.
#[cfg(not(feature = "opentelemetry"))]
pub(crate) fn receipt_of(_delivery: &Delivery) -> Option<String> {
    None
}

/// The span a worker processes `delivery` in (INFO, `inbox_delivery`, with the delivery's id,
/// attempt and event type): a child of the receive span on the first attempt, a new trace
/// linked to it on a retry, a new trace when no receipt was stored.
#[cfg(feature = "opentelemetry")]
pub(crate) fn processing_span(delivery: &StoredDelivery) -> tracing::Span {
    use opentelemetry::Context;
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    let span = tracing::info_span!(
        "inbox_delivery",
        otel.kind = "consumer",
        delivery = delivery.id.0,
        attempt = delivery.attempts,
        event_type = %delivery.event_type,
    );
    let receipt = delivery
        .traceparent
        .as_deref()
        .and_then(|value| enrich_webhook::parse_traceparent(value.as_bytes()));
    if let Some(receipt) = receipt {
        if delivery.attempts <= 1 {
            // Fails only without an OpenTelemetry layer, or for a disabled span.
            let _ = span.set_parent(Context::new().with_remote_span_context(receipt));
        } else {
            span.add_link(receipt);
        }
    }
    span
}

/// Without the feature, no span.
#[cfg(not(feature = "opentelemetry"))]
pub(crate) fn processing_span(_delivery: &StoredDelivery) -> tracing::Span {
    tracing::Span::none()
}
