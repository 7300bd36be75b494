//! Where commands leave their evidence: the local audit log, always, and the SIEM spool when a
//! SIEM is configured.
//!
//! Commands open the trail before they act, so an unwritable log stops them before any side
//! effect, and record their event before they report success. At the end of every command the
//! spool is flushed, so events held back by an outage reach the SIEM with the next command.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ops_core::audit::AuditEvent;
use ops_core::retry::RetryPolicy;
use ops_store::SystemClock;
use siem::{AuditLog, AuditTrail, Forwarder, Spool};

use crate::context::Context;
use crate::exit::{CommandError, bad_input, failed};

/// How hard a command tries to reach the SIEM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// One retry, so that an unreachable SIEM delays an operation by about a second at most;
    /// the events wait in the spool.
    Quick,
    /// The shared retry policy, for `ops siem flush`, whose whole purpose is delivery.
    Patient,
}

/// Opens the audit trail in the state directory with quick delivery, creating it on first use.
pub fn open(context: &Context) -> Result<AuditTrail, CommandError> {
    open_with(context, Delivery::Quick)
}

/// Opens the audit trail in the state directory, creating it on first use. An unwritable log
/// is a failure; an unusable `[siem]` section is bad input.
pub fn open_with(context: &Context, delivery: Delivery) -> Result<AuditTrail, CommandError> {
    let directory = context.audit_dir();
    let log = AuditLog::open(&directory)
        .with_context(|| {
            format!("cannot open the audit log in {directory:?}; the operation did not run because it could not leave evidence")
        })
        .map_err(failed)?;

    let transport = context
        .config
        .siem
        .build_transport(
            context.siem_secret(),
            Arc::new(SystemClock),
            retry_policy(delivery),
        )
        .map_err(|error| {
            let variable = context
                .config
                .siem
                .secret_env()
                .map(|name| format!(" (the secret is read from {name})"))
                .unwrap_or_default();
            bad_input(anyhow::Error::from(error).context(format!(
                "the [siem] configuration is not usable{variable}; fix it or set sink = \"none\""
            )))
        })?;
    let forwarder = match transport {
        Some(transport) => {
            let spool_dir = context.spool_dir();
            let spool = Spool::open(&spool_dir)
                .with_context(|| format!("cannot open the SIEM spool in {spool_dir:?}"))
                .map_err(failed)?;
            Some(Forwarder::new(spool, transport))
        }
        None => None,
    };
    Ok(AuditTrail::new(log, forwarder))
}

fn retry_policy(delivery: Delivery) -> RetryPolicy {
    match delivery {
        Delivery::Patient => RetryPolicy::default(),
        Delivery::Quick => RetryPolicy {
            max_attempts: 2,
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(1),
        },
    }
}

/// Appends an event durably to the audit log, and to the SIEM spool when one is configured.
pub fn record(trail: &AuditTrail, event: &AuditEvent) -> anyhow::Result<()> {
    trail.log().append(event).with_context(|| {
        format!(
            "cannot write {} to the audit log in {:?}",
            event.event_type,
            trail.log().dir()
        )
    })?;
    if let Some(forwarder) = trail.forwarder() {
        forwarder.spool().push(event).with_context(|| {
            format!(
                "cannot spool {} for the SIEM in {:?}",
                event.event_type,
                forwarder.spool().dir()
            )
        })?;
    }
    Ok(())
}

/// Delivers what the spool holds. A failure leaves the events spooled for a later command and
/// is logged, not returned: the operation itself is done and recorded locally.
pub async fn deliver(trail: &AuditTrail) {
    match trail.flush().await {
        Ok(Some(report)) => {
            tracing::debug!(
                delivered = report.delivered,
                batches = report.batches,
                "delivered audit events to the SIEM"
            )
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(
            "audit events stay spooled for the SIEM and will be sent by a later command or `ops siem flush`: {:#}",
            anyhow::Error::from(error)
        ),
    }
}
