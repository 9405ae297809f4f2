//! An admin page for an [`enrich_inbox::Inbox`], embedded in the application: counts by state,
//! the oldest claimable age and throughput, dead letters with their last error (retry one,
//! retry all after confirming the count), a delivery's history and body (redacted unless the
//! role may see personal data), replay of processed deliveries.
//!
//! **Closed by default.** [`Admin::new`] answers every request `403` until the application
//! supplies an [`Authorize`] hook, which returns an [`Access`] per request; [`TokenAuth`] is a
//! ready one (a bearer token for scripts, a login form and an `HttpOnly`, `SameSite=Strict`
//! session cookie for browsers). Every form carries a CSRF token checked in constant time;
//! every answer carries a `Content-Security-Policy` that allows no script, `X-Frame-Options:
//! DENY`, `nosniff` and `Referrer-Policy: no-referrer`; every stored string is HTML-escaped;
//! URLs hold delivery ids only.
//!
//! ```no_run
//! # async fn run(inbox: enrich_inbox::Inbox, token: String) -> Result<(), Box<dyn std::error::Error>> {
//! use enrich_admin::{Admin, TokenAuth};
//!
//! let admin = Admin::new(inbox).authorize(TokenAuth::operator(&token)).router()?;
//! let app: axum::Router = axum::Router::new().nest_service("/admin", admin);
//! # let _ = app; Ok(()) }
//! ```

#![warn(missing_docs)]

mod access;
mod api;
mod body;
mod context;
mod cookies;
mod csrf;
mod enrichments;
mod format;
mod guard;
mod headers;
mod posted;
mod refusal;
mod routes;
mod shared;
mod throughput;
mod token;
mod views;

use std::fmt;
use std::sync::{Arc, Mutex};

use enrich_inbox::Inbox;

pub use access::{Access, Authorize};
pub use csrf::CSRF_COOKIE;
pub use headers::CONTENT_SECURITY_POLICY_VALUE;
pub use token::{SESSION_COOKIE, TokenAuth};

/// The admin page of one inbox, to build into a router with [`Admin::router`].
pub struct Admin {
    inbox: Inbox,
    authorize: Arc<dyn Authorize>,
    list_limit: usize,
    mount_path: Option<String>,
    #[cfg(feature = "reconcile")]
    client: Option<enrich_client::Client>,
}

impl Admin {
    /// The page of `inbox`, closed to everyone (`403`) until [`Admin::authorize`] is called.
    pub fn new(inbox: Inbox) -> Self {
        Self {
            inbox,
            authorize: Arc::new(access::Closed),
            list_limit: 500,
            mount_path: None,
            #[cfg(feature = "reconcile")]
            client: None,
        }
    }

    /// Lets `hook` decide, per request, what it may do.
    pub fn authorize(mut self, hook: impl Authorize) -> Self {
        self.authorize = Arc::new(hook);
        self
    }

    /// How many rows a list (dead letters, processed deliveries) shows at most: 500 by default.
    pub fn list_limit(mut self, limit: usize) -> Self {
        self.list_limit = limit.max(1);
        self
    }

    /// The path the page is mounted under (such as `/admin`), for frameworks that strip it
    /// before the page sees the request without telling it (axum's `nest_service` tells it:
    /// there this is not needed). Links, form actions and cookie paths start with it.
    pub fn mount_path(mut self, path: &str) -> Self {
        self.mount_path = Some(path.trim_end_matches('/').to_owned());
        self
    }

    /// Lets the enrichments view ask the API through `client` (feature `reconcile`): "check"
    /// reads who an enrichment holds, to show who is missing; "reconcile now" also stores the
    /// people whose delivery never arrived (`enrich_inbox::Inbox::reconcile_people`).
    #[cfg(feature = "reconcile")]
    pub fn reconcile_with(mut self, client: enrich_client::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The page as an axum [`Router`](axum::Router) (a tower `Service`) to mount under any path
    /// with `nest_service`, or to serve alone. Fails only when the operating system gives no
    /// randomness for the CSRF key.
    pub fn router(self) -> Result<axum::Router, NoRandomness> {
        let shared = shared::Shared {
            inbox: self.inbox,
            authorize: self.authorize,
            csrf: csrf::CsrfKey::generate().ok_or(NoRandomness)?,
            throughput: Mutex::new(throughput::Throughput::default()),
            list_limit: self.list_limit,
            mount_path: self.mount_path,
            expected: Mutex::default(),
            #[cfg(feature = "reconcile")]
            client: self.client,
        };
        Ok(routes::router(Arc::new(shared)))
    }
}

impl fmt::Debug for Admin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admin")
            .field("list_limit", &self.list_limit)
            .field("mount_path", &self.mount_path)
            .finish_non_exhaustive()
    }
}

/// The operating system gave no randomness for the page's CSRF key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRandomness;

impl fmt::Display for NoRandomness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operating system gave no randomness for the admin page's CSRF key")
    }
}

impl std::error::Error for NoRandomness {}

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
