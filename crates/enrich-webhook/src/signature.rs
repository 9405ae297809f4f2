//! The `x-surfe-signature` scheme: `t=<unix ms>,v0=<hex HMAC-SHA256(secret, t + "." + body)>`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::Tolerance;
use crate::rejection::{Rejection, SignatureProblem};

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "x-surfe-signature";

type HmacSha256 = Hmac<Sha256>;

/// Length in bytes of an HMAC-SHA256 tag.
const TAG_LEN: usize = 32;

/// A signing secret with its HMAC key schedule computed once, not per delivery.
#[derive(Clone)]
pub(crate) struct SigningKey {
    // Kept so the secret lives (and is zeroized on drop) in `secrecy`'s type.
    _secret: SecretString,
    keyed: HmacSha256,
}

impl SigningKey {
    pub(crate) fn new(secret: SecretString) -> Self {
        let keyed = HmacSha256::new_from_slice(secret.expose_secret().as_bytes())
            .expect("HMAC accepts keys of any length");
        Self {
            _secret: secret,
            keyed,
        }
    }

    /// HMAC-SHA256 over `timestamp + "." + body`, the signed payload of the scheme.
    pub(crate) fn tag(&self, timestamp: &str, body: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = self.keyed.clone();
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([REDACTED])")
    }
}

/// When a delivery was signed: the `t` of its signature header, in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignatureTimestamp(u64);

impl SignatureTimestamp {
    /// A timestamp of `millis` milliseconds since the Unix epoch.
    pub const fn from_unix_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch, as sent.
    pub const fn unix_millis(&self) -> u64 {
        self.0
    }

    /// The same instant as a [`SystemTime`].
    pub fn to_system_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0)
    }
}

/// A parsed `x-surfe-signature` header value.
///
/// Elements are split on `,` and each on its first `=`; spaces around them are ignored, and
/// elements other than `t` and `v0` are skipped (the scheme may add versions). `t` must be decimal
/// digits (Unix **milliseconds**: a 10-digit seconds value reads as a time in early 1970 and so is
/// stale), and there must be at least one `v0` of 64 hex digits (either case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignatureHeader<'a> {
    /// `t` exactly as written: the signed payload uses these bytes, not a re-formatted number.
    timestamp_text: &'a str,
    timestamp: SignatureTimestamp,
    signatures: Vec<[u8; TAG_LEN]>,
}

impl<'a> SignatureHeader<'a> {
    pub(crate) fn parse(value: &'a [u8]) -> Result<Self, SignatureProblem> {
        let mut timestamp = None;
        let mut signatures = Vec::with_capacity(1);
        for element in elements(value)? {
            match element? {
                ("t", _) if timestamp.is_some() => return Err(SignatureProblem::RepeatedTimestamp),
                ("t", item) => timestamp = Some(parse_timestamp(item)?),
                ("v0", item) => signatures.push(parse_tag(item)?),
                _ => {}
            }
        }
        let (timestamp_text, timestamp) = timestamp.ok_or(SignatureProblem::MissingTimestamp)?;
        if signatures.is_empty() {
            return Err(SignatureProblem::MissingV0);
        }
        Ok(Self {
            timestamp_text,
            timestamp,
            signatures,
        })
    }

    /// Just the first readable `t` of a header, for deliveries that are not verified: their
    /// signatures are not worth decoding, and a malformed header is not refused.
    pub(crate) fn timestamp_only(value: &[u8]) -> Option<SignatureTimestamp> {
        elements(value)
            .ok()?
            .filter_map(Result::ok)
            .find(|(key, _)| *key == "t")
            .and_then(|(_, item)| parse_timestamp(item).ok())
            .map(|(_, timestamp)| timestamp)
    }

    pub(crate) fn timestamp(&self) -> SignatureTimestamp {
        self.timestamp
    }

