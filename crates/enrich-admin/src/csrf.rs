//! Cross-site request forgery protection for every form that changes something.
//!
//! A browser gets a random cookie ([`CSRF_COOKIE`]: `HttpOnly`, `SameSite=Strict`, scoped to
//! the page) the first time it reads a page; every form carries a token, the HMAC-SHA-256 of
//! that cookie under a key the page draws at start-up. A post is accepted only when its token
//! is the HMAC of the cookie it came with (compared in constant time): another site can neither
//! read the cookie nor compute the token, and a cookie planted by a neighbouring subdomain comes
//! without the matching token.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The name of the cookie a form's token is bound to.
pub const CSRF_COOKIE: &str = "enrich_admin_csrf";

/// The name of the form field that carries the token.
pub(crate) const CSRF_FIELD: &str = "csrf";

/// The page's secret key for form tokens, drawn from the operating system at start-up.
pub(crate) struct CsrfKey([u8; 32]);

impl CsrfKey {
    /// A fresh random key; `None` when the operating system has no randomness to give.
    pub(crate) fn generate() -> Option<Self> {
        let mut key = [0; 32];
        getrandom::fill(&mut key).ok()?;
        Some(Self(key))
    }

    /// A fresh random cookie value (64 hex digits).
    pub(crate) fn new_cookie() -> Option<String> {
        let mut value = [0; 32];
        getrandom::fill(&mut value).ok()?;
        Some(hex::encode(value))
    }

    /// The token the forms of a browser holding `cookie` carry.
    pub(crate) fn token(&self, cookie: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(cookie.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `token` is the token of `cookie`, in constant time.
    pub(crate) fn verify(&self, cookie: &str, token: &str) -> bool {
        !cookie.is_empty() && bool::from(self.token(cookie).as_bytes().ct_eq(token.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_with_its_own_cookie_and_key() {
        let key = CsrfKey::generate().unwrap();
        let cookie = CsrfKey::new_cookie().unwrap();
        let token = key.token(&cookie);
        assert!(key.verify(&cookie, &token));
        assert!(!key.verify(&CsrfKey::new_cookie().unwrap(), &token));
        assert!(!key.verify(&cookie, ""));
        assert!(!key.verify("", &key.token("")));
        assert!(!CsrfKey::generate().unwrap().verify(&cookie, &token));
    }
}
