//! The journal port: what lets a multi-step operation resume after a crash or a partial failure.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::CorrelationId;
use crate::error::PortResult;

/// Where one step of an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StepState {
    /// The step began and has not reported; after a crash it must be checked or redone.
    Started,
    /// The step completed; a rerun skips it.
    Succeeded,
    /// The step failed; a rerun retries it.
    Failed,
}

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The operation the step belongs to.
    pub operation: CorrelationId,
    /// The step, such as `remove:Intune:Canary`.
    pub step: String,
    /// Its state.
    pub state: StepState,
    /// The error of a failed step, or a note on a completed one.
    pub detail: Option<String>,
    /// When the state was recorded.
    pub updated_at: DateTime<Utc>,
}

/// A durable record of the steps of operations.
///
/// `record` overwrites the state of a step and is durable when it returns, so an operation
/// that records a step before and after acting can always tell, after a crash, which steps
/// completed.
#[async_trait]
pub trait Journal: Send + Sync {
    /// Records the state of one step of an operation.
    async fn record(
        &self,
        operation: &CorrelationId,
        step: &str,
        state: StepState,
        detail: Option<&str>,
    ) -> PortResult<()>;

    /// Returns every step recorded for an operation, in the order first recorded.
    async fn steps(&self, operation: &CorrelationId) -> PortResult<Vec<JournalEntry>>;
}
