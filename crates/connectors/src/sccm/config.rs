//! The `[connectors.sccm]` configuration section and the adapter it builds.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ops_core::Ring;
use ops_core::ports::{Clock, Secret};
use ops_http::{RestClientOptions, parse_base_url};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;

use super::ntlm::NtlmCredentials;
use super::transport::NegotiateClient;
use super::{SERVICE, SccmPlane};

/// The largest `$top` accepted for one page. The AdminService documents no maximum, and 5000
/// keeps a page of installed software rows to a few megabytes.
const MAX_PAGE_SIZE: u32 = 5000;

/// The maximum number of ResourceIDs in one `$filter`. Each adds 34 characters to the encoded
/// URL (`ResourceID%20eq%2016777220%20or%20`), so 200 make a URL of about 7 KB. The AdminService
/// documents no URL limit, and 7 KB is an estimate of what web servers accept by default.
const MAX_DEVICES_PER_QUERY: usize = 200;

/// Configuration of the Configuration Manager adapter: the `[connectors.sccm]` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SccmConfig {
    /// The AdminService root on the SMS Provider, such as
    /// `https://cm01.contoso.com/AdminService`. A URL without a path gets `/AdminService`.
    pub url: String,
    /// The Windows account: `DOMAIN\user`, `user@domain.example`, or a bare name with `domain`.
    pub username: String,
    /// The NetBIOS domain of a bare `username`.
    #[serde(default)]
    pub domain: Option<String>,
    /// The account's password.
    pub password: Secret,
    /// A PEM file with the certificates that may issue the SMS Provider's TLS certificate. When
    /// set, only these are trusted; when absent, the system's trust store is used.
    #[serde(default)]
    pub ca_certificate: Option<PathBuf>,
    /// The device collection id of each ring, such as `PS100012`, keyed by ring name.
    #[serde(default)]
    pub rings: BTreeMap<String, String>,
    /// The hardware inventory class that lists installed software.
    #[serde(default)]
    pub software_inventory: SoftwareInventory,
    /// Rows per page (`$top`).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Devices per installed-software query, as `ResourceID eq N` terms of one `$filter`.
    #[serde(default = "default_devices_per_query")]
    pub devices_per_query: usize,
    /// Time allowed for one request, handshake included, in seconds.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// Requests in flight at once, each on its own connection.
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
}

/// The hardware inventory classes that list a device's installed software.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoftwareInventory {
    /// `SMS_G_System_INSTALLED_SOFTWARE` (`ProductName`, `ProductVersion`), filled by the
    /// Asset Intelligence hardware inventory class.
    #[default]
    InstalledSoftware,
    /// `SMS_G_System_ADD_REMOVE_PROGRAMS` and `SMS_G_System_ADD_REMOVE_PROGRAMS_64`
    /// (`DisplayName`, `Version`), the 32-bit and 64-bit uninstall registry keys.
    AddRemovePrograms,
}

fn default_page_size() -> u32 {
    1000
}

fn default_devices_per_query() -> usize {
    50
}

fn default_timeout_seconds() -> u64 {
    60
}

fn default_max_concurrency() -> usize {
    4
}

/// The error returned when the `[connectors.sccm]` section cannot build an adapter.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// The configuration key at fault, such as `connectors.sccm.rings.Canary`.
    pub key: String,
    /// The problem and its fix.
    pub message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: format!("connectors.sccm.{key}"),
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

impl SccmConfig {
    /// Validates the configuration, reads `ca_certificate`, and builds the adapter. Nothing is
    /// sent until the first call.
    pub fn build(self, clock: Arc<dyn Clock>) -> Result<SccmPlane, ConfigError> {
        let base = self.base_url()?;
        let credentials =
            NtlmCredentials::new(&self.username, self.domain.as_deref(), &self.password)
                .map_err(|message| ConfigError::new("username", message))?;
        let rings = self.rings()?;
        self.check_limits()?;
        let tls = if base.scheme() == "https" {
            Some(self.tls_config()?)
        } else {
            None
        };

        let options = RestClientOptions {
            timeout: Duration::from_secs(self.timeout_seconds),
            max_concurrency: self.max_concurrency,
            ..RestClientOptions::default()
        };
        let client = NegotiateClient::new(SERVICE, base, credentials, tls, clock, options)
            .map_err(|message| ConfigError::new("url", message))?;
        Ok(SccmPlane {
            client,
            rings,
            software_inventory: self.software_inventory,
            page_size: self.page_size,
            devices_per_query: self.devices_per_query,
            max_concurrency: self.max_concurrency,
        })
    }

