//! Whether the inbox can take deliveries now: [`Inbox::health`].

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::inbox::Inbox;

/// One of the checks [`Inbox::health`] runs, in the order it runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HealthCheck {
    /// The database answers a trivial read of the inbox's tables on the inbox's connection pool.
    Database,
    /// The database's schema is at the version this build of the crate migrates to.
    Migrations,
    /// A write that changes nothing goes through the way stores go (SQLite's group writer and the
    /// file's write lock; on Postgres the lock stores take on the table): the writer is not
    /// wedged behind a lock held elsewhere or a backlog.
    Writer,
}

impl HealthCheck {
    /// Every check, in the order they run.
    pub const ALL: [Self; 3] = [Self::Database, Self::Migrations, Self::Writer];

    /// Its name: `database`, `migrations` or `writer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Database => "database",
            Self::Migrations => "migrations",
            Self::Writer => "writer",
        }
    }
}

impl fmt::Display for HealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a check failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum HealthProblem {
    /// No answer within the deadline.
    TimedOut {
        /// The deadline of the whole health check.
        deadline: Duration,
    },
    /// The database answered with an error (or the inbox is closed: [`Error::Closed`]).
    Failed(Error),
    /// The database's schema is older than this build's: a migration is missing (the inbox
    /// migrates on open, so someone rolled it back or the database was restored from before).
    SchemaBehind {
        /// The newest migration the database records.
        found: i64,
        /// The one this build migrates to.
        expected: i64,
    },
    /// The database's schema is newer than this build knows: a newer version of the crate
    /// migrated it (roll this one forward).
    SchemaAhead {
        /// The newest migration the database records.
        found: i64,
        /// The one this build migrates to.
        expected: i64,
    },
}

impl fmt::Display for HealthProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TimedOut { deadline } => write!(f, "no answer within {deadline:?}"),
            Self::Failed(error) => write!(f, "{error}"),
            Self::SchemaBehind { found, expected } => write!(
                f,
                "the schema is at version {found}, behind the {expected} this build expects"
            ),
            Self::SchemaAhead { found, expected } => write!(
                f,
                "the schema is at version {found}, ahead of the {expected} this build knows"
            ),
        }
    }
}

/// The check that failed, and why.
#[derive(Debug, Clone)]
pub struct HealthFailure {
    /// Which check failed (the later ones did not run).
    pub check: HealthCheck,
    /// Why.
    pub problem: HealthProblem,
}

impl fmt::Display for HealthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "inbox {} check failed: {}", self.check, self.problem)
    }
}

impl std::error::Error for HealthFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            HealthProblem::Failed(error) => Some(error),
            _ => None,
        }
    }
}

/// What [`Inbox::health`] found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HealthReport {
    /// `sqlite` or `postgres`.
    pub engine: &'static str,
    /// How long the checks took.
    pub elapsed: Duration,
    /// The first check that failed; `None` when the inbox is healthy.
    pub failure: Option<HealthFailure>,
}

impl HealthReport {
    /// Whether every check passed.
    pub fn is_healthy(&self) -> bool {
        self.failure.is_none()
    }

    /// `Ok(())` when healthy, else the failure.
    pub fn into_result(self) -> Result<(), HealthFailure> {
        self.failure.map_or(Ok(()), Err)
    }
}

impl Inbox {
    /// Checks, within `deadline` in all, that the inbox can take deliveries now: the database
    /// answers ([`HealthCheck::Database`]), its schema is the one this build expects
    /// ([`HealthCheck::Migrations`]), and a write goes through the way stores go
    /// ([`HealthCheck::Writer`]); it stops at the first that fails. It never fails itself: what
    /// went wrong is in the report. A readiness probe calls it (a second or two is a fair
    /// deadline; the stores it waits behind count).
    ///
    /// With the `metrics` feature it sets the gauge `enrich_inbox_ready` to 1 or 0.
    ///
    /// ```no_run
    /// # async fn probe(inbox: enrich_inbox::Inbox) {
    /// use std::time::Duration;
    ///
    /// let report = inbox.health(Duration::from_secs(2)).await;
    /// if let Some(failure) = &report.failure {
    ///     eprintln!("not ready: {failure}"); // e.g. "inbox writer check failed: no answer within 2s"
    /// }
    /// # }
    /// ```
    pub async fn health(&self, deadline: Duration) -> HealthReport {
        let started = Instant::now();
        // The check running, as an index into `HealthCheck::ALL`: the one that timed out.
        let running = AtomicUsize::new(0);
        let failure = tokio::time::timeout(deadline, self.check_all(&running))
            .await
            .unwrap_or_else(|_| {
                Some(HealthFailure {
                    check: HealthCheck::ALL[running.load(Ordering::Relaxed)],
                    problem: HealthProblem::TimedOut { deadline },
                })
            });
        crate::metrics::set_ready(failure.is_none());
        HealthReport {
            engine: self.engine(),
            elapsed: started.elapsed(),
            failure,
        }
    }

