//! The rollback deadline on a fake clock: warnings, the emergency stop, and resuming after it.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::{Harness, SlowPlane, config, id, intent};
use ops_core::ConnectorKind::{self, Intune, Jamf, Sccm};
use ops_core::audit::AuditEventType;
use ops_core::ports::journal::StepState;
use ops_core::ports::{Clock, ExecutionPlane, Journal};
use ops_core::{IntentStatus, Ring, Severity};
use ops_testkit::Failure;
use rollback::{Rollback, RollbackConfig, RunOptions, StepOutcome};

const MINUTE: Duration = Duration::from_secs(60);

/// Two rings of three connectors each: six removals, run one at a time, each taking
/// `per_call` on the fake clock.
fn slow_harness(per_call: Duration) -> (Harness, Rollback) {
    let harness = Harness::new(
        vec![
            intent("deploy-lab", Ring::Lab, &[Intune, Jamf, Sccm]),
            intent("promote-canary", Ring::Canary, &[Intune, Jamf, Sccm]),
        ],
        &[Intune, Jamf, Sccm],
    );
    let planes: BTreeMap<ConnectorKind, Arc<dyn ExecutionPlane>> = harness
        .planes
        .iter()
        .map(|(kind, plane)| {
            let slow = SlowPlane {
                inner: Arc::clone(plane),
                clock: Arc::clone(&harness.clock),
                per_call,
            };
            (*kind, Arc::new(slow) as Arc<dyn ExecutionPlane>)
        })
        .collect();
    let rollback = Rollback::new(
        harness.ports(planes),
        RollbackConfig {
            concurrency: 1,
            ..config()
        },
    )
    .unwrap();
    (harness, rollback)
}

#[tokio::test]
async fn warnings_sent_once_at_each_point() {
    // Checks happen at 0, 45, 90, 135, 180 and 225 minutes: the 60-minute warning point
    // (180) and the 15-minute one (225) each pass once, and the last call ends past the
    // deadline with nothing left to do.
    let (harness, rollback) = slow_harness(45 * MINUTE);
    let plan = rollback.plan(&id("deploy-lab"), None).await.unwrap();

    let report = rollback.run(&plan, RunOptions::default()).await.unwrap();

    assert!(report.complete, "{report:?}");
    let sent = harness.notifier.sent();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_eq!(
        sent[0].dedup_key,
        format!("rollback-sla-{}-warning-3600s", report.rollback_id)
    );
    assert_eq!(
        sent[1].dedup_key,
        format!("rollback-sla-{}-warning-900s", report.rollback_id)
    );
    assert!(sent.iter().all(|note| note.severity == Severity::P1));
    assert!(
        sent.iter()
            .all(|note| note.correlation_id == report.rollback_id)
    );
    assert!(sent[0].title.contains("60 minutes"), "{}", sent[0].title);
}

#[tokio::test]
async fn deadline_passed_stops_and_alerts_once() {
    // Checks at 0, 1, 2 and 3 hours allow calls; the check at 4 hours stops the run.
    let (harness, rollback) = slow_harness(Duration::from_secs(3600));
    let plan = rollback.plan(&id("deploy-lab"), None).await.unwrap();

    let report = rollback.run(&plan, RunOptions::default()).await.unwrap();

    assert!(report.stopped_at_deadline);
    assert!(!report.complete);
    assert_eq!(harness.total_calls(), 4);
    let not_started: Vec<_> = report
        .not_started_steps()
        .map(|step| (step.ring, step.connector))
        .collect();
    assert_eq!(not_started, [(Ring::Canary, Jamf), (Ring::Canary, Sccm)]);
    let alerts: Vec<_> = harness
        .notifier
        .sent()
        .into_iter()
        .filter(|note| note.severity == Severity::P0)
        .collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0].dedup_key,
        format!("rollback-sla-{}", report.rollback_id)
    );
    let last = harness.audit.events().pop().unwrap();
    assert_eq!(last.event_type, AuditEventType::RollbackFailed);
    assert_eq!(last.details["reason"], "deadline_exceeded");
    assert_eq!(last.details["not_started_steps"], 2);
    assert!(harness.control_plane.status_updates().is_empty());
    assert_eq!(harness.status("deploy-lab"), IntentStatus::Deployed);
}

