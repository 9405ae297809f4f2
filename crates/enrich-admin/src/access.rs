//! Who may do what: the application's authorisation hook and the answers it gives.

use http::request::Parts;

/// What one request may do, as the application's [`Authorize`] hook decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Access {
    /// No credentials, or credentials that are not valid: `401`, the login form (when the
    /// hook has one), never data.
    Unauthenticated,
    /// Known, but not allowed to see this page: `403`, never data.
    Forbidden,
    /// May read counts, lists and redacted bodies; every form post is refused with `403`.
    ReadOnly,
    /// May also retry, retry all and replay; bodies stay redacted.
    Operator,
    /// An operator who may also see a delivery's full body (personal data).
    OperatorWithPersonalData,
}

impl Access {
    /// Whether this request may see the page at all.
    pub fn can_read(self) -> bool {
        self >= Self::ReadOnly
    }

    /// Whether this request may change the inbox (retry, replay).
    pub fn can_operate(self) -> bool {
        self >= Self::Operator
    }

    /// Whether this request may see a delivery's full body.
    pub fn can_see_personal_data(self) -> bool {
        self == Self::OperatorWithPersonalData
    }
}

/// The application's decision, per request, of what it may do.
///
/// Implemented for any `Fn(&http::request::Parts) -> Access`, so a closure over the
/// application's own session check is enough; [`TokenAuth`](crate::TokenAuth) is a ready one
/// (a bearer token for scripts, a login form and a session cookie for browsers).
pub trait Authorize: Send + Sync + 'static {
    /// What the request whose head is `request` may do.
    fn authorize(&self, request: &Parts) -> Access;

    /// Checks a secret typed into the login form; `Some(session)` is the value of the session
    /// cookie to set ([`SESSION_COOKIE`](crate::SESSION_COOKIE)). `None` (the default) means
    /// the secret is wrong, or that this hook has no login form.
    fn login(&self, secret: &str) -> Option<String> {
        let _ = secret;
        None
    }

    /// Whether this hook checks secrets typed into the login form (then a `401` shows it).
    fn has_login_form(&self) -> bool {
        false
    }
}

impl<F> Authorize for F
where
    F: Fn(&Parts) -> Access + Send + Sync + 'static,
{
    fn authorize(&self, request: &Parts) -> Access {
        self(request)
    }
}

/// The hook of a page the application has not configured: everything is forbidden.
pub(crate) struct Closed;

impl Authorize for Closed {
    fn authorize(&self, _: &Parts) -> Access {
        Access::Forbidden
    }
}
