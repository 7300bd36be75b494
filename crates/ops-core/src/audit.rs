//! Audit events: the evidence every operation leaves.
//!
//! An event is built from typed fields only. Details take any [`serde::Serialize`] value, and
//! [`Secret`](crate::ports::secrets::Secret) deliberately implements no `Serialize`, so a secret
//! cannot be placed in an event without an explicit, visible call to expose it.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::CorrelationId;

/// What happened, named as a noun and a past-tense verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AuditEventType {
    /// Intents were loaded into the control plane.
    IntentsImported,
    /// Drift detection found unauthorized, missing or drifted applications.
    DriftDetected,
    /// Drift detection found the ring as approved.
    NoDrift,
    /// A rollback began.
    RollbackStarted,
    /// One execution plane removed an application, or failed to.
    RollbackStepCompleted,
    /// A rollback finished on every execution plane.
    RollbackCompleted,
    /// A rollback stopped with at least one execution plane failed, or past its deadline.
    RollbackFailed,
    /// A deployment was submitted for the next ring.
    PromotionSubmitted,
    /// A promotion was refused because a gate was not met.
    PromotionBlocked,
    /// An incident was classified and recorded.
    IncidentRaised,
    /// A step of an incident playbook ran.
    PlaybookStepExecuted,
    /// Health telemetry was collected.
    TelemetryCollected,
    /// The control plane failed over to another region.
    FailoverCompleted,
    /// A credential, certificate or key was rotated.
    SecretRotated,
    /// RBAC groups, PIM or separation-of-duties checks ran.
    RbacConfigured,
    /// The audit log published a checkpoint of its head.
    AuditCheckpointed,
    /// The audit log sealed a torn last line left by a crash.
    AuditLogRepaired,
}

impl AuditEventType {
    /// Returns the event type's name, as written in the log and sent to the SIEM.
    pub fn name(self) -> &'static str {
        match self {
            AuditEventType::IntentsImported => "IntentsImported",
            AuditEventType::DriftDetected => "DriftDetected",
            AuditEventType::NoDrift => "NoDrift",
            AuditEventType::RollbackStarted => "RollbackStarted",
            AuditEventType::RollbackStepCompleted => "RollbackStepCompleted",
            AuditEventType::RollbackCompleted => "RollbackCompleted",
            AuditEventType::RollbackFailed => "RollbackFailed",
            AuditEventType::PromotionSubmitted => "PromotionSubmitted",
            AuditEventType::PromotionBlocked => "PromotionBlocked",
            AuditEventType::IncidentRaised => "IncidentRaised",
            AuditEventType::PlaybookStepExecuted => "PlaybookStepExecuted",
            AuditEventType::TelemetryCollected => "TelemetryCollected",
            AuditEventType::FailoverCompleted => "FailoverCompleted",
            AuditEventType::SecretRotated => "SecretRotated",
            AuditEventType::RbacConfigured => "RbacConfigured",
            AuditEventType::AuditCheckpointed => "AuditCheckpointed",
            AuditEventType::AuditLogRepaired => "AuditLogRepaired",
        }
    }
}

impl fmt::Display for AuditEventType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// How the audited action ended, using the values of Sentinel's ASIM `EventResult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// The action did what it set out to do.
    Success,
    /// Part of the action succeeded.
    Partial,
    /// The action failed.
    Failure,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// A unique id, stable across retries, so a receiver can drop duplicates.
    pub event_id: uuid::Uuid,
    /// What happened.
    pub event_type: AuditEventType,
    /// The operation the event belongs to.
    pub correlation_id: CorrelationId,
    /// The operation this one acts on, such as the deployment a rollback undoes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_correlation_id: Option<CorrelationId>,
    /// Who acted: a user principal name, a service principal or `ops@HOST` for local runs.
    pub actor: String,
    /// When it happened, in UTC.
    pub time: DateTime<Utc>,
    /// How it ended.
    pub outcome: Outcome,
    /// Facts specific to the event type, such as counts, rings and connectors.
    pub details: BTreeMap<String, serde_json::Value>,
}

impl AuditEvent {
    /// Creates an event with a fresh time-ordered id and no details.
    pub fn new(
        event_type: AuditEventType,
        correlation_id: CorrelationId,
        actor: impl Into<String>,
        time: DateTime<Utc>,
        outcome: Outcome,
    ) -> AuditEvent {
        AuditEvent {
            event_id: uuid::Uuid::now_v7(),
            event_type,
            correlation_id,
            related_correlation_id: None,
            actor: actor.into(),
            time,
            outcome,
            details: BTreeMap::new(),
        }
    }

    /// Adds a detail. Values are serialized now; a value that fails to serialize is recorded as
    /// its error text, so that evidence is never silently dropped.
    pub fn with_detail(mut self, key: &str, value: impl Serialize) -> AuditEvent {
        let value = serde_json::to_value(value)
            .unwrap_or_else(|error| serde_json::Value::String(format!("unserializable: {error}")));
        self.details.insert(key.to_owned(), value);
        self
    }

    /// Links the event to the operation it acts on.
    pub fn with_related(mut self, related: CorrelationId) -> AuditEvent {
        self.related_correlation_id = Some(related);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_serializes_with_type_name_and_details() {
        let event = AuditEvent::new(
            AuditEventType::DriftDetected,
            CorrelationId::parse("drift-1").unwrap(),
            "ops@host",
            DateTime::UNIX_EPOCH,
            Outcome::Success,
        )
        .with_detail("missing", 2)
        .with_detail("ring", "Canary");
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["event_type"], "DriftDetected");
        assert_eq!(json["correlation_id"], "drift-1");
        assert_eq!(json["details"]["missing"], 2);
        assert_eq!(json["details"]["ring"], "Canary");
        assert!(json.get("related_correlation_id").is_none());
        let back: AuditEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn event_ids_are_unique() {
        let make = || {
            AuditEvent::new(
                AuditEventType::NoDrift,
                CorrelationId::parse("drift-1").unwrap(),
                "ops",
                DateTime::UNIX_EPOCH,
                Outcome::Success,
            )
        };
        assert_ne!(make().event_id, make().event_id);
    }
}
