//! Mapping HTTP failures to port errors.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ops_core::{ErrorKind, PortError};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::de::DeserializeOwned;

/// Reads a Retry-After header, given either in seconds or as an HTTP date (RFC 9110), as the
/// delay from `now`. A date in the past gives zero.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((date - now).to_std().unwrap_or(Duration::ZERO))
}

/// Maps a failed response to a port error of `service` during `operation`.
///
/// Only a short error code is taken from `body`, never the body itself, which may echo
/// request data.
pub fn status_error(
    service: &str,
    operation: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> PortError {
    let retry_after = retry_after(headers, now);
    let kind = match status.as_u16() {
        429 => ErrorKind::Throttled,
        503 if retry_after.is_some() => ErrorKind::Throttled,
        408 | 500..=599 => ErrorKind::Transient,
        401 | 403 => ErrorKind::Unauthorized,
        400 | 422 => ErrorKind::InvalidInput,
        404 | 410 => ErrorKind::NotFound,
        409 | 412 => ErrorKind::Conflict,
        _ => ErrorKind::Permanent,
    };
    let error = PortError::new(kind, service, operation, status_message(status, body));
    match retry_after {
        Some(delay) => error.with_retry_after(delay),
        None => error,
    }
}

/// Returns `HTTP <status>`, followed by the error code from the body when it has one.
pub fn status_message(status: StatusCode, body: &[u8]) -> String {
    match error_code(body) {
        Some(code) => format!("HTTP {} ({code})", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// Maps a failure to send a request or to read its response to a port error. The URL is
/// dropped from the cause, because query strings can carry signatures.
pub fn request_error(service: &str, operation: &str, error: reqwest::Error) -> PortError {
    let kind = if error.is_builder() {
        ErrorKind::Permanent
    } else {
        ErrorKind::Transient
    };
    let message = if error.is_timeout() {
        "request timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    PortError::new(kind, service, operation, message).with_source(error.without_url())
}

/// Decodes a JSON response body, or returns a permanent error that says the service sent
/// something else, with the position in the cause.
pub fn decode_json<T: DeserializeOwned>(
    service: &str,
    operation: &str,
    body: &[u8],
) -> Result<T, PortError> {
    serde_json::from_slice(body).map_err(|source| {
        let message = format!(
            "the response is not the expected JSON (line {}, column {}); check the service URL and API version",
            source.line(),
            source.column()
        );
        PortError::permanent(service, operation, message).with_source(source)
    })
}

/// Extracts an error code from the error bodies of Azure and Graph (`{"error":{"code":…}}`),
/// OAuth (`{"error":"…"}`), Jamf (`{"errors":[{"code":…}]}`) and DRF (`{"detail":…}` is not a
/// code and is skipped), keeping only a short run of safe characters.
fn error_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = match (&value["error"], &value["errors"], &value["code"]) {
        (serde_json::Value::String(code), _, _) => code.clone(),
        (serde_json::Value::Object(error), _, _) => error.get("code")?.as_str()?.to_owned(),
        (_, serde_json::Value::Array(errors), _) => {
            errors.first()?.get("code")?.as_str()?.to_owned()
        }
        (_, _, serde_json::Value::Number(code)) => format!("code {code}"),
        (_, _, serde_json::Value::String(code)) => code.clone(),
        _ => return None,
    };
    let safe: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '))
        .take(80)
        .collect();
    (!safe.is_empty()).then_some(safe)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-04T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn headers(retry_after: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static(retry_after));
        headers
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(
            retry_after(&headers("7"), now()),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers("Fri, 04 Dec 2026 12:00:30 GMT"), now()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&headers("Fri, 04 Dec 2026 11:00:00 GMT"), now()),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon"), now()), None);
        assert_eq!(retry_after(&HeaderMap::new(), now()), None);
    }

    #[test]
    fn statuses_map_to_kinds() {
        let kind = |status: u16, headers: &HeaderMap| {
            status_error(
                "Jamf",
                "list",
                StatusCode::from_u16(status).unwrap(),
                headers,
                b"",
                now(),
            )
            .kind()
        };
        let none = HeaderMap::new();
        assert_eq!(kind(429, &none), ErrorKind::Throttled);
        assert_eq!(kind(503, &headers("5")), ErrorKind::Throttled);
        assert_eq!(kind(503, &none), ErrorKind::Transient);
        assert_eq!(kind(502, &none), ErrorKind::Transient);
        assert_eq!(kind(401, &none), ErrorKind::Unauthorized);
        assert_eq!(kind(403, &none), ErrorKind::Unauthorized);
        assert_eq!(kind(400, &none), ErrorKind::InvalidInput);
        assert_eq!(kind(404, &none), ErrorKind::NotFound);
        assert_eq!(kind(409, &none), ErrorKind::Conflict);
        assert_eq!(kind(418, &none), ErrorKind::Permanent);
    }

    #[test]
    fn messages_keep_only_error_codes() {
        let graph = br#"{"error":{"code":"Request_ResourceNotFound","message":"secret detail"}}"#;
        let error = status_error(
            "Intune",
            "delete assignment",
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            graph,
            now(),
        );
        assert_eq!(
            error.to_string(),
            "Intune delete assignment failed: HTTP 404 (Request_ResourceNotFound)"
        );

        let jamf = br#"{"httpStatus":400,"errors":[{"code":"INVALID_FIELD","description":"x"}]}"#;
        assert_eq!(
            status_message(StatusCode::BAD_REQUEST, jamf),
            "HTTP 400 (INVALID_FIELD)"
        );
        assert_eq!(
            status_message(StatusCode::BAD_GATEWAY, b"<html>"),
            "HTTP 502"
        );
        let hostile = br#"{"error":"<script>alert(1)</script>"}"#;
        assert_eq!(
            status_message(StatusCode::BAD_REQUEST, hostile),
            "HTTP 400 (scriptalert1script)"
        );
    }

    #[test]
    fn malformed_json_is_a_permanent_error_with_position() {
        let error =
            decode_json::<serde_json::Value>("AWX", "get job", b"{\"status\": ").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Permanent);
        assert!(error.to_string().contains("line 1, column 11"), "{error}");
    }
}
