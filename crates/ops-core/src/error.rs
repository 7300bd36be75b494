//! The one error type every port returns.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// What kind of failure a port hit, which decides whether a caller retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A failure that may pass on its own: a timeout, a reset connection, an HTTP 5xx.
    Transient,
    /// The service asked the caller to slow down (HTTP 429, or 503 with Retry-After).
    Throttled,
    /// The thing asked for does not exist.
    NotFound,
    /// The credentials were rejected or lack a permission.
    Unauthorized,
    /// The request was invalid: fixing the input, not retrying, helps.
    InvalidInput,
    /// The request conflicts with the current state (HTTP 409, a precondition failed).
    Conflict,
    /// Any other failure that a retry will not fix.
    Permanent,
}

impl ErrorKind {
    /// Returns true when retrying the same call may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Transient | ErrorKind::Throttled)
    }
}

/// A failure reported by a port: which service, which call, what kind, and when to retry.
///
/// The message describes this failure only; the underlying cause stays in
/// [`std::error::Error::source`] so that the chain is printed once, at the edge.
/// Messages never contain secret values: adapters build them from status codes, paths and
/// error codes, never from request bodies or headers.
#[derive(Debug)]
pub struct PortError {
    kind: ErrorKind,
    service: String,
    operation: String,
    message: String,
    retry_after: Option<Duration>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl PortError {
    /// Creates an error of `kind` raised by `service` (such as `Jamf`) during `operation` (such as
    /// `list applications`).
    pub fn new(
        kind: ErrorKind,
        service: impl Into<String>,
        operation: impl Into<String>,
        message: impl Into<String>,
    ) -> PortError {
        PortError {
            kind,
            service: service.into(),
            operation: operation.into(),
            message: message.into(),
            retry_after: None,
            source: None,
        }
    }

    /// Creates a transient error.
    pub fn transient(
        service: impl Into<String>,
        operation: impl Into<String>,
        message: impl Into<String>,
    ) -> PortError {
        PortError::new(ErrorKind::Transient, service, operation, message)
    }

    /// Creates a permanent error.
    pub fn permanent(
        service: impl Into<String>,
        operation: impl Into<String>,
        message: impl Into<String>,
    ) -> PortError {
        PortError::new(ErrorKind::Permanent, service, operation, message)
    }

    /// Creates a not-found error.
    pub fn not_found(
        service: impl Into<String>,
        operation: impl Into<String>,
        message: impl Into<String>,
    ) -> PortError {
        PortError::new(ErrorKind::NotFound, service, operation, message)
    }

    /// Sets the delay the service asked for before the next attempt.
    pub fn with_retry_after(mut self, retry_after: Duration) -> PortError {
        self.retry_after = Some(retry_after);
        self
    }

    /// Sets the underlying cause.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> PortError {
        self.source = Some(Box::new(source));
        self
    }

    /// Returns the kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Returns the service that failed.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Returns the call that failed.
    pub fn operation(&self) -> &str {
        &self.operation
    }

    /// Returns the delay the service asked for, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Returns true when retrying the same call may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }
}

impl fmt::Display for PortError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} {} failed: {}",
            self.service, self.operation, self.message
        )
    }
}

impl StdError for PortError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

/// Shorthand for results of port calls.
pub type PortResult<T> = Result<T, PortError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_service_and_call_and_keeps_cause_apart() {
        let cause = std::io::Error::other("connection reset");
        let error = PortError::transient("Jamf", "list applications", "HTTP 503")
            .with_source(cause)
            .with_retry_after(Duration::from_secs(7));
        assert_eq!(error.to_string(), "Jamf list applications failed: HTTP 503");
        assert_eq!(error.source().unwrap().to_string(), "connection reset");
        assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
        assert!(error.is_retryable());
    }

    #[test]
    fn only_transient_and_throttled_are_retryable() {
        let retryable: Vec<ErrorKind> = [
            ErrorKind::Transient,
            ErrorKind::Throttled,
            ErrorKind::NotFound,
            ErrorKind::Unauthorized,
            ErrorKind::InvalidInput,
            ErrorKind::Conflict,
            ErrorKind::Permanent,
        ]
        .into_iter()
        .filter(|kind| kind.is_retryable())
        .collect();
        assert_eq!(retryable, [ErrorKind::Transient, ErrorKind::Throttled]);
    }
}
