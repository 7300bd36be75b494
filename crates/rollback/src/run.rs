//! Running a plan: establishing the rollback's identity, recording its start, and the dry run.
//! The steps themselves are carried out in `execute`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use ops_core::audit::{AuditEventType, Outcome};
use ops_core::ports::journal::{JournalEntry, StepState};
use ops_core::{CorrelationId, IntentStatus};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{Instrument, Span};

use crate::execute::{Run, acquire};
use crate::journal::{
    RecordedSteps, RollbackRecord, removal_step, rollback_id_step, started_at_step,
};
use crate::sla::{SlaPorts, SlaTracker, deadline_after};
use crate::{
    PlannedStep, Rollback, RollbackError, RollbackPlan, RollbackReport, StepOutcome, StepReport,
};

/// How to run a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Report what the run would do and change nothing: no journal entry, no audit event, no
    /// call to an execution plane or the control plane.
    pub dry_run: bool,
    /// Go on past the deadline. A person sets this after reviewing an emergency stop.
    pub resume_past_deadline: bool,
}

impl Rollback {
    /// Runs a plan and reports each step's outcome.
    ///
    /// A step that fails after its retries is reported as [`StepOutcome::Failed`] and leaves
    /// every intent's status alone. Rerunning the same plan, or a fresh plan of the same intent
    /// and ring limit, retries only the steps that did not succeed. Errors are reserved for
    /// failures that stop the rollback itself: the journal, the audit sink or the control plane
    /// not doing their part.
    pub async fn run(
        &self,
        plan: &RollbackPlan,
        options: RunOptions,
    ) -> Result<RollbackReport, RollbackError> {
        let span = tracing::error_span!(
            "rollback",
            correlation_id = tracing::field::Empty,
            intent_correlation_id = %plan.intent_id,
        );
        self.check_connectors(plan)?;
        if options.dry_run {
            span.record("correlation_id", tracing::field::display(&plan.rollback_id));
            let report = self.dry_run_report(plan);
            span.in_scope(|| {
                tracing::info!(
                    steps = report.steps.len(),
                    "rollback dry run: nothing changed"
                );
            });
            return Ok(report);
        }
        self.run_recorded(plan, options, span.clone())
            .instrument(span)
            .await
    }

    /// Runs many plans side by side and returns their results in the order of `plans`.
    ///
    /// At most [`RollbackConfig::concurrency`](crate::RollbackConfig::concurrency) plans are in
    /// progress at once, and their removal calls together stay within the same bound. One
    /// failed rollback does not stop the others.
    pub async fn run_many(
        &self,
        plans: Vec<RollbackPlan>,
        options: RunOptions,
    ) -> Vec<Result<RollbackReport, RollbackError>> {
        let plan_permits = Arc::new(Semaphore::new(self.config.concurrency));
        let intent_ids: Vec<CorrelationId> =
            plans.iter().map(|plan| plan.intent_id.clone()).collect();
        let mut results: Vec<Option<Result<RollbackReport, RollbackError>>> =
            (0..plans.len()).map(|_| None).collect();
        let mut task_indexes: HashMap<tokio::task::Id, usize> = HashMap::new();
        let mut tasks = JoinSet::new();

        for (index, plan) in plans.into_iter().enumerate() {
            let permit = acquire(&plan_permits).await;
            let rollback = self.clone();
            let task = async move {
                let _permit = permit;
                rollback.run(&plan, options).await
            };
            let handle = tasks.spawn(task.instrument(Span::current()));
            task_indexes.insert(handle.id(), index);
        }
        while let Some(joined) = tasks.join_next_with_id().await {
            let (task_id, result) = match joined {
                Ok((task_id, result)) => (task_id, result),
                Err(source) => {
                    let task_id = source.id();
                    let intent_id = intent_ids[task_indexes[&task_id]].clone();
                    (
                        task_id,
                        Err(RollbackError::RunPanicked { intent_id, source }),
                    )
                }
            };
            results[task_indexes[&task_id]] = Some(result);
        }
        results.into_iter().flatten().collect()
    }

