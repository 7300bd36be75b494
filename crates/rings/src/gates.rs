//! Gate evaluation: each gate's threshold against what the control plane and the incidents
//! record measured.
//!
//! A gate without data is not met. No device reporting, a success rate that cannot be computed
//! and an unknown first deployment time all block a promotion, because the absence of reports
//! is not evidence that nothing failed.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ops_core::intent::DeploymentStatus;
use ops_core::ports::IncidentSummary;
use ops_core::{CorrelationId, DeploymentIntent, Ring, Severity};
use serde::Serialize;

use crate::GateConfig;

/// A gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// The share of reporting devices that installed successfully.
    SuccessRate,
    /// The number of devices that reported.
    DevicesReporting,
    /// The time since the deployment first reached a device.
    BakeTime,
    /// No open P0 or P1 incident about the deployment.
    OpenIncidents,
    /// A CAB approval for a high-risk deployment.
    CabApproval,
}

impl Gate {
    /// Returns the gate's name as reports show it.
    pub fn name(self) -> &'static str {
        match self {
            Gate::SuccessRate => "success_rate",
            Gate::DevicesReporting => "devices_reporting",
            Gate::BakeTime => "bake_time",
            Gate::OpenIncidents => "open_incidents",
            Gate::CabApproval => "cab_approval",
        }
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// Whether a gate is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateStatus {
    /// The measured value meets the threshold.
    Met,
    /// The measured value falls short of the threshold.
    NotMet,
    /// Nothing was measured, which counts as not met.
    NoData,
}

/// One gate's evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateResult {
    /// The gate.
    pub gate: Gate,
    /// Whether it is met.
    pub status: GateStatus,
    /// The threshold, as operators read it, such as `at least 95.00%`.
    pub threshold: String,
    /// The measured value, or the reason for no data, such as
    /// `93.00% (93 of 100 reporting devices)`.
    pub measured: String,
}

impl GateResult {
    /// Returns true when the gate is met.
    pub fn is_met(&self) -> bool {
        self.status == GateStatus::Met
    }
}

/// Every gate of one intent in its ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateReport {
    /// The intent evaluated.
    pub intent_id: CorrelationId,
    /// The ring it is in.
    pub ring: Ring,
    /// The ring it would be promoted to.
    pub next_ring: Ring,
    /// When the gates were evaluated, which is the time bake time is measured up to.
    pub evaluated_at: DateTime<Utc>,
    /// Each gate, in a fixed order.
    pub gates: Vec<GateResult>,
}

impl GateReport {
    /// Returns true when every gate is met.
    pub fn all_met(&self) -> bool {
        self.gates.iter().all(GateResult::is_met)
    }

    /// Returns the gates not met, those without data included.
    pub fn unmet(&self) -> impl Iterator<Item = &GateResult> {
        self.gates.iter().filter(|gate| !gate.is_met())
    }
}

/// The data the gates are measured on.
pub(crate) struct Measurements<'a> {
    /// The device counts the control plane reported, if any.
    pub deployment: Option<DeploymentStatus>,
    /// The open incidents about the deployment, in any ring.
    pub incidents: &'a [IncidentSummary],
    /// The time to measure bake time up to.
    pub now: DateTime<Utc>,
}

/// Evaluates every gate of `config` for `intent`.
pub(crate) fn evaluate_gates(
    intent: &DeploymentIntent,
    next_ring: Ring,
    config: &GateConfig,
    measurements: &Measurements<'_>,
) -> GateReport {
    GateReport {
        intent_id: intent.correlation_id.clone(),
        ring: intent.ring,
        next_ring,
        evaluated_at: measurements.now,
        gates: vec![
            success_rate(config, measurements.deployment),
            devices_reporting(config, measurements.deployment),
            bake_time(config, measurements.deployment, measurements.now),
            open_incidents(measurements.incidents),
            cab_approval(config, intent),
        ],
    }
}

