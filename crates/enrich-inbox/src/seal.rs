//! Encryption at rest: the sealed form of a stored body and of a stored error text, and the
//! [`Sealer`] that seals them on write and opens them on read.
//!
//! A sealed value describes itself: a marker, the id of the key it was sealed under, a random
//! 96-bit nonce, and the AES-256-GCM ciphertext with its tag. A value without the marker is
//! plaintext (stored before encryption was turned on, or with it off), and reads as it is, so a
//! table may hold both. A body is sealed with its idempotency key as associated data, an error
//! text with its delivery's id: a sealed value copied into another row does not open.
//!
//! Detecting a sealed value needs no key and no crate feature: a build without `encryption`
//! that meets one fails with [`Error::MissingKey`] naming the key, never reads it as plaintext.

use bytes::Bytes;

use crate::error::Error;
use crate::record::{DeliveryId, StoredDelivery};

/// The first bytes of a sealed body: a NUL (no JSON body starts with one), `EIS`, format 1.
/// Then the key id's length (one byte), the key id, the nonce and the ciphertext.
pub(crate) const BODY_MARKER: &[u8] = b"\0EIS\x01";

/// The start of a sealed error text; then the key id, `:`, and the nonce and ciphertext in
/// base64 (standard alphabet, padded).
pub(crate) const TEXT_MARKER: &str = "enrich-inbox-sealed:1:";

/// The associated data of a sealed value: what it is, the key id, and what it belongs to.
#[cfg_attr(not(feature = "encryption"), allow(dead_code))]
fn associated_data(kind: &str, key_id: &str, owner: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(kind.len() + key_id.len() + owner.len() + 2);
    data.extend_from_slice(kind.as_bytes());
    data.push(0);
    data.extend_from_slice(key_id.as_bytes());
    data.push(0);
    data.extend_from_slice(owner);
    data
}

/// The key id and the sealed payload (nonce and ciphertext) of a sealed body; `None` for a
/// plaintext one.
pub(crate) fn parse_body(stored: &[u8]) -> Result<Option<(&str, &[u8])>, Error> {
    let Some(rest) = stored.strip_prefix(BODY_MARKER) else {
        return Ok(None);
    };
    let corrupt = Error::CorruptRow { column: "raw_body" };
    let (&length, rest) = rest.split_first().ok_or(corrupt.clone())?;
    let length = usize::from(length);
    if rest.len() < length {
        return Err(corrupt);
    }
    let (key_id, payload) = rest.split_at(length);
    let key_id = std::str::from_utf8(key_id).map_err(|_| corrupt)?;
    Ok(Some((key_id, payload)))
}

/// The key id and the sealed payload, still in base64, of a sealed error text; `None` for a
/// plaintext one.
pub(crate) fn parse_text(stored: &str) -> Result<Option<(&str, &str)>, Error> {
    let Some(rest) = stored.strip_prefix(TEXT_MARKER) else {
        return Ok(None);
    };
    rest.split_once(':').map(Some).ok_or(Error::CorruptRow {
        column: "last_error",
    })
}

/// Seals what the inbox writes and opens what it reads, under the inbox's keyring (none: writes
/// stay plaintext, and a sealed value read is an [`Error::MissingKey`]).
#[derive(Clone, Default)]
pub(crate) struct Sealer {
    #[cfg(feature = "encryption")]
    keyring: Option<std::sync::Arc<crate::keyring::Keyring>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("current_key_id", &self.current_key_id())
            .finish()
    }
}

impl Sealer {
    /// A sealer that seals under `keyring`'s current key and opens under any of its keys.
    #[cfg(feature = "encryption")]
    pub fn new(keyring: crate::keyring::Keyring) -> Self {
        Self {
            keyring: Some(std::sync::Arc::new(keyring)),
        }
    }

    /// The id of the key new values are sealed under; `None` when writes stay plaintext.
    pub fn current_key_id(&self) -> Option<&str> {
        #[cfg(feature = "encryption")]
        if let Some(keyring) = &self.keyring {
            return Some(keyring.current_key_id());
        }
        None
    }

