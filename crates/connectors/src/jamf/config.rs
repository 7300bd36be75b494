//! The `[connectors.jamf]` configuration section and the adapter it builds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ops_core::Ring;
use ops_core::ports::{Clock, Secret};
use ops_http::token::TokenProvider;
use ops_http::{
    BearerAuthorizer, ClientCredentials, RestClient, RestClientOptions, parse_base_url,
};
use serde::Deserialize;

use super::auth::UserTokens;
use super::ids::IdValue;
use super::{AuthMethod, JamfPlane, SERVICE};

/// The maximum number of concurrent connections Jamf recommends for API clients. Jamf Pro has
/// no rate limiter, so overload shows up as failed requests instead of 429.
pub const MAX_CONCURRENCY_LIMIT: usize = 5;

/// The largest page size accepted.
// NOTE: Jamf's reference documents no maximum for `page-size`, and 2000 is an unconfirmed limit.
const MAX_PAGE_SIZE: u32 = 2000;

/// Configuration of the Jamf Pro adapter: the `[connectors.jamf]` section.
///
/// Credentials are either an API client (`client_id` and `client_secret`, Jamf Pro 10.49 or
/// later) or a Jamf Pro user account (`username` and `password`), never both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JamfConfig {
    /// Base URL of the Jamf Pro server, such as `https://contoso.jamfcloud.com`.
    pub url: String,
    /// Client id of a Jamf Pro API client.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Client secret of the API client.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// Name of a Jamf Pro user account, used when no API client is configured.
    #[serde(default)]
    pub username: Option<String>,
    /// Password of that account.
    #[serde(default)]
    pub password: Option<Secret>,
    /// The Classic API id of each ring's computer group, keyed by ring name.
    #[serde(default)]
    pub rings: BTreeMap<String, IdValue>,
    /// Version of the `computers-inventory` endpoint: 3 (the default) or 4 (Jamf Pro 11.30 and
    /// later).
    #[serde(default = "default_inventory_api_version")]
    pub inventory_api_version: u32,
    /// Computers per inventory page.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Name of the policy that deploys an application, with `{name}` and `{version}` replaced
    /// by the removal request's application name and version. Used when the request's
    /// application id is not a policy id.
    #[serde(default = "default_policy_name")]
    pub policy_name: String,
    /// Time allowed for one request, in seconds.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// Requests in flight at once, at most 5.
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
}

fn default_inventory_api_version() -> u32 {
    3
}

fn default_page_size() -> u32 {
    100
}

fn default_policy_name() -> String {
    "{name}".to_owned()
}

fn default_timeout_seconds() -> u64 {
    30
}

fn default_max_concurrency() -> usize {
    4
}

/// The error returned when the `[connectors.jamf]` section cannot build an adapter.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// The configuration key at fault, such as `connectors.jamf.max_concurrency`.
    pub key: String,
    /// The problem and its fix.
    pub message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: format!("connectors.jamf.{key}"),
            message: message.into(),
            source: None,
        }
    }
}

impl JamfConfig {
    /// Validates the configuration and builds the adapter. Nothing is sent until the first
    /// call.
    pub fn build(self, clock: Arc<dyn Clock>) -> Result<JamfPlane, ConfigError> {
        let base = parse_base_url("connectors.jamf.url", &self.url)
            .map_err(|error| ConfigError::new("url", error.reason))?;
        if self.max_concurrency == 0 || self.max_concurrency > MAX_CONCURRENCY_LIMIT {
            return Err(ConfigError::new(
                "max_concurrency",
                format!(
                    "{} is outside 1..={MAX_CONCURRENCY_LIMIT}: Jamf asks for at most \
                     {MAX_CONCURRENCY_LIMIT} concurrent connections, so set a value from 1 to \
                     {MAX_CONCURRENCY_LIMIT}",
                    self.max_concurrency
                ),
            ));
        }
        if self.inventory_api_version == 0 {
            return Err(ConfigError::new(
                "inventory_api_version",
                "0 is not an API version: set 3, or 4 on Jamf Pro 11.30 and later",
            ));
        }
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(ConfigError::new(
                "page_size",
                format!(
                    "{} is outside 1..={MAX_PAGE_SIZE}: set a page size such as 100",
                    self.page_size
                ),
            ));
        }
        if self.timeout_seconds == 0 {
            return Err(ConfigError::new(
                "timeout_seconds",
                "0 seconds leaves no time for a request: set a timeout such as 30",
            ));
        }
        if !self.policy_name.contains("{name}") {
            return Err(ConfigError::new(
                "policy_name",
                format!(
                    "{:?} lacks the {{name}} placeholder, so every application would map to the \
                     same policy: use a pattern such as \"{{name}}\" or \"Install {{name}} \
                     {{version}}\"",
                    self.policy_name
                ),
            ));
        }
        let rings = parse_rings(&self.rings)?;
        let timeout = Duration::from_secs(self.timeout_seconds);

