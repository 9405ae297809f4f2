//! The `x-surfe-signature` scheme on its own: [`sign`] and [`verify`], with no HTTP in sight.
//!
//! A header value is `t=<unix ms>,v0=<lowercase hex HMAC-SHA256(secret, t + "." + body)>`. The
//! receive pipeline uses this module; so can anything else that holds a body and its header (a
//! Lambda, an actix handler, a queue consumer, or an inbox verifying a stored delivery again).
//!
//! ```
//! use std::time::Duration;
//! use enrich_webhook::signature::{self, SignatureTimestamp, SigningKeys, Tolerance};
//!
//! let keys = SigningKeys::new(["whsec_test_secret"])?;
//! let body = br#"{"eventType":"person.enrichment.completed","data":{}}"#;
//! let sent = SignatureTimestamp::from_unix_millis(1758468698287);
//! let header = signature::sign("whsec_test_secret", sent, body);
//!
//! // Received one second after it was signed:
//! let now = sent.to_system_time() + Duration::from_secs(1);
//! let signed_at = signature::verify(&keys, header.as_bytes(), body, Tolerance::default(), now)?;
//! assert_eq!(signed_at, sent);
//!
//! // Another body under the same header does not verify.
//! assert!(signature::verify(&keys, header.as_bytes(), b"{}", Tolerance::default(), now).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "x-surfe-signature";

/// The longest signature header value read, in bytes. The API sends about 80 (`t` and one `v0`);
/// this leaves room for several signatures during a secret rotation, and bounds the work an
/// attacker can ask for with one header.
pub const MAX_HEADER_BYTES: usize = 1024;

/// The most `v0` elements read from one header; more is
/// [`SignatureProblem::TooManySignatures`]. Each is compared against every configured secret.
pub const MAX_SIGNATURES: usize = 8;

type HmacSha256 = Hmac<Sha256>;

/// Length in bytes of an HMAC-SHA256 tag.
const TAG_LEN: usize = 32;

/// The signing secrets a receiver accepts: one, or several while rotating (a delivery signed by
/// any of them verifies). Cloning is cheap; the secrets never appear in `Debug`.
#[derive(Clone)]
pub struct SigningKeys(Arc<[SecretString]>);

impl SigningKeys {
    /// The keys for `secrets`. Fails on an empty list or an empty secret.
    pub fn new<I, S>(secrets: I) -> Result<Self, KeyError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let secrets = secrets
            .into_iter()
            .map(|secret| {
                let secret = secret.into();
                if secret.is_empty() {
                    Err(KeyError::EmptySecret)
                } else {
                    Ok(SecretString::from(secret))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if secrets.is_empty() {
            return Err(KeyError::NoSecret);
        }
        Ok(Self(secrets.into()))
    }

    /// How many secrets are accepted.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false`: a key set holds at least one secret.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKeys({} secret(s), redacted)", self.0.len())
    }
}

/// Why a [`SigningKeys`] could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// No secret was given.
    NoSecret,
    /// A secret was the empty string.
    EmptySecret,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoSecret => "no webhook signing secret was given",
            Self::EmptySecret => "a webhook signing secret is empty",
        })
    }
}

impl std::error::Error for KeyError {}

