//! The figures an operator watches, read from the database: how many deliveries are due, waiting
//! on backoff, processing, dead and done, and how long the oldest claimable one has waited
//! ([`Inbox::gauges`]); with the `metrics` feature, set as gauges on demand
//! ([`Inbox::record_gauges`]) or on a schedule ([`Inbox::record_gauges_every`]).

use crate::error::Error;
use crate::inbox::Inbox;
use crate::record::Gauges;

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
