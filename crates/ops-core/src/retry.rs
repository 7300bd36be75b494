//! The retry policy every domain shares: capped exponential backoff with jitter that honours
//! the Retry-After a service sends.

use std::future::Future;
use std::time::Duration;

use crate::PortError;
use crate::ports::Clock;

/// How often and how patiently to retry a port call that failed with a retryable error.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included. One means no retry.
    pub max_attempts: u32,
    /// The backoff before the first retry, before jitter.
    pub initial_delay: Duration,
    /// The cap on the computed backoff.
    pub max_delay: Duration,
    /// The longest Retry-After the policy waits for. A service that asks for more ends the
    /// retries, because waiting that long inside one operation would stall it unseen.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts, backoff from 500 ms capped at 30 s, and Retry-After honoured up to 5 minutes.
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// Returns the pause before attempt `attempt + 1`, after attempt `attempt` (counted from 1)
    /// failed, or `None` when the policy gives up.
    ///
    /// Without a Retry-After the backoff doubles from `initial_delay` up to `max_delay`, and the
    /// pause is drawn uniformly from the upper half of it ("equal jitter"), so that clients failing
    /// together do not retry together. A Retry-After replaces the backoff, because the service is the one that is overloaded.
    pub fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        rng: &mut fastrand::Rng,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        if let Some(requested) = retry_after {
            return (requested <= self.max_retry_after).then_some(requested);
        }

        let doublings = attempt.saturating_sub(1).min(31);
        let backoff = self
            .initial_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay);
        let half = backoff / 2;
        let jitter_nanos = rng.u64(0..=half.as_nanos().min(u64::MAX as u128) as u64);
        Some(half + Duration::from_nanos(jitter_nanos))
    }

    /// Runs `call` until it succeeds, fails with an error that is not retryable, or the policy
    /// gives up, sleeping on `clock` between attempts. `call` receives the attempt number,
    /// counted from 1.
    ///
    /// The last error is returned as it was, so the caller sees which call failed and why.
    pub async fn run<T, F, Fut>(&self, clock: &dyn Clock, mut call: F) -> Result<T, PortError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, PortError>>,
    {
        let mut rng = fastrand::Rng::new();
        let mut attempt = 1;
        loop {
            let error = match call(attempt).await {
                Ok(value) => return Ok(value),
                Err(error) if !error.is_retryable() => return Err(error),
                Err(error) => error,
            };
            let Some(pause) = self.delay(attempt, error.retry_after(), &mut rng) else {
                return Err(error);
            };
            tracing::warn!(
                service = error.service(),
                operation = error.operation(),
                attempt,
                pause_ms = pause.as_millis() as u64,
                "retrying after a transient failure: {error}"
            );
            clock.sleep(pause).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::ErrorKind;

    /// A clock that records every pause instead of sleeping.
    #[derive(Default)]
    struct RecordingClock {
        pauses: Mutex<Vec<Duration>>,
    }

    #[async_trait]
    impl Clock for RecordingClock {
        fn now(&self) -> DateTime<Utc> {
            DateTime::UNIX_EPOCH
        }

        async fn sleep(&self, duration: Duration) {
            self.pauses.lock().unwrap().push(duration);
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn backoff_doubles_within_jitter_bounds_and_caps() {
        let mut rng = fastrand::Rng::with_seed(7);
        let expected_caps = [1, 2, 4, 8, 8];
        for (index, cap_secs) in expected_caps.into_iter().enumerate() {
            let attempt = index as u32 + 1;
            let cap = Duration::from_secs(cap_secs);
            for _ in 0..100 {
                let pause = policy().delay(attempt, None, &mut rng).unwrap();
                assert!(
                    pause >= cap / 2 && pause <= cap,
                    "attempt {attempt}: {pause:?}"
                );
            }
        }
    }

    #[test]
    fn jitter_spreads_pauses() {
        let mut rng = fastrand::Rng::with_seed(11);
        let pauses: std::collections::HashSet<Duration> = (0..20)
            .map(|_| policy().delay(3, None, &mut rng).unwrap())
            .collect();
        assert!(
            pauses.len() > 10,
            "jitter produced only {} distinct pauses",
            pauses.len()
        );
    }

    #[test]
    fn retry_after_replaces_backoff() {
        let mut rng = fastrand::Rng::with_seed(1);
        let pause = policy().delay(1, Some(Duration::from_secs(42)), &mut rng);
        assert_eq!(pause, Some(Duration::from_secs(42)));
    }

    #[test]
    fn retry_after_beyond_limit_gives_up() {
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(
            policy().delay(1, Some(Duration::from_secs(61)), &mut rng),
            None
        );
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let mut rng = fastrand::Rng::with_seed(1);
        assert!(policy().delay(5, None, &mut rng).is_some());
        assert_eq!(policy().delay(6, None, &mut rng), None);
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let mut rng = fastrand::Rng::with_seed(1);
        let policy = RetryPolicy {
            max_attempts: u32::MAX,
            ..policy()
        };
        let pause = policy.delay(4_000_000, None, &mut rng).unwrap();
        assert!(pause <= Duration::from_secs(8));
    }

    #[tokio::test]
    async fn run_retries_transient_errors_and_honours_retry_after() {
        let clock = RecordingClock::default();
        let result = policy()
            .run(&clock, |attempt| async move {
                match attempt {
                    1 => Err(
                        PortError::new(ErrorKind::Throttled, "Jamf", "list", "HTTP 429")
                            .with_retry_after(Duration::from_secs(3)),
                    ),
                    2 => Err(PortError::transient("Jamf", "list", "HTTP 502")),
                    _ => Ok(attempt),
                }
            })
            .await;
        assert_eq!(result.unwrap(), 3);
        let pauses = clock.pauses.lock().unwrap().clone();
        assert_eq!(pauses.len(), 2);
        assert_eq!(pauses[0], Duration::from_secs(3));
        assert!(pauses[1] >= Duration::from_secs(1), "{:?}", pauses[1]);
        assert!(pauses[1] <= Duration::from_secs(2), "{:?}", pauses[1]);
    }

    #[tokio::test]
    async fn run_stops_at_permanent_errors() {
        let clock = RecordingClock::default();
        let mut calls = 0;
        let result: Result<(), PortError> = policy()
            .run(&clock, |_| {
                calls += 1;
                async {
                    Err(PortError::not_found(
                        "Intune",
                        "delete assignment",
                        "HTTP 404",
                    ))
                }
            })
            .await;
        assert_eq!(result.unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(calls, 1);
        assert!(clock.pauses.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn run_returns_last_error_when_attempts_run_out() {
        let clock = RecordingClock::default();
        let result: Result<(), PortError> = policy()
            .run(&clock, |attempt| async move {
                Err(PortError::transient(
                    "AWX",
                    "launch",
                    format!("HTTP 503 on attempt {attempt}"),
                ))
            })
            .await;
        assert_eq!(
            result.unwrap_err().to_string(),
            "AWX launch failed: HTTP 503 on attempt 6"
        );
        assert_eq!(clock.pauses.lock().unwrap().len(), 5);
    }
}
