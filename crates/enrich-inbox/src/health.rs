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
