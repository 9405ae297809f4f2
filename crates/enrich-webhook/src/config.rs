//! How a receiver is configured: signing secrets, timestamp tolerance and body limit.

use std::fmt;

use crate::signature::{KeyError, SigningKeys, Tolerance};

/// The environment variable [`WebhookConfig::from_env`] reads: one signing secret, or several
/// separated by commas while one is being rotated.
pub const SECRET_ENV_VAR: &str = "SURFE_WEBHOOK_SECRET";

/// The body limit every adapter uses unless configured otherwise: 1 MiB. A person event is a few
/// kilobytes, so this leaves room for any realistic delivery while bounding memory per request.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Whether and how deliveries are authenticated.
#[derive(Clone)]
pub(crate) enum Verification {
    /// Verify against every key; a delivery passes if any key signed it.
    Secrets(SigningKeys),
    /// Accept unsigned deliveries: chosen explicitly with
    /// [`WebhookConfig::insecure_skip_verification`].
    Skipped,
    /// No secret is known yet: accept a present, well-formed, fresh signature without checking
    /// its tag, and mark the delivery quarantined ([`WebhookConfig::quarantine`]).
    Quarantine,
}

/// The configuration of a webhook receiver: one per endpoint, shared by every request.
///
/// Cloning is cheap (the keys are shared). Every adapter takes one of these.
///
/// ```
/// use std::time::Duration;
/// use enrich_webhook::{Tolerance, WebhookConfig};
///
/// let config = WebhookConfig::with_secrets(["whsec_new", "whsec_old"])?
///     .tolerance(Tolerance::new(Duration::from_secs(600), Duration::from_secs(60)))
///     .body_limit(256 * 1024);
/// assert!(config.verifies_signatures());
/// assert_eq!(config.get_body_limit(), 256 * 1024);
/// // The secrets never show in logs:
/// assert!(!format!("{config:?}").contains("whsec_new"));
/// # Ok::<(), enrich_webhook::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct WebhookConfig {
    pub(crate) verification: Verification,
    pub(crate) tolerance: Tolerance,
    pub(crate) body_limit: usize,
}

impl WebhookConfig {
    /// Verify deliveries with one signing secret (shown in the account's API settings).
    pub fn with_secret(secret: impl Into<String>) -> Result<Self, ConfigError> {
        Self::with_secrets([secret])
    }

    /// Verify deliveries with several secrets at once, accepting a delivery signed by any of them:
    /// list the new and the old secret while rotating, then drop the old one.
    pub fn with_secrets<I, S>(secrets: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let keys = SigningKeys::new(secrets)?;
        Ok(Self::new(Verification::Secrets(keys)))
    }

    /// Read the secrets from [`SECRET_ENV_VAR`] (`SURFE_WEBHOOK_SECRET`): one secret, or a
    /// comma-separated list while rotating. Surrounding whitespace and empty items are ignored.
    ///
    /// Fails if the variable is unset or holds no secret; it never falls back to skipping
    /// verification.
    pub fn from_env() -> Result<Self, ConfigError> {
        let value = std::env::var(SECRET_ENV_VAR).map_err(|error| match error {
            std::env::VarError::NotPresent => ConfigError::EnvVarMissing,
            std::env::VarError::NotUnicode(_) => ConfigError::EnvVarNotUnicode,
        })?;
        Self::from_secret_list(&value)
    }

