//! The receive pipeline: the checks every delivery goes through, in order, once for all adapters.

use std::future::poll_fn;
use std::pin::pin;
use std::time::SystemTime;

use bytes::Bytes;
use futures_core::Stream;
use tracing::field::Empty;

use crate::config::{Verification, WebhookConfig};
use crate::decode::decode_event;
use crate::delivery::Delivery;
use crate::metrics::{self, Stopwatch};
use crate::refusal::{Acknowledgement, Refusal};
use crate::signature::{self, SignatureHeader, SigningKeys};

/// The W3C Trace Context request header that, with the `opentelemetry` feature, the receive
/// span continues.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// The header values the pipeline reads, as raw bytes (a header value need not be UTF-8; what
/// such a value means is decided here, not by each adapter). `None` means the header is absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestHeaders<'a> {
    /// `Content-Type`.
    pub content_type: Option<&'a [u8]>,
    /// `Content-Length`, as sent.
    pub content_length: Option<&'a [u8]>,
    /// `x-surfe-signature`.
    pub signature: Option<&'a [u8]>,
    /// `traceparent` (W3C Trace Context): with the `opentelemetry` feature, the receive span
    /// continues the trace it names; without it, it is not read.
    pub traceparent: Option<&'a [u8]>,
}

impl<'a> RequestHeaders<'a> {
    /// Headers from their raw values: `Content-Type`, `Content-Length` and `x-surfe-signature`
    /// (the first value of each, as sent).
    pub fn new(
        content_type: Option<&'a [u8]>,
        content_length: Option<&'a [u8]>,
        signature: Option<&'a [u8]>,
    ) -> Self {
        Self {
            content_type,
            content_length,
            signature,
            traceparent: None,
        }
    }

    /// These headers with the request's `traceparent`, read by `header` (a lookup of the
    /// request's header by name, [`TRACEPARENT_HEADER`]) only when the `opentelemetry` feature
    /// is on: without it the lookup is compiled out and the field stays `None`. Adapters call
    /// this, so every one of them continues the caller's trace the same way.
    #[cfg_attr(not(feature = "opentelemetry"), allow(unused_mut, unused_variables))]
    pub fn with_traceparent_from(
        mut self,
        header: impl FnOnce(&'static str) -> Option<&'a [u8]>,
    ) -> Self {
        #[cfg(feature = "opentelemetry")]
        {
            self.traceparent = header(TRACEPARENT_HEADER);
        }
        self
    }

    /// Headers from string values, for callers that hold them as text.
    pub fn from_strs(
        content_type: Option<&'a str>,
        content_length: Option<&'a str>,
        signature: Option<&'a str>,
    ) -> Self {
        Self::new(
            content_type.map(str::as_bytes),
            content_length.map(str::as_bytes),
            signature.map(str::as_bytes),
        )
    }

    /// The declared body length, when the header is a decimal number (saturating: a number too
    /// large for 64 bits is still over any limit). Anything else is left to the HTTP server.
    fn declared_length(&self) -> Option<u64> {
        let value = std::str::from_utf8(self.content_length?).ok()?.trim();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(value.parse().unwrap_or(u64::MAX))
    }
}

impl WebhookConfig {
    /// The headers' checks, then an empty collector for the body (the pipeline's own tests drive
    /// the collector directly).
    #[cfg(test)]
    fn start(&self, headers: &RequestHeaders<'_>) -> Result<BodyCollector, Refusal> {
        check_before_body(self, headers, SystemTime::now()).inspect_err(log_refusal)?;
        Ok(self.collector(headers))
    }

    /// An empty collector for a body whose headers passed [`check_before_body`].
    fn collector(&self, headers: &RequestHeaders<'_>) -> BodyCollector {
        let declared = headers
            .declared_length()
            .and_then(|length| usize::try_from(length).ok());
        BodyCollector {
            limit: self.body_limit,
            declared,
            received: 0,
            first: None,
            buffer: Vec::new(),
        }
    }

    /// Runs every check on a delivery whose body has been read, and decodes it.
    ///
    /// In order: media type (415), size (413), signature (401), JSON syntax (400), event shape
    /// (422). A body longer than the limit is refused here too, so a caller that read it some
    /// other way still cannot get past the limit.
    pub fn receive(
        &self,
        headers: &RequestHeaders<'_>,
        body: impl Into<Bytes>,
    ) -> Result<Delivery, Refusal> {
        self.receive_at(headers, body, SystemTime::now())
    }

