//! Everything that can go wrong calling the API, as one typed error.

use std::fmt;
use std::time::Duration;

use enrich_types::{ApiError, RequestError};

/// Why a call to the API failed.
///
/// Its `Display` is a sentence for people; match the variants (with a wildcard arm: more may be
/// added) to decide what to do. No API key or request content appears in either form.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The client is not usable: no API key, or a base URL that is not an http(s) URL.
    Config(String),
    /// The request breaks a rule of the API, so it was not sent.
    InvalidRequest(RequestError),
    /// The API answered with an error status (after any retries): the status, and the API's
    /// error body when it sent one.
    Api {
        /// The HTTP status, such as 400, 401, 402 or 429.
        status: u16,
        /// The decoded error body (`{ "code", "message" }`); empty when the body was not one.
        body: ApiError,
        /// The answer's `Retry-After`, when it had one.
        retry_after: Option<Duration>,
    },
    /// The API could not be reached, or did not answer in time (after any retries).
    Transport {
        /// What kind of failure.
        kind: TransportKind,
        /// The underlying error, described.
        message: String,
    },
    /// The API answered a success status with a body that is not the expected JSON.
    Decode {
        /// The HTTP status of the answer.
        status: u16,
        /// Where and why decoding failed.
        message: String,
    },
    /// Waiting for an enrichment gave up before it finished.
    WaitTimedOut {
        /// The enrichment waited for.
        enrichment_id: String,
        /// How far it was, from 0 to 100, at the last poll.
        percent_completed: Option<f64>,
    },
    /// Splitting a large request: some parts were started before one failed. Those parts are
    /// running; do not start them again.
    PartiallyStarted {
        /// The parts that were started, in order.
        started: Vec<enrich_types::EnrichmentAccepted>,
        /// Why the next part failed.
        error: Box<Error>,
    },
}

/// The kinds of [`Error::Transport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// No connection could be made (refused, unreachable host, DNS, TLS).
    Connect,
    /// The API did not answer within the timeout.
    Timeout,
    /// The connection broke while sending or receiving.
    Other,
}

impl Error {
    /// The HTTP status of an [`Error::Api`] or [`Error::Decode`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Decode { status, .. } => Some(*status),
            Self::PartiallyStarted { error, .. } => error.status(),
            _ => None,
        }
    }

    /// Whether the API refused the API key (401).
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    pub(crate) fn transport(error: &reqwest::Error) -> Self {
        let kind = if error.is_timeout() {
            TransportKind::Timeout
        } else if error.is_connect() {
            TransportKind::Connect
        } else {
            TransportKind::Other
        };
        // Without the URL: it is ours, but a caller may print this next to other output.
        let message =
            std::error::Error::source(error).map_or_else(|| error.to_string(), source_chain);
        Self::Transport { kind, message }
    }
}

/// The messages of an error and its sources, joined.
fn source_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut next = error.source();
    while let Some(source) = next {
        let text = source.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        next = source.source();
    }
    message
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(message) => f.write_str(message),
            Self::InvalidRequest(error) => write!(f, "the request was not sent: {error}"),
            Self::Api { status, body, .. } => {
                write!(f, "the API answered {status}")?;
                if *status == 401 {
                    f.write_str(" (the API key was refused)")?;
                }
                match (&body.message, body.code) {
                    (Some(message), Some(code)) => write!(f, ": {message} (code {code})"),
                    (Some(message), None) => write!(f, ": {message}"),
                    (None, Some(code)) => write!(f, " (code {code})"),
                    (None, None) => Ok(()),
                }
            }
            Self::Transport { kind, message } => match kind {
                TransportKind::Connect => write!(f, "cannot reach the API: {message}"),
                TransportKind::Timeout => write!(f, "the API did not answer in time: {message}"),
                TransportKind::Other => write!(f, "the connection to the API failed: {message}"),
            },
            Self::Decode { status, message } => write!(
                f,
                "the API answered {status} with a body that is not the expected JSON: {message}"
            ),
            Self::WaitTimedOut {
                enrichment_id,
                percent_completed,
            } => {
                write!(f, "gave up waiting for enrichment {enrichment_id}")?;
                match percent_completed {
                    Some(percent) => write!(f, " at {percent}% done"),
                    None => Ok(()),
                }
            }
            Self::PartiallyStarted { started, error } => write!(
                f,
                "{} part(s) of the request were started, then the next one failed: {error}",
                started.len()
            ),
        }
    }
}

/// The `Display` form already includes what an inner error says, so `source` is `None`: an error
/// chain printer shows each message once.
impl std::error::Error for Error {}

impl From<RequestError> for Error {
    fn from(error: RequestError) -> Self {
        Self::InvalidRequest(error)
    }
}