    /// Reads every step recorded for an operation.
    pub(crate) async fn read_journal(
        &self,
        operation: &CorrelationId,
    ) -> Result<Vec<JournalEntry>, RollbackError> {
        self.ports
            .journal
            .steps(operation)
            .await
            .map_err(|source| RollbackError::ReadJournal {
                operation: operation.clone(),
                source: Box::new(source),
            })
    }

    async fn write_journal(
        &self,
        operation: &CorrelationId,
        step: &str,
        state: StepState,
        detail: Option<&str>,
    ) -> Result<(), RollbackError> {
        self.ports
            .journal
            .record(operation, step, state, detail)
            .await
            .map_err(|source| RollbackError::WriteJournal {
                operation: operation.clone(),
                step: step.to_owned(),
                source: Box::new(source),
            })
    }

    /// Fails when a step of the plan names an execution plane without an adapter, which can
    /// happen when the plan was made by a differently configured service.
    fn check_connectors(&self, plan: &RollbackPlan) -> Result<(), RollbackError> {
        let Some(step) = plan
            .steps
            .iter()
            .find(|step| !self.ports.execution_planes.contains_key(&step.connector))
        else {
            return Ok(());
        };
        let intent = plan
            .intents
            .iter()
            .find(|intent| intent.ring == step.ring)
            .map_or(&plan.intent_id, |intent| &intent.id);
        Err(RollbackError::ConnectorNotConfigured {
            connector: step.connector,
            intent: intent.clone(),
            ring: step.ring,
            configured: self.ports.execution_planes.keys().copied().collect(),
        })
    }

    fn dry_run_report(&self, plan: &RollbackPlan) -> RollbackReport {
        let started_at = plan.started_at.unwrap_or_else(|| self.ports.clock.now());
        let steps: Vec<StepReport> = plan
            .steps
            .iter()
            .map(|step| StepReport {
                ring: step.ring,
                connector: step.connector,
                outcome: if step.already_done {
                    StepOutcome::Skipped
                } else {
                    StepOutcome::Planned
                },
            })
            .collect();
        let complete = steps.iter().all(|step| step.outcome.is_success())
            && plan
                .intents
                .iter()
                .all(|intent| intent.status == IntentStatus::RolledBack);

        RollbackReport {
            rollback_id: plan.rollback_id.clone(),
            intent_id: plan.intent_id.clone(),
            application_id: plan.application_id.clone(),
            app_name: plan.app_name.clone(),
            version: plan.version.clone(),
            rings: plan.rings.clone(),
            dry_run: true,
            started_at,
            deadline: deadline_after(started_at, self.config.deadline),
            steps,
            rolled_back_intents: Vec::new(),
            complete,
            stopped_at_deadline: false,
        }
    }

