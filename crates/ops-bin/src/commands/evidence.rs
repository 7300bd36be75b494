//! Where commands leave their evidence: the local audit log, always, and the SIEM when one is
//! configured.
//!
//! Commands open the log before they act, so an unwritable log stops them before any side
//! effect, and record their event before they report success.

use anyhow::Context as _;
use ops_core::audit::AuditEvent;
use siem::AuditLog;

use crate::context::Context;

/// Opens the audit log in the state directory, creating it on first use.
pub fn open(context: &Context) -> anyhow::Result<AuditLog> {
    let directory = context.audit_dir();
    AuditLog::open(&directory).with_context(|| {
        format!(
            "cannot open the audit log in {directory:?}; the operation did not run because it could not leave evidence"
        )
    })
}

/// Appends an event durably to the audit log.
pub fn record(_context: &Context, audit_log: &AuditLog, event: &AuditEvent) -> anyhow::Result<()> {
    audit_log.append(event).with_context(|| {
        format!(
            "cannot write {} to the audit log in {:?}",
            event.event_type,
            audit_log.dir()
        )
    })?;
    Ok(())
}
