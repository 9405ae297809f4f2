//! [`TokenAuth`]: the ready authorisation hook, one secret token per role, for scripts
//! (`Authorization: Bearer`) and browsers (a login form, then a session cookie).

use hmac::{Hmac, KeyInit, Mac};
use http::header::AUTHORIZATION;
use http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::access::{Access, Authorize};
use crate::cookies;

/// The name of the session cookie the login form sets.
pub const SESSION_COOKIE: &str = "enrich_admin_session";

/// Grants access to whoever presents one of its tokens.
///
/// - Scripts send `Authorization: Bearer <token>` with every request.
/// - Browsers type the token into the page's login form once; the page then sets the session
///   cookie [`SESSION_COOKIE`], whose value is derived from the token (an HMAC-SHA-256 keyed
///   with it): the token itself never sits in the browser, no server state is kept, and
///   changing the token ends every session. The cookie is `HttpOnly`, `SameSite=Strict`,
///   scoped to the page's path, and `Secure` when the page is served over https.
///
/// Every comparison is constant-time. The operator token may retry and replay; an optional
/// read-only token only reads; with [`TokenAuth::show_personal_data`] the operator token also
/// sees full bodies.
///
/// ```
/// use enrich_admin::{Access, TokenAuth};
///
/// let auth = TokenAuth::operator("a long random secret").read_only("another secret");
/// # let _ = auth;
/// ```
pub struct TokenAuth {
    tokens: Vec<(Credential, Access)>,
}

struct Credential {
    token_digest: [u8; 32],
    session: String,
}

impl Credential {
    fn new(token: &str) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(b"enrich-admin session v1");
        Self {
            token_digest: Sha256::digest(token.as_bytes()).into(),
            session: hex::encode(mac.finalize().into_bytes()),
        }
    }

    fn matches_token(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(digest.ct_eq(&self.token_digest))
    }

    fn matches_session(&self, presented: &str) -> bool {
        bool::from(presented.as_bytes().ct_eq(self.session.as_bytes()))
    }
}

impl TokenAuth {
    /// Grants [`Access::Operator`] to `token`. An empty token grants nothing.
    pub fn operator(token: &str) -> Self {
        Self { tokens: Vec::new() }.with(token, Access::Operator)
    }

    /// Also grants [`Access::ReadOnly`] to `token`.
    pub fn read_only(self, token: &str) -> Self {
        self.with(token, Access::ReadOnly)
    }

    /// Lets the operator token see full bodies ([`Access::OperatorWithPersonalData`]).
    pub fn show_personal_data(mut self, show: bool) -> Self {
        for (_, access) in &mut self.tokens {
            if access.can_operate() {
                *access = if show {
                    Access::OperatorWithPersonalData
                } else {
                    Access::Operator
                };
            }
        }
        self
    }

    fn with(mut self, token: &str, access: Access) -> Self {
        if !token.is_empty() {
            self.tokens.push((Credential::new(token), access));
        }
        self
    }

    fn bearer(request: &Parts) -> Option<&str> {
        let value = request.headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }
}

impl Authorize for TokenAuth {
    fn authorize(&self, request: &Parts) -> Access {
        if let Some(token) = Self::bearer(request) {
            return self
                .tokens
                .iter()
                .find(|(credential, _)| credential.matches_token(token))
                .map_or(Access::Unauthenticated, |(_, access)| *access);
        }
        if let Some(session) = cookies::read(&request.headers, SESSION_COOKIE) {
            return self
                .tokens
                .iter()
                .find(|(credential, _)| credential.matches_session(session))
                .map_or(Access::Unauthenticated, |(_, access)| *access);
        }
        Access::Unauthenticated
    }

    fn login(&self, secret: &str) -> Option<String> {
        self.tokens
            .iter()
            .find(|(credential, _)| credential.matches_token(secret))
            .map(|(credential, _)| credential.session.clone())
    }

    fn has_login_form(&self) -> bool {
        true
    }
}

impl std::fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAuth")
            .field(
                "roles",
                &self
                    .tokens
                    .iter()
                    .map(|(_, access)| access)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}
