//! An inbox that opens in the background: a receiver whose database is unreachable at start
//! stays up and unready, and says why, rather than exiting ([`InboxHandle`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use enrich_webhook::{ConfigError, Delivery, SECRET_ENV_VAR, WebhookConfig};
use tokio::sync::watch;

use crate::config::InboxConfig;
use crate::error::{Error, StoreError};
use crate::health::{HealthCheck, Readiness};
use crate::inbox::Inbox;
use crate::record::Stored;

/// The first pause between attempts to open; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(250);
/// The longest pause between attempts to open.
const MAX_PAUSE: Duration = Duration::from_secs(10);

/// An inbox being opened in the background, retried until it opens. Cloning is cheap.
///
/// Until it opens, [`InboxHandle::store`] fails with a [`StoreError`] (so the webhook answers
/// `503 storage_unavailable` with `Retry-After`, and the sender retries), and
/// [`InboxHandle::readiness`] answers `503` naming why the open fails; each failed attempt is
/// logged at `warn`.
///
/// ```no_run
/// # async fn run(delivery: enrich_webhook::Delivery) -> Result<(), enrich_webhook::Refusal> {
/// use enrich_inbox::{InboxConfig, InboxHandle};
/// use enrich_webhook::Refusal;
///
/// let inbox = InboxHandle::open_in_background("sqlite:inbox.db", InboxConfig::default());
/// // In the webhook handler: 503 until the inbox is open, then stored before answering 200.
/// inbox.store(&delivery).await.map_err(Refusal::from)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct InboxHandle {
    opened: watch::Receiver<Option<Inbox>>,
    shared: Arc<Shared>,
}

struct Shared {
    /// Why the last attempt to open failed (`None` before the first attempt ends).
    last_error: Mutex<Option<Error>>,
    retry_after_secs: u32,
    /// `true` once the first attempt to open ended, either way.
    first_attempt: watch::Sender<bool>,
}

impl std::fmt::Debug for InboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxHandle")
            .field("open", &self.opened.borrow().is_some())
            .finish_non_exhaustive()
    }
}

impl InboxHandle {
    /// Opens the inbox at `url` with `config`, retrying in the background until it opens, as
    /// [`InboxHandle::open_in_background`] does, and waits for the first attempt for at most
    /// [`InboxHandle::FIRST_ATTEMPT_WAIT`]: a receiver that starts serving once this returns
    /// answers its first delivery with a store whenever the database was reachable at start,
    /// and one whose database is not starts serving (unready) at once when the attempt fails
    /// (each failure logged at `warn` with its cause), or after that wait when the attempt
    /// hangs (logged too; the attempt goes on in the background).
    pub async fn open(url: &str, config: InboxConfig) -> Self {
        let handle = Self::open_in_background(url, config);
        let mut first_attempt = handle.shared.first_attempt.subscribe();
        let ended = first_attempt.wait_for(|ended| *ended);
        if tokio::time::timeout(Self::FIRST_ATTEMPT_WAIT, ended)
            .await
            .is_err()
        {
            tracing::warn!(
                waited = ?Self::FIRST_ATTEMPT_WAIT,
                "enrich-inbox: the inbox is not open yet (the database has not answered); \
                 serving, not ready, while opening goes on"
            );
        }
        handle
    }

    /// How long [`InboxHandle::open`] waits for its first attempt to open the inbox.
    pub const FIRST_ATTEMPT_WAIT: Duration = Duration::from_secs(3);