/// HMAC-SHA256 of `timestamp + "." + body` under `secret`: the tag of the scheme.
///
/// The keyed HMAC state (the SHA-256 states after the key's inner and outer pads) lives only in
/// this call and is zeroized when dropped (`hmac`'s and `sha2`'s `zeroize` features).
fn tag(secret: &[u8], timestamp: &str, body: &[u8]) -> [u8; TAG_LEN] {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The `x-surfe-signature` header value the API sends for `body`, signed with `secret` at
/// `timestamp`: `t=<unix ms>,v0=<lowercase hex HMAC-SHA256>`.
///
/// ```
/// use enrich_webhook::signature::{SignatureTimestamp, sign};
///
/// // The reference test vector of the signature scheme.
/// let body = br#"{"eventType":"person.enrichment.completed","data":{}}"#;
/// assert_eq!(
///     sign("whsec_test_secret", SignatureTimestamp::from_unix_millis(1758468698287), body),
///     "t=1758468698287,v0=f1d03b2e214071b637728a7ae27f86adcf918434f2da11c74eef7128b93a9d28",
/// );
/// ```
pub fn sign(secret: &str, timestamp: SignatureTimestamp, body: &[u8]) -> String {
    let t = timestamp.unix_millis().to_string();
    format!("t={t},v0={}", hex::encode(tag(secret.as_bytes(), &t, body)))
}

/// Checks a signature header against `body`: well-formed, `t` within `tolerance` of `now`, and a
/// `v0` that is the tag of `body` under one of `keys`. Returns when the body was signed.
///
/// Every comparison is constant-time, and every (key, `v0`) pair is compared, so the time taken
/// tells nothing about which one matched.
pub fn verify(
    keys: &SigningKeys,
    header: &[u8],
    body: &[u8],
    tolerance: Tolerance,
    now: SystemTime,
) -> Result<SignatureTimestamp, SignatureError> {
    let header = SignatureHeader::parse(header).map_err(SignatureError::Malformed)?;
    header.check_freshness(tolerance, now)?;
    header.verify(keys, body)
}

/// The headers-only part of [`verify`]: the header is well-formed and its `t` is within
/// `tolerance` of `now`. A receiver runs this before reading the body, so that a request no
/// body could make genuine is refused without reading it.
pub fn check_header(
    header: &[u8],
    tolerance: Tolerance,
    now: SystemTime,
) -> Result<SignatureTimestamp, SignatureError> {
    let header = SignatureHeader::parse(header).map_err(SignatureError::Malformed)?;
    header.check_freshness(tolerance, now)?;
    Ok(header.timestamp)
}

/// Just the first readable `t` of a header, without checking anything else: what an unverified
/// delivery records as its signature time.
pub fn timestamp_of(header: &[u8]) -> Option<SignatureTimestamp> {
    if header.len() > MAX_HEADER_BYTES {
        return None;
    }
    elements(header)
        .ok()?
        .filter_map(Result::ok)
        .find(|(key, _)| *key == "t")
        .and_then(|(_, item)| parse_timestamp(item).ok())
        .map(|(_, timestamp)| timestamp)
}

/// Why a signature does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    /// The header is not `t=<digits>,v0=<64 hex>[,…]`.
    Malformed(SignatureProblem),
    /// `t` is outside the tolerance.
    Stale {
        /// Now minus the signature time, in milliseconds (negative: in the future).
        age_ms: i128,
        /// The tolerance that was exceeded, in milliseconds.
        tolerance_ms: u128,
    },
    /// No `v0` is the tag of the body under any key.
    Mismatch,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(problem) => {
                write!(f, "the x-surfe-signature header is malformed: {problem}")
            }
            Self::Stale {
                age_ms,
                tolerance_ms,
            } if *age_ms < 0 => write!(
                f,
                "the signature timestamp is {} ms in the future; at most {tolerance_ms} ms is \
                 accepted (t is in Unix milliseconds)",
                age_ms.unsigned_abs()
            ),
            Self::Stale {
                age_ms,
                tolerance_ms,
            } => write!(
                f,
                "the signature timestamp is {age_ms} ms old; at most {tolerance_ms} ms is accepted \
                 (t is in Unix milliseconds)"
            ),
            Self::Mismatch => {
                f.write_str("no v0 signature matches the body under any configured secret")
            }
        }
    }
}

impl std::error::Error for SignatureError {}

/// Why a signature header is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureProblem {
    /// The header has bytes outside ASCII.
    NotAscii,
    /// The header is longer than [`MAX_HEADER_BYTES`].
    TooLong,
    /// An element has no `=`.
    ElementWithoutEquals,
    /// There is no `t` element.
    MissingTimestamp,
    /// There are several `t` elements.
    RepeatedTimestamp,
    /// `t` is not a run of decimal digits.
    TimestampNotDigits,
    /// `t` does not fit in 64 bits.
    TimestampOutOfRange,
    /// There is no `v0` element.
    MissingV0,
    /// There are more than [`MAX_SIGNATURES`] `v0` elements.
    TooManySignatures,
    /// A `v0` is not 64 hexadecimal digits.
    V0NotHex,
}

impl fmt::Display for SignatureProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAscii => f.write_str("the header has non-ASCII bytes"),
            Self::TooLong => write!(f, "the header is longer than {MAX_HEADER_BYTES} bytes"),
            Self::ElementWithoutEquals => f.write_str("an element has no `=`"),
            Self::MissingTimestamp => f.write_str("there is no `t=` element"),
            Self::RepeatedTimestamp => f.write_str("there is more than one `t=` element"),
            Self::TimestampNotDigits => f.write_str("`t` is not a decimal number of milliseconds"),
            Self::TimestampOutOfRange => f.write_str("`t` is too large"),
            Self::MissingV0 => f.write_str("there is no `v0=` element"),
            Self::TooManySignatures => {
                write!(f, "there are more than {MAX_SIGNATURES} `v0=` elements")
            }
            Self::V0NotHex => f.write_str("a `v0` is not 64 hexadecimal digits"),
        }
    }
}

