//! Reading response bodies with a size limit.
//!
//! A service that is misconfigured, compromised or not the service at all can send a body of
//! any size. Every client reads bodies through [`read_body`], which stops at a limit instead
//! of holding whatever arrives in memory.

use bytes::{Bytes, BytesMut};
use ops_core::PortError;

use crate::response::request_error;

/// The default limit of a response body: 64 MiB. The largest responses the connectors read, one
/// host's Ansible facts or a page of 1,000 Graph objects, are estimated at a few megabytes.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 << 20;

/// The limit of a body that is small by nature: a token response, or an error response read
/// only for its message.
pub const SMALL_RESPONSE_BYTES: usize = 64 << 10;

/// Reads the body of `response`, or fails once it passes `limit` bytes without reading
/// further. A `Content-Length` above the limit fails before any byte is read.
pub async fn read_body(
    service: &str,
    operation: &str,
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Bytes, PortError> {
    let too_large = || body_too_large(service, operation, limit);
    let announced = response.content_length().unwrap_or(0);
    if announced > limit as u64 {
        return Err(too_large());
    }
    let mut body = BytesMut::with_capacity(announced as usize);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| request_error(service, operation, error))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Returns the error for a response body longer than `limit` bytes. Retrying cannot help, so
/// the error is permanent.
pub fn body_too_large(service: &str, operation: &str, limit: usize) -> PortError {
    PortError::permanent(
        service,
        operation,
        format!(
            "the response body is larger than {limit} bytes, the most this client reads; \
             check that the configured URL points at the service, or lower the page size"
        ),
    )
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use ops_core::ErrorKind;

    use super::*;

    async fn get(server: &MockServer, route: &str) -> reqwest::Response {
        reqwest::get(format!("{}{route}", server.uri()))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn body_within_limit_is_read_whole() {
        let server = MockServer::start().await;
        Mock::given(path("/small"))
            .respond_with(ResponseTemplate::new(200).set_body_string("0123456789"))
            .mount(&server)
            .await;

        let body = read_body("svc", "list", get(&server, "/small").await, 10)
            .await
            .unwrap();
        assert_eq!(&body[..], b"0123456789");
    }

    #[tokio::test]
    async fn body_over_limit_is_rejected() {
        let server = MockServer::start().await;
        Mock::given(path("/large"))
            .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(11)))
            .mount(&server)
            .await;

        let error = read_body("svc", "list", get(&server, "/large").await, 10)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Permanent);
        assert!(
            error.to_string().contains("larger than 10 bytes"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn chunked_body_over_limit_is_rejected() {
        let server = MockServer::start().await;
        // A body without Content-Length is only caught while reading it.
        Mock::given(path("/chunked"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("transfer-encoding", "chunked")
                    .set_body_string("y".repeat(100_000)),
            )
            .mount(&server)
            .await;

        let response = get(&server, "/chunked").await;
        assert_eq!(response.content_length(), None);
        let error = read_body("svc", "list", response, 50_000)
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("larger than 50000 bytes"),
            "{error}"
        );
    }
}