#[tokio::test]
async fn rerun_past_deadline_stays_stopped_without_paging() {
    let (harness, rollback) = slow_harness(Duration::from_secs(3600));
    let plan = rollback.plan(&id("deploy-lab"), None).await.unwrap();
    let first = rollback.run(&plan, RunOptions::default()).await.unwrap();
    let sent_after_first = harness.notifier.sent().len();

    let rerun_plan = rollback.plan(&id("deploy-lab"), None).await.unwrap();
    let rerun = rollback
        .run(&rerun_plan, RunOptions::default())
        .await
        .unwrap();

    assert!(rerun.stopped_at_deadline);
    assert_eq!(rerun.deadline, first.deadline);
    assert_eq!(harness.total_calls(), 4, "no call after the deadline");
    assert_eq!(harness.notifier.sent().len(), sent_after_first);
    assert_eq!(
        harness.notifier.pages(),
        2,
        "the 60-minute warning and the alert"
    );
}

#[tokio::test]
async fn resume_past_deadline_finishes_remaining_steps() {
    let (harness, rollback) = slow_harness(Duration::from_secs(3600));
    let plan = rollback.plan(&id("deploy-lab"), None).await.unwrap();
    let first = rollback.run(&plan, RunOptions::default()).await.unwrap();
    let sent_after_first = harness.notifier.sent().len();

    let resume_plan = rollback.plan(&id("deploy-lab"), None).await.unwrap();
    let resumed = rollback
        .run(
            &resume_plan,
            RunOptions {
                resume_past_deadline: true,
                ..RunOptions::default()
            },
        )
        .await
        .unwrap();

    assert!(resumed.complete, "{resumed:?}");
    assert!(!resumed.stopped_at_deadline);
    assert_eq!(resumed.rollback_id, first.rollback_id);
    assert_eq!(harness.total_calls(), 6);
    assert_eq!(resumed.count(&StepOutcome::Skipped), 4);
    assert_eq!(resumed.count(&StepOutcome::Removed), 2);
    assert_eq!(harness.notifier.sent().len(), sent_after_first);
    assert_eq!(harness.status("deploy-lab"), IntentStatus::RolledBack);
    assert_eq!(harness.status("promote-canary"), IntentStatus::RolledBack);
}

#[tokio::test]
async fn deadline_checked_between_retries() {
    // Each 429 requests a 4-minute pause. Attempts run at 0, 4, 8 and 12 minutes: the warning point
    // (5 minutes before a 10-minute deadline) passes before the third attempt, and the
    // deadline before the fourth, which is never made.
    let harness = Harness::new(vec![intent("deploy-1", Ring::Canary, &[Intune])], &[Intune]);
    harness
        .plane(Intune)
        .failures
        .always(Failure::Throttled(4 * MINUTE));
    let rollback = harness.rollback_with(RollbackConfig {
        deadline: 10 * MINUTE,
        warn_before: vec![5 * MINUTE],
        ..config()
    });
    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();

    let report = rollback.run(&plan, RunOptions::default()).await.unwrap();

    assert_eq!(harness.calls(Intune), 3);
    assert!(report.stopped_at_deadline);
    let StepOutcome::Failed { error } = &report.steps[0].outcome else {
        panic!("expected a failure, got {:?}", report.steps[0].outcome);
    };
    assert!(
        error.contains("not retried because the rollback stopped"),
        "{error}"
    );
    assert!(error.contains("after attempt 3"), "{error}");
    assert!(error.contains("HTTP 429"), "{error}");
    let step_event = harness
        .audit
        .events()
        .into_iter()
        .find(|event| event.event_type == AuditEventType::RollbackStepCompleted)
        .unwrap();
    assert_eq!(step_event.details["attempts"], 3);
    let severities: Vec<_> = harness
        .notifier
        .sent()
        .iter()
        .map(|note| note.severity)
        .collect();
    assert_eq!(severities, [Severity::P1, Severity::P0]);
}

