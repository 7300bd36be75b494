//! A fake incidents record.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use ops_core::error::PortResult;
use ops_core::ports::{IncidentSummary, Incidents};
use ops_core::{CorrelationId, PortError};

use crate::failures::{Failures, lock};

/// Incidents kept in memory, by id.
#[derive(Debug, Default)]
pub struct FakeIncidents {
    incidents: Mutex<BTreeMap<CorrelationId, IncidentSummary>>,
    /// Failures the next calls return.
    pub failures: Failures,
}

impl FakeIncidents {
    /// Returns every incident recorded, open or not.
    pub fn all(&self) -> Vec<IncidentSummary> {
        lock(&self.incidents).values().cloned().collect()
    }
}

#[async_trait]
impl Incidents for FakeIncidents {
    async fn open_for_deployment(
        &self,
        deployment: &CorrelationId,
    ) -> PortResult<Vec<IncidentSummary>> {
        self.failures.next("incidents", "list open incidents")?;
        Ok(lock(&self.incidents)
            .values()
            .filter(|incident| incident.open && incident.deployment.as_ref() == Some(deployment))
            .cloned()
            .collect())
    }

    async fn raise(&self, incident: &IncidentSummary) -> PortResult<IncidentSummary> {
        self.failures.next("incidents", "raise incident")?;
        Ok(lock(&self.incidents)
            .entry(incident.id.clone())
            .or_insert_with(|| incident.clone())
            .clone())
    }

    async fn resolve(&self, id: &CorrelationId) -> PortResult<()> {
        self.failures.next("incidents", "resolve incident")?;
        let mut incidents = lock(&self.incidents);
        let incident = incidents.get_mut(id).ok_or_else(|| {
            PortError::not_found(
                "incidents",
                "resolve incident",
                format!("no incident has id {id}"),
            )
        })?;
        incident.open = false;
        Ok(())
    }
}
