//! The execution-plane port: the systems that install software on devices.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::HealthReport;
use crate::error::PortResult;
use crate::{ConnectorKind, CorrelationId, DeployedApp, Platform, Ring};

/// What to remove, and for which ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovalRequest {
    /// The operation asking for the removal, carried into the execution plane's logs where it
    /// accepts one.
    pub correlation_id: CorrelationId,
    /// The application's id in the catalogue.
    pub application_id: String,
    /// The application's name.
    pub app_name: String,
    /// The version being removed.
    pub version: String,
    /// The platform it is packaged for.
    pub platform: Platform,
    /// The ring to remove it from.
    pub ring: Ring,
}

/// What [`ExecutionPlane::remove_application`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemovalOutcome {
    /// The application's deployment to the ring was removed.
    Removed,
    /// There was nothing to remove: an earlier run, or a person, removed it already.
    AlreadyAbsent,
}

/// One execution plane (Intune, Jamf, SCCM, Landscape or Ansible), or an offline export that
/// stands in for one.
///
/// `remove_application` is idempotent: removing what is already gone returns
/// [`RemovalOutcome::AlreadyAbsent`], never an error. Throttling surfaces as
/// [`ErrorKind::Throttled`](crate::ErrorKind::Throttled) with the service's Retry-After.
#[async_trait]
pub trait ExecutionPlane: Send + Sync {
    /// Returns which execution plane this is.
    fn kind(&self) -> ConnectorKind;

    /// Removes the application's deployment from the ring's devices.
    async fn remove_application(&self, request: &RemovalRequest) -> PortResult<RemovalOutcome>;

    /// Returns the distinct applications deployed in the ring, following every page.
    async fn deployed_applications(&self, ring: Ring) -> PortResult<Vec<DeployedApp>>;

    /// Makes a cheap authenticated call and reports how it went.
    async fn health(&self) -> PortResult<HealthReport>;
}
