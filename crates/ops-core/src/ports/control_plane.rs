//! The control-plane port: where deployment intents live.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::HealthReport;
use crate::error::PortResult;
use crate::intent::DeploymentStatus;
use crate::{CorrelationId, DeploymentIntent, IntentStatus, Ring};

/// Which intents to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntentFilter {
    /// Only intents for this ring.
    pub ring: Option<Ring>,
    /// Only intents whose status is approved (see [`IntentStatus::is_approved`]).
    pub approved_only: bool,
}

impl IntentFilter {
    /// Returns true when `intent` passes the filter.
    pub fn matches(&self, intent: &DeploymentIntent) -> bool {
        self.ring.is_none_or(|ring| intent.ring == ring)
            && (!self.approved_only || intent.status.is_approved())
    }
}

/// What [`ControlPlane::submit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubmitOutcome {
    /// The intent was new and is now stored.
    Created,
    /// An intent with the same correlation id, or an approved one for the same application,
    /// version and ring, was already stored; nothing changed.
    AlreadyExists,
}

/// Counts of the control plane's event store and evidence store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreMetrics {
    /// Events stored in total.
    pub event_count: u64,
    /// Events stored during the last 24 hours.
    pub events_last_day: u64,
    /// Evidence packs stored.
    pub evidence_pack_count: u64,
    /// Total size of the evidence packs, in bytes.
    pub evidence_bytes: u64,
}

/// The control plane's store of deployment intents.
///
/// Every method may be retried: `submit` is idempotent on the intent's correlation id and
/// `update_status` setting a status already set succeeds. Writes are durable when they return.
#[async_trait]
pub trait ControlPlane: Send + Sync {
    /// Returns the intent with this correlation id, or `None` when there is none.
    async fn intent(&self, id: &CorrelationId) -> PortResult<Option<DeploymentIntent>>;

    /// Returns the intents that pass `filter`, ordered by ring, application name and version.
    async fn intents(&self, filter: &IntentFilter) -> PortResult<Vec<DeploymentIntent>>;

    /// Sets an intent's status. Fails with [`ErrorKind::NotFound`](crate::ErrorKind::NotFound)
    /// when the intent does not exist.
    async fn update_status(&self, id: &CorrelationId, status: IntentStatus) -> PortResult<()>;

    /// Returns the device counts the execution planes reported for the intent, or `None` when
    /// nothing was reported yet.
    async fn deployment_status(&self, id: &CorrelationId) -> PortResult<Option<DeploymentStatus>>;

    /// Stores a new intent. Submitting an intent whose correlation id is already stored, or an
    /// approved intent for an application, version and ring that already have an approved
    /// intent, changes nothing and returns [`SubmitOutcome::AlreadyExists`].
    async fn submit(&self, intent: &DeploymentIntent) -> PortResult<SubmitOutcome>;

    /// Checks that the control plane responds.
    async fn health(&self) -> PortResult<HealthReport>;

    /// Returns the event store and evidence store counts.
    async fn store_metrics(&self) -> PortResult<StoreMetrics>;
}
