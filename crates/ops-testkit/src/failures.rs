//! Scripted failures shared by the fakes.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use ops_core::{ErrorKind, PortError};

/// A failure a fake can be told to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 429 with a Retry-After.
    Throttled(Duration),
    /// A transient failure, such as HTTP 503 without Retry-After.
    Transient,
    /// A call that timed out.
    Timeout,
    /// The thing asked for does not exist.
    NotFound,
    /// Credentials rejected.
    Unauthorized,
    /// A failure no retry fixes.
    Permanent,
}

impl Failure {
    /// Builds the port error this failure stands for.
    pub fn to_error(&self, service: &str, operation: &str) -> PortError {
        match self {
            Failure::Throttled(retry_after) => PortError::new(
                ErrorKind::Throttled,
                service,
                operation,
                "HTTP 429 Too Many Requests",
            )
            .with_retry_after(*retry_after),
            Failure::Transient => {
                PortError::transient(service, operation, "HTTP 503 Service Unavailable")
            }
            Failure::Timeout => PortError::transient(service, operation, "timed out after 30 s"),
            Failure::NotFound => PortError::not_found(service, operation, "HTTP 404 Not Found"),
            Failure::Unauthorized => PortError::new(
                ErrorKind::Unauthorized,
                service,
                operation,
                "HTTP 401 Unauthorized",
            ),
            Failure::Permanent => PortError::permanent(service, operation, "HTTP 400 Bad Request"),
        }
    }
}

/// A queue of failures: each call takes the next one, if any, and fails with it.
#[derive(Debug, Default)]
pub struct Failures {
    queue: Mutex<VecDeque<Failure>>,
    always: Mutex<Option<Failure>>,
}

impl Failures {
    /// Queues failures for the next calls, in order.
    pub fn push(&self, failures: impl IntoIterator<Item = Failure>) {
        lock(&self.queue).extend(failures);
    }

    /// Makes every call fail with `failure` until [`Failures::clear`].
    pub fn always(&self, failure: Failure) {
        *lock(&self.always) = Some(failure);
    }

    /// Stops failing.
    pub fn clear(&self) {
        lock(&self.queue).clear();
        *lock(&self.always) = None;
    }

    /// Returns the error the current call must fail with, if any.
    pub fn next(&self, service: &str, operation: &str) -> Result<(), PortError> {
        let failure = lock(&self.queue)
            .pop_front()
            .or_else(|| lock(&self.always).clone());
        match failure {
            Some(failure) => Err(failure.to_error(service, operation)),
            None => Ok(()),
        }
    }
}

/// Locks a fake's mutex; a test that panicked mid-call has failed already, so poison is ignored.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_failures_come_first_then_always() {
        let failures = Failures::default();
        failures.push([Failure::Throttled(Duration::from_secs(2))]);
        failures.always(Failure::Transient);
        let first = failures.next("Jamf", "list").unwrap_err();
        assert_eq!(first.kind(), ErrorKind::Throttled);
        assert_eq!(first.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(
            failures.next("Jamf", "list").unwrap_err().kind(),
            ErrorKind::Transient
        );
        failures.clear();
        assert!(failures.next("Jamf", "list").is_ok());
    }
}
