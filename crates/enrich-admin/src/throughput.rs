//! Throughput as the page observes it: the processed count read at each visit of the overview,
//! compared with the oldest reading of the last minutes. The inbox stores no per-minute
//! history, so this is what the page itself saw, and it says so.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the readings go.
pub(crate) const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Readings of the processed count (done and purged deliveries), oldest first.
#[derive(Default)]
pub(crate) struct Throughput {
    readings: VecDeque<(Instant, u64)>,
}

/// Deliveries processed over an observed span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Observed {
    /// How many were processed.
    pub(crate) processed: u64,
    /// Over how long.
    pub(crate) over: Duration,
}

impl Observed {
    /// Per minute.
    pub(crate) fn per_minute(&self) -> f64 {
        self.processed as f64 * 60.0 / self.over.as_secs_f64().max(0.001)
    }
}

impl Throughput {
    /// Records `processed` read at `now`; returns what was processed since the oldest reading
    /// still in the window (`None` on the first reading, or after the count went down, when a
    /// retention pass forgot rows).
    pub(crate) fn observe(&mut self, now: Instant, processed: u64) -> Option<Observed> {
        if self
            .readings
            .back()
            .is_some_and(|&(_, last)| last > processed)
        {
            self.readings.clear();
        }
        while self
            .readings
            .front()
            .is_some_and(|&(at, _)| now.duration_since(at) > WINDOW)
        {
            self.readings.pop_front();
        }
        self.readings.push_back((now, processed));
        let &(first_at, first) = self.readings.front()?;
        let over = now.duration_since(first_at);
        (!over.is_zero()).then_some(Observed {
            processed: processed - first,
            over,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_with_the_oldest_reading_in_the_window() {
        let start = Instant::now();
        let mut throughput = Throughput::default();
        assert_eq!(throughput.observe(start, 10), None);
        let one_minute = start + Duration::from_secs(60);
        let seen = throughput.observe(one_minute, 40).unwrap();
        assert_eq!(seen.processed, 30);
        assert!((seen.per_minute() - 30.0).abs() < 1e-9);
        // Twenty minutes on, the first two readings left the window.
        let later = start + Duration::from_secs(20 * 60);
        assert_eq!(throughput.observe(later, 50), None);
        // A count that went down (rows forgotten) starts over.
        assert_eq!(throughput.observe(later + Duration::from_secs(1), 5), None);
    }
}