    async fn check_all(&self, running: &AtomicUsize) -> Option<HealthFailure> {
        let failed = |check, error| {
            Some(HealthFailure {
                check,
                problem: HealthProblem::Failed(error),
            })
        };
        if let Err(error) = self.backend().ping().await {
            return failed(HealthCheck::Database, error);
        }
        running.store(1, Ordering::Relaxed);
        match self.backend().schema_versions().await {
            Err(error) => return failed(HealthCheck::Migrations, error),
            Ok((found, expected)) if found != expected => {
                let problem = if found < expected {
                    HealthProblem::SchemaBehind { found, expected }
                } else {
                    HealthProblem::SchemaAhead { found, expected }
                };
                return Some(HealthFailure {
                    check: HealthCheck::Migrations,
                    problem,
                });
            }
            Ok(_) => {}
        }
        running.store(2, Ordering::Relaxed);
        if let Err(error) = self.backend().write_probe().await {
            return failed(HealthCheck::Writer, error);
        }
        None
    }
}

/// The answer to a readiness probe (`GET /readyz`), framework-free: a receiver renders its
/// status, `Content-Type` and body as they are.
///
/// Ready: `200` `application/json` `{"status":"ready"}` (with the engine when there is an
/// inbox). Not ready: `503` `application/problem+json` (RFC 9457) naming the check that failed
/// and the kind of problem, e.g. `{"type":"about:blank","title":"Service Unavailable",
/// "status":503,"code":"not_ready","check":"writer","problem":"timed_out","detail":"inbox writer
/// check failed: no answer within 2s"}`. A database's own error message (which may name hosts,
/// users or paths) is logged, never put in the body: the probe answers on the public webhook
/// port.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Readiness {
    /// `200` or `503`.
    pub status: u16,
    /// `application/json` or `application/problem+json`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Readiness {
    /// Ready, with no inbox to check (a receiver that only acknowledges).
    pub fn without_inbox() -> Self {
        Self::ready(serde_json::json!({ "status": "ready" }))
    }

    /// The answer for `report`: ready, or `503` naming the failed check. Logs a failure at
    /// `warn`, with the database's message.
    pub fn of(report: &HealthReport) -> Self {
        match &report.failure {
            None => Self::ready(serde_json::json!({ "status": "ready", "engine": report.engine })),
            Some(failure) => {
                tracing::warn!(%failure, "enrich-inbox: not ready");
                let (problem, detail) = match &failure.problem {
                    HealthProblem::TimedOut { .. } => ("timed_out", failure.to_string()),
                    HealthProblem::Failed(Error::Closed) => ("failed", failure.to_string()),
                    HealthProblem::Failed(_) => (
                        "failed",
                        format!(
                            "inbox {} check failed: the database answered with an error (in \
                             the receiver's log)",
                            failure.check
                        ),
                    ),
                    HealthProblem::SchemaBehind { .. } => ("schema_behind", failure.to_string()),
                    HealthProblem::SchemaAhead { .. } => ("schema_ahead", failure.to_string()),
                };
                Self::not_ready(failure.check, problem, &detail)
            }
        }
    }

    /// `503` naming `check`, the kind of `problem`, and a `detail` sentence.
    pub(crate) fn not_ready(check: HealthCheck, problem: &str, detail: &str) -> Self {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "code": "not_ready",
            "check": check.as_str(),
            "problem": problem,
            "detail": detail,
        });
        Self {
            status: 503,
            content_type: "application/problem+json",
            body: body.to_string().into_bytes(),
        }
    }

    fn ready(body: serde_json::Value) -> Self {
        Self {
            status: 200,
            content_type: "application/json",
            body: body.to_string().into_bytes(),
        }
    }

    /// Whether this is the ready answer (`200`).
    pub fn is_ready(&self) -> bool {
        self.status == 200
    }
}
