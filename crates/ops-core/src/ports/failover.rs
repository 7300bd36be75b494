//! The failover ports: the control plane's database failover group and region health.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::HealthReport;
use crate::error::PortResult;

/// The replication state of a failover group, as its primary reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverGroupStatus {
    /// The region currently primary, such as `westeurope`.
    pub primary_region: String,
    /// The region currently secondary.
    pub secondary_region: String,
    /// The replication state the service reports, such as `CATCH_UP` or `SEEDING`.
    pub replication_state: String,
}

/// How to fail over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailoverMode {
    /// Synchronize first; no data is lost. Needs the primary to answer.
    Planned,
    /// Switch at once, accepting the loss of writes not yet replicated.
    ForcedAllowDataLoss,
}

/// Where a long-running failover stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationState {
    /// Still running; poll again after the hinted delay, in seconds.
    InProgress {
        /// The delay the service asked for before the next poll.
        retry_after_secs: Option<u64>,
    },
    /// Finished successfully.
    Succeeded,
    /// Finished with an error the service described.
    Failed {
        /// The service's description.
        message: String,
    },
}

/// A database failover group spanning two regions.
///
/// `failover` starts a long-running operation and returns a handle that `operation_state`
/// polls. Failing over to the region that is already primary is a no-op that succeeds.
#[async_trait]
pub trait FailoverGroup: Send + Sync {
    /// Returns the group's current roles and replication state.
    async fn status(&self) -> PortResult<FailoverGroupStatus>;

    /// Starts a failover that makes `target_region` primary and returns the operation's handle.
    async fn failover(&self, target_region: &str, mode: FailoverMode) -> PortResult<String>;

    /// Returns the state of a failover started earlier.
    async fn operation_state(&self, handle: &str) -> PortResult<OperationState>;
}

/// Checks whether a region can serve the control plane.
#[async_trait]
pub trait RegionHealth: Send + Sync {
    /// Checks the control plane's endpoints in one region.
    async fn check(&self, region: &str) -> PortResult<HealthReport>;
}
