//! What the client records through the [`metrics`](https://docs.rs/metrics/0.24) facade (the
//! `metrics` feature), in its one request loop: every HTTP request by endpoint and status, every
//! retry, and the time waited on `429`. Without the feature every function here is empty and
//! [`RateLimitWaits`] holds nothing.

#![cfg_attr(not(feature = "metrics"), allow(dead_code))]

use std::time::Duration;

/// Requests by `endpoint` and `status` (the HTTP status, or `error` for a transport failure).
pub(crate) const REQUESTS: &str = "enrich_client_requests_total";
/// Retries by `endpoint`.
pub(crate) const RETRIES: &str = "enrich_client_retries_total";
/// Whole seconds waited after `429` answers, by `endpoint`.
pub(crate) const RATE_LIMITED_WAIT: &str = "enrich_client_rate_limited_wait_seconds_total";

/// The `status` of a request that got no answer (no connection, a timeout, a broken one).
pub(crate) const TRANSPORT_ERROR: &str = "error";

/// The API's calls, as the `endpoint` label names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    PeopleStart,
    PeopleGet,
    CompaniesStart,
    CompaniesGet,
}

impl Endpoint {
    /// The label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::PeopleStart => "people_start",
            Self::PeopleGet => "people_get",
            Self::CompaniesStart => "companies_start",
            Self::CompaniesGet => "companies_get",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A request's answer: its status, or [`TRANSPORT_ERROR`] (`None`).
#[inline]
pub(crate) fn requested(endpoint: Endpoint, status: Option<u16>) {
    #[cfg(feature = "metrics")]
    {
        let status = status.map_or_else(|| TRANSPORT_ERROR.to_owned(), |code| code.to_string());
        metrics::counter!(REQUESTS, "endpoint" => endpoint.label(), "status" => status)
            .increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (endpoint, status);
}

/// A retry about to wait `delay`; `rate_limited` when the answer was `429`.
#[inline]
pub(crate) fn retrying(
    waits: &RateLimitWaits,
    endpoint: Endpoint,
    rate_limited: bool,
    delay: Duration,
) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(RETRIES, "endpoint" => endpoint.label()).increment(1);
        if rate_limited {
            let seconds = waits.add(endpoint, delay);
            if seconds > 0 {
                metrics::counter!(RATE_LIMITED_WAIT, "endpoint" => endpoint.label())
                    .increment(seconds);
            }
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (waits, endpoint, rate_limited, delay);
}

/// The time a client waited on `429`, per endpoint, not yet counted: counters count whole
/// units, so each wait adds its milliseconds here and the counter gets the whole seconds they
/// make, the remainder carried to the next wait (nothing is lost to rounding). Shared by a
/// client's clones.
#[derive(Debug, Clone, Default)]
pub(crate) struct RateLimitWaits {
    #[cfg(feature = "metrics")]
    millis: std::sync::Arc<std::sync::Mutex<[u64; 4]>>,
}

impl RateLimitWaits {
    /// Adds `delay` to `endpoint`'s carry; the whole seconds to count now.
    #[cfg(feature = "metrics")]
    fn add(&self, endpoint: Endpoint, delay: Duration) -> u64 {
        let mut millis = self
            .millis
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let carried = &mut millis[endpoint.index()];
        *carried = carried.saturating_add(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
        let seconds = *carried / 1000;
        *carried %= 1000;
        seconds
    }
}

#[cfg(all(test, feature = "metrics"))]
mod tests {
    use super::*;

    #[test]
    fn waits_are_counted_in_whole_seconds_with_the_remainder_carried() {
        let waits = RateLimitWaits::default();
        let ms = Duration::from_millis;
        assert_eq!(waits.add(Endpoint::PeopleGet, ms(400)), 0);
        assert_eq!(waits.add(Endpoint::PeopleGet, ms(700)), 1);
        // Each endpoint carries its own remainder (100 ms here).
        assert_eq!(waits.add(Endpoint::PeopleStart, ms(950)), 0);
        assert_eq!(waits.add(Endpoint::PeopleGet, ms(2900)), 3);
        assert_eq!(waits.add(Endpoint::PeopleStart, ms(50)), 1);
        // Clones share the carry.
        assert_eq!(waits.clone().add(Endpoint::CompaniesGet, ms(999)), 0);
        assert_eq!(waits.add(Endpoint::CompaniesGet, ms(1)), 1);
    }
}
