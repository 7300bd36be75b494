//! Graph access tokens from `azure_identity`'s client-secret credential.
//!
//! [`EntraTokens`] adapts [`ClientSecretCredential`] to the [`TokenProvider`] trait of
//! `ops-http`, so [`RestClient`](ops_http::RestClient) sends its tokens and requests a new
//! one after a 401.
//!
//! azure_identity 1.0 caches each token until five minutes before it expires, reading the
//! system clock, and has no call that drops its cache. [`EntraTokens::invalidate`] therefore
//! replaces the credential with a new one, whose empty cache makes the next call fetch a token.
//!
//! azure_identity refuses authority hosts that are not https. A loopback `http` authority (a
//! mock server in tests) is reached by giving azure_identity the same origin with `https` and a
//! transport that sends to plain `http` on that origin only.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use azure_core::cloud::CustomConfiguration;
use azure_core::credentials::{Secret as AzureSecret, TokenCredential};
use azure_core::error::{Error as AzureError, ErrorKind as AzureKind};
use azure_core::http::{
    AsyncRawResponse, ClientOptions, HttpClient, RawResponse, Request, RetryOptions, Transport,
};
use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};
use chrono::{DateTime, Utc};
use ops_core::ports::{Clock, Secret};
use ops_core::{ErrorKind, PortError};
use ops_http::Url;
use ops_http::token::TokenProvider;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::SERVICE;

const OPERATION: &str = "request token";

/// Graph tokens for one app registration, from the OAuth 2.0 client-credentials grant.
pub(super) struct EntraTokens {
    app: AppCredential,
    scope: String,
    clock: Arc<dyn Clock>,
    credential: Mutex<Arc<ClientSecretCredential>>,
}

/// The arguments of a [`ClientSecretCredential`], kept to build a fresh one.
struct AppCredential {
    tenant_id: String,
    client_id: String,
    client_secret: Secret,
    options: ClientOptions,
}

impl AppCredential {
    fn build(&self) -> Result<Arc<ClientSecretCredential>, AzureError> {
        ClientSecretCredential::new(
            &self.tenant_id,
            self.client_id.clone(),
            AzureSecret::new(self.client_secret.expose().to_owned()),
            Some(ClientSecretCredentialOptions {
                client_options: self.options.clone(),
            }),
        )
    }
}

