//! Credentials on Landscape requests: a JWT from the REST login for `/api/v2` calls, and either
//! an HMAC signature (with an API key) or the same JWT for legacy `/api/?action=...` calls.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT;
use chrono::{DateTime, Utc};
use ops_core::ports::{Clock, Secret};
use ops_core::{ErrorKind, PortError};
use ops_http::{
    Authorizer, SMALL_RESPONSE_BYTES, Url, decode_json, read_body, request_error, status_error,
    status_message,
};
use reqwest::RequestBuilder;
use serde::Deserialize;
use serde_json::json;

use super::SERVICE;
use super::signature::signed_query;

/// The most a token is renewed ahead of its expiry. Tokens that live less than twice this are
/// renewed at half their lifetime.
const RENEW_MARGIN: Duration = Duration::from_secs(300);

/// The lifetime assumed for a password-login token whose JWT carries no `exp` claim.
// NOTE: Landscape documents no default lifetime for `POST /api/v2/login`; a token that expires
// sooner is replaced after its first 401.
const ASSUMED_PASSWORD_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// The login method and its credentials.
pub(super) enum Login {
    /// `POST /api/v2/login/access-key` (Landscape 24.10 and later); the same key signs legacy
    /// requests.
    AccessKey {
        access_key: String,
        secret_key: Secret,
        expiry_minutes: u32,
    },
    /// `POST /api/v2/login` with an account's email and password.
    Password {
        email: String,
        password: Secret,
        account: Option<String>,
    },
}

impl Login {
    /// Returns a short name of the method for debug output.
    pub(super) fn method_name(&self) -> &'static str {
        match self {
            Login::AccessKey { .. } => "access key",
            Login::Password { .. } => "email and password",
        }
    }
}

/// JWTs from the REST login, cached until shortly before they expire.
pub(super) struct Tokens {
    http: reqwest::Client,
    base: Url,
    login: Login,
    clock: Arc<dyn Clock>,
    cached: tokio::sync::Mutex<Option<CachedToken>>,
}

