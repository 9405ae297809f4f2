//! How a wait polls: [`PollConfig`], part of every client (set with
//! [`ClientBuilder::poll`](crate::ClientBuilder::poll)).

use std::time::Duration;

/// How [`Client::wait_people`](crate::Client::wait_people) polls: the first wait, its growth, its cap, and an optional
/// overall deadline.
///
/// ```
/// use std::time::Duration;
/// use enrich_client::PollConfig;
///
/// let quick = PollConfig::default()
///     .first_interval(Duration::from_millis(200))
///     .max_interval(Duration::from_secs(2))
///     .give_up_after(Some(Duration::from_secs(600)));
/// # let _ = quick;
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollConfig {
    pub(crate) first_interval: Duration,
    factor: f64,
    max_interval: Duration,
    pub(crate) give_up_after: Option<Duration>,
}

impl Default for PollConfig {
    /// From 1 s, growing by half each poll, at most 15 s apart, never giving up.
    fn default() -> Self {
        Self {
            first_interval: Duration::from_secs(1),
            factor: 1.5,
            max_interval: Duration::from_secs(15),
            give_up_after: None,
        }
    }
}

impl PollConfig {
    /// Sets the wait after the first poll.
    pub fn first_interval(mut self, interval: Duration) -> Self {
        self.first_interval = interval;
        self
    }

    /// Sets by how much each wait grows (at least 1: never shrinks).
    pub fn growth(mut self, factor: f64) -> Self {
        self.factor = factor.max(1.0);
        self
    }

    /// Sets the longest wait between two polls.
    pub fn max_interval(mut self, interval: Duration) -> Self {
        self.max_interval = interval;
        self
    }

    /// Sets when to give up with [`Error::WaitTimedOut`](crate::Error::WaitTimedOut) (`None`: wait as long as it takes).
    pub fn give_up_after(mut self, deadline: Option<Duration>) -> Self {
        self.give_up_after = deadline;
        self
    }

    /// The wait after one of `interval`: grown by the factor, at most the cap.
    pub(crate) fn next(&self, interval: Duration) -> Duration {
        interval.mul_f64(self.factor).min(self.max_interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_grow_to_the_cap() {
        let policy = PollConfig::default()
            .first_interval(Duration::from_secs(1))
            .growth(2.0)
            .max_interval(Duration::from_secs(5));
        let mut interval = Duration::from_secs(1);
        let mut seen = Vec::new();
        for _ in 0..5 {
            interval = policy.next(interval);
            seen.push(interval.as_secs());
        }
        assert_eq!(seen, [2, 4, 5, 5, 5]);
    }
}
