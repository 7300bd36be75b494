//! The sinks' use of `ops-http`: configuration errors in this crate's terms.

use std::time::Duration;

use reqwest::Url;

use crate::error::SiemError;

pub(crate) use ops_http::request_error;

/// Parses a base URL from the configuration. Plain `http` is accepted only for loopback hosts,
/// so that a bearer token or HEC token never crosses a network in the clear.
pub(crate) fn parse_base_url(field: &'static str, text: &str) -> Result<Url, SiemError> {
    ops_http::parse_base_url(field, text).map_err(|error| SiemError::InvalidConfig {
        field,
        reason: error.reason,
    })
}

/// Builds the HTTP client with the request timeout from the configuration.
pub(crate) fn client(sink: &'static str, timeout: Duration) -> Result<reqwest::Client, SiemError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        // A redirect could carry credentials or a token request to another host.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|source| SiemError::HttpClient { sink, source })
}

/// Maps a failed response to a port error, taking only an error code from the body. The body
/// only adds that code to the message, so a body that cannot be read is left out.
pub(crate) async fn response_error(
    service: &'static str,
    operation: &str,
    response: reqwest::Response,
) -> ops_core::PortError {
    let status = response.status();
    let headers = response.headers().clone();
    let body = ops_http::read_body(service, operation, response, ops_http::SMALL_RESPONSE_BYTES)
        .await
        .unwrap_or_default();
    ops_http::status_error(
        service,
        operation,
        status,
        &headers,
        &body,
        chrono::Utc::now(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_errors_name_the_sink_setting() {
        let error = parse_base_url("endpoint", "http://dce.example.com").unwrap_err();
        assert!(
            matches!(
                error,
                SiemError::InvalidConfig {
                    field: "endpoint",
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("must use https"), "{error}");
    }
}