    /// [`WebhookConfig::receive`] with an explicit clock, for tests and for replaying stored
    /// deliveries as of the time they arrived.
    pub fn receive_at(
        &self,
        headers: &RequestHeaders<'_>,
        body: impl Into<Bytes>,
        now: SystemTime,
    ) -> Result<Delivery, Refusal> {
        let stopwatch = Stopwatch::start();
        let body = body.into();
        stopwatch.stop(traced(headers.traceparent, || {
            let pending = check_before_body(self, headers, now)?;
            self.check_body(headers, pending, body, now)
        }))
    }

    /// Reads a body from `chunks` and runs every check: the one body-reading loop of every
    /// adapter.
    ///
    /// The headers are checked first (media type, a declared `Content-Length` against the limit,
    /// a present, well-formed and fresh signature header): a request they refuse is answered
    /// before `chunks` is polled once, so an HTTP/1.1 server need not send `100 Continue`.
    ///
    /// The body is never buffered past the limit (the chunk that would cross it is refused, not
    /// kept), and a body that arrives as one chunk is kept without a copy. Memory follows what
    /// arrives, never what is only declared: once a second chunk arrives the buffer's capacity
    /// stays within 10 % above the bytes received plus 4 KiB (and never above the limit, nor
    /// above a declared `Content-Length` the body has not yet reached). `classify` tells what a read error of the
    /// framework means (its own length limit, or a failed read).
    ///
    /// ```
    /// # async fn example() {
    /// use bytes::Bytes;
    /// use enrich_webhook::{BodyError, RequestHeaders, WebhookConfig};
    ///
    /// let config = WebhookConfig::insecure_skip_verification();
    /// let chunks = futures_util::stream::iter([
    ///     Ok::<_, std::io::Error>(Bytes::from_static(br#"{"eventType":"x","#)),
    ///     Ok(Bytes::from_static(br#""data":{}}"#)),
    /// ]);
    /// let delivery = config
    ///     .receive_body(&RequestHeaders::default(), chunks, |_| BodyError::Failed)
    ///     .await
    ///     .unwrap();
    /// assert_eq!(delivery.event().event_type(), "x");
    /// # }
    /// ```
    pub async fn receive_body<S, E>(
        &self,
        headers: &RequestHeaders<'_>,
        chunks: S,
        classify: impl Fn(&E) -> BodyError,
    ) -> Result<Delivery, Refusal>
    where
        S: Stream<Item = Result<Bytes, E>>,
    {
        let stopwatch = Stopwatch::start();
        stopwatch.stop(self.read_and_check(headers, chunks, classify).await)
    }

    /// [`WebhookConfig::receive_body`], unmeasured.
    async fn read_and_check<S, E>(
        &self,
        headers: &RequestHeaders<'_>,
        chunks: S,
        classify: impl Fn(&E) -> BodyError,
    ) -> Result<Delivery, Refusal>
    where
        S: Stream<Item = Result<Bytes, E>>,
    {
        // What `receive` checks, with the signature header parsed once: the header
        // checks before the first poll, the rest (the freshness again, as of the end of the read)
        // once the body is in.
        let pending =
            check_before_body(self, headers, SystemTime::now()).inspect_err(log_refusal)?;
        let mut collector = self.collector(headers);
        let mut chunks = pin!(chunks);
        while let Some(chunk) = poll_fn(|cx| chunks.as_mut().poll_next(cx)).await {
            match chunk.map_err(|error| classify(&error)) {
                Ok(chunk) => collector.push(chunk)?,
                Err(BodyError::TooLarge) => return Err(collector.limit_exceeded()),
                Err(BodyError::Failed) => return Err(collector.read_failed()),
            }
        }
        let body = collector.finish();
        traced(headers.traceparent, || {
            self.check_body(headers, pending, body, SystemTime::now())
        })
    }