    /// Starts opening the inbox at `url` with `config` on a task of the current Tokio runtime,
    /// retrying every failure (from a quarter of a second, doubling, up to 10 s between
    /// attempts) until it opens.
    pub fn open_in_background(url: &str, config: InboxConfig) -> Self {
        let (opened, receiver) = watch::channel(None);
        let shared = Arc::new(Shared {
            last_error: Mutex::new(None),
            retry_after_secs: config.retry_after_secs,
            first_attempt: watch::Sender::new(false),
        });
        let (url, task_shared) = (url.to_owned(), shared.clone());
        tokio::spawn(async move {
            let mut pause = FIRST_PAUSE;
            loop {
                let attempt = Inbox::open_with(&url, config.clone()).await;
                match attempt {
                    Ok(inbox) => {
                        tracing::info!(engine = inbox.engine(), "enrich-inbox: the inbox is open");
                        let _ = opened.send(Some(inbox));
                        task_shared.first_attempt.send_replace(true);
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(
                            %error,
                            retry_in = ?pause,
                            "enrich-inbox: the inbox could not be opened; not ready, retrying"
                        );
                        *task_shared
                            .last_error
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner) = Some(error);
                        task_shared.first_attempt.send_replace(true);
                        if opened.is_closed() {
                            return; // every handle is gone
                        }
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(MAX_PAUSE);
                    }
                }
            }
        });
        Self {
            opened: receiver,
            shared,
        }
    }

    /// The inbox, once open.
    pub fn get(&self) -> Option<Inbox> {
        self.opened.borrow().clone()
    }

    /// Waits until the inbox is open (for a worker, which has nothing to do before).
    pub async fn opened(&self) -> Inbox {
        let mut opened = self.opened.clone();
        loop {
            if let Some(inbox) = opened.borrow_and_update().clone() {
                return inbox;
            }
            if opened.changed().await.is_err() {
                // The opening task ended without an inbox: only when its runtime shuts down.
                std::future::pending::<()>().await;
            }
        }
    }

    /// [`Inbox::store`] once open; before, a [`StoreError`] ([`Error::NotOpen`]), answered `503`
    /// with the inbox's `Retry-After`.
    pub async fn store(&self, delivery: &Delivery) -> Result<Stored, StoreError> {
        match self.get() {
            Some(inbox) => inbox.store(delivery).await,
            None => Err(StoreError {
                error: Error::NotOpen,
                retry_after_secs: self.shared.retry_after_secs,
            }),
        }
    }

    /// The readiness answer: [`Inbox::health`] within `deadline` once open; before, `503`
    /// naming why the open fails (`migrations` when the schema is too new, else `database`),
    /// and, with the `metrics` feature, `enrich_inbox_ready` set to 0.
    pub async fn readiness(&self, deadline: Duration) -> Readiness {
        if let Some(inbox) = self.get() {
            return Readiness::of(&inbox.health(deadline).await);
        }
        crate::metrics::set_ready(false);
        let last_error = self
            .shared
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let check = match last_error {
            Some(Error::SchemaTooNew { .. }) => HealthCheck::Migrations,
            _ => HealthCheck::Database,
        };
        Readiness::not_ready(
            check,
            "not_open",
            &format!(
                "the inbox is not open yet: its {check} check fails (the receiver's log says \
                 why; opening is retried)"
            ),
        )
    }

    /// Every `interval`, on a task of the current Tokio runtime: the readiness check (which sets
    /// `enrich_inbox_ready`) and, once the inbox is open, [`Inbox::record_gauges`] (a failed
    /// read keeps the last values), so that a scrape sees fresh figures whether or not anything
    /// probes the receiver. Runs until the returned task is aborted (dropping it does not stop
    /// it) or the runtime shuts down (feature `metrics`).
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn record_every(
        &self,
        interval: Duration,
        deadline: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let handle = self.clone();
        tokio::spawn(async move {
            loop {
                handle.readiness(deadline).await;
                if let Some(inbox) = handle.get() {
                    let _ = inbox.record_gauges().await;
                }
                tokio::time::sleep(interval).await;
            }
        })
    }

    /// [`Inbox::quarantine_at_start`] on a task of its own, once the inbox is open (a failure is
    /// logged at ERROR with the command to run instead).
    pub fn quarantine_at_start(&self, config: &WebhookConfig) {
        let (handle, config) = (self.clone(), config.clone());
        tokio::spawn(async move {
            let inbox = handle.opened().await;
            if let Err(error) = inbox.quarantine_at_start(&config).await {
                tracing::error!(
                    %error,
                    "enrich-inbox: the quarantine could not be released at start; run \
                     `enrich inbox release --inbox URL` with {SECRET_ENV_VAR} set"
                );
            }
        });
    }
}

/// The webhook configuration a receiver starts with, and what it does about the quarantine:
/// the secrets of [`SECRET_ENV_VAR`] when it is set; without it,
/// [`WebhookConfig::insecure_skip_verification`] if `insecure` was asked for explicitly, else
/// [`WebhookConfig::quarantine`] when the receiver has an `inbox` (a receiver without one and
/// without `insecure` gets [`ConfigError::EnvVarMissing`]: it should refuse to start). With an
/// inbox it then calls [`InboxHandle::quarantine_at_start`]: a loud warning in quarantine, the
/// quarantine released once a secret is configured.
///
/// ```no_run
/// # async fn start() -> Result<(), Box<dyn std::error::Error>> {
/// use enrich_inbox::{InboxConfig, InboxHandle, webhook_config_at_start};
///
/// let inbox = InboxHandle::open("sqlite:inbox.db", InboxConfig::default()).await;
/// let config = webhook_config_at_start(Some(&inbox), false)?;
/// # let _ = config; Ok(()) }
/// ```
pub fn webhook_config_at_start(
    inbox: Option<&InboxHandle>,
    insecure: bool,
) -> Result<WebhookConfig, ConfigError> {
    let config = match (WebhookConfig::from_env(), inbox) {
        (Err(ConfigError::EnvVarMissing), _) if insecure => {
            WebhookConfig::insecure_skip_verification()
        }
        (Err(ConfigError::EnvVarMissing), Some(_)) => WebhookConfig::quarantine(),
        (config, _) => config?,
    };
    if let Some(inbox) = inbox {
        inbox.quarantine_at_start(&config);
    }
    Ok(config)
}
