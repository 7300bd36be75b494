//! Planning: which intents a rollback covers and which removal calls it makes.
//!
//! A deployment reaches further rings by promotion, which submits a copy of the intent for the
//! next ring with the same application id and version. So the deployment behind an intent is
//! that intent plus the intents of other rings with the same application id and version whose
//! status is approved. Intents of other rings that this rollback already marked RolledBack stay
//! in the plan, so that a rerun after success reports every ring it covered.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use ops_core::ports::control_plane::IntentFilter;
use ops_core::ports::execution_plane::RemovalRequest;
use ops_core::{ConnectorKind, CorrelationId, DeploymentIntent, IntentStatus, Ring};
use serde::Serialize;
use tracing::Instrument;

use crate::journal::{RecordedSteps, RollbackRecord, removal_step};
use crate::{Rollback, RollbackError};

/// The plan of a rollback: the intents it covers and one removal per ring and execution plane.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackPlan {
    /// The intent named in the rollback request.
    pub intent_id: CorrelationId,
    /// The rollback's id: the one an earlier run recorded, or a new one the first run records.
    pub rollback_id: CorrelationId,
    /// True when `rollback_id` was recorded by an earlier run, which this plan continues.
    pub resumes: bool,
    /// When the earlier run started, which fixes the deadline, or `None` before the first run.
    pub started_at: Option<DateTime<Utc>>,
    /// The ring the rollback is limited to, if any.
    pub ring_limit: Option<Ring>,
    /// The application's id in the catalogue.
    pub application_id: String,
    /// The application's name.
    pub app_name: String,
    /// The version being rolled back.
    pub version: String,
    /// The rings the rollback covers, innermost first.
    pub rings: Vec<Ring>,
    /// The intents marked RolledBack once every removal succeeded.
    pub intents: Vec<PlannedIntent>,
    /// One removal per ring and execution plane, ordered by ring, then connector.
    pub steps: Vec<PlannedStep>,
}

/// An intent the rollback covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedIntent {
    /// The intent's id.
    pub id: CorrelationId,
    /// Its ring.
    pub ring: Ring,
    /// Its status when the plan was made.
    pub status: IntentStatus,
}

/// One removal call: an application out of one ring through one execution plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedStep {
    /// The ring.
    pub ring: Ring,
    /// The execution plane.
    pub connector: ConnectorKind,
    /// The request sent to the execution plane.
    pub request: RemovalRequest,
    /// True when an earlier run of this rollback completed the step, so a run skips it.
    pub already_done: bool,
}

impl Rollback {
    /// Plans the rollback of the deployment behind intent `intent_id`, in every ring it reached
    /// or only in `ring_limit`. Reads the control plane and the journal and changes nothing.
    ///
    /// Fails when the intent does not exist, when `ring_limit` names a ring the deployment never
    /// reached, and when an intent names an execution plane that has no adapter.
    pub async fn plan(
        &self,
        intent_id: &CorrelationId,
        ring_limit: Option<Ring>,
    ) -> Result<RollbackPlan, RollbackError> {
        let span = tracing::error_span!("rollback_plan", intent_correlation_id = %intent_id);
        async {
            let original = self
                .ports
                .control_plane
                .intent(intent_id)
                .await
                .map_err(|source| RollbackError::LoadIntent {
                    id: intent_id.clone(),
                    source: Box::new(source),
                })?
                .ok_or_else(|| RollbackError::IntentNotFound {
                    id: intent_id.clone(),
                })?;
            let intents = self.list_intents(intent_id).await?;
            let same_application: Vec<&DeploymentIntent> = intents
                .iter()
                .filter(|intent| same_application_version(intent, &original))
                .collect();
            self.plan_from(&original, &same_application, ring_limit)
                .await
        }
        .instrument(span)
        .await
    }

    /// Plans the rollback of many deployments, listing the control plane's intents once.
    ///
    /// The results follow the order of `intent_ids`, and one failed plan does not stop the others.
    /// Fails as a whole only when the intents cannot be listed.
    pub async fn plan_many(
        &self,
        intent_ids: &[CorrelationId],
        ring_limit: Option<Ring>,
    ) -> Result<Vec<Result<RollbackPlan, RollbackError>>, RollbackError> {
        let Some(first_id) = intent_ids.first() else {
            return Ok(Vec::new());
        };
        let intents = self.list_intents(first_id).await?;
        let by_id: HashMap<&CorrelationId, &DeploymentIntent> = intents
            .iter()
            .map(|intent| (&intent.correlation_id, intent))
            .collect();
        let mut by_application: HashMap<(&str, &str), Vec<&DeploymentIntent>> = HashMap::new();
        for intent in &intents {
            by_application
                .entry((&intent.application_id, &intent.version))
                .or_default()
                .push(intent);
        }

        let mut plans = Vec::with_capacity(intent_ids.len());
        for intent_id in intent_ids {
            let Some(original) = by_id.get(intent_id) else {
                plans.push(Err(RollbackError::IntentNotFound {
                    id: intent_id.clone(),
                }));
                continue;
            };
            let same_application =
                &by_application[&(original.application_id.as_str(), original.version.as_str())];
            let span = tracing::error_span!("rollback_plan", intent_correlation_id = %intent_id);
            let plan = self
                .plan_from(original, same_application, ring_limit)
                .instrument(span)
                .await;
            plans.push(plan);
        }
        Ok(plans)
    }

