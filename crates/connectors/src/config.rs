//! Configuration of the execution-plane adapters, as the `[connectors]` section of the `ops`
//! configuration file holds it.

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