    /// Parses a comma-separated list of secrets, as [`WebhookConfig::from_env`] does.
    pub fn from_secret_list(list: &str) -> Result<Self, ConfigError> {
        let secrets: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|secret| !secret.is_empty())
            .collect();
        if secrets.is_empty() {
            return Err(ConfigError::NoSecret);
        }
        Self::with_secrets(secrets)
    }

    /// Accept deliveries **without verifying their signature**.
    ///
    /// The API shows the signing secret only after the first webhook has been received, so the
    /// very first setup needs this; nothing else should. Anyone who can reach the endpoint can
    /// then send it any event. It logs a warning now (through `tracing`, at WARN: install a
    /// subscriber to see it), and every [`Delivery`](crate::Delivery) records that it was not
    /// verified.
    pub fn insecure_skip_verification() -> Self {
        const WARNING: &str = "webhook signature verification is OFF: any request that reaches \
            this endpoint is accepted as genuine; configure the signing secret as soon as the API \
            shows it";
        tracing::warn!("{WARNING}");
        Self::new(Verification::Skipped)
    }

    /// Accept deliveries whose signature **cannot be verified yet**, as quarantined: for a
    /// receiver with an inbox, before the API has shown the signing secret.
    ///
    /// The signature header must still be present, well-formed and fresh (else `401`, as when
    /// verifying); only its tag goes unchecked, since no secret is known. Every delivery comes
    /// out with [`Delivery::is_quarantined`](crate::Delivery::is_quarantined) set and
    /// [`Delivery::is_verified`](crate::Delivery::is_verified) unset. An inbox stores such a
    /// delivery as `quarantined`, never processed until it is released with the secret (which
    /// verifies the stored signature against the stored body). The typed extractors (an event,
    /// a person, a company) refuse a quarantined delivery with `500` `receiver_not_configured`,
    /// so that no handler processes an unverified body by accident: take the whole
    /// [`Delivery`](crate::Delivery) and store it. It logs a warning now (through `tracing`).
    ///
    /// ```
    /// use enrich_webhook::WebhookConfig;
    ///
    /// let config = WebhookConfig::quarantine();
    /// assert!(config.quarantines() && !config.verifies_signatures());
    /// ```
    pub fn quarantine() -> Self {
        const WARNING: &str = "no webhook signing secret: deliveries with a well-formed, fresh \
            signature are accepted UNVERIFIED and must be stored in quarantine (never processed) \
            until released with the secret";
        tracing::warn!("{WARNING}");
        Self::new(Verification::Quarantine)
    }

    fn new(verification: Verification) -> Self {
        Self {
            verification,
            tolerance: Tolerance::default(),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Sets how far a signature's timestamp may be from now (default: [`Tolerance::default`]).
    pub fn tolerance(mut self, tolerance: Tolerance) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Sets the largest accepted body in bytes (default: [`DEFAULT_BODY_LIMIT`]).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The largest accepted body in bytes, as set by [`WebhookConfig::body_limit`].
    pub fn get_body_limit(&self) -> usize {
        self.body_limit
    }

    /// The timestamp tolerance, as set by [`WebhookConfig::tolerance`].
    pub fn get_tolerance(&self) -> Tolerance {
        self.tolerance
    }

    /// Whether signatures are verified (`false` after
    /// [`WebhookConfig::insecure_skip_verification`] and [`WebhookConfig::quarantine`]).
    pub fn verifies_signatures(&self) -> bool {
        matches!(self.verification, Verification::Secrets(_))
    }

    /// Whether deliveries are accepted unverified as quarantined ([`WebhookConfig::quarantine`]).
    pub fn quarantines(&self) -> bool {
        matches!(self.verification, Verification::Quarantine)
    }

    /// The signing keys deliveries are verified with; `None` when no secret is configured.
    /// An inbox releases its quarantined deliveries with them.
    pub fn signing_keys(&self) -> Option<&SigningKeys> {
        match &self.verification {
            Verification::Secrets(keys) => Some(keys),
            Verification::Skipped | Verification::Quarantine => None,
        }
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verification = match &self.verification {
            Verification::Secrets(keys) => format!("{} secret(s), redacted", keys.len()),
            Verification::Skipped => "SKIPPED (insecure)".to_owned(),
            Verification::Quarantine => "QUARANTINE (no secret yet)".to_owned(),
        };
        f.debug_struct("WebhookConfig")
            .field("verification", &verification)
            .field("tolerance", &self.tolerance)
            .field("body_limit", &self.body_limit)
            .finish()
    }
}

/// Why a [`WebhookConfig`] could not be built.
///
/// Its `Debug` form is its message, so a `main` returning `Result<(), Box<dyn Error>>` prints
/// what to do rather than a variant name.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No secret was given.
    NoSecret,
    /// A secret was the empty string.
    EmptySecret,
    /// `SURFE_WEBHOOK_SECRET` is not set.
    EnvVarMissing,
    /// `SURFE_WEBHOOK_SECRET` is not valid Unicode.
    EnvVarNotUnicode,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSecret => f.write_str("no webhook signing secret was given"),
            Self::EmptySecret => f.write_str("a webhook signing secret is empty"),
            Self::EnvVarMissing => write!(
                f,
                "{SECRET_ENV_VAR} is not set: set it to the signing secret from the API settings \
                 (a comma-separated list while rotating); to receive the first delivery before the \
                 secret exists, store it in quarantine (WebhookConfig::quarantine, with an inbox) \
                 or, without an inbox, skip verification explicitly \
                 (WebhookConfig::insecure_skip_verification)"
            ),
            Self::EnvVarNotUnicode => write!(f, "{SECRET_ENV_VAR} is not valid Unicode"),
        }
    }
}

impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for ConfigError {}

impl From<KeyError> for ConfigError {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::EmptySecret => Self::EmptySecret,
            _ => Self::NoSecret,
        }
    }
}