    fn base_url(&self) -> Result<ops_http::Url, ConfigError> {
        let mut base = parse_base_url("connectors.sccm.url", &self.url)
            .map_err(|error| ConfigError::new("url", error.reason))?;
        if base.query().is_some() || base.fragment().is_some() {
            return Err(ConfigError::new(
                "url",
                format!(
                    "{:?} has a query or fragment: give the AdminService root only, such as \
                     https://cm01.contoso.com/AdminService",
                    self.url
                ),
            ));
        }
        let path = base.path().trim_end_matches('/').to_owned();
        let path = if path.is_empty() {
            "/AdminService/".to_owned()
        } else {
            format!("{path}/")
        };
        base.set_path(&path);
        Ok(base)
    }

    fn rings(&self) -> Result<BTreeMap<Ring, String>, ConfigError> {
        let mut rings = BTreeMap::new();
        for (name, collection) in &self.rings {
            let key = format!("rings.{name}");
            let ring: Ring = name
                .parse()
                .map_err(|error| ConfigError::new(&key, "invalid ring name").with_source(error))?;
            let collection = collection.trim().to_ascii_uppercase();
            let valid =
                collection.len() == 8 && collection.bytes().all(|b| b.is_ascii_alphanumeric());
            if !valid {
                return Err(ConfigError::new(
                    &key,
                    format!(
                        "{collection:?} is not a collection id: expected the site code and five \
                         hex digits, such as PS100012"
                    ),
                ));
            }
            if rings.insert(ring, collection).is_some() {
                return Err(ConfigError::new(
                    &key,
                    format!("ring {ring} is configured twice: keep one entry"),
                ));
            }
        }
        Ok(rings)
    }

    fn check_limits(&self) -> Result<(), ConfigError> {
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(ConfigError::new(
                "page_size",
                format!("{} is outside 1..={MAX_PAGE_SIZE}", self.page_size),
            ));
        }
        if self.devices_per_query == 0 || self.devices_per_query > MAX_DEVICES_PER_QUERY {
            return Err(ConfigError::new(
                "devices_per_query",
                format!(
                    "{} is outside 1..={MAX_DEVICES_PER_QUERY}: longer filters make URLs that \
                     servers may reject",
                    self.devices_per_query
                ),
            ));
        }
        if self.timeout_seconds == 0 {
            return Err(ConfigError::new(
                "timeout_seconds",
                "0 allows no time for a request: set a number of seconds, such as 60",
            ));
        }
        if self.max_concurrency == 0 {
            return Err(ConfigError::new(
                "max_concurrency",
                "0 allows no request: set 1 or more, such as 4",
            ));
        }
        Ok(())
    }

    /// Builds the TLS configuration: the `ca_certificate` roots only, or the system verifier.
    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, ConfigError> {
        // The provider is passed explicitly: with more than one rustls provider compiled in,
        // rustls has no process default.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|error| {
                ConfigError::new("url", "no TLS version available").with_source(error)
            })?;
        let mut config = match &self.ca_certificate {
            Some(path) => builder
                .with_root_certificates(read_roots(path)?)
                .with_no_client_auth(),
            None => {
                let verifier =
                    rustls_platform_verifier::Verifier::new(provider).map_err(|error| {
                        ConfigError::new(
                            "ca_certificate",
                            "the system trust store could not be loaded: set ca_certificate to a \
                         PEM file",
                        )
                        .with_source(error)
                    })?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(verifier))
                    .with_no_client_auth()
            }
        };
        // NTLM works over HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Reads every certificate of a PEM file into a root store.
fn read_roots(path: &std::path::Path) -> Result<rustls::RootCertStore, ConfigError> {
    let invalid = |message: String| ConfigError::new("ca_certificate", message);
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|error| {
            invalid(format!(
                "{} could not be read as a PEM file of certificates: check the path and \
                 that the file is Base-64 (PEM) encoded",
                path.display()
            ))
            .with_source(error)
        })?;
    if certificates.is_empty() {
        return Err(invalid(format!(
            "{} holds no certificate: export the issuing certificate as Base-64 (PEM)",
            path.display()
        )));
    }
    let mut roots = rustls::RootCertStore::empty();
    for certificate in certificates {
        roots.add(certificate).map_err(|error| {
            invalid(format!("{} holds an invalid certificate", path.display())).with_source(error)
        })?;
    }
    Ok(roots)
}
