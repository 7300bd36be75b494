//! Ring promotion: move a deployment one ring out once its gates are met.
//!
//! Deployments move Lab, Canary, Pilot, Department, Global, one ring at a time. Start with
//! [`Promoter`], built from [`PromotionPorts`], a [`GatesConfig`] and the actor recorded in
//! audit events:
//!
//! - [`Promoter::evaluate`] measures an intent against its ring's gates and returns a
//!   [`GateReport`]: each gate with its threshold, the measured value, and whether it is met.
//!   [`Promoter::evaluate_ring`] does so for every approved intent of a ring.
//! - [`Promoter::promote`] checks that the intent is approved and in the ring named, evaluates
//!   the gates and, when every one is met, submits a copy of the intent for the next ring under
//!   a new `promote-` correlation id. See the `promote` module for how a rerun avoids a second
//!   submission.
//!
//! # Gates
//!
//! Each ring but Global has a [`GateConfig`]: a minimum success rate among reporting devices, a
//! minimum number of devices reporting, and a minimum bake time since the deployment first
//! reached a device, all read from [`ControlPlane::deployment_status`]. Two more gates always
//! apply: no open P0 or P1 incident about the deployment in any ring, read from
//! [`Incidents::open_for_deployment`], and a CAB approval when the intent is high-risk and the
//! ring's `require_cab_for_high_risk` is set. A gate without data is not met: no report is
//! never read as no failure. The TOML form of the gates is documented on [`GatesConfig`].
//!
//! # Evidence
//!
//! A promotion that is blocked records `PromotionBlocked` with the unmet gates. One that
//! submits records `PromotionSubmitted` before the submission, and submits nothing when the
//! event cannot be recorded. When the store refuses the copy because another promotion of the
//! same deployment was stored first, a second `PromotionSubmitted` event with outcome
//! `Failure` names that promotion in `already_promoted_as`. Events carry the promotion id as their correlation id and the
//! original intent's id as the related id. Log lines carry both through the span fields
//! `correlation_id` and `intent_correlation_id`.
//!
//! [`ControlPlane::deployment_status`]: ops_core::ports::ControlPlane::deployment_status
//! [`Incidents::open_for_deployment`]: ops_core::ports::Incidents::open_for_deployment

mod config;
mod error;
mod gates;
mod promote;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ops_core::ports::control_plane::IntentFilter;
use ops_core::ports::{AuditSink, Clock, ControlPlane, Incidents, Journal};
use ops_core::{CorrelationId, DeploymentIntent, Ring};
use tracing::Instrument;

pub use config::{GateConfig, GatesConfig};
pub use error::RingsError;
pub use gates::{Gate, GateReport, GateResult, GateStatus};
pub use promote::{PromotionOutcome, PromotionReport};

use crate::gates::{Measurements, evaluate_gates};

/// The ports a promotion uses.
pub struct PromotionPorts {
    /// The store of intents and their deployment status, which receives promoted intents.
    pub control_plane: Arc<dyn ControlPlane>,
    /// The record of incidents.
    pub incidents: Arc<dyn Incidents>,
    /// The journal, which records the promotion id before it is used.
    pub journal: Arc<dyn Journal>,
    /// The audit sink.
    pub audit: Arc<dyn AuditSink>,
    /// The time, for bake times.
    pub clock: Arc<dyn Clock>,
}

/// Evaluates gates and promotes deployments.
#[derive(Clone)]
pub struct Promoter {
    ports: Arc<PromotionPorts>,
    gates: Arc<GatesConfig>,
    actor: String,
}

impl Promoter {
    /// Creates the service. `actor` is who acts, as recorded in audit events.
    pub fn new(ports: PromotionPorts, gates: GatesConfig, actor: impl Into<String>) -> Promoter {
        Promoter {
            ports: Arc::new(ports),
            gates: Arc::new(gates),
            actor: actor.into(),
        }
    }

    /// Returns the gates in use.
    pub fn gates(&self) -> &GatesConfig {
        &self.gates
    }