#[tokio::test]
async fn late_start_sends_only_most_urgent_warning() {
    let harness = Harness::new(vec![intent("deploy-1", Ring::Canary, &[Intune])], &[Intune]);
    let started_at = harness.clock.now();
    harness
        .journal
        .record(
            &id("deploy-1"),
            "rollback:started_at",
            StepState::Succeeded,
            Some(&started_at.to_rfc3339()),
        )
        .await
        .unwrap();
    harness
        .clock
        .advance(Duration::from_secs(3 * 3600 + 50 * 60));
    harness.plane(Intune).failures.push([Failure::Permanent]);
    let rollback = harness.rollback();

    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();
    let first = rollback.run(&plan, RunOptions::default()).await.unwrap();
    let rerun = rollback.run(&plan, RunOptions::default()).await.unwrap();

    assert_eq!(first.started_at, started_at);
    assert!(rerun.complete);
    let keys: Vec<_> = harness
        .notifier
        .sent()
        .into_iter()
        .map(|note| note.dedup_key)
        .collect();
    assert_eq!(
        keys,
        [format!("rollback-sla-{}-warning-900s", first.rollback_id)]
    );
}

#[tokio::test]
async fn failed_alert_still_stops_and_is_resent() {
    let (harness, rollback) = slow_harness(Duration::from_secs(3600));
    harness.notifier.failures.always(Failure::Transient);
    let plan = rollback.plan(&id("deploy-lab"), None).await.unwrap();
    let first = rollback.run(&plan, RunOptions::default()).await.unwrap();
    harness.notifier.failures.clear();

    let rerun = rollback.run(&plan, RunOptions::default()).await.unwrap();

    assert!(first.stopped_at_deadline);
    assert_eq!(harness.total_calls(), 4);
    assert!(rerun.stopped_at_deadline);
    let keys: Vec<_> = harness
        .notifier
        .sent()
        .into_iter()
        .map(|note| note.dedup_key)
        .collect();
    assert_eq!(keys, [format!("rollback-sla-{}", first.rollback_id)]);
}

#[tokio::test]
async fn failed_warning_is_retried_at_next_check() {
    // The run starts 3 h 10 min into its 4-hour deadline, past the 60-minute warning point.
    // The warning fails before the first removal and is sent before the second.
    let harness = Harness::new(
        vec![intent("deploy-1", Ring::Canary, &[Intune, Jamf])],
        &[Intune, Jamf],
    );
    let started_at = harness.clock.now();
    harness
        .journal
        .record(
            &id("deploy-1"),
            "rollback:started_at",
            StepState::Succeeded,
            Some(&started_at.to_rfc3339()),
        )
        .await
        .unwrap();
    harness.clock.advance(3 * 60 * MINUTE + 10 * MINUTE);
    harness.notifier.failures.push([Failure::Transient]);
    let rollback = harness.rollback_with(RollbackConfig {
        concurrency: 1,
        warn_before: vec![60 * MINUTE],
        ..config()
    });
    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();

    let report = rollback.run(&plan, RunOptions::default()).await.unwrap();

    assert!(report.complete);
    let sent = harness.notifier.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].dedup_key,
        format!("rollback-sla-{}-warning-3600s", report.rollback_id)
    );
    let entries = harness.journal.steps(&report.rollback_id).await.unwrap();
    assert!(
        entries
            .iter()
            .any(|entry| entry.step == "sla:warning:3600s" && entry.state == StepState::Succeeded),
        "{entries:#?}"
    );
}
