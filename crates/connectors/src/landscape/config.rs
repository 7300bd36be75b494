//! The `[connectors.landscape]` configuration section and the adapter it builds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ops_core::Ring;
use ops_core::ports::{Clock, Secret};
use ops_http::{RestClient, RestClientOptions, parse_base_url};
use serde::Deserialize;

use super::activity::{Polling, legacy_path};
use super::auth::{LandscapeAuthorizer, Login, Tokens};
use super::{LandscapePlane, SERVICE};

/// The largest page size accepted; Landscape's default `limit` is 1000.
const MAX_PAGE_SIZE: u32 = 1000;

/// Configuration of the Canonical Landscape adapter: the `[connectors.landscape]` section.
///
/// Credentials are either an API key (`access_key` and `secret_key`, from the Landscape web
/// UI; the REST login with it needs Landscape 24.10 or later) or an account's `email` and
/// `password`, never both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandscapeConfig {
    /// Base URL of the Landscape server, such as `https://landscape.example.com`.
    pub url: String,
    /// Access key of an API key pair.
    #[serde(default)]
    pub access_key: Option<String>,
    /// Secret key of the API key pair.
    #[serde(default)]
    pub secret_key: Option<Secret>,
    /// Email of a Landscape account, used when no API key is configured.
    #[serde(default)]
    pub email: Option<String>,
    /// Password of that account.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Landscape account to log in to, when the person belongs to several.
    #[serde(default)]
    pub account: Option<String>,
    /// The Landscape tag of each ring's computers, keyed by ring name.
    #[serde(default)]
    pub rings: BTreeMap<String, String>,
    /// Lifetime requested for access-key tokens, in minutes.
    #[serde(default = "default_token_expiry_minutes")]
    pub token_expiry_minutes: u32,
    /// Results per page of package listings.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Pause between two reads of a removal activity's status, in seconds.
    #[serde(default = "default_poll_interval_seconds")]
    pub poll_interval_seconds: u64,
    /// Time a removal may take before it is reported as unfinished, in seconds.
    #[serde(default = "default_removal_timeout_seconds")]
    pub removal_timeout_seconds: u64,
    /// Time allowed for one request, in seconds.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// Requests in flight at once.
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
}

fn default_token_expiry_minutes() -> u32 {
    60
}

fn default_page_size() -> u32 {
    500
}

fn default_poll_interval_seconds() -> u64 {
    15
}

fn default_removal_timeout_seconds() -> u64 {
    1800
}

fn default_timeout_seconds() -> u64 {
    30
}

fn default_max_concurrency() -> usize {
    4
}

/// The error returned when the `[connectors.landscape]` section cannot build an adapter.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// The configuration key at fault, such as `connectors.landscape.rings.Canary`.
    pub key: String,
    /// The problem and its fix.
    pub message: String,
    #[source]
    source: Option<Box<ops_core::PortError>>,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: format!("connectors.landscape.{key}"),
            message: message.into(),
            source: None,
        }
    }
}

