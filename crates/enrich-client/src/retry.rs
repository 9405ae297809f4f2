//! When to retry a request, and how long to wait before the next attempt.

use std::time::Duration;

/// How the client retries answers that say "try again later": `429 Too Many Requests` and
/// `5xx`, plus connections that could not be made.
///
/// The wait before retry `n` (from 0) is the answer's `Retry-After` (in seconds) when it has one,
/// else a random duration between zero and `min(max_delay, base_delay × 2ⁿ)` ("full jitter", so
/// that many clients do not retry in step). No wait exceeds `max_delay`.
///
/// ```
/// use std::time::Duration;
/// use enrich_client::RetryConfig;
///
/// let patient = RetryConfig::default()
///     .max_attempts(9)
///     .base_delay(Duration::from_secs(1))
///     .max_delay(Duration::from_secs(60));
/// assert_eq!(patient.get_max_attempts(), 9);
/// assert_eq!(RetryConfig::none().get_max_attempts(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryConfig {
    /// 5 attempts (the first and 4 retries), from 500 ms, at most 30 s apart.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryConfig {
    /// Never retry.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets how many attempts one request gets in all, the first included (as the inbox's
    /// worker counts them); `1` never retries, and `0` counts as `1`.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the wait bound of the first retry; it doubles with each retry.
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Sets the longest wait between two attempts, `Retry-After` included.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How many attempts one request gets in all, as set by [`RetryConfig::max_attempts`].
    pub fn get_max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait before retry number `retry` (0 for the first), given the answer's `Retry-After`.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(asked) = retry_after {
            return asked.min(self.max_delay);
        }
        let bound = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_delay);
        let millis = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=millis))
    }
}

/// Whether an answer with `status` is worth retrying: the server is busy or broken, not the
/// request.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

/// Reads a `Retry-After` header value given in seconds. The HTTP-date form is not read (the
/// policy's own backoff applies then).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_wins_but_is_capped() {
        let policy = RetryConfig::default().max_delay(Duration::from_secs(10));
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(300))),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn jittered_delays_stay_within_the_doubling_bound() {
        let policy = RetryConfig::default()
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(1000));
        for retry in 0..10 {
            let bound =
                Duration::from_millis(100 * 2u64.pow(retry)).min(Duration::from_millis(1000));
            for _ in 0..50 {
                assert!(policy.delay(retry, None) <= bound);
            }
        }
        // A huge retry number neither overflows nor exceeds the cap.
        assert!(policy.delay(u32::MAX, None) <= Duration::from_millis(1000));
    }

    #[test]
    fn retryable_statuses_and_retry_after_values() {
        for status in [429, 500, 502, 503, 504] {
            assert!(is_retryable_status(status), "{status}");
        }
        for status in [200, 202, 400, 401, 402, 403, 404] {
            assert!(!is_retryable_status(status), "{status}");
        }
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
