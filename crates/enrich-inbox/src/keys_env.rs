//! Where the keys of encryption at rest come from when the application gives none.

/// The environment variable that holds the keyring (`ID:KEY[,ID:KEY…]`, the current key first)
/// when the application gives none: read by every build, so that a build without the
/// `encryption` feature refuses it instead of storing plaintext.
pub(crate) const KEYS_ENV: &str = "ENRICH_INBOX_KEYS";
