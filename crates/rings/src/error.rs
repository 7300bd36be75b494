//! The errors of evaluating gates and promoting a deployment.
//!
//! A gate that is not met is not an error: the promotion's outcome is
//! [`PromotionOutcome::Blocked`](crate::PromotionOutcome::Blocked). These variants are requests
//! that cannot be served and services that failed.

use ops_core::audit::AuditEventType;
use ops_core::{CorrelationId, IntentStatus, PortError, Ring};

/// A failure to evaluate gates or to make a promotion.
#[derive(Debug, thiserror::Error)]
pub enum RingsError {
    /// Promotion was requested from Global, the last ring.
    #[error(
        "ring {ring} has no next ring: Global is the last ring, so nothing is promoted from it"
    )]
    NoNextRing {
        /// The requested ring.
        ring: Ring,
    },

    /// Gates were configured for Global, which has no next ring and so no gates.
    #[error(
        "gates are configured for ring Global, which has no next ring: remove [rings.gates.Global]"
    )]
    GatesForGlobal,

    /// A minimum success rate is not a share between 0 and 1.
    #[error(
        "min_success_rate for ring {ring} is {value}: expected a share between 0 and 1, such as \
         0.95 for 95%"
    )]
    SuccessRateOutOfRange {
        /// The ring configured.
        ring: Ring,
        /// The value given.
        value: f64,
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

    /// The control plane could not list intents.
    #[error("cannot list the intents of the control plane")]
    ListIntents {
        /// The control plane's error.
        source: Box<PortError>,
    },

    /// The intent is not in the ring the promotion was requested from.
    #[error("intent {id} is in ring {actual}, not {requested}: pass --ring {actual}")]
    WrongRing {
        /// The intent.
        id: CorrelationId,
        /// The ring it is in.
        actual: Ring,
        /// The ring the promotion was requested from.
        requested: Ring,
    },

    /// The intent was rolled back, and its version must not reach more devices.
    #[error(
        "intent {id} was rolled back, so its version is not promoted: deploy a fixed version instead"
    )]
    RolledBack {
        /// The intent.
        id: CorrelationId,
    },

    /// The same version was rolled back from the next ring, so it is not promoted there again.
    #[error(
        "intent {id} is not promoted to {ring}: the same version was rolled back there (intent \
         {rolled_back}); deploy a fixed version instead"
    )]
    RolledBackInNextRing {
        /// The intent to promote.
        id: CorrelationId,
        /// The next ring.
        ring: Ring,
        /// The RolledBack intent of the next ring.
        rolled_back: CorrelationId,
    },

    /// The intent is not approved, so there is nothing deployed to promote.
    #[error("intent {id} is {status}: only approved intents are promoted; approve it first")]
    NotApproved {
        /// The intent.
        id: CorrelationId,
        /// Its status.
        status: IntentStatus,
    },

    /// The control plane could not report the deployment's device counts.
    #[error("cannot read the deployment status of intent {id}")]
    ReadDeploymentStatus {
        /// The intent.
        id: CorrelationId,
        /// The control plane's error.
        source: Box<PortError>,
    },

    /// The incidents record could not be read.
    #[error("cannot read the open incidents of deployment {id}")]
    ReadIncidents {
        /// The intent whose incidents were read.
        id: CorrelationId,
        /// The incidents port's error.
        source: Box<PortError>,
    },

    /// The journal could not be read.
    #[error("cannot read the journal of intent {id}")]
    ReadJournal {
        /// The intent whose steps were read.
        id: CorrelationId,
        /// The journal's error.
        source: Box<PortError>,
    },

    /// The journal could not record the promotion id, so nothing was submitted.
    #[error(
        "cannot record step {step} of intent {id} in the journal: nothing was submitted; rerun \
         once the journal is writable"
    )]
    WriteJournal {
        /// The intent being promoted.
        id: CorrelationId,
        /// The step.
        step: String,
        /// The journal's error.
        source: Box<PortError>,
    },

    /// A journal entry written by a promotion contains a value that is not a promotion id.
    #[error(
        "journal step {step} of intent {id} holds {detail:?}, which is not a promote- correlation \
         id: the journal was edited or corrupted; inspect it before rerunning"
    )]
    CorruptJournal {
        /// The intent.
        id: CorrelationId,
        /// The step.
        step: String,
        /// The stored value.
        detail: String,
    },

    /// The audit sink did not record an event, so nothing was submitted without evidence.
    #[error(
        "cannot record {event} for promotion {promote_id} in the audit log: nothing was \
         submitted; fix the audit log and rerun"
    )]
    RecordAudit {
        /// The promotion.
        promote_id: CorrelationId,
        /// The event not recorded.
        event: AuditEventType,
        /// The audit sink's error.
        source: Box<PortError>,
    },

    /// The control plane did not accept the intent for the next ring.
    #[error(
        "cannot submit intent {promote_id} for ring {ring}: rerun the promotion, which reuses \
         the same id"
    )]
    Submit {
        /// The new intent's id, which is the promotion's id.
        promote_id: CorrelationId,
        /// The next ring.
        ring: Ring,
        /// The control plane's error.
        source: Box<PortError>,
    },
}

impl RingsError {
    /// Returns true when the error comes from the request or the configuration, which a person
    /// must fix, rather than from a service that failed.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            RingsError::NoNextRing { .. }
                | RingsError::GatesForGlobal
                | RingsError::SuccessRateOutOfRange { .. }
                | RingsError::IntentNotFound { .. }
                | RingsError::WrongRing { .. }
                | RingsError::RolledBack { .. }
                | RingsError::RolledBackInNextRing { .. }
                | RingsError::NotApproved { .. }
        )
    }
}
