//! Bearer tokens: the provider trait and an OAuth 2.0 client-credentials provider.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ops_core::ports::{Clock, Secret};
use ops_core::{ErrorKind, PortError};
use reqwest::Url;
use serde::Deserialize;

use crate::{
    InvalidUrl, SMALL_RESPONSE_BYTES, decode_json, parse_base_url, read_body, request_error,
    status_error, status_message,
};

/// A source of bearer tokens.
///
/// Implementations cache tokens and return a fresh one before the cached one expires. Errors
/// follow [`PortError`]: transient failures may be retried, `Unauthorized` needs an operator.
#[async_trait]
pub trait TokenProvider: Send + Sync {
    /// Returns a token valid for at least a little longer.
    async fn token(&self) -> Result<Secret, PortError>;

    /// Drops the cached token, because the service rejected it before its expiry. Providers
    /// without a cache have nothing to do.
    async fn invalidate(&self) {}
}

/// Gets tokens with the OAuth 2.0 client-credentials grant (RFC 6749, section 4.4), and caches
/// each until shortly before it expires.
///
/// Microsoft Entra ID (`{authority}/{tenant}/oauth2/v2.0/token` with a scope) and Jamf Pro API
/// clients (`{jamf}/api/oauth/token`, no scope) both use this grant.
pub struct ClientCredentials {
    service: String,
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    client_secret: Secret,
    scope: Option<String>,
    clock: Arc<dyn Clock>,
    cached: tokio::sync::Mutex<Option<CachedToken>>,
}

struct CachedToken {
    token: Secret,
    refresh_at: DateTime<Utc>,
}

/// How long before its expiry a token is replaced, at most. Tokens that live less than twice
/// this are replaced at half their lifetime (Jamf API-client tokens live five minutes).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

impl ClientCredentials {
    /// Creates a provider posting to `token_url`; `service` names it in errors and logs.
    pub fn new(
        service: impl Into<String>,
        token_url: Url,
        client_id: impl Into<String>,
        client_secret: Secret,
        scope: Option<String>,
        clock: Arc<dyn Clock>,
        timeout: Duration,
    ) -> Result<ClientCredentials, PortError> {
        let service = service.into();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // A redirect could carry credentials or a token request to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| request_error(&service, "build HTTP client", error))?;
        Ok(ClientCredentials {
            service,
            http,
            token_url,
            client_id: client_id.into(),
            client_secret,
            scope,
            clock,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// Returns the token URL of a Microsoft Entra ID tenant. `authority_host` is
    /// `https://login.microsoftonline.com` in the public cloud; tests pass a loopback URL.
    pub fn entra_token_url(authority_host: &str, tenant_id: &str) -> Result<Url, InvalidUrl> {
        let tenant_is_valid = !tenant_id.is_empty()
            && tenant_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
        if !tenant_is_valid {
            return Err(InvalidUrl {
                field: "tenant_id".into(),
                reason: format!(
                    "{tenant_id:?} is not a tenant id: expected a GUID or a domain such as contoso.onmicrosoft.com"
                ),
            });
        }
        let mut url = parse_base_url("authority_host", authority_host)?;
        url.path_segments_mut()
            .map_err(|()| InvalidUrl {
                field: "authority_host".into(),
                reason: format!("{authority_host:?} cannot take a path"),
            })?
            .pop_if_empty()
            .extend([tenant_id, "oauth2", "v2.0", "token"]);
        Ok(url)
    }

    async fn request_token(&self) -> Result<CachedToken, PortError> {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
        ];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope.as_str()));
        }
        let operation = "request token";
        let response = self
            .http
            .post(self.token_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(|error| request_error(&self.service, operation, error))?;

        let status = response.status();
        let headers = response.headers().clone();
        let body = read_body(&self.service, operation, response, SMALL_RESPONSE_BYTES).await?;
        if matches!(status.as_u16(), 400 | 401) {
            // Entra ID answers 400 invalid_client for a wrong secret: no retry will help.
            let message = status_message(status, &body);
            return Err(PortError::new(
                ErrorKind::Unauthorized,
                &self.service,
                operation,
                message,
            ));
        }
        if !status.is_success() {
            return Err(status_error(
                &self.service,
                operation,
                status,
                &headers,
                &body,
                self.clock.now(),
            ));
        }

        let parsed: TokenResponse = decode_json(&self.service, operation, &body)?;
        let lifetime = Duration::from_secs(parsed.expires_in.0);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        let refresh_in = chrono::Duration::from_std(lifetime - margin).unwrap_or_default();
        tracing::debug!(service = %self.service, expires_in_s = parsed.expires_in.0, "obtained an access token");
        Ok(CachedToken {
            token: Secret::new(parsed.access_token),
            refresh_at: self.clock.now() + refresh_in,
        })
    }
}

