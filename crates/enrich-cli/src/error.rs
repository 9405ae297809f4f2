//! Why a command failed: the one error type of every command, printed once by `main` as
//! `enrich: error: <message>: <source>…`, each message of the chain once.

use std::fmt;

/// Why a command failed.
#[derive(Debug)]
pub enum Error {
    /// An argument or environment variable is missing or cannot be used.
    Usage(String),
    /// An input file (or stdin) is not what the command takes; the message names the line or key.
    Input(String),
    /// Reading or writing a file, stdin, stdout, a port or a signal failed while doing `action`.
    Io {
        /// What was being done, such as `cannot read people.csv`.
        action: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The API answered with an error, or could not be reached.
    Api(enrich_client::Error),
    /// A request to the API cannot be made as given (a webhook URL that is not HTTPS, say).
    Request(enrich_types::RequestError),
    /// The progress bar could not be drawn.
    Progress(indicatif::style::TemplateError),
    /// The inbox could not be opened (`hint` says what to check).
    InboxOpen {
        /// A hint on the likely cause, or empty.
        hint: &'static str,
        /// Why it failed.
        source: enrich_inbox::Error,
    },
    /// An operation on the inbox failed.
    Inbox(enrich_inbox::Error),
    /// A delivery is not in the state the command needs (or does not exist).
    State(String),
    /// A reconciliation failed.
    Reconcile(enrich_inbox::ReconcileError),
    /// The HTTP client of `enrich send` could not be built.
    HttpClient(reqwest::Error),
    /// A task sending a delivery failed.
    Task(tokio::task::JoinError),
    /// The output could not be encoded as JSON.
    Encode(serde_json::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) | Self::Input(message) | Self::State(message) => {
                f.write_str(message)
            }
            Self::Io { action, .. } => f.write_str(action),
            Self::Api(error) => {
                error.fmt(f)?;
                if let enrich_client::Error::PartiallyStarted { started, .. } = error {
                    let ids: Vec<String> = started
                        .iter()
                        .map(|accepted| crate::text::cell(accepted.enrichment_id.as_deref()))
                        .collect();
                    write!(f, "\nstarted: {}", ids.join(", "))?;
                }
                Ok(())
            }
            Self::InboxOpen { hint, .. } => write!(f, "cannot open the inbox{hint}"),
            Self::Request(error) => error.fmt(f),
            Self::Progress(error) => error.fmt(f),
            Self::Inbox(error) => error.fmt(f),
            Self::Reconcile(error) => error.fmt(f),
            Self::HttpClient(_) => f.write_str("cannot build the HTTP client"),
            Self::Task(_) => f.write_str("a send task failed"),
            Self::Encode(_) => f.write_str("cannot encode the output"),
        }
    }
}

impl std::error::Error for Error {
    /// What `Display` did not print: the cause of a step that failed, or, for the errors shown as
    /// they are (`Api`, `Inbox`, `Reconcile`), their own source.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Usage(_) | Self::Input(_) | Self::State(_) => None,
            Self::Io { source, .. } => Some(source),
            Self::Api(error) => error.source(),
            Self::Request(error) => error.source(),
            Self::Progress(error) => error.source(),
            Self::InboxOpen { source, .. } => Some(source),
            Self::Inbox(error) => error.source(),
            Self::Reconcile(error) => error.source(),
            Self::HttpClient(error) => Some(error),
            Self::Task(error) => Some(error),
            Self::Encode(error) => Some(error),
        }
    }
}

impl From<enrich_client::Error> for Error {
    fn from(error: enrich_client::Error) -> Self {
        Self::Api(error)
    }
}

impl From<enrich_inbox::Error> for Error {
    fn from(error: enrich_inbox::Error) -> Self {
        Self::Inbox(error)
    }
}

impl Error {
    /// An I/O failure while doing `action`.
    pub fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let action = action.into();
        move |source| Self::Io { action, source }
    }

    /// The whole message: this error, then each source whose text it does not already hold,
    /// joined by `: `.
    pub fn report(&self) -> String {
        let sources =
            std::iter::successors(std::error::Error::source(self), |error| error.source());
        sources.fold(self.to_string(), |message, source| {
            let text = source.to_string();
            if message.contains(&text) {
                message
            } else {
                format!("{message}: {text}")
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_message_prints_once() {
        let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = Error::io("cannot read people.csv")(missing);
        assert_eq!(error.to_string(), "cannot read people.csv");
        assert_eq!(error.report(), "cannot read people.csv: no such file");
        let closed = Error::from(enrich_inbox::Error::Closed);
        assert_eq!(closed.report(), "the inbox is closed");
    }
}
