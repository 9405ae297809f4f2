//! The figures an operator watches, read from the database: how many deliveries are due, waiting
//! on backoff, processing, dead and done, and how long the oldest claimable one has waited
//! ([`Inbox::gauges`]); with the `metrics` feature, set as gauges on demand
//! ([`Inbox::record_gauges`]) or on a schedule ([`Inbox::record_gauges_every`]).

use std::time::Duration;

use crate::error::Error;
use crate::inbox::Inbox;
use crate::record::State;

/// How many deliveries are in each state an operator watches, and the age of the oldest
/// claimable one: one read of the database ([`Inbox::gauges`]), one snapshot.
///
/// `due + backoff` is every pending delivery; `done` counts processed deliveries whether or not
/// their body was purged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Gauges {
    /// Pending and due now: waiting for a worker.
    pub due: u64,
    /// Pending but not due yet: a failed attempt waiting on its backoff.
    pub backoff: u64,
    /// Claimed by a worker (including claims whose lease expired, which a worker takes again).
    pub processing: u64,
    /// Dead letters.
    pub dead: u64,
    /// Processed (with or without their body, after a purge).
    pub done: u64,
    /// How long the claimable delivery that became claimable first has been waiting for a
    /// worker, on the database's clock (the one leases and due times are read on): since its
    /// receipt for a new delivery, since its backoff ended for a retry, since its lease expired
    /// for an abandoned claim. Zero when nothing is claimable. A delivery waiting on its
    /// backoff is not claimable, so it never counts, however old.
    pub oldest_claimable_age: Duration,
}

impl Gauges {
    /// From the `(name, value)` rows of the gauges' statement: a row per state, then `backoff`
    /// and `oldest_claimable_ms`.
    pub(crate) fn from_rows(rows: Vec<(String, i64)>) -> Result<Self, Error> {
        let mut gauges = Self::default();
        let mut pending = 0;
        for (name, value) in rows {
            let count = u64::try_from(value).unwrap_or(0);
            match name.as_str() {
                "backoff" => gauges.backoff = count,
                "oldest_claimable_ms" => gauges.oldest_claimable_age = Duration::from_millis(count),
                state => match State::parse(state).ok_or(Error::CorruptRow { column: "state" })? {
                    State::Pending => pending += count,
                    State::Processing => gauges.processing += count,
                    State::Done | State::Purged => gauges.done += count,
                    State::Dead => gauges.dead += count,
                },
            }
        }
        // Both from one snapshot; saturating all the same, should a count kept by triggers
        // (Postgres) ever lag.
        gauges.backoff = gauges.backoff.min(pending);
        gauges.due = pending - gauges.backoff;
        Ok(gauges)
    }
}

impl Inbox {
    /// The figures of [`Gauges`], read from the database in one statement: a pure read that
    /// reads no delivery's body. The counts come from the covering index of the states
    /// (SQLite) or the counts the triggers keep (Postgres), as [`Inbox::counts`]; the rows
    /// waiting on backoff and the oldest claimable delivery come from the index of due rows
    /// (its high end and its first entry), so the cost does not grow with the backlog.
    pub async fn gauges(&self) -> Result<Gauges, Error> {
        self.backend().gauges().await
    }

    /// The database's plan for [`Inbox::gauges`], a line per step, without running it: for
    /// checking that it reads the indexes, never the deliveries.
    #[doc(hidden)]
    pub async fn gauges_plan(&self) -> Result<Vec<String>, Error> {
        self.backend().gauges_plan().await
    }
}

#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use recording::GaugeRecorder;

#[cfg(feature = "metrics")]
mod recording {
    use std::time::Duration;

    use tokio::task::JoinHandle;

    use super::Gauges;
    use crate::error::Error;
    use crate::inbox::Inbox;

    impl Inbox {
        /// Reads [`Inbox::gauges`] and sets the gauges `enrich_inbox_deliveries{state}` and
        /// `enrich_inbox_oldest_claimable_age_seconds` (feature `metrics`). Call it when
        /// something scrapes (before rendering the exporter's answer), or let
        /// [`Inbox::record_gauges_every`] call it on a schedule. On an error the gauges keep
        /// their last values.
        pub async fn record_gauges(&self) -> Result<Gauges, Error> {
            let gauges = self.gauges().await?;
            crate::metrics::set_gauges(&gauges);
            Ok(gauges)
        }

        /// Calls [`Inbox::record_gauges`] now and then every `interval` (at least 100 ms) on a
        /// task of the current Tokio runtime, until the returned [`GaugeRecorder`] is stopped or
        /// dropped, or the inbox is closed (feature `metrics`). A failed read is logged at WARN
        /// and tried again at the next tick. With several replicas on one Postgres inbox, each
        /// reports the same figures (they are the database's): aggregate them with `max`.
        ///
        /// ```no_run
        /// # async fn run() -> Result<(), enrich_inbox::Error> {
        /// use std::time::Duration;
        ///
        /// let inbox = enrich_inbox::Inbox::open("sqlite:inbox.db").await?;
        /// let _gauges = inbox.record_gauges_every(Duration::from_secs(15)); // keep it alive
        /// # Ok(()) }
        /// ```
        pub fn record_gauges_every(&self, interval: Duration) -> GaugeRecorder {
            let inbox = self.clone();
            let interval = interval.max(Duration::from_millis(100));
            let task = tokio::spawn(async move {
                let mut ticks = tokio::time::interval(interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    match inbox.record_gauges().await {
                        Ok(_) => {}
                        Err(Error::Closed) => break,
                        Err(error) => {
                            tracing::warn!(%error, "enrich-inbox: could not read the gauges");
                        }
                    }
                }
            });
            GaugeRecorder { task: Some(task) }
        }
    }

    /// The task of [`Inbox::record_gauges_every`]: it records until [`GaugeRecorder::stop`],
    /// until this is dropped, or until the inbox is closed.
    #[derive(Debug)]
    pub struct GaugeRecorder {
        task: Option<JoinHandle<()>>,
    }

    impl GaugeRecorder {
        /// Stops recording (a read under way is dropped) and waits for the task to end.
        pub async fn stop(mut self) {
            if let Some(task) = self.task.take() {
                task.abort();
                let _ = task.await;
            }
        }
    }

    impl Drop for GaugeRecorder {
        fn drop(&mut self) {
            if let Some(task) = &self.task {
                task.abort();
            }
        }
    }
}
