//! The errors of planning and running a rollback.
//!
//! A connector that fails to remove the application is not an error here: it is an outcome in
//! the [`RollbackReport`](crate::RollbackReport), so that the report can name every failed
//! connector at once. These variants are the failures that stop the rollback itself.

use std::error::Error as StdError;
use std::fmt::Display;

use ops_core::audit::AuditEventType;
use ops_core::{ConnectorKind, CorrelationId, PortError, Ring};

/// A failure to plan, start or finish a rollback.
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    /// The configuration allows no removal call at a time.
    #[error("rollback concurrency is 0: set [rollback] concurrency to 1 or more")]
    ZeroConcurrency,

    /// The configuration gives the rollback no time at all.
    #[error("rollback deadline is 0: set [rollback] deadline_hours to 1 or more")]
    ZeroDeadline,

    /// A rate limit is not a positive number of calls per second.
    #[error(
        "rollback rate limit of {connector} is {rate}: set [rollback.rate_limits] {connector} to a number of calls per second above 0"
    )]
    InvalidRateLimit {
        /// The connector.
        connector: ops_core::ConnectorKind,
        /// The configured rate.
        rate: f64,
    },

    /// A warning point does not fall between the start and the deadline of the rollback.
    #[error(
        "rollback warning {warn_before_minutes} minutes before the deadline does not fit in a \
         deadline of {deadline_minutes} minutes: set [rollback] warn_before_minutes to values \
         between 1 and {deadline_minutes}"
    )]
    WarningOutsideDeadline {
        /// The warning point, in minutes before the deadline.
        warn_before_minutes: u64,
        /// The deadline, in minutes after the start.
        deadline_minutes: u64,
    },

    /// An execution plane adapter was registered under a kind other than the one it reports.
    #[error(
        "the execution plane registered as {registered} reports itself as {reported}: register \
         each adapter under the kind it reports"
    )]
    PlaneRegisteredUnderOtherKind {
        /// The kind it was registered under.
        registered: ConnectorKind,
        /// The kind the adapter reports.
        reported: ConnectorKind,
    },

    /// The control plane failed to return the intent.
    #[error("cannot load intent {id} from the control plane")]
    LoadIntent {
        /// The requested intent.
        id: CorrelationId,
        /// The control plane's error.
        source: Box<PortError>,
    },

    /// The control plane has no intent with this id.
    #[error(
        "no deployment intent has correlation id {id}: check the id, for example with `ops intents list`"
    )]
    IntentNotFound {
        /// The requested id.
        id: CorrelationId,
    },

    /// The control plane could not list the intents that share the deployment's application.
    #[error("cannot list intents to find the rings that intent {id} reached")]
    ListIntents {
        /// The intent being rolled back.
        id: CorrelationId,
        /// The control plane's error.
        source: Box<PortError>,
    },

    /// The rollback was limited to a ring the deployment never reached.
    #[error(
        "deployment {id} never reached ring {ring}: it reached {}; pass one of those rings or none",
        list(reached)
    )]
    RingNotReached {
        /// The intent being rolled back.
        id: CorrelationId,
        /// The requested ring.
        ring: Ring,
        /// The rings the deployment reached.
        reached: Vec<Ring>,
    },

    /// An intent names an execution plane that has no adapter configured.
    #[error(
        "intent {intent} in ring {ring} was deployed through {connector}, which is not configured \
         (configured: {}): configure the {connector} connector and rerun",
        list(configured)
    )]
    ConnectorNotConfigured {
        /// The connector without an adapter.
        connector: ConnectorKind,
        /// The intent naming it.
        intent: CorrelationId,
        /// The intent's ring.
        ring: Ring,
        /// The connectors that have an adapter.
        configured: Vec<ConnectorKind>,
    },

    /// The journal could not be read.
    #[error("cannot read the journal of operation {operation}")]
    ReadJournal {
        /// The operation whose steps were read.
        operation: CorrelationId,
        /// The journal's error.
        source: Box<PortError>,
    },

    /// The journal could not record a step, so the rollback started no further removal.
    #[error(
        "cannot record step {step} of operation {operation} in the journal: the rollback stopped; \
         rerun it once the journal is writable"
    )]
    WriteJournal {
        /// The operation the step belongs to.
        operation: CorrelationId,
        /// The step.
        step: String,
        /// The journal's error.
        source: Box<PortError>,
    },

    /// A journal entry that this crate wrote contains a value it cannot read back.
    #[error(
        "journal step {step} of operation {operation} holds {detail:?}, which is not {expected}: \
         the journal was edited or corrupted; inspect it before rerunning"
    )]
    CorruptJournal {
        /// The operation the step belongs to.
        operation: CorrelationId,
        /// The step.
        step: String,
        /// The stored value.
        detail: String,
        /// The kind of value expected.
        expected: &'static str,
    },

    /// The audit sink did not record an event, so the rollback acts no further without evidence.
    #[error(
        "cannot record {event} for rollback {rollback_id} in the audit log: the rollback made no \
         further removal calls; fix the audit log and rerun"
    )]
    RecordAudit {
        /// The rollback.
        rollback_id: CorrelationId,
        /// The event that was not recorded.
        event: AuditEventType,
        /// The audit sink's error.
        source: Box<PortError>,
    },

    /// Every removal succeeded, but the control plane did not mark an intent RolledBack.
    #[error(
        "every removal of rollback {rollback_id} succeeded, but intent {id} could not be marked \
         RolledBack: rerun the rollback to retry"
    )]
    UpdateStatus {
        /// The rollback.
        rollback_id: CorrelationId,
        /// The intent whose status was not updated.
        id: CorrelationId,
        /// The control plane's error.
        source: Box<PortError>,
    },

    /// A task running one removal step panicked.
    #[error(
        "a removal step of rollback {rollback_id} panicked: the journal shows which steps \
         completed; rerun the rollback to retry the others"
    )]
    StepPanicked {
        /// The rollback.
        rollback_id: CorrelationId,
        /// The task's error.
        source: tokio::task::JoinError,
    },

    /// A task running a whole rollback panicked.
    #[error(
        "the rollback of intent {intent_id} panicked: the journal shows which steps completed; \
         rerun the rollback to retry the others"
    )]
    RunPanicked {
        /// The intent being rolled back.
        intent_id: CorrelationId,
        /// The task's error.
        source: tokio::task::JoinError,
    },
}

impl RollbackError {
    /// Returns true when the error comes from the request or the configuration, which a person
    /// must fix, rather than from a service that failed.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            RollbackError::ZeroConcurrency
                | RollbackError::ZeroDeadline
                | RollbackError::InvalidRateLimit { .. }
                | RollbackError::WarningOutsideDeadline { .. }
                | RollbackError::PlaneRegisteredUnderOtherKind { .. }
                | RollbackError::IntentNotFound { .. }
                | RollbackError::RingNotReached { .. }
                | RollbackError::ConnectorNotConfigured { .. }
        )
    }
}

/// Joins values with commas, or writes `none` for an empty list.
fn list<T: Display>(values: &[T]) -> String {
    if values.is_empty() {
        return "none".to_owned();
    }
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes an error and its causes, joined by `: `.
pub(crate) fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