fn success_rate(config: &GateConfig, deployment: Option<DeploymentStatus>) -> GateResult {
    let threshold = format!("at least {}", percent(config.min_success_rate));
    let Some(deployment) = deployment else {
        return no_data(
            Gate::SuccessRate,
            threshold,
            "no deployment status reported",
        );
    };
    let Some(rate) = deployment.success_rate() else {
        return no_data(Gate::SuccessRate, threshold, "no device has reported yet");
    };

    GateResult {
        gate: Gate::SuccessRate,
        status: met_if(rate >= config.min_success_rate),
        threshold,
        measured: format!(
            "{} ({} of {} reporting devices)",
            percent(rate),
            deployment.devices_succeeded,
            deployment.devices_reporting()
        ),
    }
}

fn devices_reporting(config: &GateConfig, deployment: Option<DeploymentStatus>) -> GateResult {
    let threshold = format!("at least {}", config.min_devices_reporting);
    let Some(deployment) = deployment else {
        return no_data(
            Gate::DevicesReporting,
            threshold,
            "no deployment status reported",
        );
    };
    let reporting = deployment.devices_reporting();
    if reporting == 0 {
        return no_data(
            Gate::DevicesReporting,
            threshold,
            "no device has reported yet",
        );
    }

    GateResult {
        gate: Gate::DevicesReporting,
        status: met_if(reporting >= config.min_devices_reporting),
        threshold,
        measured: format!(
            "{reporting} of {} targeted devices",
            deployment.devices_targeted
        ),
    }
}

fn bake_time(
    config: &GateConfig,
    deployment: Option<DeploymentStatus>,
    now: DateTime<Utc>,
) -> GateResult {
    let threshold = format!("at least {}", hours_and_minutes(config.min_bake));
    let Some(deployed_at) = deployment.and_then(|deployment| deployment.deployed_at) else {
        return no_data(
            Gate::BakeTime,
            threshold,
            "the time the deployment first reached a device is unknown",
        );
    };
    // A first deployment time in the future (clock skew between systems) counts as no bake.
    let baked = (now - deployed_at).to_std().unwrap_or(Duration::ZERO);

    GateResult {
        gate: Gate::BakeTime,
        status: met_if(baked >= config.min_bake),
        threshold,
        measured: format!(
            "{} since {}",
            hours_and_minutes(baked),
            deployed_at.to_rfc3339()
        ),
    }
}

fn open_incidents(incidents: &[IncidentSummary]) -> GateResult {
    let blocking: Vec<String> = incidents
        .iter()
        .filter(|incident| incident.open && incident.severity <= Severity::P1)
        .map(|incident| format!("{} ({})", incident.id, incident.severity))
        .collect();
    let measured = if blocking.is_empty() {
        "none".to_owned()
    } else {
        blocking.join(", ")
    };

    GateResult {
        gate: Gate::OpenIncidents,
        status: met_if(blocking.is_empty()),
        threshold: "no open P0 or P1 incident".to_owned(),
        measured,
    }
}

fn cab_approval(config: &GateConfig, intent: &DeploymentIntent) -> GateResult {
    let required = intent.high_risk && config.require_cab_for_high_risk;
    let threshold = if required {
        "a CAB approval, because the deployment is high-risk".to_owned()
    } else if intent.high_risk {
        "none: CAB approval is not required for high-risk deployments in this ring".to_owned()
    } else {
        "none: the deployment is not high-risk".to_owned()
    };
    let measured = match &intent.cab_approval {
        Some(approval) => format!(
            "approved by {} at {}",
            approval.approver,
            approval.approved_at.to_rfc3339()
        ),
        None => "no approval".to_owned(),
    };

    GateResult {
        gate: Gate::CabApproval,
        status: met_if(!required || intent.cab_approval.is_some()),
        threshold,
        measured,
    }
}

fn no_data(gate: Gate, threshold: String, reason: &str) -> GateResult {
    GateResult {
        gate,
        status: GateStatus::NoData,
        threshold,
        measured: format!("no data: {reason}"),
    }
}

fn met_if(condition: bool) -> GateStatus {
    if condition {
        GateStatus::Met
    } else {
        GateStatus::NotMet
    }
}

fn percent(share: f64) -> String {
    format!("{:.2}%", share * 100.0)
}

fn hours_and_minutes(duration: Duration) -> String {
    let minutes = duration.as_secs() / 60;
    format!("{} h {:02} min", minutes / 60, minutes % 60)
}
