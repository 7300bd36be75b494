//! Deployment intents: what the control plane was asked to deploy, where, and how far it got.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::{ConnectorKind, CorrelationId, Ring, VersionScheme};

/// The operating-system family an application is packaged for.
///
/// The platform decides how application names match ([`Platform::match_key`]) and which
/// version scheme orders their versions ([`Platform::default_version_scheme`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Windows: Add/Remove Programs display names and MSI or file versions.
    Windows,
    /// macOS: application bundle names and bundle versions.
    Macos,
    /// Debian and Ubuntu: dpkg package names and Debian versions.
    Debian,
    /// Red Hat family: RPM package names and RPM versions.
    Rpm,
}

/// The error returned when a platform name is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform {name:?}: expected one of windows, macos, debian, rpm")]
pub struct UnknownPlatform {
    /// The name as given.
    pub name: String,
}

impl Platform {
    /// All platforms.
    pub const ALL: [Platform; 4] = [
        Platform::Windows,
        Platform::Macos,
        Platform::Debian,
        Platform::Rpm,
    ];

    /// Returns the platform's name in lowercase.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Windows => "windows",
            Platform::Macos => "macos",
            Platform::Debian => "debian",
            Platform::Rpm => "rpm",
        }
    }

    /// Returns the scheme the platform's package manager orders versions by.
    pub fn default_version_scheme(self) -> VersionScheme {
        match self {
            Platform::Windows => VersionScheme::Dotted,
            Platform::Macos => VersionScheme::MacBundle,
            Platform::Debian => VersionScheme::Debian,
            Platform::Rpm => VersionScheme::Rpm,
        }
    }

    /// Returns the key under which the platform considers two application names the same.
    ///
    /// Every platform trims surrounding whitespace and compares Unicode NFC forms, so a name
    /// typed with a combining accent matches the precomposed one. Windows and macOS compare
    /// display names case-insensitively, as Add/Remove Programs and Finder do. Debian and RPM
    /// package names are compared exactly, as dpkg and rpm do.
    pub fn match_key(self, name: &str) -> Cow<'_, str> {
        let trimmed = name.trim();
        let case_insensitive = matches!(self, Platform::Windows | Platform::Macos);
        let is_plain_ascii = trimmed.is_ascii();

        if is_plain_ascii {
            let has_upper = trimmed.bytes().any(|byte| byte.is_ascii_uppercase());
            return if case_insensitive && has_upper {
                Cow::Owned(trimmed.to_ascii_lowercase())
            } else {
                Cow::Borrowed(trimmed)
            };
        }

        let normalized: Cow<'_, str> = match is_nfc_quick(trimmed.chars()) {
            IsNormalized::Yes => Cow::Borrowed(trimmed),
            _ => Cow::Owned(trimmed.nfc().collect()),
        };
        if case_insensitive {
            // Lowercasing can produce a denormalized sequence in rare scripts; normalize again.
            Cow::Owned(normalized.to_lowercase().nfc().collect())
        } else {
            normalized
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for Platform {
    type Err = UnknownPlatform;

    /// Parses a platform case-insensitively; `macOS`, `mac` and `darwin` name macOS, `ubuntu`
    /// and `deb` name Debian, `rhel` and `redhat` name RPM.
    fn from_str(text: &str) -> Result<Platform, UnknownPlatform> {
        match text.trim().to_ascii_lowercase().as_str() {
            "windows" | "win" => Ok(Platform::Windows),
            "macos" | "mac" | "darwin" | "osx" => Ok(Platform::Macos),
            "debian" | "deb" | "ubuntu" => Ok(Platform::Debian),
            "rpm" | "rhel" | "redhat" => Ok(Platform::Rpm),
            _ => Err(UnknownPlatform {
                name: text.to_owned(),
            }),
        }
    }
}

/// Where a deployment intent stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IntentStatus {
    /// Submitted and waiting for approval.
    Pending,
    /// Approved, not yet sent to the execution planes.
    Approved,
    /// Being deployed by the execution planes.
    Deploying,
    /// Deployed by every execution plane.
    Deployed,
    /// An execution plane reported the deployment failed; the intent still stands.
    Failed,
    /// Rolled back: the version is no longer wanted anywhere.
    RolledBack,
    /// Rejected at approval.
    Rejected,
}

/// The error returned when a status name is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown intent status {name:?}: expected one of Pending, Approved, Deploying, Deployed, Failed, RolledBack, Rejected"
)]
pub struct UnknownIntentStatus {
    /// The name as given.
    pub name: String,
}

impl IntentStatus {
    /// All statuses.
    pub const ALL: [IntentStatus; 7] = [
        IntentStatus::Pending,
        IntentStatus::Approved,
        IntentStatus::Deploying,
        IntentStatus::Deployed,
        IntentStatus::Failed,
        IntentStatus::RolledBack,
        IntentStatus::Rejected,
    ];

    /// Returns true when the intent says the application belongs on its ring's devices.
    ///
    /// Drift detection expects exactly these intents. A failed deployment is still approved: the
    /// application is expected and its absence is drift.
    pub fn is_approved(self) -> bool {
        matches!(
            self,
            IntentStatus::Approved
                | IntentStatus::Deploying
                | IntentStatus::Deployed
                | IntentStatus::Failed
        )
    }

    /// Returns the status name.
    pub fn name(self) -> &'static str {
        match self {
            IntentStatus::Pending => "Pending",
            IntentStatus::Approved => "Approved",
            IntentStatus::Deploying => "Deploying",
            IntentStatus::Deployed => "Deployed",
            IntentStatus::Failed => "Failed",
            IntentStatus::RolledBack => "RolledBack",
            IntentStatus::Rejected => "Rejected",
        }
    }
}