    /// Evaluates the gates of `intent`'s ring for it, measuring bake time up to `now`.
    ///
    /// Fails for an intent in Global, which has no next ring and no gates.
    pub async fn evaluate(
        &self,
        intent: &DeploymentIntent,
        now: DateTime<Utc>,
    ) -> Result<GateReport, RingsError> {
        let span = tracing::error_span!(
            "evaluate_gates",
            intent_correlation_id = %intent.correlation_id,
            ring = %intent.ring,
        );
        async {
            let intents = self.list_intents(IntentFilter::default()).await?;
            let deployment_ids = deployment_ids(intent, &intents);
            self.evaluate_with(intent, &deployment_ids, now).await
        }
        .instrument(span)
        .await
    }

    /// Evaluates the gates of every approved intent in `ring`, measuring bake time up to now.
    pub async fn evaluate_ring(&self, ring: Ring) -> Result<Vec<GateReport>, RingsError> {
        if ring.next().is_none() {
            return Err(RingsError::NoNextRing { ring });
        }
        let span = tracing::error_span!("evaluate_gates", ring = %ring);
        async {
            let intents = self.list_intents(IntentFilter::default()).await?;
            let now = self.ports.clock.now();
            let mut reports = Vec::new();
            let in_ring = intents
                .iter()
                .filter(|intent| intent.ring == ring && intent.status.is_approved());
            for intent in in_ring {
                let deployment_ids = deployment_ids(intent, &intents);
                reports.push(self.evaluate_with(intent, &deployment_ids, now).await?);
            }
            tracing::debug!(intents = reports.len(), "gates evaluated");
            Ok(reports)
        }
        .instrument(span)
        .await
    }

    /// Evaluates the gates of `intent`, counting the open incidents of every intent in
    /// `deployment_ids`.
    async fn evaluate_with(
        &self,
        intent: &DeploymentIntent,
        deployment_ids: &[CorrelationId],
        now: DateTime<Utc>,
    ) -> Result<GateReport, RingsError> {
        let no_next_ring = || RingsError::NoNextRing { ring: intent.ring };
        let next_ring = intent.ring.next().ok_or_else(no_next_ring)?;
        let config = self.gates.for_ring(intent.ring).ok_or_else(no_next_ring)?;

        let deployment = self
            .ports
            .control_plane
            .deployment_status(&intent.correlation_id)
            .await
            .map_err(|source| RingsError::ReadDeploymentStatus {
                id: intent.correlation_id.clone(),
                source: Box::new(source),
            })?;
        let mut incidents = Vec::new();
        for id in deployment_ids {
            let open = self
                .ports
                .incidents
                .open_for_deployment(id)
                .await
                .map_err(|source| RingsError::ReadIncidents {
                    id: id.clone(),
                    source: Box::new(source),
                })?;
            incidents.extend(open);
        }

        let measurements = Measurements {
            deployment,
            incidents: &incidents,
            now,
        };
        Ok(evaluate_gates(intent, next_ring, config, &measurements))
    }

    async fn load_intent(&self, id: &CorrelationId) -> Result<DeploymentIntent, RingsError> {
        self.ports
            .control_plane
            .intent(id)
            .await
            .map_err(|source| RingsError::LoadIntent {
                id: id.clone(),
                source: Box::new(source),
            })?
            .ok_or_else(|| RingsError::IntentNotFound { id: id.clone() })
    }

    async fn list_intents(
        &self,
        filter: IntentFilter,
    ) -> Result<Vec<DeploymentIntent>, RingsError> {
        self.ports
            .control_plane
            .intents(&filter)
            .await
            .map_err(|source| RingsError::ListIntents {
                source: Box::new(source),
            })
    }
}

/// Returns true when both intents deploy the same application at the same version, which is
/// what promotion copies from ring to ring.
fn same_application_version(left: &DeploymentIntent, right: &DeploymentIntent) -> bool {
    left.application_id == right.application_id && left.version == right.version
}

/// Returns the ids of `intent` and of every other intent of the same application and version,
/// in any ring: an incident about any of them is an incident about the deployment.
fn deployment_ids(intent: &DeploymentIntent, intents: &[DeploymentIntent]) -> Vec<CorrelationId> {
    let mut ids = vec![intent.correlation_id.clone()];
    for other in intents {
        if same_application_version(other, intent) && other.correlation_id != intent.correlation_id
        {
            ids.push(other.correlation_id.clone());
        }
    }
    ids
}