    /// The checks that need the body, after [`check_before_body`] passed (`pending` is what it
    /// returned): size, signature (its freshness again as of `now`, then the tag), decoding.
    fn check_body(
        &self,
        headers: &RequestHeaders<'_>,
        pending: Option<PendingSignature<'_, '_>>,
        body: Bytes,
        now: SystemTime,
    ) -> Result<Delivery, Refusal> {
        metrics::body_read(body.len());
        if body.len() > self.body_limit {
            return Err(Refusal::PayloadTooLarge {
                limit: self.body_limit,
            });
        }
        let (signed_at, verified) = match &pending {
            Some(PendingSignature { keys, header }) => {
                header.check_freshness(self.tolerance, now)?;
                match keys {
                    Some(keys) => (Some(header.verify(keys, &body)?), true),
                    // Quarantined: well-formed and fresh, its tag left for the release.
                    None => (Some(header.timestamp()), false),
                }
            }
            // An unverified delivery's `t` is read from the kept header when asked for.
            None => (None, false),
        };
        let quarantined = pending
            .as_ref()
            .is_some_and(|pending| pending.keys.is_none());
        let event = decode_event(&body)?;
        Ok(Delivery {
            event: Box::new(event),
            raw_body: body,
            signature_header: headers
                .signature
                .and_then(|header| std::str::from_utf8(header).ok())
                .map(Box::from),
            signed_at,
            verified,
            quarantined,
            span: tracing::Span::none(),
        })
    }
}

/// What a framework's body read error means to the pipeline (see
/// [`WebhookConfig::receive_body`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// The framework's own body-size limit cut the body off: `payload_too_large`.
    TooLarge,
    /// The body could not be read to its end: `incomplete_body`.
    Failed,
}

/// Runs `checks` in a new `webhook_delivery` span (DEBUG), records the outcome on it, logs a
/// refusal in it, and hands an accepted delivery the span. With the `opentelemetry` feature,
/// the span continues the trace the request's `traceparent` names.
fn traced(
    #[cfg_attr(not(feature = "opentelemetry"), allow(unused_variables))] traceparent: Option<&[u8]>,
    checks: impl FnOnce() -> Result<Delivery, Refusal>,
) -> Result<Delivery, Refusal> {
    let span = tracing::debug_span!(
        "webhook_delivery",
        event_type = Empty,
        enrichment_id = Empty,
        verified = Empty,
        outcome = Empty,
    );
    #[cfg(feature = "opentelemetry")]
    crate::trace_context::continue_trace(&span, traceparent);
    match span.in_scope(checks) {
        Ok(delivery) => {
            span.record("event_type", delivery.event.event_type());
            span.record("enrichment_id", delivery.event.enrichment_id());
            span.record("verified", delivery.verified);
            if delivery.quarantined {
                span.record("outcome", "quarantined");
                span.in_scope(|| {
                    tracing::debug!("webhook delivery accepted unverified, to quarantine")
                });
                return Ok(Delivery { span, ..delivery });
            }
            span.record("outcome", "accepted");
            span.in_scope(|| tracing::debug!("webhook delivery accepted"));
            Ok(Delivery { span, ..delivery })
        }
        Err(refusal) => {
            span.record("outcome", refusal.code());
            span.in_scope(|| log_refusal(&refusal));
            Err(refusal)
        }
    }
}

/// A signature header that passed the checks before the body (well-formed, fresh), still to be
/// verified against the body with these keys (`None` when quarantining: no key is known).
struct PendingSignature<'c, 'h> {
    keys: Option<&'c SigningKeys>,
    header: SignatureHeader<'h>,
}

/// The checks the headers alone decide: media type, declared length, and, when verifying, a
/// signature header that is present, well-formed and fresh (returned parsed, for
/// [`WebhookConfig::check_body`]; without keys when quarantining). `None` when verification is
/// skipped.
fn check_before_body<'c, 'h>(
    config: &'c WebhookConfig,
    headers: &RequestHeaders<'h>,
    now: SystemTime,
) -> Result<Option<PendingSignature<'c, 'h>>, Refusal> {
    if let Some(content_type) = headers.content_type
        && !is_json_media_type(content_type)
    {
        return Err(Refusal::UnsupportedMediaType);
    }
    if let Some(length) = headers.declared_length()
        && length > config.body_limit as u64
    {
        return Err(Refusal::PayloadTooLarge {
            limit: config.body_limit,
        });
    }
    let keys = match &config.verification {
        Verification::Secrets(keys) => Some(keys),
        Verification::Quarantine => None,
        Verification::Skipped => return Ok(None),
    };
    let header = headers.signature.ok_or(Refusal::MissingSignature)?;
    let header = SignatureHeader::parse(header)
        .map_err(|problem| Refusal::from(signature::SignatureError::Malformed(problem)))?;
    header.check_freshness(config.tolerance, now)?;
    Ok(Some(PendingSignature { keys, header }))
}

