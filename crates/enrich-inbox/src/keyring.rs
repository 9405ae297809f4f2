//! The keys of encryption at rest: a current key, which seals every new value, and older keys,
//! which still open what was sealed under them until [`Inbox::rekey`](crate::Inbox::rekey)
//! re-seals it.

use std::fmt;

use aes_gcm::aead::rand_core::RngCore as _;
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;

use crate::error::Error;

/// The longest key id, in bytes.
pub(crate) const MAX_KEY_ID_LEN: usize = 64;

/// The length of an AES-GCM nonce, in bytes.
const NONCE_LEN: usize = 12;

/// AES-256-GCM keys, each under an id: the current key seals every value the inbox writes, and
/// every key opens what was sealed under its id. Rotate by making a new key current and keeping
/// the old one until [`Inbox::rekey`](crate::Inbox::rekey) has re-sealed its rows.
///
/// Its `Debug` form shows the key ids, never a key.
///
/// ```
/// use enrich_inbox::Keyring;
///
/// // `ENRICH_INBOX_KEYS`' format: the current key first, then older ones.
/// let keyring = Keyring::parse(
///     "2026-12:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,\
///      2026-06:HxoZGBcWFRQTEhEQDw4NDAsKCQgHBgUEAwIBAB8eHRw=",
/// )?;
/// assert_eq!(keyring.current_key_id(), "2026-12");
/// # Ok::<(), enrich_inbox::Error>(())
/// ```
#[derive(Clone)]
pub struct Keyring {
    /// The current key first.
    keys: Vec<(String, Aes256Gcm)>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("key_ids", &self.key_ids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// The environment variable [`Keyring::from_env`] reads (and
    /// [`Inbox::open`](crate::Inbox::open) when the [`InboxConfig`](crate::InboxConfig) sets
    /// no keys): comma-separated `ID:KEY` pairs, the current key first, each `KEY` 32 bytes in
    /// standard base64 (`openssl rand -base64 32`).
    pub const ENV: &'static str = crate::keys_env::KEYS_ENV;

    /// A keyring of one key, current, under `key_id` (1 to 64 characters among ASCII letters,
    /// digits, `-`, `_` and `.`).
    pub fn new(key_id: &str, key: [u8; 32]) -> Result<Self, Error> {
        Ok(Self {
            keys: vec![(checked_id(key_id)?, cipher(&key))],
        })
    }

    /// This keyring with `key` under `key_id` as an older key: it opens what was sealed under
    /// that id and seals nothing. An id already in the keyring is refused.
    pub fn with_previous(mut self, key_id: &str, key: [u8; 32]) -> Result<Self, Error> {
        let key_id = checked_id(key_id)?;
        if self.keys.iter().any(|(id, _)| *id == key_id) {
            return Err(invalid(format!("the key id `{key_id}` is given twice")));
        }
        self.keys.push((key_id, cipher(&key)));
        Ok(self)
    }

    /// Reads `ID:KEY[,ID:KEY…]`, the current key first (the format of [`Keyring::ENV`]).
    /// The error names the entry that does not read, never a key.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut keyring: Option<Self> = None;
        for (index, entry) in text.split(',').map(str::trim).enumerate() {
            let position = index + 1;
            let (id, encoded) = entry
                .split_once(':')
                .ok_or_else(|| invalid(format!("entry {position} is not `ID:KEY`")))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| invalid(format!("the key of entry {position} is not base64")))?;
            let key: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
                invalid(format!(
                    "the key of entry {position} is {} bytes long, not 32",
                    bytes.len()
                ))
            })?;
            keyring = Some(match keyring {
                None => Self::new(id.trim(), key)?,
                Some(keyring) => keyring.with_previous(id.trim(), key)?,
            });
        }
        keyring.ok_or_else(|| invalid("it holds no key".to_owned()))
    }

    /// The keyring in [`Keyring::ENV`], `None` when the variable is unset or empty.
    pub fn from_env() -> Result<Option<Self>, Error> {
        match std::env::var(Self::ENV) {
            Ok(text) if !text.trim().is_empty() => Self::parse(&text).map(Some),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(invalid("it is not valid Unicode".to_owned()))
            }
        }
    }

    /// The id of the current key, which seals every new value.
    pub fn current_key_id(&self) -> &str {
        &self.keys[0].0
    }

    /// Every key id, the current one first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(id, _)| id.as_str())
    }

    /// `plaintext` sealed under the current key with `associated` data: a fresh random nonce,
    /// then the ciphertext and its tag.
    pub(crate) fn seal(&self, associated: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let mut nonce = [0_u8; NONCE_LEN];
        OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|_| Error::Encryption {
                problem: "the system's random number generator failed",
            })?;
        let ciphertext = self.keys[0]
            .1
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: associated,
                },
            )
            .map_err(|_| Error::Encryption {
                problem: "AES-GCM refused the value (too long)",
            })?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens `payload` (nonce, then ciphertext and tag) sealed under `key_id` with
    /// `associated` data.
    pub(crate) fn open(
        &self,
        key_id: &str,
        associated: &[u8],
        payload: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let Some((_, cipher)) = self.keys.iter().find(|(id, _)| id == key_id) else {
            return Err(Error::MissingKey {
                key_id: key_id.to_owned(),
            });
        };
        if payload.len() < NONCE_LEN {
            return Err(Error::CorruptRow {
                column: "a sealed value",
            });
        }
        let (nonce, ciphertext) = payload.split_at(NONCE_LEN);
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: associated,
                },
            )
            .map_err(|_| Error::WrongKey {
                key_id: key_id.to_owned(),
            })
    }
}

fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}

fn invalid(problem: String) -> Error {
    Error::InvalidKeys { problem }
}

fn checked_id(key_id: &str) -> Result<String, Error> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if key_id.is_empty() || key_id.len() > MAX_KEY_ID_LEN || !key_id.chars().all(allowed) {
        return Err(invalid(format!(
            "the key id `{}` must be 1 to {MAX_KEY_ID_LEN} characters among ASCII letters, digits, `-`, `_` and `.`",
            key_id.escape_debug()
        )));
    }
    Ok(key_id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn the_first_entry_is_current_and_every_entry_opens() {
        let keyring = Keyring::parse(&format!(" new:{KEY_A} , old:{KEY_A}")).expect("valid");
        assert_eq!(keyring.current_key_id(), "new");
        assert_eq!(keyring.key_ids().collect::<Vec<_>>(), ["new", "old"]);
        let sealed = keyring.seal(b"aad", b"secret").expect("sealed");
        assert_eq!(
            keyring.open("new", b"aad", &sealed).expect("opens"),
            b"secret"
        );
        assert!(matches!(
            keyring.open("new", b"other", &sealed),
            Err(Error::WrongKey { .. })
        ));
        assert!(matches!(
            keyring.open("gone", b"aad", &sealed),
            Err(Error::MissingKey { key_id }) if key_id == "gone"
        ));
    }

    #[test]
    fn bad_keyrings_are_refused_without_showing_a_key() {
        for (text, expected) in [
            ("", "entry 1 is not `ID:KEY`"),
            ("k1", "entry 1 is not `ID:KEY`"),
            ("k1:not base64!", "the key of entry 1 is not base64"),
            ("k1:AAEC", "the key of entry 1 is 3 bytes long, not 32"),
            (
                &format!("k1:{KEY_A},k1:{KEY_A}"),
                "the key id `k1` is given twice",
            ),
            (&format!("k:1:{KEY_A}"), "is not base64"),
            (&format!("bad id:{KEY_A}"), "the key id `bad id` must be"),
        ] {
            let error = Keyring::parse(text).expect_err(text).to_string();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(!error.contains(KEY_A), "{error}");
        }
        let shown = format!(
            "{:?}",
            Keyring::parse(&format!("k1:{KEY_A}")).expect("valid")
        );
        assert_eq!(shown, r#"Keyring { key_ids: ["k1"], .. }"#);
    }
}