impl fmt::Display for IntentStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for IntentStatus {
    type Err = UnknownIntentStatus;

    /// Parses a status case-insensitively, ignoring `_`, `-` and spaces (`rolled_back` works).
    fn from_str(text: &str) -> Result<IntentStatus, UnknownIntentStatus> {
        let folded: String = text
            .trim()
            .chars()
            .filter(|c| !matches!(c, '_' | '-' | ' '))
            .collect();
        IntentStatus::ALL
            .into_iter()
            .find(|status| status.name().eq_ignore_ascii_case(&folded))
            .ok_or_else(|| UnknownIntentStatus {
                name: text.to_owned(),
            })
    }
}

/// A request to deploy one version of one application to one ring through some execution planes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentIntent {
    /// The id of the operation that created the intent; unique per intent.
    pub correlation_id: CorrelationId,
    /// The application's id in the catalogue (for example an Intune mobileApp id).
    pub application_id: String,
    /// The application's display name or package name, as the platform shows it.
    pub app_name: String,
    /// The approved version, in the platform's version scheme.
    pub version: String,
    /// The ring the intent targets.
    pub ring: Ring,
    /// The platform the application is packaged for.
    pub platform: Platform,
    /// A version scheme overriding the platform's default, such as `semver`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_scheme: Option<VersionScheme>,
    /// The execution planes that deploy it.
    pub connectors: Vec<ConnectorKind>,
    /// Where the intent stands.
    pub status: IntentStatus,
    /// What the execution planes last reported about the deployment, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentStatus>,
    /// Whether the change is high-risk, which makes promotion require a CAB approval.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub high_risk: bool,
    /// The change advisory board's approval, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cab_approval: Option<CabApproval>,
}

/// A change advisory board's approval of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CabApproval {
    /// Who approved, as the directory names them.
    pub approver: String,
    /// When.
    pub approved_at: DateTime<Utc>,
}

impl DeploymentIntent {
    /// Returns the version scheme of the intent: its override, or its platform's default.
    pub fn version_scheme(&self) -> VersionScheme {
        self.version_scheme
            .unwrap_or_else(|| self.platform.default_version_scheme())
    }
}

/// Device counts the execution planes report for one deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentStatus {
    /// Devices the deployment targets.
    pub devices_targeted: u64,
    /// Devices that reported a successful install.
    pub devices_succeeded: u64,
    /// Devices that reported a failed install.
    pub devices_failed: u64,
    /// When the deployment first reached a device, if it has.
    pub deployed_at: Option<DateTime<Utc>>,
}

impl DeploymentStatus {
    /// Returns the devices that reported either way.
    pub fn devices_reporting(&self) -> u64 {
        self.devices_succeeded.saturating_add(self.devices_failed)
    }

    /// Returns the share of reporting devices that succeeded, or `None` when no device reported:
    /// no data is never read as no failures.
    pub fn success_rate(&self) -> Option<f64> {
        let reporting = self.devices_reporting();
        (reporting > 0).then(|| self.devices_succeeded as f64 / reporting as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_names_match_case_insensitively() {
        assert_eq!(
            Platform::Windows.match_key(" Google Chrome "),
            Platform::Windows.match_key("google chrome")
        );
        assert_eq!(
            Platform::Macos.match_key("Slack"),
            Platform::Macos.match_key("SLACK")
        );
    }

    #[test]
    fn debian_names_match_exactly() {
        assert_ne!(
            Platform::Debian.match_key("Curl"),
            Platform::Debian.match_key("curl")
        );
        assert_eq!(Platform::Debian.match_key(" curl\t"), "curl");
    }

    #[test]
    fn names_match_across_unicode_forms() {
        let precomposed = "Caf\u{e9} Reader";
        let combining = "Cafe\u{301} Reader";
        for platform in Platform::ALL {
            assert_eq!(
                platform.match_key(precomposed),
                platform.match_key(combining),
                "{platform}"
            );
        }
        assert_eq!(
            Platform::Windows.match_key("CAFE\u{301}"),
            Platform::Windows.match_key("caf\u{e9}")
        );
    }

    #[test]
    fn platform_aliases_parse() {
        assert_eq!("macOS".parse(), Ok(Platform::Macos));
        assert_eq!("Ubuntu".parse(), Ok(Platform::Debian));
        let message = "beos".parse::<Platform>().unwrap_err().to_string();
        assert!(
            message.contains("\"beos\"") && message.contains("windows"),
            "{message}"
        );
    }

    #[test]
    fn approved_statuses() {
        let approved: Vec<_> = IntentStatus::ALL
            .into_iter()
            .filter(|s| s.is_approved())
            .collect();
        assert_eq!(
            approved,
            [
                IntentStatus::Approved,
                IntentStatus::Deploying,
                IntentStatus::Deployed,
                IntentStatus::Failed
            ]
        );
    }

    #[test]
    fn status_parse_folds_separators() {
        assert_eq!("rolled_back".parse(), Ok(IntentStatus::RolledBack));
        assert_eq!("DEPLOYED".parse(), Ok(IntentStatus::Deployed));
        assert!("done".parse::<IntentStatus>().is_err());
    }

    #[test]
    fn success_rate_without_reports_is_unknown() {
        let status = DeploymentStatus {
            devices_targeted: 10,
            devices_succeeded: 0,
            devices_failed: 0,
            deployed_at: None,
        };
        assert_eq!(status.success_rate(), None);
        let status = DeploymentStatus {
            devices_succeeded: 3,
            devices_failed: 1,
            ..status
        };
        assert_eq!(status.success_rate(), Some(0.75));
    }
}