    async fn run_recorded(
        &self,
        plan: &RollbackPlan,
        options: RunOptions,
        span: Span,
    ) -> Result<RollbackReport, RollbackError> {
        let identity = self.establish(plan).await?;
        span.record(
            "correlation_id",
            tracing::field::display(&identity.rollback_id),
        );
        let recorded =
            RecordedSteps::from_entries(&self.read_journal(&identity.rollback_id).await?);
        let deadline = deadline_after(identity.started_at, self.config.deadline);
        let sla = SlaTracker::new(
            identity.rollback_id.clone(),
            plan.intent_id.clone(),
            deadline,
            &self.config.warn_before,
            options.resume_past_deadline,
            &recorded,
            SlaPorts {
                clock: Arc::clone(&self.ports.clock),
                notifier: Arc::clone(&self.ports.notifier),
                journal: Arc::clone(&self.ports.journal),
            },
        );
        let run = Arc::new(Run {
            rollback: self.clone(),
            rollback_id: identity.rollback_id.clone(),
            intent_id: plan.intent_id.clone(),
            sla,
            halt: Mutex::new(None),
            span,
        });

        let pending = plan
            .steps
            .iter()
            .filter(|step| !recorded.succeeded(&removal_step(step.connector, step.ring)))
            .count();
        let started = run
            .event(AuditEventType::RollbackStarted, Outcome::Success)
            .with_detail("application_id", &plan.application_id)
            .with_detail("app_name", &plan.app_name)
            .with_detail("version", &plan.version)
            .with_detail("rings", &plan.rings)
            .with_detail("ring_limit", plan.ring_limit)
            .with_detail("steps", step_names(&plan.steps))
            .with_detail("pending_steps", pending)
            .with_detail("started_at", identity.started_at)
            .with_detail("deadline", deadline)
            .with_detail("resumed", identity.resumed)
            .with_detail("resume_past_deadline", options.resume_past_deadline);
        run.record_audit(started).await?;
        tracing::info!(
            rings = ?plan.rings,
            steps = plan.steps.len(),
            pending,
            resumed = identity.resumed,
            deadline = %deadline,
            "rollback started"
        );

        let steps = Arc::clone(&run).execute(&plan.steps, &recorded).await;
        if let Some(error) = run.take_halt() {
            return Err(error);
        }

        let mut report = RollbackReport {
            rollback_id: identity.rollback_id,
            intent_id: plan.intent_id.clone(),
            application_id: plan.application_id.clone(),
            app_name: plan.app_name.clone(),
            version: plan.version.clone(),
            rings: plan.rings.clone(),
            dry_run: false,
            started_at: identity.started_at,
            deadline,
            steps,
            rolled_back_intents: Vec::new(),
            complete: false,
            stopped_at_deadline: run.sla.stopped(),
        };
        run.finish(plan, &mut report).await?;
        Ok(report)
    }

    /// Reads the rollback id and start time that earlier runs recorded, and records them on the
    /// first run: the start time first, so that a crash between the two writes keeps it.
    ///
    /// NOTE: the read and the writes are not atomic, because the journal port has no
    /// compare-and-set. Two first runs of the same rollback started at the same moment may record
    /// different ids. The later write wins, and both send idempotent removals.
    async fn establish(&self, plan: &RollbackPlan) -> Result<Identity, RollbackError> {
        let entries = self.read_journal(&plan.intent_id).await?;
        let record = RollbackRecord::from_entries(&plan.intent_id, plan.ring_limit, &entries)?;

        let started_at = match record.started_at {
            Some(started_at) => started_at,
            None => {
                let now = self.ports.clock.now();
                let step = started_at_step(plan.ring_limit);
                self.write_journal(
                    &plan.intent_id,
                    &step,
                    StepState::Succeeded,
                    Some(&now.to_rfc3339()),
                )
                .await?;
                now
            }
        };
        let (rollback_id, resumed) = match record.id {
            Some(rollback_id) => (rollback_id, true),
            None => {
                let step = rollback_id_step(plan.ring_limit);
                self.write_journal(
                    &plan.intent_id,
                    &step,
                    StepState::Succeeded,
                    Some(plan.rollback_id.as_str()),
                )
                .await?;
                (plan.rollback_id.clone(), false)
            }
        };

        Ok(Identity {
            rollback_id,
            started_at,
            resumed,
        })
    }
}

/// The rollback id and start time a run works under.
struct Identity {
    rollback_id: CorrelationId,
    started_at: DateTime<Utc>,
    /// True when an earlier run recorded the id.
    resumed: bool,
}

/// Returns `Connector:Ring` for each step, as the audit event lists them.
fn step_names(steps: &[PlannedStep]) -> Vec<String> {
    steps
        .iter()
        .map(|step| format!("{}:{}", step.connector, step.ring))
        .collect()
}