    /// How values sealed under the current key start (a body, an error text); `None` without
    /// a keyring.
    #[cfg(feature = "encryption")]
    pub fn current_prefixes(&self) -> Option<crate::backend::CurrentPrefixes> {
        let key_id = self.current_key_id()?;
        let mut body = BODY_MARKER.to_vec();
        body.push(u8::try_from(key_id.len()).unwrap_or(u8::MAX));
        body.extend_from_slice(key_id.as_bytes());
        Some(crate::backend::CurrentPrefixes {
            body,
            text: format!("{TEXT_MARKER}{key_id}:"),
        })
    }

    /// `body` as it is to be stored under idempotency key `key`: sealed under the current key,
    /// or as it is without a keyring.
    pub fn seal_body(&self, key: &str, body: Bytes) -> Result<Bytes, Error> {
        #[cfg(feature = "encryption")]
        if let Some(keyring) = &self.keyring {
            let key_id = keyring.current_key_id();
            let sealed = keyring.seal(&associated_data("body", key_id, key.as_bytes()), &body)?;
            let mut stored =
                Vec::with_capacity(BODY_MARKER.len() + 1 + key_id.len() + sealed.len());
            stored.extend_from_slice(BODY_MARKER);
            // Key ids are at most `keyring::MAX_KEY_ID_LEN` (64) bytes long.
            stored.push(u8::try_from(key_id.len()).unwrap_or(u8::MAX));
            stored.extend_from_slice(key_id.as_bytes());
            stored.extend_from_slice(&sealed);
            return Ok(Bytes::from(stored));
        }
        let _ = key;
        Ok(body)
    }

    /// The body stored under idempotency key `key`, opened (a plaintext one as it is).
    pub fn open_body(&self, key: &str, stored: Bytes) -> Result<Bytes, Error> {
        let Some((key_id, payload)) = parse_body(&stored)? else {
            return Ok(stored);
        };
        let associated = associated_data("body", key_id, key.as_bytes());
        self.open(key_id, &associated, payload).map(Bytes::from)
    }

    /// `text`, the error text of delivery `id`, as it is to be stored: sealed under the current
    /// key, or as it is without a keyring.
    pub fn seal_text(&self, id: DeliveryId, text: String) -> Result<String, Error> {
        #[cfg(feature = "encryption")]
        if let Some(keyring) = &self.keyring {
            use base64::Engine as _;
            let key_id = keyring.current_key_id();
            let owner = id.0.to_string();
            let sealed = keyring.seal(
                &associated_data("last_error", key_id, owner.as_bytes()),
                text.as_bytes(),
            )?;
            let encoded = base64::engine::general_purpose::STANDARD.encode(sealed);
            return Ok(format!("{TEXT_MARKER}{key_id}:{encoded}"));
        }
        let _ = id;
        Ok(text)
    }

    /// The error text stored for delivery `id`, opened (a plaintext one as it is).
    pub fn open_text(&self, id: DeliveryId, stored: String) -> Result<String, Error> {
        let Some((key_id, encoded)) = parse_text(&stored)? else {
            return Ok(stored);
        };
        let corrupt = Error::CorruptRow {
            column: "last_error",
        };
        let payload = decode_base64(encoded).ok_or(corrupt.clone())?;
        let owner = id.0.to_string();
        let associated = associated_data("last_error", key_id, owner.as_bytes());
        String::from_utf8(self.open(key_id, &associated, &payload)?).map_err(|_| corrupt)
    }

    /// `delivery` with its body and error text opened.
    pub fn open_delivery(&self, mut delivery: StoredDelivery) -> Result<StoredDelivery, Error> {
        if let Some(body) = delivery.raw_body.take() {
            delivery.raw_body = Some(self.open_body(&delivery.key, body)?);
        }
        if let Some(error) = delivery.last_error.take() {
            delivery.last_error = Some(self.open_text(delivery.id, error)?);
        }
        Ok(delivery)
    }

