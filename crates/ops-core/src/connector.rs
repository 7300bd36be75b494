//! The five execution planes `ops` drives.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An execution plane: the system that installs software on devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ConnectorKind {
    /// Microsoft Intune, through Microsoft Graph.
    Intune,
    /// Jamf Pro.
    Jamf,
    /// Microsoft Configuration Manager, through its AdminService.
    Sccm,
    /// Canonical Landscape.
    Landscape,
    /// Ansible AWX or the Ansible Automation Platform controller.
    Ansible,
}

/// The error returned when a connector name is not one of the five connectors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown connector {name:?}: expected one of Intune, Jamf, SCCM, Landscape, Ansible")]
pub struct UnknownConnector {
    /// The name as given.
    pub name: String,
}

impl ConnectorKind {
    /// All connectors.
    pub const ALL: [ConnectorKind; 5] = [
        ConnectorKind::Intune,
        ConnectorKind::Jamf,
        ConnectorKind::Sccm,
        ConnectorKind::Landscape,
        ConnectorKind::Ansible,
    ];

    /// Returns the connector's name as operators write it.
    pub fn name(self) -> &'static str {
        match self {
            ConnectorKind::Intune => "Intune",
            ConnectorKind::Jamf => "Jamf",
            ConnectorKind::Sccm => "SCCM",
            ConnectorKind::Landscape => "Landscape",
            ConnectorKind::Ansible => "Ansible",
        }
    }
}

impl fmt::Display for ConnectorKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for ConnectorKind {
    type Err = UnknownConnector;

    /// Parses a connector name case-insensitively. `AWX` is accepted for Ansible and
    /// `ConfigMgr` for SCCM, the names those products also go by.
    fn from_str(text: &str) -> Result<ConnectorKind, UnknownConnector> {
        let trimmed = text.trim();
        let alias = match trimmed.to_ascii_lowercase().as_str() {
            "awx" | "aap" => Some(ConnectorKind::Ansible),
            "configmgr" | "mecm" => Some(ConnectorKind::Sccm),
            _ => None,
        };
        alias
            .or_else(|| {
                ConnectorKind::ALL
                    .into_iter()
                    .find(|connector| connector.name().eq_ignore_ascii_case(trimmed))
            })
            .ok_or_else(|| UnknownConnector {
                name: text.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_ignores_case() {
        assert_eq!("sccm".parse(), Ok(ConnectorKind::Sccm));
        assert_eq!("INTUNE".parse(), Ok(ConnectorKind::Intune));
        assert_eq!("AWX".parse(), Ok(ConnectorKind::Ansible));
    }

    #[test]
    fn parse_error_lists_connectors() {
        let message = "puppet".parse::<ConnectorKind>().unwrap_err().to_string();
        assert!(
            message.contains("\"puppet\"") && message.contains("Landscape"),
            "{message}"
        );
    }

    #[test]
    fn display_round_trips() {
        for connector in ConnectorKind::ALL {
            assert_eq!(connector.to_string().parse(), Ok(connector));
        }
    }
}
