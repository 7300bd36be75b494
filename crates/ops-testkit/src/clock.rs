//! A clock that moves only when advanced, or when slept on.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ops_core::ports::Clock;

use crate::failures::lock;

/// A fake clock. `sleep` returns at once and advances the time by the duration, so code that
/// waits four hours finishes in microseconds and sees four hours pass.
#[derive(Debug)]
pub struct FakeClock {
    now: Mutex<DateTime<Utc>>,
    sleeps: Mutex<Vec<Duration>>,
}

impl FakeClock {
    /// Creates a clock showing `start`.
    pub fn at(start: DateTime<Utc>) -> FakeClock {
        FakeClock {
            now: Mutex::new(start),
            sleeps: Mutex::new(Vec::new()),
        }
    }

    /// Moves the time forward.
    pub fn advance(&self, duration: Duration) {
        let mut now = lock(&self.now);
        *now += chrono::Duration::from_std(duration).expect("test durations fit in chrono");
    }

    /// Returns every duration slept, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        lock(&self.sleeps).clone()
    }
}

impl Default for FakeClock {
    /// Creates a clock at 2026-01-01T00:00:00Z.
    fn default() -> FakeClock {
        FakeClock::at(DateTime::from_timestamp(1_767_225_600, 0).expect("valid timestamp"))
    }
}

#[async_trait]
impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.now)
    }

    async fn sleep(&self, duration: Duration) {
        lock(&self.sleeps).push(duration);
        self.advance(duration);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleep_advances_time() {
        let clock = FakeClock::default();
        let start = clock.now();
        clock.sleep(Duration::from_secs(4 * 3600)).await;
        assert_eq!(clock.now() - start, chrono::Duration::hours(4));
        assert_eq!(clock.sleeps(), [Duration::from_secs(4 * 3600)]);
    }
}
