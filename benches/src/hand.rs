//! Route (e): what a user writes by hand instead of taking our extractor.
//!
//! The check every webhook guide shows: split the `x-surfe-signature` header into `t` and `v0`,
//! refuse a `t` outside the tolerance, compute HMAC-SHA256 of `t + "." + body` with `hmac` and
//! `sha2`, compare with `verify_slice` (constant time), then `serde_json::from_slice` into
//! [`WebhookEvent`]. It uses no crate of this workspace but `enrich-types`, and is written plainly,
//! as an application would write it once: no limit of its own beyond the framework's, no media
//! type check, no problem+json answers. Each benchmark server wraps [`receive`] in a handler
//! of its framework that reads the raw body and the header.

use std::time::{SystemTime, UNIX_EPOCH};

use enrich_types::WebhookEvent;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header the signature arrives in.
pub const SIGNATURE_HEADER: &str = "x-surfe-signature";

/// How old a signature may be: 5 minutes, the library's default tolerance.
const MAX_AGE_MS: u64 = 5 * 60 * 1000;

/// How far ahead of this clock a signature may be: 1 minute, the library's default tolerance.
const MAX_FUTURE_MS: u64 = 60 * 1000;

/// What the handler answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The signature verified and the body decoded: `200`.
    Ok,
    /// No signature, a malformed or stale one, or one that does not match: `401`.
    Unauthorized,
    /// The body is not a webhook event: `400`.
    BadRequest,
}

impl Status {
    /// The HTTP status code.
    pub fn code(self) -> u16 {
        match self {
            Self::Ok => 200,
            Self::Unauthorized => 401,
            Self::BadRequest => 400,
        }
    }
}

/// Verifies `signature` (the header value, if any) over `body` with `secret`, decodes the event
/// and hands it to `sink`.
pub fn receive(
    secret: &[u8],
    signature: Option<&[u8]>,
    body: &[u8],
    sink: impl FnOnce(WebhookEvent),
) -> Status {
    let Some(signature) = signature else {
        return Status::Unauthorized;
    };
    if !verify_signature(secret, signature, body, now_millis()) {
        return Status::Unauthorized;
    }
    match serde_json::from_slice::<WebhookEvent>(body) {
        Ok(event) => {
            sink(event);
            Status::Ok
        }
        Err(_) => Status::BadRequest,
    }
}

/// Whether `header` (`t=<unix ms>,v0=<hex>`) is a fresh signature of `body` under `secret`.
pub fn verify_signature(secret: &[u8], header: &[u8], body: &[u8], now_ms: u64) -> bool {
    let Ok(header) = std::str::from_utf8(header) else {
        return false;
    };
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = Some(value),
            Some(("v0", value)) => signature = Some(value),
            _ => {}
        }
    }
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return false;
    };
    let Ok(sent_ms) = timestamp.parse::<u64>() else {
        return false;
    };
    if now_ms.saturating_sub(sent_ms) > MAX_AGE_MS || sent_ms.saturating_sub(now_ms) > MAX_FUTURE_MS
    {
        return false;
    }
    let Ok(signature) = hex::decode(signature) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

/// The current time in Unix milliseconds.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use enrich_webhook::signature::{SignatureTimestamp, sign};

    use super::*;
    use crate::payload::{SECRET, realistic_event};

    #[test]
    fn agrees_with_the_library_signer() {
        let body = realistic_event();
        let sent = SignatureTimestamp::from_unix_millis(1_758_468_698_287);
        let header = sign(SECRET, sent, &body);
        let at = sent.unix_millis();
        assert!(verify_signature(
            SECRET.as_bytes(),
            header.as_bytes(),
            &body,
            at
        ));
        assert!(verify_signature(
            SECRET.as_bytes(),
            header.as_bytes(),
            &body,
            at + MAX_AGE_MS
        ));
        assert!(!verify_signature(
            SECRET.as_bytes(),
            header.as_bytes(),
            &body,
            at + MAX_AGE_MS + 1
        ));
        assert!(verify_signature(
            SECRET.as_bytes(),
            header.as_bytes(),
            &body,
            at - MAX_FUTURE_MS
        ));
        assert!(!verify_signature(
            SECRET.as_bytes(),
            header.as_bytes(),
            &body,
            at - MAX_FUTURE_MS - 1
        ));
        assert!(!verify_signature(
            b"another secret",
            header.as_bytes(),
            &body,
            at
        ));
        assert!(!verify_signature(
            SECRET.as_bytes(),
            header.as_bytes(),
            b"{}",
            at
        ));
        assert!(!verify_signature(SECRET.as_bytes(), b"t=1,v0=zz", &body, 1));
    }

    #[test]
    fn answers_like_a_receiver() {
        let body = realistic_event();
        let header = sign(SECRET, SignatureTimestamp::now(), &body);
        let mut taken = None;
        let status = receive(SECRET.as_bytes(), Some(header.as_bytes()), &body, |event| {
            taken = Some(event)
        });
        assert_eq!(status.code(), 200);
        assert_eq!(
            taken.map(|event| event.event_type().to_owned()).as_deref(),
            Some("person.enrichment.completed")
        );
        assert_eq!(
            receive(SECRET.as_bytes(), None, &body, drop),
            Status::Unauthorized
        );
        let header = sign(SECRET, SignatureTimestamp::now(), b"[]");
        assert_eq!(
            receive(SECRET.as_bytes(), Some(header.as_bytes()), b"[]", drop),
            Status::BadRequest
        );
    }
}
