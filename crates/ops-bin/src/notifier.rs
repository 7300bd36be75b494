//! The notifier of the command-line tool: an error line on stderr for the operator at the
//! terminal, and an audit event for the record.

use async_trait::async_trait;
use chrono::Utc;
use ops_core::PortError;
use ops_core::audit::{AuditEvent, AuditEventType, Outcome};
use ops_core::error::PortResult;
use ops_core::ports::notifier::Notification;
use ops_core::ports::{AuditSink, Notifier};
use siem::AuditTrail;

/// Tells the operator running `ops` and records the notification in the audit trail.
///
/// NOTE: paging adapters (PagerDuty, Teams, email) belong to incident response and are not
/// wired yet; until then a rollback's deadline alerts reach the terminal, the log collector
/// reading stderr, and the SIEM through the audit trail.
pub struct TerminalNotifier {
    trail: AuditTrail,
    actor: String,
}

impl TerminalNotifier {
    /// Creates a notifier that records into `trail` as `actor`.
    pub fn new(trail: AuditTrail, actor: String) -> TerminalNotifier {
        TerminalNotifier { trail, actor }
    }
}

#[async_trait]
impl Notifier for TerminalNotifier {
    async fn notify(&self, notification: &Notification) -> PortResult<()> {
        tracing::error!(
            severity = %notification.severity,
            dedup_key = %notification.dedup_key,
            notification = %notification.correlation_id,
            "{}: {}",
            notification.title,
            notification.body
        );
        let event = AuditEvent::new(
            AuditEventType::PlaybookStepExecuted,
            notification.correlation_id.clone(),
            &self.actor,
            Utc::now(),
            Outcome::Success,
        )
        .with_detail("step", "notify")
        .with_detail("severity", notification.severity)
        .with_detail("title", &notification.title)
        .with_detail("dedup_key", &notification.dedup_key);
        self.trail.record(&event).await.map_err(|error| {
            PortError::permanent("notifier", "record notification", error.to_string())
        })
    }
}
