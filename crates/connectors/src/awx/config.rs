//! The `[connectors.ansible]` configuration section and the adapter it builds.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ops_core::Ring;
use ops_core::ports::{Clock, Secret};
use ops_http::{BearerAuthorizer, RestClient, RestClientOptions, parse_base_url};
use serde::Deserialize;

use super::token::ConfiguredToken;
use super::{AwxPlane, SERVICE};

/// The largest `page_size` AWX accepts; its paginator caps larger values at 200.
const MAX_PAGE_SIZE: u32 = 200;

/// Configuration of the AWX / Automation Platform controller adapter: the
/// `[connectors.ansible]` section.
///
/// The token is either `token` or `token_file`, never both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwxConfig {
    /// Base URL of the controller or the platform gateway, such as `https://awx.contoso.com`.
    pub url: String,
    /// Path of the controller API: `/api/v2/` on AWX and AAP 2.4 or earlier,
    /// `/api/controller/v2/` behind the AAP 2.5 platform gateway.
    #[serde(default = "default_api_path")]
    pub api_path: String,
    /// A personal access token or OAuth 2 token with write scope.
    #[serde(default)]
    pub token: Option<Secret>,
    /// A file holding the token, read again after the controller rejects the token, so a
    /// token rotated into the file is picked up without a restart.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// The id of the inventory whose groups are the rings.
    pub inventory: u64,
    /// The id of the job template that uninstalls an application.
    pub uninstall_job_template: u64,
    /// The inventory group of each ring, keyed by ring name. It is the job's limit and the
    /// source of the ring's hosts.
    #[serde(default)]
    pub rings: BTreeMap<String, String>,
    /// Seconds between two polls of a running job.
    #[serde(default = "default_poll_interval_seconds")]
    pub poll_interval_seconds: u64,
    /// Seconds to wait for an uninstall job to finish.
    #[serde(default = "default_job_timeout_seconds")]
    pub job_timeout_seconds: u64,
    /// Items per page of host lists, at most 200.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Time allowed for one request, in seconds.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// Requests in flight at once.
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
}

fn default_api_path() -> String {
    "/api/v2/".to_owned()
}

fn default_poll_interval_seconds() -> u64 {
    10
}

fn default_job_timeout_seconds() -> u64 {
    3600
}

fn default_page_size() -> u32 {
    200
}

fn default_timeout_seconds() -> u64 {
    30
}

fn default_max_concurrency() -> usize {
    4
}

/// The error returned when the `[connectors.ansible]` section cannot build an adapter.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// The configuration key at fault, such as `connectors.ansible.rings.Canary`.
    pub key: String,
    /// The problem and its fix.
    pub message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: format!("connectors.ansible.{key}"),
            message: message.into(),
            source: None,
        }
    }

    fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> ConfigError {
        self.source = Some(Box::new(source));
        self
    }
}

impl AwxConfig {
    /// Validates the configuration and builds the adapter. Nothing is sent until the first
    /// call, and a `token_file` is first read then.
    pub fn build(self, clock: Arc<dyn Clock>) -> Result<AwxPlane, ConfigError> {
        let base = self.base_url()?;
        let rings = self.rings()?;
        self.check_limits()?;
        let tokens = match (self.token, self.token_file) {
            (Some(token), None) if !token.expose().trim().is_empty() => {
                ConfiguredToken::value(token)
            }
            (None, Some(path)) => ConfiguredToken::file(path),
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "token",
                    "both token and token_file are set: keep one",
                ));
            }
            _ => {
                return Err(ConfigError::new(
                    "token",
                    "missing: set token (through OPS_CONNECTORS__ANSIBLE__TOKEN) or token_file \
                     to a write-scope token",
                ));
            }
        };

        let options = RestClientOptions {
            timeout: Duration::from_secs(self.timeout_seconds),
            max_concurrency: self.max_concurrency,
            ..RestClientOptions::default()
        };
        let authorizer = Arc::new(BearerAuthorizer::new(Arc::new(tokens)));
        let client = RestClient::new(SERVICE, base, authorizer, clock.clone(), options)
            .map_err(|error| ConfigError::new("url", "invalid HTTP client").with_source(error))?;
        Ok(AwxPlane {
            client,
            clock,
            inventory: self.inventory,
            job_template: self.uninstall_job_template,
            rings,
            poll_interval: Duration::from_secs(self.poll_interval_seconds),
            job_timeout: Duration::from_secs(self.job_timeout_seconds),
            page_size: self.page_size,
            max_concurrency: self.max_concurrency,
        })
    }

    fn base_url(&self) -> Result<ops_http::Url, ConfigError> {
        let mut base = parse_base_url("connectors.ansible.url", &self.url)
            .map_err(|error| ConfigError::new("url", error.reason))?;
        let api_path = self.api_path.trim().trim_matches('/');
        let path_is_valid = !api_path.is_empty()
            && api_path.split('/').all(|segment| {
                !segment.is_empty()
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
        if !path_is_valid {
            return Err(ConfigError::new(
                "api_path",
                format!(
                    "{:?} is not an API path: use /api/v2/ (AWX, AAP 2.4 or earlier) or \
                     /api/controller/v2/ (AAP 2.5 or later)",
                    self.api_path
                ),
            ));
        }
        let prefix = base.path().trim_end_matches('/').to_owned();
        base.set_path(&format!("{prefix}/{api_path}/"));
        Ok(base)
    }

    fn rings(&self) -> Result<BTreeMap<Ring, String>, ConfigError> {
        let mut rings = BTreeMap::new();
        for (name, group) in &self.rings {
            let key = format!("rings.{name}");
            let ring: Ring = name
                .parse()
                .map_err(|error| ConfigError::new(&key, "invalid ring name").with_source(error))?;
            let group = group.trim();
            let valid = !group.is_empty()
                && group
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if !valid {
                return Err(ConfigError::new(
                    &key,
                    format!(
                        "{group:?} is not an inventory group name: use letters, digits and \
                         underscores, such as \"ring_canary\""
                    ),
                ));
            }
            if rings.insert(ring, group.to_owned()).is_some() {
                return Err(ConfigError::new(
                    &key,
                    format!("ring {ring} is configured twice: keep one entry"),
                ));
            }
        }
        Ok(rings)
    }

    fn check_limits(&self) -> Result<(), ConfigError> {
        let checks = [
            (
                "page_size",
                self.page_size == 0 || self.page_size > MAX_PAGE_SIZE,
                format!("{} is outside 1..={MAX_PAGE_SIZE}", self.page_size),
            ),
            (
                "poll_interval_seconds",
                self.poll_interval_seconds == 0,
                "0 would poll without pause: set 1 or more, such as 10".to_owned(),
            ),
            (
                "job_timeout_seconds",
                self.job_timeout_seconds < self.poll_interval_seconds,
                format!(
                    "{} is shorter than poll_interval_seconds ({}): allow at least one poll",
                    self.job_timeout_seconds, self.poll_interval_seconds
                ),
            ),
            (
                "timeout_seconds",
                self.timeout_seconds == 0,
                "0 allows no time for a request: set a number of seconds, such as 30".to_owned(),
            ),
            (
                "max_concurrency",
                self.max_concurrency == 0,
                "0 allows no request: set 1 or more, such as 4".to_owned(),
            ),
        ];
        match checks.into_iter().find(|(_, failed, _)| *failed) {
            Some((key, _, message)) => Err(ConfigError::new(key, message)),
            None => Ok(()),
        }
    }
}
