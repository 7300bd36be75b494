//! The audit trail: the local log first, then the SIEM spool.

use async_trait::async_trait;
use ops_core::audit::AuditEvent;
use ops_core::error::PortResult;
use ops_core::ports::AuditSink;

use crate::error::SiemError;
use crate::forwarder::{FlushReport, Forwarder};
use crate::log::writer::AuditLog;

/// The [`AuditSink`] that `ops` wires into every domain: it appends each event to the local log
/// and then spools it for the SIEM.
///
/// `record` fails closed: it returns an error unless the event is durable in the log and, when a
/// SIEM is configured, in the spool. It does not contact the SIEM; call
/// [`AuditTrail::flush`] at the end of a command, and `ops siem flush` drains what is left.
#[derive(Clone)]
pub struct AuditTrail {
    log: AuditLog,
    forwarder: Option<Forwarder>,
}

impl AuditTrail {
    /// Creates a trail. Without a forwarder, events stay in the local log.
    pub fn new(log: AuditLog, forwarder: Option<Forwarder>) -> AuditTrail {
        AuditTrail { log, forwarder }
    }

    /// Returns the local log.
    pub fn log(&self) -> &AuditLog {
        &self.log
    }

    /// Returns the forwarder, when a SIEM is configured.
    pub fn forwarder(&self) -> Option<&Forwarder> {
        self.forwarder.as_ref()
    }

    /// Delivers the spool, with the log's current head attached to every record. Returns `None`
    /// when no SIEM is configured.
    pub async fn flush(&self) -> Result<Option<FlushReport>, SiemError> {
        let Some(forwarder) = &self.forwarder else {
            return Ok(None);
        };
        let log = self.log.clone();
        let head = tokio::task::spawn_blocking(move || log.head())
            .await
            .map_err(|source| SiemError::Task { source })??;
        forwarder.flush(Some(&head)).await.map(Some)
    }
}

#[async_trait]
impl AuditSink for AuditTrail {
    async fn record(&self, event: &AuditEvent) -> PortResult<()> {
        self.log.record(event).await?;
        let Some(forwarder) = &self.forwarder else {
            return Ok(());
        };
        let spool = forwarder.spool().clone();
        let owned = event.clone();
        tokio::task::spawn_blocking(move || spool.push(&owned))
            .await
            .map_err(|source| SiemError::Task { source })
            .and_then(|pushed| pushed)
            .map(|_| ())
            .map_err(|error| error.into_port_error("SIEM spool", event.event_id))
    }
}
