//! The `[siem]` section of the `ops` configuration file.

use std::sync::Arc;
use std::time::Duration;

use ops_core::ports::{Clock, Secret};
use ops_core::retry::RetryPolicy;
use serde::{Deserialize, Serialize};

use crate::cef::{CefSyslogConfig, CefSyslogTransport};
use crate::error::SiemError;
use crate::forwarder::SiemTransport;
use crate::sentinel::{SentinelConfig, SentinelTransport};
use crate::splunk::{SplunkHecConfig, SplunkHecTransport};
use ops_http::token::ClientCredentials;

/// Where audit events are shipped, chosen by the `sink` key.
///
/// ```toml
/// [siem]
/// sink = "sentinel"          # none | sentinel | splunk_hec | cef_syslog
/// endpoint = "https://my-dce.westeurope-1.ingest.monitor.azure.com"
/// dcr_immutable_id = "dcr-0123456789abcdef0123456789abcdef"
/// stream_name = "Custom-OpsAudit"
/// tenant_id = "contoso.onmicrosoft.com"
/// client_id = "00000000-0000-0000-0000-000000000001"
/// ```
///
/// The other keys of each sink are the fields of [`SentinelConfig`], [`SplunkHecConfig`] and
/// [`CefSyslogConfig`]. Secrets are never in the file: `client_secret_env` and `token_env` name
/// the environment variables the caller reads them from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "sink", rename_all = "snake_case")]
pub enum SiemConfig {
    /// Events stay in the local audit log only.
    #[default]
    None,
    /// Microsoft Sentinel through the Logs Ingestion API.
    Sentinel(SentinelConfig),
    /// Splunk through the HTTP Event Collector.
    SplunkHec(SplunkHecConfig),
    /// CEF over syslog.
    CefSyslog(CefSyslogConfig),
}

impl SiemConfig {
    /// Returns the environment variable holding the sink's secret, when the sink needs one.
    pub fn secret_env(&self) -> Option<&str> {
        match self {
            SiemConfig::Sentinel(config) => Some(&config.client_secret_env),
            SiemConfig::SplunkHec(config) => Some(&config.token_env),
            SiemConfig::None | SiemConfig::CefSyslog(_) => None,
        }
    }

    /// Builds the configured transport, or `None` for `sink = "none"`. `secret` is the value of
    /// the variable named by [`SiemConfig::secret_env`]; retries pause on `clock`.
    pub fn build_transport(
        &self,
        secret: Option<Secret>,
        clock: Arc<dyn Clock>,
        retry: RetryPolicy,
    ) -> Result<Option<Arc<dyn SiemTransport>>, SiemError> {
        let transport: Arc<dyn SiemTransport> = match self {
            SiemConfig::None => return Ok(None),
            SiemConfig::Sentinel(config) => {
                let secret = secret.ok_or(SiemError::MissingSecret {
                    sink: "Sentinel",
                    field: "client_secret_env",
                })?;
                let token_url =
                    ClientCredentials::entra_token_url(&config.authority_host, &config.tenant_id)
                        .map_err(|error| SiemError::InvalidConfig {
                        field: if error.field == "tenant_id" {
                            "tenant_id"
                        } else {
                            "authority_host"
                        },
                        reason: error.reason,
                    })?;
                let tokens = ClientCredentials::new(
                    "Entra ID",
                    token_url,
                    config.client_id.clone(),
                    secret,
                    Some(config.scope.clone()),
                    clock.clone(),
                    Duration::from_secs(config.timeout_secs),
                )
                .map_err(|error| SiemError::InvalidConfig {
                    field: "sentinel",
                    reason: error.to_string(),
                })?;
                Arc::new(SentinelTransport::new(
                    config,
                    Arc::new(tokens),
                    clock,
                    retry,
                )?)
            }
            SiemConfig::SplunkHec(config) => {
                let token = secret.ok_or(SiemError::MissingSecret {
                    sink: "Splunk HEC",
                    field: "token_env",
                })?;
                Arc::new(SplunkHecTransport::new(config, token, clock, retry)?)
            }
            SiemConfig::CefSyslog(config) => {
                Arc::new(CefSyslogTransport::new(config, clock, retry)?)
            }
        };
        Ok(Some(transport))
    }
}