#[async_trait]
impl TokenProvider for ClientCredentials {
    async fn token(&self) -> Result<Secret, PortError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached
            .as_ref()
            .filter(|token| self.clock.now() < token.refresh_at)
        {
            return Ok(token.token.clone());
        }
        let fresh = self.request_token().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ClientCredentials")
            .field("service", &self.service)
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The fields of a token response that are used. `access_token` goes straight into a [`Secret`].
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Seconds,
}

/// A number of seconds sent as a JSON number, or as a string by older endpoints.
struct Seconds(u64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Seconds, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum NumberOrText {
            Number(u64),
            Text(String),
        }
        match NumberOrText::deserialize(deserializer)? {
            NumberOrText::Number(seconds) => Ok(Seconds(seconds)),
            NumberOrText::Text(text) => text
                .parse()
                .map(Seconds)
                .map_err(|_| serde::de::Error::custom("expires_in is not a number of seconds")),
        }
    }
}

#[cfg(test)]
mod tests {
    use ops_testkit::FakeClock;
    use wiremock::matchers::{body_string_contains, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    const SECRET: &str = "client-secret-value-7f3a";

    async fn provider(server: &MockServer, clock: Arc<FakeClock>) -> ClientCredentials {
        let url =
            ClientCredentials::entra_token_url(&server.uri(), "contoso.onmicrosoft.com").unwrap();
        ClientCredentials::new(
            "Entra ID",
            url,
            "app-id",
            Secret::new(SECRET),
            Some("https://graph.microsoft.com/.default".into()),
            clock,
            Duration::from_secs(5),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn token_is_cached_until_near_expiry() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/contoso.onmicrosoft.com/oauth2/v2.0/token"))
            .and(body_string_contains("grant_type=client_credentials"))
            .and(body_string_contains(
                "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "token_type": "Bearer", "expires_in": 3599, "access_token": "token-1"
            })))
            .expect(2)
            .mount(&server)
            .await;
        let clock = Arc::new(FakeClock::default());
        let provider = provider(&server, clock.clone()).await;

        assert_eq!(provider.token().await.unwrap().expose(), "token-1");
        clock.advance(Duration::from_secs(3000));
        provider.token().await.unwrap();
        clock.advance(Duration::from_secs(400));
        provider.token().await.unwrap();
    }

    #[tokio::test]
    async fn invalidate_forces_a_new_token() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "token_type": "Bearer", "expires_in": "3599", "access_token": "token-2"
            })))
            .expect(2)
            .mount(&server)
            .await;
        let provider = provider(&server, Arc::new(FakeClock::default())).await;
        provider.token().await.unwrap();
        provider.invalidate().await;
        provider.token().await.unwrap();
    }

    #[tokio::test]
    async fn rejected_secret_is_unauthorized_without_the_secret() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided"
            })))
            .mount(&server)
            .await;
        let provider = provider(&server, Arc::new(FakeClock::default())).await;
        let error = provider.token().await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unauthorized);
        assert_eq!(
            error.to_string(),
            "Entra ID request token failed: HTTP 400 (invalid_client)"
        );
        for text in [format!("{error:?}"), format!("{provider:?}")] {
            assert!(!text.contains(SECRET), "{text}");
        }
    }

    #[tokio::test]
    async fn redirect_is_not_followed_with_the_secret() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/contoso.onmicrosoft.com/oauth2/v2.0/token"))
            .respond_with(ResponseTemplate::new(307).insert_header("Location", "/elsewhere"))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(path("/elsewhere"))
            .respond_with(ResponseTemplate::new(200))
            .expect(0)
            .mount(&server)
            .await;
        let provider = provider(&server, Arc::new(FakeClock::default())).await;
        let error = provider.token().await.unwrap_err();
        assert_eq!(error.to_string(), "Entra ID request token failed: HTTP 307");
    }

    #[test]
    fn tenant_must_be_an_id_or_domain() {
        let error =
            ClientCredentials::entra_token_url("https://login.microsoftonline.com", "../evil")
                .unwrap_err();
        assert_eq!(error.field, "tenant_id");
    }
}
