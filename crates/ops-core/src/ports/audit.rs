//! The audit-sink port.

use async_trait::async_trait;

use crate::audit::AuditEvent;
use crate::error::PortResult;

/// Where audit events go: the local tamper-evident log, the SIEM, or both.
///
/// `record` returns only once the event is durable (written and synced, or accepted by the
/// receiver). An operation whose event cannot be recorded must not act: callers record the
/// intent to act before acting. Recording the same event twice (same `event_id`) is allowed;
/// receivers drop duplicates by id.
#[async_trait]
pub trait AuditSink: Send + Sync {
    /// Records one event durably.
    async fn record(&self, event: &AuditEvent) -> PortResult<()>;
}
