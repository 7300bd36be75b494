//! The `[connectors.intune]` configuration section and the adapter it builds.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ops_core::Ring;
use ops_core::ports::{Clock, Secret};
use ops_http::{BearerAuthorizer, RestClient, RestClientOptions, Url, parse_base_url};
use serde::Deserialize;

use super::auth::EntraTokens;
use super::graph::{Graph, GraphId, is_guid};
use super::{IntunePlane, SERVICE};

/// The Graph root of the public cloud.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";

/// The Entra ID authority host of the public cloud.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// The token scope used when `graph_url` is a loopback test server, which has no scope of its
/// own.
const PUBLIC_GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Configuration of the Intune adapter: the `[connectors.intune]` section.
///
/// The app registration needs the Microsoft Graph application permissions
/// `DeviceManagementApps.ReadWrite.All` (apps and their assignments),
/// `DeviceManagementManagedDevices.Read.All` (managed devices and detected apps),
/// `GroupMember.Read.All` (the members of each ring's group) and `Device.Read.All` (without it,
/// Graph returns device members without their `deviceId`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntuneConfig {
    /// The Entra ID tenant: its GUID or a verified domain such as `contoso.onmicrosoft.com`.
    pub tenant_id: String,
    /// The application (client) id of the app registration.
    pub client_id: String,
    /// A client secret of the app registration.
    pub client_secret: Secret,
    /// The Microsoft Graph root, without a version. Defaults to [`DEFAULT_GRAPH_URL`]. National
    /// clouds have their own, such as `https://graph.microsoft.us`.
    #[serde(default = "default_graph_url")]
    pub graph_url: String,
    /// The Entra ID authority host that issues tokens. Defaults to [`DEFAULT_AUTHORITY_HOST`].
    #[serde(default = "default_authority_host")]
    pub authority_host: String,
    /// The object id of each ring's Entra ID group, keyed by ring name. Apps are assigned to
    /// these groups, and their devices make up the ring.
    #[serde(default)]
    pub rings: BTreeMap<String, String>,
    /// Time allowed for one request, in seconds.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// Graph requests in flight at once.
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
}

fn default_graph_url() -> String {
    DEFAULT_GRAPH_URL.to_owned()
}

fn default_authority_host() -> String {
    DEFAULT_AUTHORITY_HOST.to_owned()
}

fn default_timeout_seconds() -> u64 {
    30
}

fn default_max_concurrency() -> usize {
    4
}

/// The error returned when the `[connectors.intune]` section cannot build an adapter.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// The configuration key at fault, such as `connectors.intune.tenant_id`.
    pub key: String,
    /// The problem and its fix.
    pub message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: format!("connectors.intune.{key}"),
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

impl IntuneConfig {
    /// Validates the configuration and builds the adapter. Nothing is sent until the first call.
    pub fn build(self, clock: Arc<dyn Clock>) -> Result<IntunePlane, ConfigError> {
        let graph_url = parse_base_url("connectors.intune.graph_url", &self.graph_url)
            .map_err(|error| ConfigError::new("graph_url", error.reason))?;
        let authority_host =
            parse_base_url("connectors.intune.authority_host", &self.authority_host)
                .map_err(|error| ConfigError::new("authority_host", error.reason))?;
        let tenant_id = validate_tenant(&self.tenant_id)?;
        let client_id = self.client_id.trim();
        if client_id.is_empty() {
            return Err(ConfigError::new(
                "client_id",
                "the client id is empty: copy the application (client) id from the app registration's overview in the Entra admin center",
            ));
        }
        if self.client_secret.expose().is_empty() {
            return Err(ConfigError::new(
                "client_secret",
                "the client secret is empty: set it in the configuration file or in OPS_CONNECTORS__INTUNE__CLIENT_SECRET",
            ));
        }
        if self.timeout_seconds == 0 {
            return Err(ConfigError::new(
                "timeout_seconds",
                "0 seconds leaves no time for a request: set a timeout such as 30",
            ));
        }
        if self.max_concurrency == 0 {
            return Err(ConfigError::new(
                "max_concurrency",
                "0 would never send a request: set 1 or more, such as 4",
            ));
        }
        let rings = parse_rings(&self.rings)?;
        let timeout = Duration::from_secs(self.timeout_seconds);

        let tokens = EntraTokens::new(
            tenant_id,
            client_id,
            self.client_secret,
            token_scope(&graph_url),
            &authority_host,
            timeout,
            clock.clone(),
        )
        .map_err(|message| ConfigError::new("authority_host", message))?;
        let options = RestClientOptions {
            timeout,
            max_concurrency: self.max_concurrency,
            ..RestClientOptions::default()
        };
        let client = RestClient::new(
            SERVICE,
            graph_url.clone(),
            Arc::new(BearerAuthorizer::new(Arc::new(tokens))),
            clock,
            options,
        )
        .map_err(|error| {
            ConfigError::new("graph_url", "cannot build the HTTP client").with_source(error)
        })?;

        Ok(IntunePlane {
            graph: Graph::new(client),
            graph_url,
            rings,
            max_concurrency: self.max_concurrency,
        })
    }
}

/// Checks that the tenant id contains only ASCII letters, digits, `-` and `.`, as tenant GUIDs
/// and domain names do.
fn validate_tenant(tenant_id: &str) -> Result<&str, ConfigError> {
    let tenant_id = tenant_id.trim();
    let is_valid = !tenant_id.is_empty()
        && tenant_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
    if is_valid {
        Ok(tenant_id)
    } else {
        Err(ConfigError::new(
            "tenant_id",
            format!(
                "{tenant_id:?} is not a tenant id: set the directory (tenant) id GUID or a verified domain such as contoso.onmicrosoft.com"
            ),
        ))
    }
}

/// Returns the `.default` scope of the Graph root, such as `https://graph.microsoft.us/.default`
/// for the US Government cloud, or the public cloud's scope for a loopback test server.
fn token_scope(graph_url: &Url) -> String {
    match (graph_url.scheme(), graph_url.host_str()) {
        ("https", Some(host)) => format!("https://{host}/.default"),
        _ => PUBLIC_GRAPH_SCOPE.to_owned(),
    }
}

/// Parses the ring table: ring names case-insensitively, group ids as GUIDs.
fn parse_rings(table: &BTreeMap<String, String>) -> Result<BTreeMap<Ring, GraphId>, ConfigError> {
    let mut rings = BTreeMap::new();
    for (name, group_id) in table {
        let key = format!("rings.{name}");
        let ring = Ring::from_str(name)
            .map_err(|error| ConfigError::new(&key, error.to_string()).with_source(error))?;
        let group = GraphId::parse(group_id)
            .filter(|id| is_guid(id.as_str()))
            .ok_or_else(|| {
                ConfigError::new(
                    &key,
                    format!(
                        "{group_id:?} is not a group object id: copy the group's object id (a GUID) from the Entra admin center"
                    ),
                )
            })?;
        if rings.insert(ring, group).is_some() {
            return Err(ConfigError::new(
                &key,
                format!("ring {ring} appears twice, in different letter cases: keep one entry"),
            ));
        }
    }
    Ok(rings)
}
