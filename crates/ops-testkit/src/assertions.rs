//! Assertions on port errors, shared by the adapter tests.

use ops_core::{ErrorKind, PortError};

/// Asserts that `error` is of `kind` and that its message contains `expected`.
#[track_caller]
pub fn assert_port_error(error: &PortError, kind: ErrorKind, expected: &str) {
    assert_eq!(error.kind(), kind, "{error}");
    let message = error.to_string();
    assert!(
        message.contains(expected),
        "{message:?} does not contain {expected:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_error_passes() {
        let error = PortError::permanent("Graph", "list apps", "HTTP 400");
        assert_port_error(&error, ErrorKind::Permanent, "list apps failed: HTTP 400");
    }

    #[test]
    #[should_panic(expected = "does not contain")]
    fn other_message_fails() {
        let error = PortError::permanent("Graph", "list apps", "HTTP 400");
        assert_port_error(&error, ErrorKind::Permanent, "HTTP 404");
    }

    #[test]
    #[should_panic(expected = "left: Transient")]
    fn other_kind_fails() {
        let error = PortError::transient("Graph", "list apps", "HTTP 503");
        assert_port_error(&error, ErrorKind::Permanent, "HTTP 503");
    }
}
