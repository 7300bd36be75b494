//! HTTP helpers shared by the Sentinel, Splunk and token clients: URL checks and the mapping of
//! responses to port errors.

use std::time::Duration;

use ops_core::{ErrorKind, PortError};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use crate::error::SiemError;

/// Parses a base URL from the configuration. Plain `http` is accepted only for loopback hosts,
/// so that a bearer token or HEC token never crosses a network in the clear.
pub(crate) fn parse_base_url(field: &'static str, text: &str) -> Result<Url, SiemError> {
    let url = Url::parse(text.trim()).map_err(|error| SiemError::InvalidConfig {
        field,
        reason: format!("{text:?} is not a URL ({error}): expected https://HOST[:PORT]"),
    })?;
    let is_loopback = matches!(
        url.host_str(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    );
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback => Ok(url),
        _ => Err(SiemError::InvalidConfig {
            field,
            reason: format!("{text:?} must use https (plain http is allowed only for loopback)"),
        }),
    }
}

/// Builds the HTTP client with the request timeout from the configuration.
pub(crate) fn client(sink: &'static str, timeout: Duration) -> Result<reqwest::Client, SiemError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .build()
        .map_err(|source| SiemError::HttpClient { sink, source })
}

/// Reads a Retry-After header given in seconds.
///
/// NOTE: the HTTP-date form of Retry-After is not parsed; such a header falls back to the
/// retry policy's own backoff.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse().ok().map(Duration::from_secs)
}

/// Maps a failed response to a port error. `body` is the response body, from which only a short
/// error code is kept: bodies are never copied into messages whole.
pub(crate) fn status_error(
    service: &'static str,
    operation: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> PortError {
    let retry_after = retry_after(headers);
    let kind = match status.as_u16() {
        429 => ErrorKind::Throttled,
        503 if retry_after.is_some() => ErrorKind::Throttled,
        408 | 500..=599 => ErrorKind::Transient,
        401 | 403 => ErrorKind::Unauthorized,
        400 | 422 => ErrorKind::InvalidInput,
        404 => ErrorKind::NotFound,
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
pub(crate) fn status_message(status: StatusCode, body: &[u8]) -> String {
    match error_code(body) {
        Some(code) => format!("HTTP {} ({code})", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// Maps a failure to send a request or read its response to a port error.
pub(crate) fn request_error(
    service: &'static str,
    operation: &str,
    error: reqwest::Error,
) -> PortError {
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

/// Extracts an error code from an Azure (`{"error":{"code":…}}`), OAuth (`{"error":"…"}`) or
/// Splunk (`{"code":N}`) error body, keeping only a short run of safe characters.
fn error_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = match (&value["error"], &value["code"]) {
        (serde_json::Value::String(code), _) => code.clone(),
        (serde_json::Value::Object(error), _) => error.get("code")?.as_str()?.to_owned(),
        (_, serde_json::Value::Number(code)) => format!("code {code}"),
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

    #[test]
    fn base_url_requires_https_off_loopback() {
        assert!(parse_base_url("endpoint", "https://dce.example.com").is_ok());
        assert!(parse_base_url("endpoint", "http://127.0.0.1:8080").is_ok());
        let error = parse_base_url("endpoint", "http://dce.example.com").unwrap_err();
        assert!(error.to_string().contains("must use https"), "{error}");
        assert!(parse_base_url("endpoint", "not a url").is_err());
    }

    #[test]
    fn status_errors_carry_kind_code_and_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        let throttled = status_error(
            "Sentinel",
            "send",
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            b"",
        );
        assert_eq!(throttled.kind(), ErrorKind::Throttled);
        assert_eq!(throttled.retry_after(), Some(Duration::from_secs(7)));

        let body = br#"{"error":{"code":"InvalidStream","message":"details"}}"#;
        let invalid = status_error(
            "Sentinel",
            "send",
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            body,
        );
        assert_eq!(invalid.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            invalid.to_string(),
            "Sentinel send failed: HTTP 400 (InvalidStream)"
        );

        let oauth = br#"{"error":"invalid_client","error_description":"AADSTS7000215"}"#;
        let denied = status_error(
            "Entra ID",
            "token",
            StatusCode::UNAUTHORIZED,
            &HeaderMap::new(),
            oauth,
        );
        assert_eq!(denied.kind(), ErrorKind::Unauthorized);
        assert!(
            denied.to_string().ends_with("HTTP 401 (invalid_client)"),
            "{denied}"
        );

        let unavailable = status_error(
            "Sentinel",
            "send",
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            b"<html>",
        );
        assert_eq!(unavailable.kind(), ErrorKind::Transient);
    }
}
