//! How long a failed delivery waits before its next attempt.

use std::time::Duration;

/// Exponential backoff with jitter: attempt `n` failed → wait a random time between half and all
/// of `initial × 2ⁿ⁻¹`, capped at `max`. The jitter spreads the retries of many deliveries that
/// failed together (say, while a downstream service was down).
///
/// ```
/// use std::time::Duration;
/// use enrich_inbox::Backoff;
///
/// let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(60));
/// assert_eq!(backoff.ceiling(1), Duration::from_secs(1));
/// assert_eq!(backoff.ceiling(3), Duration::from_secs(4));
/// assert_eq!(backoff.ceiling(30), Duration::from_secs(60));
/// let wait = backoff.delay(3);
/// assert!(wait >= Duration::from_secs(2) && wait <= Duration::from_secs(4));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
}

impl Default for Backoff {
    /// 1 s, doubling, at most 10 minutes.
    fn default() -> Self {
        Self::exponential(Duration::from_secs(1), Duration::from_secs(600))
    }
}

impl Backoff {
    /// Starts at `initial` and doubles per failed attempt, up to `max` (at least `initial`).
    pub fn exponential(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
        }
    }

    /// The longest wait after failed attempt `attempt` (1-based): `initial × 2^(attempt − 1)`,
    /// capped at `max`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(63);
        self.initial
            .checked_mul(1u32.checked_shl(doublings).unwrap_or(u32::MAX))
            .map_or(self.max, |wait| wait.min(self.max))
    }

    /// The wait after failed attempt `attempt`: uniformly random between half the
    /// [`ceiling`](Self::ceiling) and all of it.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let spread = u64::try_from((ceiling - half).as_micros()).unwrap_or(u64::MAX);
        half + Duration::from_micros(fastrand::u64(0..=spread))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_stays_within_half_to_full() {
        let backoff = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1));
        let ceilings: Vec<u128> = (1..=6).map(|n| backoff.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(1));
        for attempt in 1..=6 {
            for _ in 0..200 {
                let delay = backoff.delay(attempt);
                let ceiling = backoff.ceiling(attempt);
                assert!(
                    delay >= ceiling / 2 && delay <= ceiling,
                    "{delay:?} vs {ceiling:?}"
                );
            }
        }
    }

    #[test]
    fn the_jitter_spreads_waits() {
        let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(1));
        let distinct: std::collections::HashSet<Duration> =
            (0..50).map(|_| backoff.delay(1)).collect();
        assert!(
            distinct.len() > 10,
            "only {} distinct waits",
            distinct.len()
        );
    }
}