    async fn list_intents(
        &self,
        intent_id: &CorrelationId,
    ) -> Result<Vec<DeploymentIntent>, RollbackError> {
        self.ports
            .control_plane
            .intents(&IntentFilter::default())
            .await
            .map_err(|source| RollbackError::ListIntents {
                id: intent_id.clone(),
                source: Box::new(source),
            })
    }

    /// Plans from the intents already loaded, reading what earlier runs recorded.
    async fn plan_from(
        &self,
        original: &DeploymentIntent,
        same_application: &[&DeploymentIntent],
        ring_limit: Option<Ring>,
    ) -> Result<RollbackPlan, RollbackError> {
        let intent_entries = self.read_journal(&original.correlation_id).await?;
        let record =
            RollbackRecord::from_entries(&original.correlation_id, ring_limit, &intent_entries)?;
        let recorded = match &record.id {
            Some(rollback_id) => {
                RecordedSteps::from_entries(&self.read_journal(rollback_id).await?)
            }
            None => RecordedSteps::default(),
        };

        let plan = build_plan(
            original,
            same_application,
            ring_limit,
            record,
            &recorded,
            &self.configured_connectors(),
        )?;
        tracing::debug!(
            rings = ?plan.rings,
            steps = plan.steps.len(),
            resumes = plan.resumes,
            "rollback planned"
        );
        Ok(plan)
    }

    fn configured_connectors(&self) -> BTreeSet<ConnectorKind> {
        self.ports.execution_planes.keys().copied().collect()
    }
}

/// Returns true when `intent` deploys the same application and version as `original`.
fn same_application_version(intent: &DeploymentIntent, original: &DeploymentIntent) -> bool {
    intent.application_id == original.application_id && intent.version == original.version
}

/// Builds the plan from the intents sharing the original's application and version.
fn build_plan(
    original: &DeploymentIntent,
    same_application: &[&DeploymentIntent],
    ring_limit: Option<Ring>,
    record: RollbackRecord,
    recorded: &RecordedSteps,
    configured: &BTreeSet<ConnectorKind>,
) -> Result<RollbackPlan, RollbackError> {
    let mut members: Vec<&DeploymentIntent> = vec![original];
    for intent in same_application {
        let is_other_ring = intent.ring != original.ring;
        let rolled_back_by_this_rollback =
            intent.status == IntentStatus::RolledBack && recorded.touched_ring(intent.ring);
        if is_other_ring && (intent.status.is_approved() || rolled_back_by_this_rollback) {
            members.push(intent);
        }
    }
    members.sort_by_key(|intent| intent.ring);

    let reached: Vec<Ring> = members
        .iter()
        .map(|intent| intent.ring)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if let Some(ring) = ring_limit {
        if !reached.contains(&ring) {
            return Err(RollbackError::RingNotReached {
                id: original.correlation_id.clone(),
                ring,
                reached,
            });
        }
        members.retain(|intent| intent.ring == ring);
    }

    let resumes = record.id.is_some();
    let rollback_id = record
        .id
        .unwrap_or_else(|| CorrelationId::generate("rollback"));
    let mut steps: BTreeMap<(Ring, ConnectorKind), PlannedStep> = BTreeMap::new();
    for intent in &members {
        for connector in &intent.connectors {
            if !configured.contains(connector) {
                return Err(RollbackError::ConnectorNotConfigured {
                    connector: *connector,
                    intent: intent.correlation_id.clone(),
                    ring: intent.ring,
                    configured: configured.iter().copied().collect(),
                });
            }
            steps
                .entry((intent.ring, *connector))
                .or_insert_with(|| PlannedStep {
                    ring: intent.ring,
                    connector: *connector,
                    request: removal_request(&rollback_id, intent),
                    already_done: recorded.succeeded(&removal_step(*connector, intent.ring)),
                });
        }
    }

    Ok(RollbackPlan {
        intent_id: original.correlation_id.clone(),
        rollback_id,
        resumes,
        started_at: record.started_at,
        ring_limit,
        application_id: original.application_id.clone(),
        app_name: original.app_name.clone(),
        version: original.version.clone(),
        rings: members
            .iter()
            .map(|intent| intent.ring)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        intents: members
            .iter()
            .map(|intent| PlannedIntent {
                id: intent.correlation_id.clone(),
                ring: intent.ring,
                status: intent.status,
            })
            .collect(),
        steps: steps.into_values().collect(),
    })
}

fn removal_request(rollback_id: &CorrelationId, intent: &DeploymentIntent) -> RemovalRequest {
    RemovalRequest {
        correlation_id: rollback_id.clone(),
        application_id: intent.application_id.clone(),
        app_name: intent.app_name.clone(),
        version: intent.version.clone(),
        platform: intent.platform,
        ring: intent.ring,
    }
}
