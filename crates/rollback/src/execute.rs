//! Carrying out the steps of one run: bounded concurrent removals with retries, the evidence
//! of each, and the closing status update and event.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use ops_core::audit::{AuditEvent, AuditEventType, Outcome};
use ops_core::ports::ExecutionPlane;
use ops_core::ports::execution_plane::{RemovalOutcome, RemovalRequest};
use ops_core::ports::journal::StepState;
use ops_core::{ConnectorKind, CorrelationId, ErrorKind, IntentStatus, PortError, Ring};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{Instrument, Span};

use crate::error::error_chain;
use crate::journal::{RecordedSteps, removal_step};
use crate::sla::{SlaTracker, SlaVerdict};
use crate::{
    PlannedStep, Rollback, RollbackError, RollbackPlan, RollbackReport, StepOutcome, StepReport,
    lock,
};

/// The state one run shares with its step tasks.
pub(crate) struct Run {
    pub(crate) rollback: Rollback,
    pub(crate) rollback_id: CorrelationId,
    pub(crate) intent_id: CorrelationId,
    pub(crate) sla: SlaTracker,
    /// The first failure to record evidence or a step, which stops the run.
    pub(crate) halt: Mutex<Option<RollbackError>>,
    /// The run's span, the parent of each step's span.
    pub(crate) span: Span,
}

impl Run {
    /// Runs the steps that earlier runs did not complete, at most `concurrency` at a time, and
    /// returns every step's outcome in plan order.
    pub(crate) async fn execute(
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

        let (outcome, attempts) = self.remove_with_retries(plane.as_ref(), &request).await;
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

    /// Calls the execution plane under the retry policy, checking before each retry that the
    /// run may go on. Returns the outcome and the number of attempts made.
    async fn remove_with_retries(
        &self,
        plane: &dyn ExecutionPlane,
        request: &RemovalRequest,
    ) -> (StepOutcome, u32) {
        let attempts = AtomicU32::new(0);
        let stopped_before_retry = AtomicBool::new(false);
        let last_error: Mutex<Option<String>> = Mutex::new(None);
        let ports = &self.rollback.ports;

        let result = self
            .rollback
            .config
            .retry
            .run(ports.clock.as_ref(), |attempt| {
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
                    if let Some(limiter) = self.rollback.rate_limiters.get(&plane.kind()) {
                        limiter.acquire(ports.clock.as_ref()).await;
                    }
                    let result = plane.remove_application(request).await;
                    if let Err(error) = &result {
                        *lock(last_error) = Some(error_chain(error));
                    }
                    result
                }
            })
            .await;
        // A refused retry is not an attempt: the execution plane was not called.
        let stopped = stopped_before_retry.load(Ordering::SeqCst);
        let attempts = attempts.load(Ordering::SeqCst) - u32::from(stopped);

        let outcome = match result {
            Ok(RemovalOutcome::Removed) => StepOutcome::Removed,
            Ok(RemovalOutcome::AlreadyAbsent) => StepOutcome::AlreadyAbsent,
            Err(_) if stopped => StepOutcome::Failed {
                error: format!(
                    "not retried because the rollback stopped after attempt {attempts}: {}",
                    lock(&last_error).take().unwrap_or_default()
                ),
            },
            Err(error) => StepOutcome::Failed {
                error: error_chain(&error),
            },
        };
        (outcome, attempts)
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
    pub(crate) async fn finish(
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

    /// Stops the run at its first failure to record. Later failures are logged, because only
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

    pub(crate) fn take_halt(&self) -> Option<RollbackError> {
        lock(&self.halt).take()
    }

    fn journal_error(&self, step: &str, source: PortError) -> RollbackError {
        RollbackError::WriteJournal {
            operation: self.rollback_id.clone(),
            step: step.to_owned(),
            source: Box::new(source),
        }
    }

    pub(crate) fn event(&self, event_type: AuditEventType, outcome: Outcome) -> AuditEvent {
        AuditEvent::new(
            event_type,
            self.rollback_id.clone(),
            self.rollback.config.actor.clone(),
            self.rollback.ports.clock.now(),
            outcome,
        )
        .with_related(self.intent_id.clone())
    }

    pub(crate) async fn record_audit(&self, event: AuditEvent) -> Result<(), RollbackError> {
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

/// Waits for a permit. The semaphores of a rollback are never closed, so waiting cannot fail.
pub(crate) async fn acquire(permits: &Arc<Semaphore>) -> tokio::sync::OwnedSemaphorePermit {
    Arc::clone(permits)
        .acquire_owned()
        .await
        .expect("the permits of a rollback are never closed")
}