struct CachedToken {
    token: Secret,
    renew_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct LoginResponse {
    token: String,
}

impl Tokens {
    /// Creates a token source for the server at `base`.
    pub(super) fn new(
        base: Url,
        login: Login,
        clock: Arc<dyn Clock>,
        timeout: Duration,
    ) -> Result<Tokens, PortError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // A redirect could carry credentials or a token request to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| request_error(SERVICE, "build HTTP client", error))?;
        Ok(Tokens {
            http,
            base,
            login,
            clock,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// Returns a token valid for a while longer, logging in when needed.
    pub(super) async fn token(&self) -> Result<Secret, PortError> {
        let mut cached = self.cached.lock().await;
        if let Some(current) = cached
            .as_ref()
            .filter(|current| self.clock.now() < current.renew_at)
        {
            return Ok(current.token.clone());
        }
        let fresh = self.log_in().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Drops the cached token after the server rejected it.
    pub(super) async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn log_in(&self) -> Result<CachedToken, PortError> {
        let operation = "log in";
        let (path, body, requested) = match &self.login {
            Login::AccessKey {
                access_key,
                secret_key,
                expiry_minutes,
            } => (
                "api/v2/login/access-key",
                json!({
                    "access_key": access_key,
                    "secret_key": secret_key.expose(),
                    "expiry_minutes": expiry_minutes,
                }),
                Duration::from_secs(u64::from(*expiry_minutes) * 60),
            ),
            Login::Password {
                email,
                password,
                account,
            } => {
                let mut body = json!({"email": email, "password": password.expose()});
                if let Some(account) = account {
                    body["account"] = json!(account);
                }
                ("api/v2/login", body, ASSUMED_PASSWORD_TOKEN_LIFETIME)
            }
        };
        let url = join(&self.base, path)?;
        let response = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|error| request_error(SERVICE, operation, error))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = read_body(SERVICE, operation, response, SMALL_RESPONSE_BYTES).await?;

        if matches!(status.as_u16(), 400 | 401 | 403) {
            let keys = match self.login {
                Login::AccessKey { .. } => "access_key and secret_key",
                Login::Password { .. } => "email, password and account",
            };
            return Err(PortError::new(
                ErrorKind::Unauthorized,
                SERVICE,
                operation,
                format!(
                    "{}: check connectors.landscape.{keys}",
                    status_message(status, &bytes)
                ),
            ));
        }
        if status.as_u16() == 404 && matches!(self.login, Login::AccessKey { .. }) {
            return Err(PortError::permanent(
                SERVICE,
                operation,
                "HTTP 404: the access-key login needs Landscape 24.10 or later; on older servers \
                 set email and password instead",
            ));
        }
        if !status.is_success() {
            return Err(status_error(
                SERVICE,
                operation,
                status,
                &headers,
                &bytes,
                self.clock.now(),
            ));
        }

        let parsed: LoginResponse = decode_json(SERVICE, operation, &bytes)?;
        let now = self.clock.now();
        let expires_at = jwt_expiry(&parsed.token)
            .unwrap_or_else(|| now + chrono::Duration::from_std(requested).unwrap_or_default());
        let lifetime = (expires_at - now).to_std().unwrap_or_default();
        let margin = RENEW_MARGIN.min(lifetime / 2);
        let renew_at = expires_at - chrono::Duration::from_std(margin).unwrap_or_default();
        tracing::debug!(
            service = SERVICE,
            lifetime_s = lifetime.as_secs(),
            "logged in to the REST API"
        );
        Ok(CachedToken {
            token: Secret::new(parsed.token),
            renew_at,
        })
    }
}

/// Reads the `exp` claim (seconds since the Unix epoch) of a JWT without checking its
/// signature, which only the server can do.
fn jwt_expiry(token: &str) -> Option<DateTime<Utc>> {
    #[derive(Deserialize)]
    struct Claims {
        exp: i64,
    }

    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD_INDIFFERENT.decode(payload).ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    DateTime::from_timestamp(claims.exp, 0)
}

fn join(base: &Url, path: &str) -> Result<Url, PortError> {
    let mut url = base.clone();
    if !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    url.join(path).map_err(|error| {
        PortError::permanent(SERVICE, "build URL", format!("cannot append {path:?}"))
            .with_source(error)
    })
}

impl fmt::Debug for Tokens {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Tokens")
            .field("base", &self.base.as_str())
            .field("login", &self.login.method_name())
            .finish_non_exhaustive()
    }
}

/// Adds credentials to every request of the adapter's one `RestClient`, so that REST and legacy
/// calls share one bound on concurrent requests.
pub(super) struct LandscapeAuthorizer {
    tokens: Arc<Tokens>,
    /// The path of the legacy endpoint, such as `/api/`.
    legacy_path: String,
    /// The API key that signs legacy requests; without it they carry the JWT.
    signing_key: Option<(String, Secret)>,
    clock: Arc<dyn Clock>,
}

impl LandscapeAuthorizer {
    /// Creates an authorizer; `signing_key` is the access key and secret key, when configured.
    pub(super) fn new(
        tokens: Arc<Tokens>,
        legacy_path: String,
        signing_key: Option<(String, Secret)>,
        clock: Arc<dyn Clock>,
    ) -> LandscapeAuthorizer {
        LandscapeAuthorizer {
            tokens,
            legacy_path,
            signing_key,
            clock,
        }
    }
}

#[async_trait]
impl Authorizer for LandscapeAuthorizer {
    async fn authorize(&self, request: RequestBuilder) -> Result<RequestBuilder, PortError> {
        let (client, request) = request.build_split();
        let mut request =
            request.map_err(|error| request_error(SERVICE, "build request", error))?;

        if let Some((access_key, secret_key)) = &self.signing_key
            && request.url().path() == self.legacy_path
        {
            // Each attempt is signed anew, so a retry after a long Retry-After carries a
            // current timestamp.
            let url = request.url();
            let host = match url.port() {
                Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
                None => url.host_str().unwrap_or_default().to_owned(),
            };
            let parameters: Vec<(String, String)> = url
                .query_pairs()
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect();
            let query = signed_query(
                request.method().as_str(),
                &host,
                url.path(),
                &parameters,
                access_key,
                secret_key,
                self.clock.now(),
            );
            request.url_mut().set_query(Some(&query));
            return Ok(RequestBuilder::from_parts(client, request));
        }

        let token = self.tokens.token().await?;
        Ok(RequestBuilder::from_parts(client, request).bearer_auth(token.expose()))
    }

    async fn invalidate(&self) {
        self.tokens.invalidate().await;
    }
}
