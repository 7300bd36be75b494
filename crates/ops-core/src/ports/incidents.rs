//! The incidents port: open incidents, as gates and playbooks need them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::PortResult;
use crate::{CorrelationId, Ring, Severity};

/// An incident as other domains see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentSummary {
    /// The incident's id, an `incident-` correlation id.
    pub id: CorrelationId,
    /// Its severity.
    pub severity: Severity,
    /// The deployment it is about, if any.
    pub deployment: Option<CorrelationId>,
    /// The ring affected, if known.
    pub ring: Option<Ring>,
    /// A one-line description.
    pub title: String,
    /// When it was raised.
    pub raised_at: DateTime<Utc>,
    /// True until the incident is resolved.
    pub open: bool,
}

/// The record of incidents.
///
/// `raise` is idempotent on the incident id: raising an incident already recorded changes
/// nothing and returns the stored one.
#[async_trait]
pub trait Incidents: Send + Sync {
    /// Returns the open incidents about a deployment.
    async fn open_for_deployment(
        &self,
        deployment: &CorrelationId,
    ) -> PortResult<Vec<IncidentSummary>>;

    /// Records an incident, or returns the one already recorded with the same id.
    async fn raise(&self, incident: &IncidentSummary) -> PortResult<IncidentSummary>;

    /// Marks an incident resolved. Resolving an unknown incident is a not-found error.
    async fn resolve(&self, id: &CorrelationId) -> PortResult<()>;
}
