//! A client-side rate limit, so that a caller stays under a service's allowed rate instead of
//! learning it from HTTP 429 responses.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ports::Clock;

/// Spaces calls to at most `rate` per second, allowing a burst of `burst` calls after a pause.
///
/// It uses the generic cell rate algorithm: the limiter keeps the theoretical arrival time of
/// the next call, and a call may go once the clock reaches that time less the burst allowance.
/// Waiting happens on the [`Clock`] port, so tests need not sleep.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    tolerance: Duration,
    next_arrival: Mutex<Option<DateTime<Utc>>>,
}

impl RateLimiter {
    /// Creates a limiter of `calls_per_second` (more than zero) with a burst of `burst` calls
    /// (at least one).
    pub fn new(calls_per_second: f64, burst: u32) -> RateLimiter {
        let interval = Duration::from_secs_f64(1.0 / calls_per_second.max(f64::MIN_POSITIVE));
        RateLimiter {
            interval,
            tolerance: interval * burst.max(1).saturating_sub(1),
            next_arrival: Mutex::new(None),
        }
    }

    /// Returns the pause before a call at `now` may go, reserving its slot when the pause is
    /// zero.
    pub fn reserve(&self, now: DateTime<Utc>) -> Duration {
        let mut next_arrival = self
            .next_arrival
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let arrival = next_arrival.map_or(now, |arrival| arrival.max(now));
        let allowed_at = arrival - chrono::Duration::from_std(self.tolerance).unwrap_or_default();
        if now < allowed_at {
            return (allowed_at - now).to_std().unwrap_or_default();
        }
        *next_arrival =
            Some(arrival + chrono::Duration::from_std(self.interval).unwrap_or_default());
        Duration::ZERO
    }

    /// Waits on `clock` until a call may go, and reserves its slot.
    pub async fn acquire(&self, clock: &dyn Clock) {
        loop {
            let pause = self.reserve(clock.now());
            if pause.is_zero() {
                return;
            }
            clock.sleep(pause).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + chrono::Duration::milliseconds(millis)
    }

    #[test]
    fn calls_are_spaced_by_the_interval() {
        let limiter = RateLimiter::new(10.0, 1);
        assert_eq!(limiter.reserve(at(0)), Duration::ZERO);
        assert_eq!(limiter.reserve(at(40)), Duration::from_millis(60));
        assert_eq!(limiter.reserve(at(100)), Duration::ZERO);
        assert_eq!(limiter.reserve(at(100)), Duration::from_millis(100));
    }

    #[test]
    fn a_pause_allows_a_burst_but_no_more() {
        let limiter = RateLimiter::new(10.0, 3);
        let granted = (0..5).filter(|_| limiter.reserve(at(0)).is_zero()).count();
        assert_eq!(granted, 3);
        assert_eq!(limiter.reserve(at(0)), Duration::from_millis(100));
    }

    #[test]
    fn long_idle_does_not_bank_more_than_the_burst() {
        let limiter = RateLimiter::new(2.0, 2);
        limiter.reserve(at(0));
        let granted = (0..5)
            .filter(|_| limiter.reserve(at(60_000)).is_zero())
            .count();
        assert_eq!(granted, 2);
    }

    #[test]
    fn no_window_exceeds_the_rate() {
        let limiter = RateLimiter::new(50.0, 1);
        let mut now = 0;
        let mut granted = Vec::new();
        while granted.len() < 200 {
            let pause = limiter.reserve(at(now));
            if pause.is_zero() {
                granted.push(now);
            } else {
                now += pause.as_millis() as i64;
            }
        }
        for window in granted.windows(51) {
            assert!(
                window[50] - window[0] >= 1000,
                "51 calls within one second: {window:?}"
            );
        }
    }
}
