//! Configuration of the execution-plane adapters, as the `[connectors]` section of the `ops`
//! configuration file holds it, and the wiring of the configured ones.

use std::collections::BTreeMap;
use std::sync::Arc;

use ops_core::ConnectorKind;
use ops_core::ports::{Clock, ExecutionPlane};
use serde::Deserialize;

/// The `[connectors]` section: one optional table per execution plane.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorsConfig {
    /// `[connectors.intune]`.
    #[cfg(feature = "intune")]
    pub intune: Option<crate::intune::IntuneConfig>,
    /// `[connectors.jamf]`.
    #[cfg(feature = "jamf")]
    pub jamf: Option<crate::jamf::JamfConfig>,
    /// `[connectors.sccm]`.
    #[cfg(feature = "sccm")]
    pub sccm: Option<crate::sccm::SccmConfig>,
    /// `[connectors.landscape]`.
    #[cfg(feature = "landscape")]
    pub landscape: Option<crate::landscape::LandscapeConfig>,
    /// `[connectors.ansible]`.
    #[cfg(feature = "awx")]
    pub ansible: Option<crate::awx::AwxConfig>,
}

/// An adapter whose configuration could not be turned into a client.
#[derive(Debug, thiserror::Error)]
#[error("the [connectors.{section}] configuration is not usable")]
pub struct BuildError {
    /// The configuration section, such as `jamf`.
    pub section: &'static str,
    /// What is wrong with it.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl ConnectorsConfig {
    /// Builds an adapter for every configured execution plane, keyed by the kind it reports.
    /// Planes without a section are absent from the map.
    pub fn build(
        self,
        clock: Arc<dyn Clock>,
    ) -> Result<BTreeMap<ConnectorKind, Arc<dyn ExecutionPlane>>, BuildError> {
        // Without any adapter feature nothing is ever inserted.
        #[cfg_attr(
            not(any(
                feature = "intune",
                feature = "jamf",
                feature = "sccm",
                feature = "landscape",
                feature = "awx"
            )),
            allow(unused_mut)
        )]
        let mut planes: BTreeMap<ConnectorKind, Arc<dyn ExecutionPlane>> = BTreeMap::new();

        #[cfg(feature = "intune")]
        if let Some(config) = self.intune {
            let plane = config.build(clock.clone()).map_err(|error| BuildError {
                section: "intune",
                source: error.into(),
            })?;
            planes.insert(ConnectorKind::Intune, Arc::new(plane));
        }
        #[cfg(feature = "jamf")]
        if let Some(config) = self.jamf {
            let plane = config.build(clock.clone()).map_err(|error| BuildError {
                section: "jamf",
                source: error.into(),
            })?;
            planes.insert(ConnectorKind::Jamf, Arc::new(plane));
        }
        #[cfg(feature = "sccm")]
        if let Some(config) = self.sccm {
            let plane = config.build(clock.clone()).map_err(|error| BuildError {
                section: "sccm",
                source: error.into(),
            })?;
            planes.insert(ConnectorKind::Sccm, Arc::new(plane));
        }
        #[cfg(feature = "landscape")]
        if let Some(config) = self.landscape {
            let plane = config.build(clock.clone()).map_err(|error| BuildError {
                section: "landscape",
                source: error.into(),
            })?;
            planes.insert(ConnectorKind::Landscape, Arc::new(plane));
        }
        #[cfg(feature = "awx")]
        if let Some(config) = self.ansible {
            let plane = config.build(clock.clone()).map_err(|error| BuildError {
                section: "ansible",
                source: error.into(),
            })?;
            planes.insert(ConnectorKind::Ansible, Arc::new(plane));
        }
        let _ = clock;
        Ok(planes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct StoppedClock;

    #[async_trait::async_trait]
    impl Clock for StoppedClock {
        fn now(&self) -> chrono::DateTime<chrono::Utc> {
            chrono::DateTime::UNIX_EPOCH
        }

        async fn sleep(&self, _duration: std::time::Duration) {}
    }

    #[test]
    fn empty_section_builds_no_planes() {
        let config: ConnectorsConfig = toml::from_str("").unwrap();
        assert!(config.build(Arc::new(StoppedClock)).unwrap().is_empty());
    }

    #[test]
    fn unknown_plane_is_rejected() {
        let error =
            toml::from_str::<ConnectorsConfig>("[puppet]\nurl = \"https://x\"").unwrap_err();
        assert!(error.to_string().contains("puppet"), "{error}");
    }
}
