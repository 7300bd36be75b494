//! Gate thresholds per ring, with defaults and their TOML form.

use std::collections::BTreeMap;
use std::time::Duration;

use ops_core::Ring;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::RingsError;

const HOUR_SECS: f64 = 3600.0;

/// The thresholds a deployment must meet in a ring before it is promoted out of it.
///
/// Two gates take no threshold and always apply: no open P0 or P1 incident about the
/// deployment, and, for a high-risk deployment when `require_cab_for_high_risk` is set, a CAB
/// approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// The minimum share of reporting devices that installed successfully, from 0 to 1.
    pub min_success_rate: f64,
    /// The minimum number of devices that reported an install, successful or not.
    pub min_devices_reporting: u64,
    /// The minimum time since the deployment first reached a device. In TOML it is
    /// `min_bake_hours`, a number of hours.
    #[serde(rename = "min_bake_hours", with = "hours")]
    pub min_bake: Duration,
    /// Whether a high-risk deployment needs a CAB approval to leave the ring.
    pub require_cab_for_high_risk: bool,
}

impl GateConfig {
    /// Returns the default gates of a ring, or `None` for Global, which has no next ring.
    ///
    /// These are starting points that operators are expected to tune to their fleet. The bars
    /// rise with each ring because each next ring exposes more devices. The success rate goes
    /// from 90% in the lab to 98% before Global. The bake time goes from 4 hours, enough for lab
    /// checks, to 72 hours, which spans several working days of real use. The device counts
    /// assume each ring has at least that many devices, so a smaller fleet must lower them or
    /// the gate is never met.
    pub fn default_for(ring: Ring) -> Option<GateConfig> {
        let (min_success_rate, min_devices_reporting, bake_hours) = match ring {
            Ring::Lab => (0.90, 5, 4),
            Ring::Canary => (0.95, 50, 24),
            Ring::Pilot => (0.97, 500, 48),
            Ring::Department => (0.98, 2000, 72),
            Ring::Global => return None,
        };
        Some(GateConfig {
            min_success_rate,
            min_devices_reporting,
            min_bake: Duration::from_secs(bake_hours * 3600),
            require_cab_for_high_risk: true,
        })
    }

    /// Checks that the thresholds can be met and compared.
    pub fn validate(&self, ring: Ring) -> Result<(), RingsError> {
        if !(0.0..=1.0).contains(&self.min_success_rate) {
            return Err(RingsError::SuccessRateOutOfRange {
                ring,
                value: self.min_success_rate,
            });
        }
        Ok(())
    }
}

/// The gates of every ring a deployment can be promoted from: Lab, Canary, Pilot and
/// Department.
///
/// It reads the `[rings.gates]` table of the configuration file. Each ring's table is optional,
/// and so is each key in it: what is left out keeps the ring's default from
/// [`GateConfig::default_for`].
///
/// ```toml
/// [rings.gates.Canary]
/// min_success_rate = 0.95          # share of reporting devices, from 0 to 1
/// min_devices_reporting = 50       # devices that reported, successful or not
/// min_bake_hours = 24              # hours since the deployment first reached a device
/// require_cab_for_high_risk = true # high-risk deployments need a CAB approval
///
/// [rings.gates.Department]
/// min_devices_reporting = 800
/// ```
///
/// Ring names are matched case-insensitively. A table for Global is an error, because
/// nothing is promoted from Global.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct GatesConfig {
    gates: BTreeMap<Ring, GateConfig>,
}

impl Default for GatesConfig {
    /// Returns the defaults of [`GateConfig::default_for`] for each ring but Global.
    fn default() -> GatesConfig {
        GatesConfig {
            gates: Ring::ALL
                .into_iter()
                .filter_map(|ring| Some((ring, GateConfig::default_for(ring)?)))
                .collect(),
        }
    }
}

impl GatesConfig {
    /// Returns the gates of a ring, or `None` for Global.
    pub fn for_ring(&self, ring: Ring) -> Option<&GateConfig> {
        self.gates.get(&ring)
    }

    /// Returns the gates of each ring, innermost first.
    pub fn iter(&self) -> impl Iterator<Item = (Ring, &GateConfig)> {
        self.gates.iter().map(|(ring, gates)| (*ring, gates))
    }

    /// Replaces the gates of one ring after checking them.
    pub fn set(&mut self, ring: Ring, gates: GateConfig) -> Result<(), RingsError> {
        if ring == Ring::Global {
            return Err(RingsError::GatesForGlobal);
        }
        gates.validate(ring)?;
        self.gates.insert(ring, gates);
        Ok(())
    }
}

impl<'de> Deserialize<'de> for GatesConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<GatesConfig, D::Error> {
        let tables = BTreeMap::<String, GateOverrides>::deserialize(deserializer)?;
        let mut config = GatesConfig::default();
        for (name, overrides) in tables {
            let ring: Ring = name.parse().map_err(serde::de::Error::custom)?;
            let Some(defaults) = config.for_ring(ring).cloned() else {
                return Err(serde::de::Error::custom(RingsError::GatesForGlobal));
            };
            let gates = overrides
                .apply(defaults)
                .map_err(serde::de::Error::custom)?;
            config.set(ring, gates).map_err(serde::de::Error::custom)?;
        }
        Ok(config)
    }
}

/// One ring's table as written, every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GateOverrides {
    min_success_rate: Option<f64>,
    min_devices_reporting: Option<u64>,
    min_bake_hours: Option<f64>,
    require_cab_for_high_risk: Option<bool>,
}

impl GateOverrides {
    fn apply(self, defaults: GateConfig) -> Result<GateConfig, String> {
        let min_bake = match self.min_bake_hours {
            Some(hours) => hours_to_duration(hours)?,
            None => defaults.min_bake,
        };
        Ok(GateConfig {
            min_success_rate: self.min_success_rate.unwrap_or(defaults.min_success_rate),
            min_devices_reporting: self
                .min_devices_reporting
                .unwrap_or(defaults.min_devices_reporting),
            min_bake,
            require_cab_for_high_risk: self
                .require_cab_for_high_risk
                .unwrap_or(defaults.require_cab_for_high_risk),
        })
    }
}

fn hours_to_duration(hours: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(hours * HOUR_SECS).map_err(|_| {
        format!("min_bake_hours is {hours}: expected a number of hours, 0 or more, such as 24")
    })
}

/// Serializes a duration as a number of hours.
mod hours {
    use super::*;

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(duration.as_secs_f64() / HOUR_SECS)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let hours = f64::deserialize(deserializer)?;
        hours_to_duration(hours).map_err(serde::de::Error::custom)
    }
}