/// Logs a refusal: signature failures at WARN (a wrong secret or an attack: the operator should
/// see them), every other refusal at DEBUG (a public URL gets scanned). Every refusal passes
/// here once, so it is counted here too (the `metrics` feature).
pub(crate) fn log_refusal(refusal: &Refusal) {
    metrics::refused(refusal);
    let (code, status) = (refusal.code(), refusal.status());
    if refusal.is_signature_failure() {
        tracing::warn!(code, status, "webhook delivery refused");
    } else {
        tracing::debug!(code, status, "webhook delivery refused");
    }
}

/// Logs the acknowledgement of an event not taken, at DEBUG.
pub(crate) fn log_acknowledgement() {
    tracing::debug!(
        code = Acknowledgement::CODE,
        status = Acknowledgement::STATUS,
        "webhook event ignored"
    );
}

/// Whether a `Content-Type` value names JSON: `application/json` or `application/<anything>+json`,
/// case-insensitive, with any parameters (`; charset=utf-8`).
pub fn is_json_media_type(value: &[u8]) -> bool {
    let Ok(value) = std::str::from_utf8(value) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let structured_json = subtype.len() > "+json".len()
        && subtype
            .get(subtype.len() - "+json".len()..)
            .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json"))
        && is_token(&subtype[..subtype.len() - "+json".len()]);
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || structured_json)
}

/// An RFC 9110 token: the characters allowed in a media type's names.
fn is_token(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
}

/// A request body being read under the configured limit.
///
/// Made by [`WebhookConfig::receive_body`]. It never holds more than the limit: the chunk that would
/// cross it is refused, not buffered. A body that arrives as one chunk is kept as it is, without
/// a copy.
///
/// Memory follows what arrives, never what is only declared: once a second chunk arrives the
/// chunks are copied into one buffer whose capacity is at most
/// [`GROWTH_PERCENT`](BodyCollector::GROWTH_PERCENT) % above the bytes received, plus
/// [`MIN_GROWTH`](BodyCollector::MIN_GROWTH) bytes (and never above the limit, nor above a
/// declared `Content-Length` the body has not yet reached). A sender that declares 1 MiB and
/// sends 3 bytes costs 3 bytes, not 1 MiB.
#[derive(Debug)]
pub(crate) struct BodyCollector {
    limit: usize,
    /// The declared length: an upper bound on the buffer while the body has not reached it.
    declared: Option<usize>,
    received: usize,
    first: Option<Bytes>,
    buffer: Vec<u8>,
}

impl BodyCollector {
    /// How far, in percent of the bytes received, the buffer's capacity may run ahead of them.
    pub(crate) const GROWTH_PERCENT: usize = 10;
    /// The smallest step the buffer grows by, so that a body in tiny chunks is not copied on
    /// every chunk.
    pub(crate) const MIN_GROWTH: usize = 4096;

    /// Appends the next chunk of the body, or refuses it with `payload_too_large` if the body
    /// would exceed the limit (stop reading then, and answer with the refusal).
    pub(crate) fn push(&mut self, chunk: Bytes) -> Result<(), Refusal> {
        if chunk.len() > self.remaining() {
            return Err(self.limit_exceeded());
        }
        if chunk.is_empty() {
            return Ok(());
        }
        self.received += chunk.len();
        match self.first.take() {
            None if self.buffer.is_empty() => self.first = Some(chunk),
            first => {
                self.make_room();
                if let Some(first) = first {
                    self.buffer.extend_from_slice(&first);
                }
                self.buffer.extend_from_slice(&chunk);
            }
        }
        Ok(())
    }

