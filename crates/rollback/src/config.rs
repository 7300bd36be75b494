//! Rollback configuration: how many removal calls run at once, how they are retried, and the
//! deadline with its warning points.

use std::collections::BTreeMap;
use std::time::Duration;

use ops_core::ConnectorKind;
use ops_core::retry::RetryPolicy;
use serde::Deserialize;

use crate::RollbackError;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// The settings of a [`Rollback`](crate::Rollback).
#[derive(Debug, Clone, PartialEq)]
pub struct RollbackConfig {
    /// Removal calls in flight at once, across every execution plane and every rollback that
    /// shares the same [`Rollback`](crate::Rollback).
    pub concurrency: usize,
    /// The retry policy of each removal call that is throttled or fails transiently.
    pub retry: RetryPolicy,
    /// The time a rollback has from its first start until the emergency stop.
    pub deadline: Duration,
    /// Points before the deadline at which people are warned, such as 60 minutes before.
    pub warn_before: Vec<Duration>,
    /// The most removal calls per second each execution plane accepts. Calls to a plane listed
    /// here are spaced to stay under its rate rather than learn it from HTTP 429 answers.
    pub rate_limits: BTreeMap<ConnectorKind, f64>,
    /// The actor recorded in audit events.
    pub actor: String,
}

impl RollbackConfig {
    /// Creates the default configuration for `actor`: four calls at once, the shared retry
    /// policy, the 4-hour rollback SLA, and warnings 60 and 15 minutes before it ends.
    pub fn new(actor: impl Into<String>) -> RollbackConfig {
        RollbackConfig {
            concurrency: 4,
            retry: RetryPolicy::default(),
            deadline: 4 * HOUR,
            warn_before: vec![60 * MINUTE, 15 * MINUTE],
            rate_limits: BTreeMap::new(),
            actor: actor.into(),
        }
    }

    /// Creates the configuration from the `[rollback]` table of the configuration file.
    pub fn from_settings(settings: &RollbackSettings, actor: impl Into<String>) -> RollbackConfig {
        RollbackConfig {
            concurrency: settings.concurrency,
            deadline: Duration::from_secs(settings.deadline_hours.saturating_mul(HOUR.as_secs())),
            warn_before: settings
                .warn_before_minutes
                .iter()
                .map(|minutes| Duration::from_secs(minutes.saturating_mul(60)))
                .collect(),
            rate_limits: settings.rate_limits.clone(),
            ..RollbackConfig::new(actor)
        }
    }

    /// Checks that the configuration can run a rollback.
    pub fn validate(&self) -> Result<(), RollbackError> {
        if self.concurrency == 0 {
            return Err(RollbackError::ZeroConcurrency);
        }
        if self.deadline.is_zero() {
            return Err(RollbackError::ZeroDeadline);
        }
        for (connector, rate) in &self.rate_limits {
            if !(rate.is_finite() && *rate > 0.0) {
                return Err(RollbackError::InvalidRateLimit {
                    connector: *connector,
                    rate: *rate,
                });
            }
        }
        for warn_before in &self.warn_before {
            if warn_before.is_zero() || *warn_before >= self.deadline {
                return Err(RollbackError::WarningOutsideDeadline {
                    warn_before_minutes: warn_before.as_secs() / 60,
                    deadline_minutes: self.deadline.as_secs() / 60,
                });
            }
        }
        Ok(())
    }
}

/// The `[rollback]` table of the configuration file. Every key is optional.
///
/// ```toml
/// [rollback]
/// concurrency = 4              # removal calls in flight at once
/// deadline_hours = 4           # the rollback SLA, from the first start
/// warn_before_minutes = [60, 15]
///
/// [rollback.rate_limits]       # removal calls per second a plane accepts
/// Intune = 5
/// Jamf = 2
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RollbackSettings {
    /// Removal calls in flight at once.
    pub concurrency: usize,
    /// The deadline, in whole hours after the rollback first started.
    pub deadline_hours: u64,
    /// Warning points, in minutes before the deadline.
    pub warn_before_minutes: Vec<u64>,
    /// Removal calls per second, by connector name.
    #[serde(deserialize_with = "rate_limits")]
    pub rate_limits: BTreeMap<ConnectorKind, f64>,
}

/// Reads `[rollback.rate_limits]`, whose keys are connector names in any letter case.
fn rate_limits<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<ConnectorKind, f64>, D::Error> {
    let by_name = BTreeMap::<String, f64>::deserialize(deserializer)?;
    by_name
        .into_iter()
        .map(|(name, rate)| {
            let connector = name.parse().map_err(serde::de::Error::custom)?;
            Ok((connector, rate))
        })
        .collect()
}

impl Default for RollbackSettings {
    /// Returns the values of [`RollbackConfig::new`].
    fn default() -> RollbackSettings {
        RollbackSettings {
            concurrency: 4,
            deadline_hours: 4,
            warn_before_minutes: vec![60, 15],
            rate_limits: BTreeMap::new(),
        }
    }
}
