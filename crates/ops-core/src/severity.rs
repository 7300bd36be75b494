//! Incident severities and the response and resolution times they commit to.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An incident severity, P0 being the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    /// A global outage or a security breach.
    P0,
    /// A ring is down or major functionality is broken.
    P1,
    /// Partial functionality is broken.
    P2,
    /// A minor or cosmetic issue.
    P3,
}

/// What a severity commits the team to, from the SLA table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sla {
    /// Time within which someone must respond; zero means immediately.
    pub response: Duration,
    /// Time within which the incident must be resolved, or `None` when the fix ships with the
    /// next deployment rather than by a deadline.
    pub resolution: Option<Duration>,
    /// How the incident is resolved.
    pub remedy: Remedy,
}

/// The way an incident of a severity is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Remedy {
    /// Roll the deployment back.
    Rollback,
    /// Ship a fix.
    Fix,
    /// Fix in the next deployment.
    NextDeployment,
}

/// The error returned when a severity name is not P0 to P3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {name:?}: expected one of P0, P1, P2, P3")]
pub struct UnknownSeverity {
    /// The name as given.
    pub name: String,
}

const HOUR: u64 = 3600;

impl Severity {
    /// All severities, worst first.
    pub const ALL: [Severity; 4] = [Severity::P0, Severity::P1, Severity::P2, Severity::P3];

    /// Returns the SLA of this severity.
    pub fn sla(self) -> Sla {
        let hours = |count: u64| Duration::from_secs(count * HOUR);
        match self {
            Severity::P0 => Sla {
                response: Duration::ZERO,
                resolution: Some(hours(4)),
                remedy: Remedy::Rollback,
            },
            Severity::P1 => Sla {
                response: hours(1),
                resolution: Some(hours(4)),
                remedy: Remedy::Rollback,
            },
            Severity::P2 => Sla {
                response: hours(4),
                resolution: Some(hours(24)),
                remedy: Remedy::Fix,
            },
            Severity::P3 => Sla {
                response: hours(24),
                resolution: None,
                remedy: Remedy::NextDeployment,
            },
        }
    }

    /// Returns the name, `P0` to `P3`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::P0 => "P0",
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for Severity {
    type Err = UnknownSeverity;

    fn from_str(text: &str) -> Result<Severity, UnknownSeverity> {
        let trimmed = text.trim();
        Severity::ALL
            .into_iter()
            .find(|severity| severity.name().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| UnknownSeverity {
                name: text.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOURS: fn(u64) -> Duration = |count| Duration::from_secs(count * 3600);

    #[test]
    fn sla_table_matches_policy() {
        assert_eq!(Severity::P0.sla().response, Duration::ZERO);
        assert_eq!(Severity::P0.sla().resolution, Some(HOURS(4)));
        assert_eq!(Severity::P0.sla().remedy, Remedy::Rollback);

        assert_eq!(Severity::P1.sla().response, HOURS(1));
        assert_eq!(Severity::P1.sla().resolution, Some(HOURS(4)));
        assert_eq!(Severity::P1.sla().remedy, Remedy::Rollback);

        assert_eq!(Severity::P2.sla().response, HOURS(4));
        assert_eq!(Severity::P2.sla().resolution, Some(HOURS(24)));
        assert_eq!(Severity::P2.sla().remedy, Remedy::Fix);

        assert_eq!(Severity::P3.sla().response, HOURS(24));
        assert_eq!(Severity::P3.sla().resolution, None);
        assert_eq!(Severity::P3.sla().remedy, Remedy::NextDeployment);
    }

    #[test]
    fn p0_is_the_worst() {
        assert!(Severity::P0 < Severity::P1);
        assert!(Severity::P2 < Severity::P3);
    }

    #[test]
    fn parse_accepts_lowercase_and_rejects_others() {
        assert_eq!("p1".parse(), Ok(Severity::P1));
        let message = "P4".parse::<Severity>().unwrap_err().to_string();
        assert!(
            message.contains("\"P4\"") && message.contains("P0, P1, P2, P3"),
            "{message}"
        );
    }
}