    /// Grows the buffer, if it must, to hold `self.received` bytes: by at most
    /// `GROWTH_PERCENT` % of them (at least `MIN_GROWTH`), capped by the limit and by a
    /// declared length the body has not passed.
    fn make_room(&mut self) {
        let needed = self.received;
        if needed <= self.buffer.capacity() {
            return;
        }
        let ahead = (needed / 100 * Self::GROWTH_PERCENT).max(Self::MIN_GROWTH);
        let mut target = needed.saturating_add(ahead).min(self.limit);
        if let Some(declared) = self.declared
            && declared >= needed
        {
            target = target.min(declared);
        }
        self.buffer
            .reserve_exact(target.max(needed) - self.buffer.len());
    }

    /// The refusal for a body that the framework itself cut off at this limit (its own length
    /// limit layer fired before the chunk reached [`BodyCollector::push`]).
    pub(crate) fn limit_exceeded(&self) -> Refusal {
        let refusal = Refusal::PayloadTooLarge { limit: self.limit };
        log_refusal(&refusal);
        refusal
    }

    /// The refusal for a body that could not be read to its end (the connection failed, or the
    /// sender stopped short of its `Content-Length`).
    pub(crate) fn read_failed(&self) -> Refusal {
        let refusal = Refusal::IncompleteBody;
        log_refusal(&refusal);
        refusal
    }

    /// How many more bytes fit under the limit.
    pub(crate) fn remaining(&self) -> usize {
        self.limit - self.received
    }

    /// The whole body, to hand to [`WebhookConfig::receive`].
    pub(crate) fn finish(self) -> Bytes {
        match self.first {
            Some(only) => only,
            None => Bytes::from(self.buffer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_json_media_types() {
        for accepted in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            " application/json ",
            "application/problem+json",
            "application/vnd.surfe.v2+json; charset=utf-8",
        ] {
            assert!(is_json_media_type(accepted.as_bytes()), "{accepted}");
        }
        for refused in [
            "text/plain",
            "text/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonp",
            "application/+json",
            "application/json+xml",
            "application",
            "",
            "json",
        ] {
            assert!(!is_json_media_type(refused.as_bytes()), "{refused}");
        }
        assert!(!is_json_media_type(b"application/json\xff"));
    }

    #[test]
    fn the_collector_holds_exactly_up_to_the_limit() {
        let config = WebhookConfig::insecure_skip_verification().body_limit(10);
        let mut body = config.start(&RequestHeaders::default()).unwrap();
        body.push(Bytes::from_static(b"12345")).unwrap();
        body.push(Bytes::new()).unwrap();
        body.push(Bytes::from_static(b"678")).unwrap();
        body.push(Bytes::from_static(b"90")).unwrap();
        assert_eq!(body.remaining(), 0);
        assert_eq!(
            body.push(Bytes::from_static(b"!")),
            Err(Refusal::PayloadTooLarge { limit: 10 })
        );
        assert_eq!(body.read_failed(), Refusal::IncompleteBody);
        assert_eq!(
            body.limit_exceeded(),
            Refusal::PayloadTooLarge { limit: 10 }
        );
        assert_eq!(body.finish(), Bytes::from_static(b"1234567890"));
    }

    #[test]
    fn a_body_in_one_chunk_is_kept_without_a_copy() {
        let config = WebhookConfig::insecure_skip_verification();
        let mut body = config.start(&RequestHeaders::default()).unwrap();
        let chunk = Bytes::from(b"{}".to_vec());
        let address = chunk.as_ptr();
        body.push(chunk).unwrap();
        assert_eq!(body.finish().as_ptr(), address);
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_before_reading() {
        let config = WebhookConfig::insecure_skip_verification().body_limit(10);
        let headers = |length: &'static str| RequestHeaders::from_strs(None, Some(length), None);
        assert!(config.start(&headers("10")).is_ok());
        assert_eq!(
            config.start(&headers("11")).unwrap_err(),
            Refusal::PayloadTooLarge { limit: 10 }
        );
        assert_eq!(
            config
                .start(&headers("99999999999999999999999"))
                .unwrap_err(),
            Refusal::PayloadTooLarge { limit: 10 }
        );
        assert!(
            config.start(&headers("ten")).is_ok(),
            "an unreadable Content-Length is left to the HTTP server and the collector"
        );
    }
}
