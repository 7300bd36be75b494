//! The journal steps a rollback records, and reading them back on a rerun.
//!
//! Under the original intent's id, a rollback records its own id and its start time, so that a
//! rerun continues the same rollback against the same deadline:
//!
//! - `rollback:id` and `rollback:started_at` for a rollback of every ring the deployment reached;
//! - `rollback:<Ring>:id` and `rollback:<Ring>:started_at` for a rollback limited to one ring.
//!
//! Under the rollback's own id, it records one step per removal, `remove:<Connector>:<Ring>`
//! (such as `remove:Intune:Canary`), and the notifications already sent: `sla:warning:<S>s` for
//! the warning `S` seconds before the deadline and `sla:deadline_alert` for the emergency stop.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ops_core::ports::journal::{JournalEntry, StepState};
use ops_core::{ConnectorKind, CorrelationId, Ring};

use crate::RollbackError;

/// The step naming the alert sent when the rollback passed its deadline.
pub(crate) const DEADLINE_ALERT_STEP: &str = "sla:deadline_alert";

/// Returns the step, under the original intent, that contains the rollback id.
pub(crate) fn rollback_id_step(ring_limit: Option<Ring>) -> String {
    match ring_limit {
        None => "rollback:id".to_owned(),
        Some(ring) => format!("rollback:{ring}:id"),
    }
}

/// Returns the step, under the original intent, that contains the RFC 3339 start time.
pub(crate) fn started_at_step(ring_limit: Option<Ring>) -> String {
    match ring_limit {
        None => "rollback:started_at".to_owned(),
        Some(ring) => format!("rollback:{ring}:started_at"),
    }
}

/// Returns the step of one removal.
pub(crate) fn removal_step(connector: ConnectorKind, ring: Ring) -> String {
    format!("remove:{}:{}", connector.name(), ring.name())
}

/// Returns the step recording the warning sent `before` the deadline.
pub(crate) fn warning_step(before: Duration) -> String {
    format!("sla:warning:{}s", before.as_secs())
}

/// The rollback id and start time recorded under the original intent. Either part may be
/// missing when a run stopped between the two writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RollbackRecord {
    /// The rollback id, once recorded.
    pub id: Option<CorrelationId>,
    /// When the rollback first started, once recorded.
    pub started_at: Option<DateTime<Utc>>,
}

impl RollbackRecord {
    /// Reads the record from the journal entries of the original intent.
    pub(crate) fn from_entries(
        intent_id: &CorrelationId,
        ring_limit: Option<Ring>,
        entries: &[JournalEntry],
    ) -> Result<RollbackRecord, RollbackError> {
        let id_step = rollback_id_step(ring_limit);
        let started_step = started_at_step(ring_limit);
        let mut record = RollbackRecord::default();

        for entry in entries {
            if entry.state != StepState::Succeeded {
                continue;
            }
            let detail = entry.detail.as_deref().unwrap_or_default();
            let corrupt = |expected| RollbackError::CorruptJournal {
                operation: intent_id.clone(),
                step: entry.step.clone(),
                detail: detail.to_owned(),
                expected,
            };
            if entry.step == id_step {
                let id = CorrelationId::parse(detail)
                    .ok()
                    .filter(|id| id.prefix() == "rollback")
                    .ok_or_else(|| corrupt("a rollback- correlation id"))?;
                record.id = Some(id);
            } else if entry.step == started_step {
                let started_at = DateTime::parse_from_rfc3339(detail)
                    .map_err(|_| corrupt("an RFC 3339 time"))?;
                record.started_at = Some(started_at.with_timezone(&Utc));
            }
        }
        Ok(record)
    }
}

/// The steps an earlier run of one rollback recorded, by name.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordedSteps {
    states: HashMap<String, StepState>,
}

impl RecordedSteps {
    /// Indexes the journal entries of the rollback.
    pub(crate) fn from_entries(entries: &[JournalEntry]) -> RecordedSteps {
        RecordedSteps {
            states: entries
                .iter()
                .map(|entry| (entry.step.clone(), entry.state))
                .collect(),
        }
    }

    /// Returns true when the step completed in an earlier run.
    pub(crate) fn succeeded(&self, step: &str) -> bool {
        self.states.get(step) == Some(&StepState::Succeeded)
    }

    /// Returns true when the rollback recorded any removal in `ring`, whatever its state.
    pub(crate) fn touched_ring(&self, ring: Ring) -> bool {
        let suffix = format!(":{}", ring.name());
        self.states
            .keys()
            .any(|step| step.starts_with("remove:") && step.ends_with(&suffix))
    }
}
