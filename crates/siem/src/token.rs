//! Bearer tokens for the Logs Ingestion API: the provider trait and the OAuth 2.0
//! client-credentials implementation against Microsoft Entra ID.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ops_core::PortError;
use ops_core::ports::{Clock, Secret};
use reqwest::Url;
use serde::Deserialize;

use crate::error::SiemError;
use crate::http;

/// The service name in token errors.
const SERVICE: &str = "Entra ID";

/// A source of bearer tokens.
///
/// Implementations cache tokens and return a fresh one before the cached one expires. Errors
/// follow [`PortError`]: transient failures may be retried, `Unauthorized` needs an operator.
#[async_trait]
pub trait TokenProvider: Send + Sync {
    /// Returns a token valid for at least a few more minutes.
    async fn token(&self) -> Result<Secret, PortError>;
}

/// Gets tokens with the OAuth 2.0 client-credentials grant from
/// `{authority_host}/{tenant_id}/oauth2/v2.0/token`, and caches each until shortly before it
/// expires.
pub struct ClientSecretTokenProvider {
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    client_secret: Secret,
    scope: String,
    clock: Arc<dyn Clock>,
    cached: tokio::sync::Mutex<Option<CachedToken>>,
}

struct CachedToken {
    token: Secret,
    refresh_at: DateTime<Utc>,
}

/// How long before its expiry a token is replaced, at most. Tokens that live less than twice
/// this are replaced at half their lifetime.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

impl ClientSecretTokenProvider {
    /// Creates a provider. `authority_host` is `https://login.microsoftonline.com` in the public
    /// cloud; tests pass a loopback URL.
    pub fn new(
        authority_host: &str,
        tenant_id: &str,
        client_id: impl Into<String>,
        client_secret: Secret,
        scope: impl Into<String>,
        clock: Arc<dyn Clock>,
        timeout: Duration,
    ) -> Result<ClientSecretTokenProvider, SiemError> {
        let invalid_tenant = |reason: String| SiemError::InvalidConfig {
            field: "tenant_id",
            reason,
        };
        let tenant_is_valid = !tenant_id.is_empty()
            && tenant_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
        if !tenant_is_valid {
            return Err(invalid_tenant(format!(
                "{tenant_id:?} is not a tenant id: expected a GUID or a domain such as contoso.onmicrosoft.com"
            )));
        }

        let mut token_url = http::parse_base_url("authority_host", authority_host)?;
        token_url
            .path_segments_mut()
            .map_err(|()| invalid_tenant(format!("{authority_host:?} cannot take a path")))?
            .pop_if_empty()
            .extend([tenant_id, "oauth2", "v2.0", "token"]);

        Ok(ClientSecretTokenProvider {
            http: http::client(SERVICE, timeout)?,
            token_url,
            client_id: client_id.into(),
            client_secret,
            scope: scope.into(),
            clock,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    async fn request_token(&self) -> Result<CachedToken, PortError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
            ("scope", self.scope.as_str()),
        ];
        let request_error = |error| http::request_error(SERVICE, "request token", error);
        let response = self
            .http
            .post(self.token_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(request_error)?;

        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(request_error)?;
        if matches!(status.as_u16(), 400 | 401) {
            // Entra ID returns 400 invalid_client for a wrong secret, so no retry will help.
            let message = http::status_message(status, &body);
            return Err(PortError::new(
                ops_core::ErrorKind::Unauthorized,
                SERVICE,
                "request token",
                message,
            ));
        }
        if !status.is_success() {
            return Err(http::status_error(
                SERVICE,
                "request token",
                status,
                &headers,
                &body,
            ));
        }

        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|source| {
            PortError::permanent(SERVICE, "request token", "response is not a token response")
                .with_source(source)
        })?;
        let lifetime = Duration::from_secs(parsed.expires_in.0);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        let refresh_in = chrono::Duration::from_std(lifetime - margin).unwrap_or_default();
        tracing::debug!(
            expires_in_s = parsed.expires_in.0,
            "obtained an access token"
        );
        Ok(CachedToken {
            token: Secret::new(parsed.access_token),
            refresh_at: self.clock.now() + refresh_in,
        })
    }
}

#[async_trait]
impl TokenProvider for ClientSecretTokenProvider {
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
}

impl fmt::Debug for ClientSecretTokenProvider {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ClientSecretTokenProvider")
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