impl LandscapeConfig {
    /// Validates the configuration and builds the adapter. Nothing is sent until the first
    /// call.
    pub fn build(self, clock: Arc<dyn Clock>) -> Result<LandscapePlane, ConfigError> {
        let base = parse_base_url("connectors.landscape.url", &self.url)
            .map_err(|error| ConfigError::new("url", error.reason))?;
        let positive = [
            ("token_expiry_minutes", u64::from(self.token_expiry_minutes)),
            ("page_size", u64::from(self.page_size)),
            ("poll_interval_seconds", self.poll_interval_seconds),
            ("removal_timeout_seconds", self.removal_timeout_seconds),
            ("timeout_seconds", self.timeout_seconds),
            ("max_concurrency", self.max_concurrency as u64),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::new(
                    key,
                    "0 is not allowed: set a positive value",
                ));
            }
        }
        if self.page_size > MAX_PAGE_SIZE {
            return Err(ConfigError::new(
                "page_size",
                format!(
                    "{} is above {MAX_PAGE_SIZE}: set a page size such as 500",
                    self.page_size
                ),
            ));
        }
        if self.poll_interval_seconds > self.removal_timeout_seconds {
            return Err(ConfigError::new(
                "poll_interval_seconds",
                format!(
                    "{} s is longer than removal_timeout_seconds ({} s): poll more often than \
                     the timeout",
                    self.poll_interval_seconds, self.removal_timeout_seconds
                ),
            ));
        }
        let rings = parse_rings(&self.rings)?;
        let login = self.login()?;
        let signing_key = match &login {
            Login::AccessKey {
                access_key,
                secret_key,
                ..
            } => Some((access_key.clone(), secret_key.clone())),
            Login::Password { .. } => None,
        };
        let timeout = Duration::from_secs(self.timeout_seconds);

        let tokens =
            Tokens::new(base.clone(), login, clock.clone(), timeout).map_err(http_client_error)?;
        let tokens = Arc::new(tokens);
        let legacy_path = legacy_path(&base).map_err(|error| ConfigError {
            source: Some(Box::new(error)),
            ..ConfigError::new("url", "cannot build the legacy API URL from it")
        })?;
        let authorizer =
            LandscapeAuthorizer::new(tokens.clone(), legacy_path, signing_key, clock.clone());
        let options = RestClientOptions {
            timeout,
            max_concurrency: self.max_concurrency,
            ..RestClientOptions::default()
        };
        let client = RestClient::new(
            SERVICE,
            base.clone(),
            Arc::new(authorizer),
            clock.clone(),
            options,
        )
        .map_err(http_client_error)?;

        Ok(LandscapePlane {
            client,
            tokens,
            clock,
            base,
            rings,
            page_size: self.page_size,
            polling: Polling {
                interval: Duration::from_secs(self.poll_interval_seconds),
                timeout: Duration::from_secs(self.removal_timeout_seconds),
            },
        })
    }

    /// Picks the credentials, rejecting a half-filled or doubled configuration.
    fn login(&self) -> Result<Login, ConfigError> {
        let key = (self.access_key.is_some(), self.secret_key.is_some());
        let account = (self.email.is_some(), self.password.is_some());
        match (key, account) {
            ((true, true), (false, false)) => {
                let access_key = self.access_key.clone().unwrap_or_default();
                if access_key.trim().is_empty() {
                    return Err(ConfigError::new(
                        "access_key",
                        "the access key is empty: generate an API key in the Landscape web UI",
                    ));
                }
                if self.account.is_some() {
                    return Err(ConfigError::new(
                        "account",
                        "account applies to the email and password login only: remove it",
                    ));
                }
                Ok(Login::AccessKey {
                    access_key: access_key.trim().to_owned(),
                    secret_key: self.secret_key.clone().unwrap_or_else(|| Secret::new("")),
                    expiry_minutes: self.token_expiry_minutes,
                })
            }
            ((false, false), (true, true)) => {
                let email = self.email.clone().unwrap_or_default();
                if email.trim().is_empty() {
                    return Err(ConfigError::new(
                        "email",
                        "the email is empty: set the Landscape account's email",
                    ));
                }
                Ok(Login::Password {
                    email: email.trim().to_owned(),
                    password: self.password.clone().unwrap_or_else(|| Secret::new("")),
                    account: self.account.clone(),
                })
            }
            ((false, false), (false, false)) => Err(ConfigError::new(
                "access_key",
                "no credentials: set access_key and secret_key (an API key), or email and \
                 password",
            )),
            ((true, false), (false, false)) => Err(ConfigError::new(
                "secret_key",
                "access_key is set without secret_key: set both",
            )),
            ((false, true), (false, false)) => Err(ConfigError::new(
                "access_key",
                "secret_key is set without access_key: set both",
            )),
            ((false, false), (true, false)) => Err(ConfigError::new(
                "password",
                "email is set without password: set both",
            )),
            ((false, false), (false, true)) => Err(ConfigError::new(
                "email",
                "password is set without email: set both",
            )),
            _ => Err(ConfigError::new(
                "access_key",
                "both an API key and an email login are configured: keep access_key and \
                 secret_key, or email and password, not both",
            )),
        }
    }
}

/// Parses `[connectors.landscape.rings]`: ring names case-insensitively, tags as single words.
fn parse_rings(rings: &BTreeMap<String, String>) -> Result<BTreeMap<Ring, String>, ConfigError> {
    let mut parsed = BTreeMap::new();
    for (name, tag) in rings {
        let key = format!("rings.{name}");
        let ring: Ring = name.parse().map_err(|error: ops_core::ring::UnknownRing| {
            ConfigError::new(&key, error.to_string())
        })?;
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConfigError::new(
                &key,
                format!(
                    "{tag:?} is not a Landscape tag: use one word without spaces, such as \
                     {ring} = \"{}\"",
                    ring.name().to_ascii_lowercase()
                ),
            ));
        }
        if parsed.insert(ring, tag.to_owned()).is_some() {
            return Err(ConfigError::new(
                &key,
                format!("ring {ring} is listed twice (ring names ignore case): keep one entry"),
            ));
        }
    }
    Ok(parsed)
}

fn http_client_error(error: ops_core::PortError) -> ConfigError {
    ConfigError {
        source: Some(Box::new(error)),
        ..ConfigError::new("url", "cannot create the HTTP client")
    }
}
