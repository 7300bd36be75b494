//! The rollback deadline: warnings as it approaches and the emergency stop once it passes.
//!
//! A run calls [`SlaTracker::check`] before each removal step and before each retry. The
//! tracker reads the clock port, so tests move time with a fake clock. Warnings and the alert
//! carry dedup keys derived from the rollback id, and each one sent is recorded in the journal,
//! so a rerun neither pages again nor sends the same message twice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ops_core::ports::journal::StepState;
use ops_core::ports::notifier::Notification;
use ops_core::ports::{Clock, Journal, Notifier};
use ops_core::{CorrelationId, Severity};

use crate::journal::{DEADLINE_ALERT_STEP, RecordedSteps, warning_step};
use crate::lock;

/// Whether a run may make its next removal call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlaVerdict {
    /// Go on.
    Continue,
    /// The deadline passed: make no further call.
    Stop,
}

/// The ports the tracker uses.
pub(crate) struct SlaPorts {
    pub clock: Arc<dyn Clock>,
    pub notifier: Arc<dyn Notifier>,
    pub journal: Arc<dyn Journal>,
}

/// Tracks one run of one rollback against its deadline.
pub(crate) struct SlaTracker {
    rollback_id: CorrelationId,
    intent_id: CorrelationId,
    deadline: DateTime<Utc>,
    resume_past_deadline: bool,
    ports: SlaPorts,
    warnings: Mutex<Vec<WarningPoint>>,
    alert_already_sent: bool,
    stopped: AtomicBool,
    resume_logged: AtomicBool,
}

/// One configured warning point.
struct WarningPoint {
    before: Duration,
    at: DateTime<Utc>,
    /// True once sent, or once a more urgent warning made it moot.
    done: bool,
}

impl SlaTracker {
    /// Creates the tracker, taking the warnings and the alert that earlier runs sent as done.
    pub(crate) fn new(
        rollback_id: CorrelationId,
        intent_id: CorrelationId,
        deadline: DateTime<Utc>,
        warn_before: &[Duration],
        resume_past_deadline: bool,
        recorded: &RecordedSteps,
        ports: SlaPorts,
    ) -> SlaTracker {
        let most_urgent_sent = warn_before
            .iter()
            .filter(|before| recorded.succeeded(&warning_step(**before)))
            .min()
            .copied();
        let warnings = warn_before
            .iter()
            .map(|before| WarningPoint {
                before: *before,
                at: deadline
                    .checked_sub_signed(chrono_duration(*before))
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
                done: most_urgent_sent.is_some_and(|sent| *before >= sent),
            })
            .collect();

        SlaTracker {
            rollback_id,
            intent_id,
            deadline,
            resume_past_deadline,
            ports,
            warnings: Mutex::new(warnings),
            alert_already_sent: recorded.succeeded(DEADLINE_ALERT_STEP),
            stopped: AtomicBool::new(false),
            resume_logged: AtomicBool::new(false),
        }
    }

    /// Returns true once the run stopped at the deadline.
    pub(crate) fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Sends the warnings whose points have passed and decides whether the run may go on.
    ///
    /// Past the deadline, the first caller sends the alert and every caller gets
    /// [`SlaVerdict::Stop`], unless a person requested to resume past the deadline.
    pub(crate) async fn check(&self) -> SlaVerdict {
        if self.stopped() {
            return SlaVerdict::Stop;
        }
        let now = self.ports.clock.now();

        if now >= self.deadline {
            if !self.resume_past_deadline {
                self.stop(now).await;
                return SlaVerdict::Stop;
            }
            if !self.resume_logged.swap(true, Ordering::SeqCst) {
                tracing::warn!(
                    deadline = %self.deadline,
                    "continuing past the rollback deadline because resuming was requested"
                );
            }
            return SlaVerdict::Continue;
        }

        if let Some(before) = self.claim_due_warning(now) {
            self.send_warning(before).await;
        }
        SlaVerdict::Continue
    }

    /// Marks every warning whose point has passed as done, and returns the most urgent of them.
    /// When a run starts late, or time jumps, only that one is sent.
    fn claim_due_warning(&self, now: DateTime<Utc>) -> Option<Duration> {
        let mut warnings = lock(&self.warnings);
        let mut most_urgent: Option<Duration> = None;
        for warning in warnings.iter_mut() {
            if warning.done || warning.at > now {
                continue;
            }
            warning.done = true;
            most_urgent =
                Some(most_urgent.map_or(warning.before, |urgent| urgent.min(warning.before)));
        }
        most_urgent
    }

    async fn send_warning(&self, before: Duration) {
        let minutes_left = before.as_secs() / 60;
        tracing::warn!(
            minutes_left,
            deadline = %self.deadline,
            "rollback deadline approaching"
        );
        let notification = Notification {
            correlation_id: self.rollback_id.clone(),
            severity: Severity::P1,
            title: format!(
                "rollback {} has {minutes_left} minutes left before its deadline",
                self.rollback_id
            ),
            body: format!(
                "Rollback {} of deployment {} must finish by {}. At that time it stops making \
                 removal calls and pages as P0; a person must then review it and resume it.",
                self.rollback_id, self.intent_id, self.deadline
            ),
            dedup_key: format!(
                "rollback-sla-{}-warning-{}s",
                self.rollback_id,
                before.as_secs()
            ),
        };
        let step = warning_step(before);
        if !self.notify_and_record(&notification, &step).await {
            // Let the next check try again. The dedup key keeps it from paging twice.
            if let Some(warning) = lock(&self.warnings)
                .iter_mut()
                .find(|warning| warning.before == before)
            {
                warning.done = false;
            }
        }
    }

    /// Stops the run. The first caller logs the stop and sends the alert.
    async fn stop(&self, now: DateTime<Utc>) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        tracing::error!(
            deadline = %self.deadline,
            now = %now,
            "rollback passed its deadline: emergency stop, no further removal calls"
        );
        if self.alert_already_sent {
            return;
        }
        let notification = Notification {
            correlation_id: self.rollback_id.clone(),
            severity: Severity::P0,
            title: format!(
                "rollback {} passed its deadline and stopped",
                self.rollback_id
            ),
            body: format!(
                "Rollback {} of deployment {} did not finish by {} and made no further removal \
                 calls. Review the steps that remain, then rerun it with resume past the deadline.",
                self.rollback_id, self.intent_id, self.deadline
            ),
            dedup_key: format!("rollback-sla-{}", self.rollback_id),
        };
        // A failure is logged inside, and the stop stays in effect either way.
        self.notify_and_record(&notification, DEADLINE_ALERT_STEP)
            .await;
    }

    /// Sends a notification and records in the journal that it was sent, returning whether it
    /// was sent. Failures are logged here, because the caller goes on either way.
    async fn notify_and_record(&self, notification: &Notification, step: &str) -> bool {
        if let Err(error) = self.ports.notifier.notify(notification).await {
            tracing::error!(
                dedup_key = %notification.dedup_key,
                error = %crate::error::error_chain(&error),
                "cannot send rollback deadline notification"
            );
            return false;
        }
        let recorded = self
            .ports
            .journal
            .record(&self.rollback_id, step, StepState::Succeeded, None)
            .await;
        if let Err(error) = recorded {
            // The dedup key still keeps a rerun from paging twice.
            tracing::warn!(
                step,
                error = %crate::error::error_chain(&error),
                "cannot record a sent notification in the journal"
            );
        }
        true
    }
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

pub(crate) fn deadline_after(started_at: DateTime<Utc>, deadline: Duration) -> DateTime<Utc> {
    started_at
        .checked_add_signed(chrono_duration(deadline))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
