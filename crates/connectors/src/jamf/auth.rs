//! Bearer tokens for a Jamf Pro user account.
//!
//! `POST /api/v1/auth/token` with HTTP Basic credentials returns `{"token", "expires"}`, a token
//! that lives about 20 minutes. `POST /api/v1/auth/keep-alive` with that token as Bearer returns
//! a new one and invalidates the old one. API-client tokens cannot be kept alive, so they come
//! from `ops_http::ClientCredentials` instead.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ops_core::ports::{Clock, Secret};
use ops_core::{ErrorKind, PortError};
use ops_http::token::TokenProvider;
use ops_http::{
    SMALL_RESPONSE_BYTES, Url, decode_json, read_body, request_error, status_error, status_message,
};
use reqwest::RequestBuilder;
use serde::Deserialize;

use super::SERVICE;

/// The most a token is renewed ahead of its expiry. Tokens that live less than twice this are
/// renewed at half their lifetime.
const RENEW_MARGIN: Duration = Duration::from_secs(300);

/// Gets user bearer tokens with Basic credentials and renews them through keep-alive.
pub(super) struct UserTokens {
    http: reqwest::Client,
    token_url: Url,
    keep_alive_url: Url,
    username: String,
    password: Secret,
    clock: Arc<dyn Clock>,
    cached: tokio::sync::Mutex<Option<CachedToken>>,
}

struct CachedToken {
    token: Secret,
    renew_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

/// The body of both token endpoints.
#[derive(Deserialize)]
struct TokenResponse {
    token: String,
    expires: String,
}

impl UserTokens {
    /// Creates a provider for the server at `base`.
    pub(super) fn new(
        base: &Url,
        username: String,
        password: Secret,
        clock: Arc<dyn Clock>,
        timeout: Duration,
    ) -> Result<UserTokens, PortError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // A redirect could carry credentials or a token request to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| request_error(SERVICE, "build HTTP client", error))?;
        let url = |path: &str| {
            let mut url = base.clone();
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            url.join(path).map_err(|error| {
                PortError::permanent(SERVICE, "build URL", format!("cannot append {path:?}"))
                    .with_source(error)
            })
        };
        Ok(UserTokens {
            http,
            token_url: url("api/v1/auth/token")?,
            keep_alive_url: url("api/v1/auth/keep-alive")?,
            username,
            password,
            clock,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// Requests a new token with the account's credentials.
    async fn request_token(&self) -> Result<CachedToken, PortError> {
        let request = self
            .http
            .post(self.token_url.clone())
            .basic_auth(&self.username, Some(self.password.expose()));
        self.send("request token", request).await
    }

    /// Exchanges a live token for a new one. The old token stops working.
    async fn keep_alive(&self, token: &Secret) -> Result<CachedToken, PortError> {
        let request = self
            .http
            .post(self.keep_alive_url.clone())
            .bearer_auth(token.expose());
        self.send("renew token", request).await
    }

    async fn send(
        &self,
        operation: &str,
        request: RequestBuilder,
    ) -> Result<CachedToken, PortError> {
        let response = request
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| request_error(SERVICE, operation, error))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_body(SERVICE, operation, response, SMALL_RESPONSE_BYTES).await?;
        if status.as_u16() == 401 {
            return Err(PortError::new(
                ErrorKind::Unauthorized,
                SERVICE,
                operation,
                format!(
                    "{}: check connectors.jamf.username and password",
                    status_message(status, &body)
                ),
            ));
        }
        if !status.is_success() {
            return Err(status_error(
                SERVICE,
                operation,
                status,
                &headers,
                &body,
                self.clock.now(),
            ));
        }

        let parsed: TokenResponse = decode_json(SERVICE, operation, &body)?;
        let expires_at = DateTime::parse_from_rfc3339(parsed.expires.trim())
            .map_err(|error| {
                PortError::permanent(
                    SERVICE,
                    operation,
                    format!(
                        "the token response has expires {:?}, not an RFC 3339 time",
                        parsed.expires
                    ),
                )
                .with_source(error)
            })?
            .with_timezone(&Utc);
        let now = self.clock.now();
        let lifetime = (expires_at - now).to_std().unwrap_or_default();
        let margin = RENEW_MARGIN.min(lifetime / 2);
        let renew_at = expires_at - chrono::Duration::from_std(margin).unwrap_or_default();
        tracing::debug!(
            service = SERVICE,
            operation,
            lifetime_s = lifetime.as_secs(),
            "obtained a user token"
        );
        Ok(CachedToken {
            token: Secret::new(parsed.token),
            renew_at,
            expires_at,
        })
    }
}

#[async_trait]
impl TokenProvider for UserTokens {
    async fn token(&self) -> Result<Secret, PortError> {
        let mut cached = self.cached.lock().await;
        let now = self.clock.now();
        if let Some(current) = cached.as_ref() {
            if now < current.renew_at {
                return Ok(current.token.clone());
            }
            if now < current.expires_at {
                match self.keep_alive(&current.token).await {
                    Ok(renewed) => {
                        let token = renewed.token.clone();
                        *cached = Some(renewed);
                        return Ok(token);
                    }
                    Err(error) => {
                        tracing::debug!(
                            service = SERVICE,
                            "token renewal failed, requesting a new token: {error}"
                        );
                    }
                }
            }
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

impl fmt::Debug for UserTokens {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("UserTokens")
            .field("token_url", &self.token_url.as_str())
            .field("username", &self.username)
            .field("password", &self.password)
            .finish_non_exhaustive()
    }
}