/// How far a signature's timestamp may be from the receiver's clock.
///
/// The API promises replay protection through the timestamp but states no tolerance; the default
/// follows common practice: up to 5 minutes old (deliveries queue and retry) and up to 1 minute in
/// the future (clock skew).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerance {
    max_age: Option<Duration>,
    max_future: Option<Duration>,
}

impl Tolerance {
    /// Accept timestamps at most `max_age` old and at most `max_future` ahead (both inclusive).
    pub const fn new(max_age: Duration, max_future: Duration) -> Self {
        Self {
            max_age: Some(max_age),
            max_future: Some(max_future),
        }
    }

    /// Accept any timestamp, however old: for verifying stored deliveries again. The signature
    /// itself is still verified.
    pub const fn unchecked() -> Self {
        Self {
            max_age: None,
            max_future: None,
        }
    }

    /// The oldest accepted age, or `None` when unchecked.
    pub const fn max_age(&self) -> Option<Duration> {
        self.max_age
    }

    /// The furthest accepted distance into the future, or `None` when unchecked.
    pub const fn max_future(&self) -> Option<Duration> {
        self.max_future
    }
}

impl Default for Tolerance {
    /// 5 minutes old, 1 minute ahead.
    fn default() -> Self {
        Self::new(Duration::from_secs(5 * 60), Duration::from_secs(60))
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

    /// The current time.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// The same instant as `time`, to the millisecond (before the epoch reads as the epoch).
    pub fn from_system_time(time: SystemTime) -> Self {
        Self(time.duration_since(UNIX_EPOCH).map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        }))
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
///
/// The receive pipeline parses a request's header once, before reading the body, and verifies
/// the body against this parsed form once it has been read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignatureHeader<'a> {
    /// `t` exactly as written: the signed payload uses these bytes, not a re-formatted number.
    timestamp_text: &'a str,
    timestamp: SignatureTimestamp,
    /// The `v0` tags: the first `count` entries are set (at most [`MAX_SIGNATURES`], kept in
    /// place rather than on the heap).
    tags: [[u8; TAG_LEN]; MAX_SIGNATURES],
    count: usize,
}

impl<'a> SignatureHeader<'a> {
    pub(crate) fn parse(value: &'a [u8]) -> Result<Self, SignatureProblem> {
        if value.len() > MAX_HEADER_BYTES {
            return Err(SignatureProblem::TooLong);
        }
        let mut timestamp = None;
        let mut tags = [[0; TAG_LEN]; MAX_SIGNATURES];
        let mut count = 0;
        for element in elements(value)? {
            match element? {
                ("t", _) if timestamp.is_some() => return Err(SignatureProblem::RepeatedTimestamp),
                ("t", item) => timestamp = Some(parse_timestamp(item)?),
                ("v0", item) => {
                    let slot = tags
                        .get_mut(count)
                        .ok_or(SignatureProblem::TooManySignatures)?;
                    *slot = parse_tag(item)?;
                    count += 1;
                }
                _ => {}
            }
        }
        let (timestamp_text, timestamp) = timestamp.ok_or(SignatureProblem::MissingTimestamp)?;
        if count == 0 {
            return Err(SignatureProblem::MissingV0);
        }
        Ok(Self {
            timestamp_text,
            timestamp,
            tags,
            count,
        })
    }

    /// The header's `t`: when the sender says it signed the delivery.
    pub(crate) fn timestamp(&self) -> SignatureTimestamp {
        self.timestamp
    }

    /// The `v0` tags, in header order.
    fn signatures(&self) -> &[[u8; TAG_LEN]] {
        &self.tags[..self.count]
    }

    /// Checks `body` against every `v0` under every key, in constant time (every pair is
    /// compared, so the time taken tells nothing about which one matched). Returns `t`.
    pub(crate) fn verify(
        &self,
        keys: &SigningKeys,
        body: &[u8],
    ) -> Result<SignatureTimestamp, SignatureError> {
        let mut matched = subtle::Choice::from(0);
        for secret in keys.0.iter() {
            let expected = tag(secret.expose_secret().as_bytes(), self.timestamp_text, body);
            for candidate in self.signatures() {
                matched |= expected.ct_eq(candidate);
            }
        }
        if bool::from(matched) {
            Ok(self.timestamp)
        } else {
            Err(SignatureError::Mismatch)
        }
    }

