//! HTTP plumbing for the adapters of `ops`: the parts every REST client needs and none should
//! write twice.
//!
//! - [`parse_base_url`] accepts `https` URLs, and plain `http` only for loopback hosts, so a
//!   credential never crosses a network in the clear while tests can use a local mock server.
//! - [`status_error`] and [`request_error`] map failed calls to [`PortError`]s that tell
//!   transient from permanent failures, carry the Retry-After hint, and never copy a request or
//!   response body into a message.
//! - [`RestClient`] sends requests with a bound on concurrent calls, the shared
//!   [`RetryPolicy`](ops_core::retry::RetryPolicy), and one fresh-token retry after a 401.
//! - [`token`] holds the [`TokenProvider`] trait and an OAuth 2.0 client-credentials provider
//!   that caches tokens until shortly before they expire.
//!
//! It depends on no crate of the workspace but `ops-core`, so any adapter crate may use it.

mod body;
mod client;
mod pages;
mod response;
pub mod token;

pub use body::{DEFAULT_MAX_RESPONSE_BYTES, SMALL_RESPONSE_BYTES, body_too_large, read_body};
pub use client::{
    Authorizer, BearerAuthorizer, NoAuthorizer, Response, RestClient, RestClientOptions,
};
pub use pages::{MAX_PAGES, PageGuard};
pub use reqwest::{Method, StatusCode, Url};
pub use response::{decode_json, request_error, retry_after, status_error, status_message};
pub use token::{ClientCredentials, TokenProvider};

/// The error returned when a configured URL is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidUrl {
    /// The configuration key that holds the URL.
    pub field: String,
    /// What is wrong and what is expected.
    pub reason: String,
}

/// Parses a base URL from configuration. Plain `http` is accepted only for loopback hosts.
pub fn parse_base_url(field: &str, text: &str) -> Result<Url, InvalidUrl> {
    let invalid = |reason: String| InvalidUrl {
        field: field.to_owned(),
        reason,
    };
    let url = Url::parse(text.trim()).map_err(|error| {
        invalid(format!(
            "{text:?} is not a URL ({error}): expected https://HOST[:PORT]"
        ))
    })?;
    let is_loopback = match url.host() {
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback => Ok(url),
        _ => Err(invalid(format!(
            "{text:?} must use https (plain http is allowed only for loopback addresses)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_requires_https_off_loopback() {
        assert!(parse_base_url("jamf.url", "https://contoso.jamfcloud.com").is_ok());
        assert!(parse_base_url("jamf.url", "http://127.0.0.1:8080").is_ok());
        assert!(parse_base_url("jamf.url", "http://localhost:8080").is_ok());
        assert!(parse_base_url("jamf.url", "http://[::1]:8080").is_ok());
        let error = parse_base_url("jamf.url", "http://jamf.contoso.com").unwrap_err();
        assert_eq!(error.field, "jamf.url");
        assert!(error.to_string().contains("must use https"), "{error}");
        assert!(parse_base_url("jamf.url", "not a url").is_err());
    }
}
