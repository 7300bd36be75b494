//! Fakes of the control-plane and journal ports.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use ops_core::error::PortResult;
use ops_core::intent::DeploymentStatus;
use ops_core::ports::control_plane::{IntentFilter, StoreMetrics, SubmitOutcome};
use ops_core::ports::journal::{JournalEntry, StepState};
use ops_core::ports::{ControlPlane, HealthReport, Journal};
use ops_core::{CorrelationId, DeploymentIntent, IntentStatus, PortError};

use crate::failures::{Failures, lock};

/// A control plane holding intents in memory.
#[derive(Debug, Default)]
pub struct FakeControlPlane {
    intents: Mutex<BTreeMap<CorrelationId, DeploymentIntent>>,
    submissions: Mutex<Vec<CorrelationId>>,
    status_updates: Mutex<Vec<(CorrelationId, IntentStatus)>>,
    /// Failures the next calls return.
    pub failures: Failures,
}

impl FakeControlPlane {
    /// Creates a control plane holding `intents`.
    pub fn with_intents(intents: impl IntoIterator<Item = DeploymentIntent>) -> FakeControlPlane {
        let fake = FakeControlPlane::default();
        lock(&fake.intents).extend(
            intents
                .into_iter()
                .map(|intent| (intent.correlation_id.clone(), intent)),
        );
        fake
    }

    /// Returns the stored intent with this id.
    pub fn stored(&self, id: &CorrelationId) -> Option<DeploymentIntent> {
        lock(&self.intents).get(id).cloned()
    }

    /// Returns the ids of intents created through `submit`, in order.
    pub fn submissions(&self) -> Vec<CorrelationId> {
        lock(&self.submissions).clone()
    }

    /// Returns every status update, in order.
    pub fn status_updates(&self) -> Vec<(CorrelationId, IntentStatus)> {
        lock(&self.status_updates).clone()
    }
}

#[async_trait]
impl ControlPlane for FakeControlPlane {
    async fn intent(&self, id: &CorrelationId) -> PortResult<Option<DeploymentIntent>> {
        self.failures.next("control plane", "get intent")?;
        Ok(self.stored(id))
    }

    async fn intents(&self, filter: &IntentFilter) -> PortResult<Vec<DeploymentIntent>> {
        self.failures.next("control plane", "list intents")?;
        let mut intents: Vec<DeploymentIntent> = lock(&self.intents)
            .values()
            .filter(|intent| filter.matches(intent))
            .cloned()
            .collect();
        intents.sort_by(|left, right| {
            (left.ring, &left.app_name, &left.version).cmp(&(
                right.ring,
                &right.app_name,
                &right.version,
            ))
        });
        Ok(intents)
    }

    async fn update_status(&self, id: &CorrelationId, status: IntentStatus) -> PortResult<()> {
        self.failures
            .next("control plane", "update intent status")?;
        let mut intents = lock(&self.intents);
        let intent = intents.get_mut(id).ok_or_else(|| {
            PortError::not_found(
                "control plane",
                "update intent status",
                format!("no intent has correlation id {id}"),
            )
        })?;
        intent.status = status;
        lock(&self.status_updates).push((id.clone(), status));
        Ok(())
    }

    async fn deployment_status(&self, id: &CorrelationId) -> PortResult<Option<DeploymentStatus>> {
        self.failures
            .next("control plane", "get deployment status")?;
        Ok(self.stored(id).and_then(|intent| intent.deployment))
    }

    async fn submit(&self, intent: &DeploymentIntent) -> PortResult<SubmitOutcome> {
        self.failures.next("control plane", "submit intent")?;
        let mut intents = lock(&self.intents);
        let same_deployment = intents.values().any(|stored| {
            stored.status.is_approved()
                && intent.status.is_approved()
                && stored.application_id == intent.application_id
                && stored.version == intent.version
                && stored.ring == intent.ring
        });
        if intents.contains_key(&intent.correlation_id) || same_deployment {
            return Ok(SubmitOutcome::AlreadyExists);
        }
        intents.insert(intent.correlation_id.clone(), intent.clone());
        lock(&self.submissions).push(intent.correlation_id.clone());
        Ok(SubmitOutcome::Created)
    }

    async fn health(&self) -> PortResult<HealthReport> {
        self.failures.next("control plane", "health")?;
        Ok(HealthReport {
            healthy: true,
            latency: Duration::from_millis(1),
            detail: "fake control plane".into(),
        })
    }

    async fn store_metrics(&self) -> PortResult<StoreMetrics> {
        self.failures.next("control plane", "store metrics")?;
        let count = lock(&self.intents).len() as u64;
        Ok(StoreMetrics {
            event_count: count,
            events_last_day: count,
            evidence_pack_count: 0,
            evidence_bytes: 0,
        })
    }
}

/// A journal held in memory, indexed by operation so that large benchmarks stay linear.
#[derive(Debug, Default)]
pub struct FakeJournal {
    entries: Mutex<std::collections::HashMap<CorrelationId, Vec<JournalEntry>>>,
    /// Failures the next calls return.
    pub failures: Failures,
}

#[async_trait]
impl Journal for FakeJournal {
    async fn record(
        &self,
        operation: &CorrelationId,
        step: &str,
        state: StepState,
        detail: Option<&str>,
    ) -> PortResult<()> {
        self.failures.next("journal", "record step")?;
        let mut journal = lock(&self.entries);
        let entries = journal.entry(operation.clone()).or_default();
        let entry = JournalEntry {
            operation: operation.clone(),
            step: step.to_owned(),
            state,
            detail: detail.map(str::to_owned),
            updated_at: Utc::now(),
        };
        match entries.iter_mut().find(|existing| existing.step == step) {
            Some(existing) => *existing = entry,
            None => entries.push(entry),
        }
        Ok(())
    }

    async fn steps(&self, operation: &CorrelationId) -> PortResult<Vec<JournalEntry>> {
        self.failures.next("journal", "read steps")?;
        Ok(lock(&self.entries)
            .get(operation)
            .cloned()
            .unwrap_or_default())
    }
}