    /// Refuses a timestamp outside `tolerance` around `now`.
    pub(crate) fn check_freshness(
        &self,
        tolerance: Tolerance,
        now: SystemTime,
    ) -> Result<(), SignatureError> {
        let now_ms = SignatureTimestamp::from_system_time(now).unix_millis();
        let signed_ms = self.timestamp.unix_millis();
        let age_ms = i128::from(now_ms) - i128::from(signed_ms);
        let (limit, distance) = if age_ms >= 0 {
            (tolerance.max_age(), now_ms - signed_ms)
        } else {
            (tolerance.max_future(), signed_ms - now_ms)
        };
        match limit {
            Some(limit) if Duration::from_millis(distance) > limit => Err(SignatureError::Stale {
                age_ms,
                tolerance_ms: limit.as_millis(),
            }),
            _ => Ok(()),
        }
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

    /// Compiles only while the SHA-256 states that make up the keyed `Hmac<Sha256>` wipe
    /// themselves on drop (`sha2`'s `zeroize` feature, which `hmac`'s turns on in `digest`).
    #[test]
    fn the_keyed_hmac_state_is_zeroized_on_drop() {
        fn zeroized_on_drop<T: sha2::digest::zeroize::ZeroizeOnDrop>() {}
        zeroized_on_drop::<sha2::block_api::Sha256VarCore>();
        zeroized_on_drop::<Sha256>();
        assert_eq!(tag(b"k", "1", b"{}"), tag(b"k", "1", b"{}"));
    }

    #[test]
    fn parses_spaces_unknown_elements_and_several_signatures() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let value = format!(" t = 1758468698287 , v1=whatever, v0={a},v0 ={b}, ");
        let header = SignatureHeader::parse(value.as_bytes()).unwrap();
        assert_eq!(header.timestamp_text, "1758468698287");
        assert_eq!(header.timestamp.unix_millis(), 1_758_468_698_287);
        assert_eq!(header.signatures(), &[[0xaa; 32], [0xbb; 32]]);
    }

    #[test]
    fn names_what_is_malformed() {
        let v0 = format!("v0={}", "0".repeat(64));
        let cases: [(String, SignatureProblem); 11] = [
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
            (
                format!("t=1{}", format!(",{v0}").repeat(MAX_SIGNATURES + 1)),
                SignatureProblem::TooManySignatures,
            ),
            (
                format!("t=1,{v0},x={}", "y".repeat(MAX_HEADER_BYTES)),
                SignatureProblem::TooLong,
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

    #[test]
    fn the_most_signatures_allowed_still_parse() {
        let v0 = format!(",v0={}", "0".repeat(64));
        let value = format!("t=1{}", v0.repeat(MAX_SIGNATURES));
        assert!(value.len() <= MAX_HEADER_BYTES);
        let header = SignatureHeader::parse(value.as_bytes()).unwrap();
        assert_eq!(header.signatures().len(), MAX_SIGNATURES);
    }

    #[test]
    fn verifies_under_any_key_and_refuses_the_rest() {
        let keys = SigningKeys::new(["new", "old"]).unwrap();
        let at = SignatureTimestamp::from_unix_millis(1_758_468_698_287);
        let now = at.to_system_time();
        let tolerance = Tolerance::default();
        for secret in ["new", "old"] {
            let header = sign(secret, at, b"{}");
            assert_eq!(
                verify(&keys, header.as_bytes(), b"{}", tolerance, now),
                Ok(at)
            );
        }
        let other = sign("other", at, b"{}");
        assert_eq!(
            verify(&keys, other.as_bytes(), b"{}", tolerance, now),
            Err(SignatureError::Mismatch)
        );
        let later = now + Duration::from_secs(301);
        assert!(matches!(
            verify(
                &keys,
                sign("new", at, b"{}").as_bytes(),
                b"{}",
                tolerance,
                later
            ),
            Err(SignatureError::Stale {
                age_ms: 301_000,
                ..
            })
        ));
        assert_eq!(
            SigningKeys::new(Vec::<String>::new()).unwrap_err(),
            KeyError::NoSecret
        );
        assert_eq!(
            SigningKeys::new(["a", ""]).unwrap_err(),
            KeyError::EmptySecret
        );
        assert!(!format!("{keys:?}").contains("new"));
    }
}