impl EntraTokens {
    /// Creates a token source for `scope` (such as `https://graph.microsoft.com/.default`) from
    /// the tenant at `authority_host`. `timeout` bounds each token request, and `clock` dates
    /// Retry-After headers.
    ///
    /// The caller validates the tenant id, client id, secret and authority host first. An error
    /// here comes from azure_identity's own validation and is returned as its message.
    pub(super) fn new(
        tenant_id: &str,
        client_id: &str,
        client_secret: Secret,
        scope: String,
        authority_host: &Url,
        timeout: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<EntraTokens, String> {
        let app = AppCredential {
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            client_secret,
            options: client_options(authority_host, timeout)?,
        };
        let credential = app.build().map_err(|error| error.to_string())?;
        Ok(EntraTokens {
            app,
            scope,
            clock,
            credential: Mutex::new(credential),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Arc<ClientSecretCredential>> {
        self.credential
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl TokenProvider for EntraTokens {
    async fn token(&self) -> Result<Secret, PortError> {
        let credential = self.lock().clone();
        let token = credential
            .get_token(&[self.scope.as_str()], None)
            .await
            .map_err(|error| token_error(error, self.clock.now()))?;
        Ok(Secret::new(token.token.secret()))
    }

    async fn invalidate(&self) {
        tracing::debug!(
            service = SERVICE,
            "replacing the token credential because Graph rejected its token"
        );
        match self.app.build() {
            Ok(credential) => *self.lock() = credential,
            Err(error) => {
                // Not expected: the same arguments built the first credential.
                tracing::warn!(
                    service = SERVICE,
                    "could not replace the token credential: {error}"
                );
            }
        }
    }
}

impl fmt::Debug for EntraTokens {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("EntraTokens")
            .field("tenant_id", &self.app.tenant_id)
            .field("client_id", &self.app.client_id)
            .field("client_secret", &self.app.client_secret)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Options for azure_identity's pipeline: our transport with our timeout, and no retries of
/// its own, because [`RestClient`](ops_http::RestClient) retries on the injected clock.
fn client_options(authority_host: &Url, timeout: Duration) -> Result<ClientOptions, String> {
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| format!("cannot build the HTTP client for tokens: {error}"))?;

    let mut authority = authority_host.clone();
    let mut plain_http_origin = None;
    if authority.scheme() == "http" {
        authority
            .set_scheme("https")
            .map_err(|()| format!("{authority_host} cannot take the https scheme"))?;
        plain_http_origin = Some(authority.clone());
    }
    let transport = TokenTransport {
        http,
        plain_http_origin,
    };

    Ok(ClientOptions {
        retry: RetryOptions::none(),
        transport: Some(Transport::new(Arc::new(transport))),
        cloud: Some(Arc::new(custom_cloud(
            authority.as_str().trim_end_matches('/'),
        ))),
        ..ClientOptions::default()
    })
}

/// Returns a cloud configuration with `authority_host`. Setting one keeps azure_identity from
/// reading `AZURE_AUTHORITY_HOST` from the environment.
fn custom_cloud(authority_host: &str) -> azure_core::cloud::CloudConfiguration {
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = authority_host.to_owned();
    cloud.into()
}

/// Sends azure_identity's token requests with reqwest.
///
/// It turns 408, 429 and 5xx responses into HTTP errors before azure_identity reads them.
/// azure_identity 1.0 parses any failed response as Entra's error JSON, so an empty or HTML body
/// (a gateway's 503) would otherwise surface as a malformed response, not a retryable failure.
///
/// For a loopback authority given with `http`, azure_identity is handed the same origin with
/// `https`, and this transport sends requests for that origin over plain http. Requests for any
/// other origin are then rejected.
#[derive(Debug)]
struct TokenTransport {
    http: reqwest::Client,
    /// The https URL whose origin is sent over plain http, for a loopback authority.
    plain_http_origin: Option<Url>,
}

#[async_trait]
impl HttpClient for TokenTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let mut request = request.clone();
        if let Some(origin) = &self.plain_http_origin {
            let url = request.url_mut();
            if url.origin() != origin.origin() {
                return Err(AzureError::with_message(
                    AzureKind::Other,
                    format!(
                        "refusing to send a token request to {}: only {} is configured",
                        url.origin().ascii_serialization(),
                        origin.origin().ascii_serialization()
                    ),
                ));
            }
            url.set_scheme("http").map_err(|()| {
                AzureError::with_message(
                    AzureKind::Other,
                    "cannot switch the token request to http",
                )
            })?;
        }

        let response = self.http.execute_request(&request).await?;
        let status = response.status();
        let code = u16::from(status);
        if code == 408 || code == 429 || code >= 500 {
            // Only the headers are kept, because Retry-After may be among them.
            let headers = response.headers().clone();
            return Err(AzureError::with_message(
                AzureKind::HttpResponse {
                    status,
                    error_code: None,
                    raw_response: Some(Box::new(RawResponse::from_bytes(
                        status,
                        headers,
                        Vec::new(),
                    ))),
                },
                format!("the token endpoint answered HTTP {code}"),
            ));
        }
        Ok(response)
    }
}

/// Maps a failed token request to a port error. The message keeps the HTTP status and Entra's
/// numeric error codes (`AADSTS…`), never the response body.
fn token_error(error: AzureError, now: DateTime<Utc>) -> PortError {
    // azure_identity wraps the pipeline's error in one of kind `Credential`.
    let cause = error.downcast_ref::<AzureError>().unwrap_or(&error);
    match cause.kind() {
        AzureKind::HttpResponse {
            status,
            error_code,
            raw_response,
        } => {
            let status = u16::from(*status);
            let kind = match status {
                // Entra ID returns 400 invalid_client or 401 for a wrong secret or client id.
                400 | 401 | 403 => ErrorKind::Unauthorized,
                429 => ErrorKind::Throttled,
                408 | 500..=599 => ErrorKind::Transient,
                _ => ErrorKind::Permanent,
            };
            let codes: String = error_code
                .as_deref()
                .unwrap_or_default()
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == ',')
                .take(60)
                .collect();
            let message = if codes.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status} (AADSTS{})", codes.replace(',', ", AADSTS"))
            };
            let port_error = PortError::new(kind, SERVICE, OPERATION, message);
            let retry_after = raw_response
                .as_ref()
                .and_then(|response| retry_after(response.headers(), now));
            match retry_after {
                Some(delay) => port_error.with_retry_after(delay),
                None => port_error,
            }
        }
        AzureKind::Connection => PortError::transient(
            SERVICE,
            OPERATION,
            "connection to the authority host failed",
        )
        .with_source(error),
        AzureKind::Io => {
            PortError::transient(SERVICE, OPERATION, "request failed").with_source(error)
        }
        AzureKind::DataConversion => PortError::permanent(
            SERVICE,
            OPERATION,
            "the token response is not the expected JSON; check authority_host",
        )
        .with_source(error),
        _ => PortError::new(
            ErrorKind::Unauthorized,
            SERVICE,
            OPERATION,
            "the credential could not get a token; check tenant_id, client_id and client_secret",
        )
        .with_source(error),
    }
}

/// Reads Retry-After from an azure_core response, in seconds or as an HTTP date.
fn retry_after(
    headers: &azure_core::http::headers::Headers,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let value = headers
        .iter()
        .find(|(name, _)| name.as_str().eq_ignore_ascii_case("retry-after"))
        .map(|(_, value)| value.as_str())?;
    let mut map = HeaderMap::new();
    map.insert(
        HeaderName::from_static("retry-after"),
        HeaderValue::from_str(value).ok()?,
    );
    ops_http::retry_after(&map, now)
}
