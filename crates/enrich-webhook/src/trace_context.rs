//! W3C Trace Context (`traceparent`) for OpenTelemetry (feature `opentelemetry`): the receive
//! span continues a trace the request names, and a delivery hands on its receive span's context
//! as a `traceparent` value for whoever stores it (the inbox), so that its processing joins the
//! same trace.
//!
//! Only the `traceparent` form of version `00` is read and written
//! (<https://www.w3.org/TR/trace-context/#traceparent-header>); `tracestate` is not carried.

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The remote span context a `traceparent` value names, or `None` when the value is not one
/// (wrong length or separators, upper-case or non-hex digits, an all-zero id, version `ff`).
/// A value of a later version is read by its first four fields, as the W3C asks.
pub fn parse_traceparent(value: &[u8]) -> Option<SpanContext> {
    let value = std::str::from_utf8(value).ok()?.trim_matches([' ', '\t']);
    if !value.is_ascii() {
        return None;
    }
    let (head, rest) = value.split_at_checked(55)?;
    let version = &head[..2];
    // Version 00 has exactly four fields; a later one may have more, after a `-`.
    let ends_well = match version {
        "00" => rest.is_empty(),
        _ => rest.is_empty() || rest.starts_with('-'),
    };
    if version == "ff" || !ends_well {
        return None;
    }
    let mut fields = head.split('-');
    let (Some(_), Some(trace), Some(span), Some(flags), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return None;
    };
    let lower_hex = |text: &str, len: usize| {
        text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if !(lower_hex(version, 2)
        && lower_hex(trace, 32)
        && lower_hex(span, 16)
        && lower_hex(flags, 2))
    {
        return None;
    }
    let trace_id = TraceId::from(u128::from_str_radix(trace, 16).ok()?);
    let span_id = SpanId::from(u64::from_str_radix(span, 16).ok()?);
    let flags = TraceFlags::new(u8::from_str_radix(flags, 16).ok()? & TraceFlags::SAMPLED.to_u8());
    let context = SpanContext::new(trace_id, span_id, flags, true, TraceState::NONE);
    context.is_valid().then_some(context)
}

/// `context` as a `traceparent` value of version `00`; `None` for an invalid context (no
/// tracer made it: the span was disabled, or no OpenTelemetry layer is installed).
pub fn format_traceparent(context: &SpanContext) -> Option<String> {
    context.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            context.trace_id(),
            context.span_id(),
            context.trace_flags().to_u8()
        )
    })
}

/// The `traceparent` value of `span`'s OpenTelemetry context, if it has one.
pub(crate) fn traceparent_of(span: &tracing::Span) -> Option<String> {
    format_traceparent(span.context().span().span_context())
}

/// Makes `span` (not entered yet) continue the trace `traceparent` names, when it names one.
pub(crate) fn continue_trace(span: &tracing::Span, traceparent: Option<&[u8]>) {
    if let Some(remote) = traceparent.and_then(parse_traceparent) {
        // Fails only without an OpenTelemetry layer or for a disabled span: nothing to continue.
        let _ = span.set_parent(Context::new().with_remote_span_context(remote));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn reads_and_writes_the_w3c_example() {
        let context = parse_traceparent(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(
            context.trace_id(),
            TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736)
        );
        assert_eq!(context.span_id(), SpanId::from(0x00f067aa0ba902b7));
        assert!(context.is_sampled());
        assert!(context.is_remote());
        assert_eq!(format_traceparent(&context).as_deref(), Some(EXAMPLE));
    }

    #[test]
    fn a_later_version_is_read_by_its_first_fields() {
        let later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more";
        let context = parse_traceparent(later.as_bytes()).unwrap();
        assert!(!context.is_sampled());
        assert_eq!(context.span_id(), SpanId::from(0x00f067aa0ba902b7));
    }

    #[test]
    fn refuses_what_is_not_a_traceparent() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        ] {
            assert_eq!(parse_traceparent(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(format_traceparent(&SpanContext::empty_context()), None);
    }
}
