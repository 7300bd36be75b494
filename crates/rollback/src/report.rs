//! The result of running, or dry-running, a rollback plan.

use chrono::{DateTime, Utc};
use ops_core::{ConnectorKind, CorrelationId, Ring};
use serde::Serialize;

/// The record of one run of a rollback, step by step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackReport {
    /// The rollback's own `rollback-` correlation id.
    pub rollback_id: CorrelationId,
    /// The intent named in the rollback request.
    pub intent_id: CorrelationId,
    /// The application's id in the catalogue.
    pub application_id: String,
    /// The application's name.
    pub app_name: String,
    /// The version rolled back.
    pub version: String,
    /// The rings the rollback covers, innermost first.
    pub rings: Vec<Ring>,
    /// True when nothing was changed because the run was a dry run.
    pub dry_run: bool,
    /// When the rollback first started. A dry run before the first start shows the current time.
    pub started_at: DateTime<Utc>,
    /// When the emergency stop happens: `started_at` plus the configured deadline.
    pub deadline: DateTime<Utc>,
    /// One entry per ring and execution plane, ordered by ring, then connector.
    pub steps: Vec<StepReport>,
    /// The intents marked RolledBack, empty unless `complete`.
    pub rolled_back_intents: Vec<CorrelationId>,
    /// True when every step has succeeded, in this run or an earlier one, and every intent of
    /// the plan is RolledBack.
    pub complete: bool,
    /// True when the run stopped making removal calls because the deadline passed.
    pub stopped_at_deadline: bool,
}

/// The outcome of one removal step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// The ring.
    pub ring: Ring,
    /// The execution plane.
    pub connector: ConnectorKind,
    /// What happened.
    pub outcome: StepOutcome,
}

/// The result of one removal step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum StepOutcome {
    /// A dry run would call the execution plane.
    Planned,
    /// The execution plane removed the application.
    Removed,
    /// The execution plane had nothing to remove, which counts as success.
    AlreadyAbsent,
    /// The execution plane failed after the retries the policy allows.
    Failed {
        /// The error, with its causes joined by `: `.
        error: String,
    },
    /// An earlier run completed the step, so this run made no call.
    Skipped,
    /// The run stopped before the step: the deadline passed, or evidence could not be recorded.
    NotStarted,
}

impl StepOutcome {
    /// Returns true when the application is gone from the ring through this execution plane.
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            StepOutcome::Removed | StepOutcome::AlreadyAbsent | StepOutcome::Skipped
        )
    }
}

impl RollbackReport {
    /// Returns the steps that failed, each with its error.
    pub fn failed_steps(&self) -> impl Iterator<Item = &StepReport> {
        self.steps
            .iter()
            .filter(|step| matches!(step.outcome, StepOutcome::Failed { .. }))
    }

    /// Returns the steps this run did not reach because it stopped.
    pub fn not_started_steps(&self) -> impl Iterator<Item = &StepReport> {
        self.steps
            .iter()
            .filter(|step| step.outcome == StepOutcome::NotStarted)
    }

    /// Returns the number of steps with this outcome's kind, ignoring error texts.
    pub fn count(&self, outcome: &StepOutcome) -> usize {
        self.steps
            .iter()
            .filter(|step| std::mem::discriminant(&step.outcome) == std::mem::discriminant(outcome))
            .count()
    }
}