    /// Refuses a timestamp outside `tolerance` around `now`.
    pub(crate) fn check_freshness(
        &self,
        tolerance: Tolerance,
        now: SystemTime,
    ) -> Result<(), Rejection> {
        let now_ms = now.duration_since(UNIX_EPOCH).map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        });
        let signed_ms = self.timestamp.unix_millis();
        if let Some(max_age) = tolerance.max_age()
            && now_ms > signed_ms
            && Duration::from_millis(now_ms - signed_ms) > max_age
        {
            return Err(Rejection::StaleTimestamp {
                age_ms: i128::from(now_ms) - i128::from(signed_ms),
                tolerance_ms: max_age.as_millis(),
            });
        }
        if let Some(max_future) = tolerance.max_future()
            && signed_ms > now_ms
            && Duration::from_millis(signed_ms - now_ms) > max_future
        {
            return Err(Rejection::StaleTimestamp {
                age_ms: i128::from(now_ms) - i128::from(signed_ms),
                tolerance_ms: max_future.as_millis(),
            });
        }
        Ok(())
    }

    /// Whether any `v0` is the tag of `body` under any key. Every comparison is constant-time, and
    /// every pair is compared (no early exit that would tell which one matched).
    pub(crate) fn is_signed_by_any(&self, keys: &[SigningKey], body: &[u8]) -> bool {
        let mut matched = subtle::Choice::from(0);
        for key in keys {
            let expected = key.tag(self.timestamp_text, body);
            for candidate in &self.signatures {
                matched |= expected.ct_eq(candidate);
            }
        }
        matched.into()
    }
}

/// The `key=value` elements of a header value, spaces around each part removed and empty
/// elements skipped.
fn elements(
    value: &[u8],
) -> Result<impl Iterator<Item = Result<(&str, &str), SignatureProblem>>, SignatureProblem> {
    if !value.is_ascii() {
        return Err(SignatureProblem::NotAscii);
    }
    let value = std::str::from_utf8(value).map_err(|_| SignatureProblem::NotAscii)?;
    Ok(value
        .split(',')
        .map(|element| element.trim_matches(' '))
        .filter(|element| !element.is_empty())
        .map(|element| {
            let (key, item) = element
                .split_once('=')
                .ok_or(SignatureProblem::ElementWithoutEquals)?;
            Ok((key.trim_matches(' '), item.trim_matches(' ')))
        }))
}

fn parse_timestamp(text: &str) -> Result<(&str, SignatureTimestamp), SignatureProblem> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureProblem::TimestampNotDigits);
    }
    let millis = text
        .parse()
        .map_err(|_| SignatureProblem::TimestampOutOfRange)?;
    Ok((text, SignatureTimestamp(millis)))
}

fn parse_tag(text: &str) -> Result<[u8; TAG_LEN], SignatureProblem> {
    let mut tag = [0; TAG_LEN];
    hex::decode_to_slice(text, &mut tag).map_err(|_| SignatureProblem::V0NotHex)?;
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spaces_unknown_elements_and_several_signatures() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let value = format!(" t = 1758468698287 , v1=whatever, v0={a},v0 ={b}, ");
        let header = SignatureHeader::parse(value.as_bytes()).unwrap();
        assert_eq!(header.timestamp_text, "1758468698287");
        assert_eq!(header.timestamp.unix_millis(), 1_758_468_698_287);
        assert_eq!(header.signatures, vec![[0xaa; 32], [0xbb; 32]]);
    }

    #[test]
    fn names_what_is_malformed() {
        let v0 = format!("v0={}", "0".repeat(64));
        let cases: [(String, SignatureProblem); 9] = [
            (v0.clone(), SignatureProblem::MissingTimestamp),
            ("t=1".into(), SignatureProblem::MissingV0),
            (format!("t=,{v0}"), SignatureProblem::TimestampNotDigits),
            (format!("t=-5,{v0}"), SignatureProblem::TimestampNotDigits),
            (
                format!("t=99999999999999999999999,{v0}"),
                SignatureProblem::TimestampOutOfRange,
            ),
            (format!("t=1,t=2,{v0}"), SignatureProblem::RepeatedTimestamp),
            (
                format!("t=1,v0={}", "0".repeat(63)),
                SignatureProblem::V0NotHex,
            ),
            (
                format!("t=1,v0={}", "g".repeat(64)),
                SignatureProblem::V0NotHex,
            ),
            (
                format!("t=1,{v0},garbage"),
                SignatureProblem::ElementWithoutEquals,
            ),
        ];
        for (value, problem) in cases {
            assert_eq!(
                SignatureHeader::parse(value.as_bytes()),
                Err(problem),
                "{value}"
            );
        }
        assert_eq!(
            SignatureHeader::parse(b"t=1,v0=\xff"),
            Err(SignatureProblem::NotAscii)
        );
    }
}
