//! Running a plan: the removal calls, the evidence, and the final status update.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use ops_core::audit::{AuditEvent, AuditEventType, Outcome};
use ops_core::ports::execution_plane::RemovalOutcome;
use ops_core::ports::journal::{JournalEntry, StepState};
use ops_core::{ConnectorKind, CorrelationId, ErrorKind, IntentStatus, PortError, Ring};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{Instrument, Span};

use crate::journal::{
    RecordedSteps, RollbackRecord, removal_step, rollback_id_step, started_at_step,
};
use crate::sla::{SlaPorts, SlaTracker, SlaVerdict, deadline_after};
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
    /// every intent's status alone; rerunning the same plan, or a fresh plan of the same intent
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

/// The state one run shares with its step tasks.
struct Run {
    rollback: Rollback,
    rollback_id: CorrelationId,
    intent_id: CorrelationId,
    sla: SlaTracker,
    /// The first failure to record evidence or a step, which stops the run.
    halt: Mutex<Option<RollbackError>>,
    /// The run's span, the parent of each step's span.
    span: Span,
}

impl Run {
    /// Runs the steps that earlier runs did not complete, at most `concurrency` at a time, and
    /// returns every step's outcome in plan order.
    async fn execute(
        self: Arc<Self>,
        steps: &[PlannedStep],
        recorded: &RecordedSteps,
    ) -> Vec<StepReport> {
        let mut outcomes: Vec<Option<StepOutcome>> = vec![None; steps.len()];
        let mut tasks = JoinSet::new();
        let mut stopped = false;

        for (index, step) in steps.iter().enumerate() {
            if recorded.succeeded(&removal_step(step.connector, step.ring)) {
                outcomes[index] = Some(StepOutcome::Skipped);
                continue;
            }
            if stopped {
                outcomes[index] = Some(StepOutcome::NotStarted);
                continue;
            }
            let permit = acquire(&self.rollback.call_permits).await;
            if !self.may_continue().await {
                stopped = true;
                outcomes[index] = Some(StepOutcome::NotStarted);
                continue;
            }

            let step_span = tracing::error_span!(
                parent: &self.span,
                "rollback_step",
                ring = %step.ring,
                connector = %step.connector,
            );
            let run = Arc::clone(&self);
            let step = step.clone();
            let task = async move {
                let _permit = permit;
                (index, run.execute_step(step).await)
            };
            tasks.spawn(task.instrument(step_span));
        }

        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, outcome)) => outcomes[index] = Some(outcome),
                Err(source) => self.halt(RollbackError::StepPanicked {
                    rollback_id: self.rollback_id.clone(),
                    source,
                }),
            }
        }
        steps
            .iter()
            .zip(outcomes)
            .map(|(step, outcome)| StepReport {
                ring: step.ring,
                connector: step.connector,
                outcome: outcome.unwrap_or(StepOutcome::NotStarted),
            })
            .collect()
    }

    /// Runs one removal: journal, call with retries, evidence, journal.
    async fn execute_step(&self, step: PlannedStep) -> StepOutcome {
        let ports = &self.rollback.ports;
        let step_name = removal_step(step.connector, step.ring);
        let Some(plane) = ports.execution_planes.get(&step.connector) else {
            // The run checked every connector before starting.
            return StepOutcome::NotStarted;
        };
        let mut request = step.request;
        request.correlation_id = self.rollback_id.clone();

        let started = ports
            .journal
            .record(&self.rollback_id, &step_name, StepState::Started, None)
            .await;
        if let Err(source) = started {
            self.halt(self.journal_error(&step_name, source));
            return StepOutcome::NotStarted;
        }

        let attempts = AtomicU32::new(0);
        let stopped_before_retry = AtomicBool::new(false);
        let last_error: Mutex<Option<String>> = Mutex::new(None);
        let result = self
            .rollback
            .config
            .retry
            .run(ports.clock.as_ref(), |attempt| {
                let (plane, request) = (plane, &request);
                let (attempts, stopped_before_retry, last_error) =
                    (&attempts, &stopped_before_retry, &last_error);
                async move {
                    attempts.store(attempt, Ordering::SeqCst);
                    if attempt > 1 && !self.may_continue().await {
                        stopped_before_retry.store(true, Ordering::SeqCst);
                        return Err(PortError::new(
                            ErrorKind::Permanent,
                            "rollback",
                            "retry removal",
                            "the rollback stopped",
                        ));
                    }
                    let result = plane.remove_application(request).await;
                    if let Err(error) = &result {
                        *lock(last_error) = Some(error_chain(error));
                    }
                    result
                }
            })
            .await;
        let attempts = attempts.load(Ordering::SeqCst);

        let outcome = match result {
            Ok(RemovalOutcome::Removed) => StepOutcome::Removed,
            Ok(RemovalOutcome::AlreadyAbsent) => StepOutcome::AlreadyAbsent,
            Err(_) if stopped_before_retry.load(Ordering::SeqCst) => StepOutcome::Failed {
                error: format!(
                    "not retried because the rollback stopped; last error: {}",
                    lock(&last_error).take().unwrap_or_default()
                ),
            },
            Err(error) => StepOutcome::Failed {
                error: error_chain(&error),
            },
        };
        match &outcome {
            StepOutcome::Failed { error } => {
                tracing::warn!(attempts, error = %error, "removal step failed");
            }
            _ => tracing::info!(attempts, outcome = ?outcome, "removal step succeeded"),
        }

        self.record_step(&step_name, step.ring, step.connector, &outcome, attempts)
            .await;
        outcome
    }

    /// Records a step's event, then its outcome in the journal. Without the event the journal
    /// keeps `Started`, so a rerun repeats the idempotent removal and records the event then.
    async fn record_step(
        &self,
        step_name: &str,
        ring: Ring,
        connector: ConnectorKind,
        outcome: &StepOutcome,
        attempts: u32,
    ) {
        let (audit_outcome, state, detail) = match outcome {
            StepOutcome::Failed { error } => (Outcome::Failure, StepState::Failed, error.clone()),
            other => (Outcome::Success, StepState::Succeeded, format!("{other:?}")),
        };
        let event = self
            .event(AuditEventType::RollbackStepCompleted, audit_outcome)
            .with_detail("ring", ring)
            .with_detail("connector", connector)
            .with_detail("outcome", outcome)
            .with_detail("attempts", attempts);
        if let Err(error) = self.record_audit(event).await {
            self.halt(error);
            return;
        }

        let recorded = self
            .rollback
            .ports
            .journal
            .record(&self.rollback_id, step_name, state, Some(&detail))
            .await;
        if let Err(source) = recorded {
            self.halt(self.journal_error(step_name, source));
        }
    }

    /// Marks the intents RolledBack when every step succeeded, records the closing event and
    /// logs the result.
    async fn finish(
        &self,
        plan: &RollbackPlan,
        report: &mut RollbackReport,
    ) -> Result<(), RollbackError> {
        let every_step_succeeded = report.steps.iter().all(|step| step.outcome.is_success());
        if every_step_succeeded {
            self.mark_rolled_back(plan).await?;
            report.rolled_back_intents = plan
                .intents
                .iter()
                .map(|intent| intent.id.clone())
                .collect();
            report.complete = true;
            let completed = self
                .event(AuditEventType::RollbackCompleted, Outcome::Success)
                .with_detail("rings", &report.rings)
                .with_detail("rolled_back_intents", &report.rolled_back_intents)
                .with_detail("removed", report.count(&StepOutcome::Removed))
                .with_detail("already_absent", report.count(&StepOutcome::AlreadyAbsent))
                .with_detail("skipped", report.count(&StepOutcome::Skipped));
            self.record_audit(completed).await?;
            tracing::info!(
                intents = report.rolled_back_intents.len(),
                "rollback completed"
            );
            return Ok(());
        }

        let reason = if report.stopped_at_deadline {
            "deadline_exceeded"
        } else {
            "steps_failed"
        };
        let failed: Vec<&StepReport> = report.failed_steps().collect();
        let not_started = report.not_started_steps().count();
        let any_succeeded = report.steps.iter().any(|step| step.outcome.is_success());
        let outcome = if any_succeeded {
            Outcome::Partial
        } else {
            Outcome::Failure
        };
        let event = self
            .event(AuditEventType::RollbackFailed, outcome)
            .with_detail("reason", reason)
            .with_detail("failed_steps", &failed)
            .with_detail("not_started_steps", not_started)
            .with_detail("deadline", report.deadline);
        self.record_audit(event).await?;
        tracing::error!(
            reason,
            failed = failed.len(),
            not_started,
            "rollback incomplete: intent statuses left unchanged; rerun it to retry the steps that did not succeed"
        );
        Ok(())
    }

    async fn mark_rolled_back(&self, plan: &RollbackPlan) -> Result<(), RollbackError> {
        let pending = plan
            .intents
            .iter()
            .filter(|intent| intent.status != IntentStatus::RolledBack);
        for intent in pending {
            self.rollback
                .ports
                .control_plane
                .update_status(&intent.id, IntentStatus::RolledBack)
                .await
                .map_err(|source| RollbackError::UpdateStatus {
                    rollback_id: self.rollback_id.clone(),
                    id: intent.id.clone(),
                    source: Box::new(source),
                })?;
        }
        Ok(())
    }

    /// Returns true when the run may make its next call: nothing stopped it and the deadline
    /// allows it.
    async fn may_continue(&self) -> bool {
        lock(&self.halt).is_none() && self.sla.check().await == SlaVerdict::Continue
    }

    /// Stops the run at its first failure to record; later failures are logged, because only
    /// the first is returned.
    fn halt(&self, error: RollbackError) {
        let mut halt = lock(&self.halt);
        if halt.is_none() {
            *halt = Some(error);
        } else {
            tracing::warn!(
                error = %error_chain(&error),
                "another failure while the rollback was stopping"
            );
        }
    }

    fn take_halt(&self) -> Option<RollbackError> {
        lock(&self.halt).take()
    }

    fn journal_error(&self, step: &str, source: PortError) -> RollbackError {
        RollbackError::WriteJournal {
            operation: self.rollback_id.clone(),
            step: step.to_owned(),
            source: Box::new(source),
        }
    }

    fn event(&self, event_type: AuditEventType, outcome: Outcome) -> AuditEvent {
        AuditEvent::new(
            event_type,
            self.rollback_id.clone(),
            self.rollback.config.actor.clone(),
            self.rollback.ports.clock.now(),
            outcome,
        )
        .with_related(self.intent_id.clone())
    }

    async fn record_audit(&self, event: AuditEvent) -> Result<(), RollbackError> {
        self.rollback
            .ports
            .audit
            .record(&event)
            .await
            .map_err(|source| RollbackError::RecordAudit {
                rollback_id: self.rollback_id.clone(),
                event: event.event_type,
                source: Box::new(source),
            })
    }
}

/// Returns `Connector:Ring` for each step, as the audit event lists them.
fn step_names(steps: &[PlannedStep]) -> Vec<String> {
    steps
        .iter()
        .map(|step| format!("{}:{}", step.connector, step.ring))
        .collect()
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

async fn acquire(permits: &Arc<Semaphore>) -> tokio::sync::OwnedSemaphorePermit {
    Arc::clone(permits)
        .acquire_owned()
        .await
        .expect("the permits of a rollback are never closed")
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