    /// Opens `payload` (nonce and ciphertext), sealed under `key_id` with `associated` data.
    fn open(&self, key_id: &str, associated: &[u8], payload: &[u8]) -> Result<Vec<u8>, Error> {
        #[cfg(feature = "encryption")]
        if let Some(keyring) = &self.keyring {
            return keyring.open(key_id, associated, payload);
        }
        let _ = (associated, payload);
        Err(Error::MissingKey {
            key_id: key_id.to_owned(),
        })
    }
}

/// `encoded` decoded from standard base64; `None` when it is not.
fn decode_base64(encoded: &str) -> Option<Vec<u8>> {
    #[cfg(feature = "encryption")]
    {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
    }
    #[cfg(not(feature = "encryption"))]
    {
        // Never opened without the feature (no key): any payload will do for the error.
        let _ = encoded;
        Some(Vec::new())
    }
}

#[cfg(all(test, feature = "encryption"))]
mod tests {
    use super::*;
    use crate::keyring::Keyring;

    fn sealer(id: &str, byte: u8) -> Sealer {
        Sealer::new(Keyring::new(id, [byte; 32]).expect("a valid key id"))
    }

    #[test]
    fn a_body_round_trips_and_is_bound_to_its_key() {
        let sealer = sealer("k1", 7);
        let body = Bytes::from_static(br#"{"email":"ada@example.com"}"#);
        let stored = sealer.seal_body("key-a", body.clone()).expect("sealed");
        assert!(stored.starts_with(BODY_MARKER));
        assert!(!stored.windows(7).any(|window| window == b"example"));
        assert_eq!(
            sealer.open_body("key-a", stored.clone()).expect("opens"),
            body
        );
        assert!(matches!(
            sealer.open_body("key-b", stored),
            Err(Error::WrongKey { key_id }) if key_id == "k1"
        ));
    }

    #[test]
    fn two_seals_of_one_body_differ() {
        let sealer = sealer("k1", 7);
        let body = Bytes::from_static(b"{}");
        let first = sealer.seal_body("key", body.clone()).expect("sealed");
        let second = sealer.seal_body("key", body).expect("sealed");
        assert_ne!(first, second, "a fresh nonce for every value");
    }

    #[test]
    fn an_error_text_round_trips_and_is_bound_to_its_delivery() {
        let sealer = sealer("k1", 7);
        let stored = sealer
            .seal_text(DeliveryId(4), "ada@example.com failed".to_owned())
            .expect("sealed");
        assert!(stored.starts_with(TEXT_MARKER) && !stored.contains("ada"));
        assert_eq!(
            sealer
                .open_text(DeliveryId(4), stored.clone())
                .expect("opens"),
            "ada@example.com failed"
        );
        assert!(matches!(
            sealer.open_text(DeliveryId(5), stored),
            Err(Error::WrongKey { .. })
        ));
    }

    #[test]
    fn plaintext_reads_as_it_is_and_a_sealed_value_needs_its_key() {
        let plain = Sealer::default();
        let body = Bytes::from_static(b"{\"a\":1}");
        assert_eq!(plain.open_body("k", body.clone()).expect("plain"), body);
        let stored = sealer("old", 1).seal_body("k", body).expect("sealed");
        assert!(matches!(
            plain.open_body("k", stored.clone()),
            Err(Error::MissingKey { key_id }) if key_id == "old"
        ));
        assert!(matches!(
            sealer("new", 2).open_body("k", stored.clone()),
            Err(Error::MissingKey { key_id }) if key_id == "old"
        ));
        assert!(matches!(
            sealer("old", 3).open_body("k", stored),
            Err(Error::WrongKey { key_id }) if key_id == "old"
        ));
    }

    #[test]
    fn a_truncated_sealed_value_is_a_corrupt_row_not_a_panic() {
        let stored = sealer("k1", 7)
            .seal_body("k", Bytes::from_static(b"{}"))
            .expect("sealed");
        for length in 0..stored.len() {
            let cut = stored.slice(..length);
            if cut.starts_with(BODY_MARKER) {
                assert!(sealer("k1", 7).open_body("k", cut).is_err());
            }
        }
        assert!(matches!(
            sealer("k1", 7).open_text(DeliveryId(1), format!("{TEXT_MARKER}k1")),
            Err(Error::CorruptRow { .. })
        ));
    }
}