        let (tokens, auth_method): (Arc<dyn TokenProvider>, AuthMethod) = match self
            .credentials()?
        {
            Credentials::ApiClient { id, secret } => {
                let token_url = join(&base, "api/oauth/token")?;
                let provider = ClientCredentials::new(
                    SERVICE,
                    token_url,
                    id,
                    secret,
                    None,
                    clock.clone(),
                    timeout,
                )
                .map_err(http_client_error)?;
                (Arc::new(provider), AuthMethod::ApiClient)
            }
            Credentials::User { username, password } => {
                let provider = UserTokens::new(&base, username, password, clock.clone(), timeout)
                    .map_err(http_client_error)?;
                (Arc::new(provider), AuthMethod::User)
            }
        };

        let options = RestClientOptions {
            timeout,
            max_concurrency: self.max_concurrency,
            ..RestClientOptions::default()
        };
        let client = RestClient::new(
            SERVICE,
            base.clone(),
            Arc::new(BearerAuthorizer::new(tokens)),
            clock,
            options,
        )
        .map_err(http_client_error)?;

        Ok(JamfPlane {
            client,
            base,
            auth_method,
            rings,
            inventory_api_version: self.inventory_api_version,
            page_size: self.page_size,
            policy_name: self.policy_name,
        })
    }

    /// Picks the credential pair, rejecting a half-filled or doubled configuration.
    fn credentials(&self) -> Result<Credentials, ConfigError> {
        let api_client = (self.client_id.is_some(), self.client_secret.is_some());
        let user = (self.username.is_some(), self.password.is_some());
        match (api_client, user) {
            ((true, true), (false, false)) => {
                let id = self.client_id.clone().unwrap_or_default();
                if id.trim().is_empty() {
                    return Err(ConfigError::new(
                        "client_id",
                        "the client id is empty: copy it from Settings > API roles and clients",
                    ));
                }
                Ok(Credentials::ApiClient {
                    id: id.trim().to_owned(),
                    secret: self
                        .client_secret
                        .clone()
                        .unwrap_or_else(|| Secret::new("")),
                })
            }
            ((false, false), (true, true)) => {
                let username = self.username.clone().unwrap_or_default();
                if username.trim().is_empty() {
                    return Err(ConfigError::new(
                        "username",
                        "the user name is empty: set the Jamf Pro account name",
                    ));
                }
                Ok(Credentials::User {
                    username: username.trim().to_owned(),
                    password: self.password.clone().unwrap_or_else(|| Secret::new("")),
                })
            }
            ((false, false), (false, false)) => Err(ConfigError::new(
                "client_id",
                "no credentials: set client_id and client_secret (an API client), or username \
                 and password",
            )),
            ((true, false), (false, false)) => Err(ConfigError::new(
                "client_secret",
                "client_id is set without client_secret: set both",
            )),
            ((false, true), (false, false)) => Err(ConfigError::new(
                "client_id",
                "client_secret is set without client_id: set both",
            )),
            ((false, false), (true, false)) => Err(ConfigError::new(
                "password",
                "username is set without password: set both",
            )),
            ((false, false), (false, true)) => Err(ConfigError::new(
                "username",
                "password is set without username: set both",
            )),
            _ => Err(ConfigError::new(
                "client_id",
                "both an API client and a user account are configured: keep client_id and \
                 client_secret, or username and password, not both",
            )),
        }
    }
}

impl ConfigError {
    fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

enum Credentials {
    ApiClient { id: String, secret: Secret },
    User { username: String, password: Secret },
}

/// Parses `[connectors.jamf.rings]`: ring names case-insensitively, group ids as positive
/// integers written as TOML integers or strings.
fn parse_rings(rings: &BTreeMap<String, IdValue>) -> Result<BTreeMap<Ring, u64>, ConfigError> {
    let mut parsed = BTreeMap::new();
    for (name, value) in rings {
        let key = format!("rings.{name}");
        let ring: Ring = name.parse().map_err(|error: ops_core::ring::UnknownRing| {
            ConfigError::new(&key, error.to_string()).with_source(error)
        })?;
        let group_id = value.to_positive_integer().ok_or_else(|| {
            ConfigError::new(
                &key,
                format!(
                    "{value} is not a computer group id: use the number from the group's Jamf Pro \
                     URL, such as {ring} = 42"
                ),
            )
        })?;
        if parsed.insert(ring, group_id).is_some() {
            return Err(ConfigError::new(
                &key,
                format!("ring {ring} is listed twice (ring names ignore case): keep one entry"),
            ));
        }
    }
    Ok(parsed)
}

fn join(base: &ops_http::Url, path: &str) -> Result<ops_http::Url, ConfigError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    base.join(path).map_err(|error| {
        ConfigError::new("url", format!("cannot append {path:?} to the URL")).with_source(error)
    })
}

fn http_client_error(error: ops_core::PortError) -> ConfigError {
    ConfigError::new("url", "cannot create the HTTP client").with_source(error)
}
