//! Running rollbacks against the fakes: removals, reruns, failures, retries and evidence.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::{CountingPlane, Harness, InFlight, LogBuffer, config, id, intent};
use ops_core::ConnectorKind::{self, Ansible, Intune, Jamf, Landscape, Sccm};
use ops_core::audit::{AuditEvent, AuditEventType, Outcome};
use ops_core::error::PortResult;
use ops_core::ports::journal::StepState;
use ops_core::ports::{AuditSink, Clock, ExecutionPlane, Journal};
use ops_core::{IntentStatus, PortError, Ring};
use ops_testkit::{Failure, FakeAuditSink};
use rollback::{Rollback, RollbackConfig, RollbackError, RunOptions, StepOutcome};

fn run_options() -> RunOptions {
    RunOptions::default()
}

fn event_types(events: &[AuditEvent]) -> Vec<AuditEventType> {
    events.iter().map(|event| event.event_type).collect()
}

#[tokio::test]
async fn single_connector_removes_and_marks_rolled_back() {
    let harness = Harness::new(vec![intent("deploy-1", Ring::Canary, &[Intune])], &[Intune]);
    let rollback = harness.rollback();
    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();

    let report = rollback.run(&plan, run_options()).await.unwrap();

    assert!(report.complete, "{report:?}");
    assert_eq!(report.steps.len(), 1);
    assert_eq!(report.steps[0].outcome, StepOutcome::Removed);
    assert_eq!(report.rolled_back_intents, [id("deploy-1")]);
    assert_eq!(harness.status("deploy-1"), IntentStatus::RolledBack);
    let calls = harness.plane(Intune).removal_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].correlation_id, report.rollback_id);
    assert_eq!(calls[0].ring, Ring::Canary);
    assert_eq!(calls[0].app_name, "Google Chrome");
}

#[tokio::test]
async fn audit_events_link_rollback_and_intent() {
    let harness = Harness::new(vec![intent("deploy-1", Ring::Canary, &[Intune])], &[Intune]);
    let rollback = harness.rollback();
    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();

    let report = rollback.run(&plan, run_options()).await.unwrap();

    let events = harness.audit.events();
    assert_eq!(
        event_types(&events),
        [
            AuditEventType::RollbackStarted,
            AuditEventType::RollbackStepCompleted,
            AuditEventType::RollbackCompleted
        ]
    );
    for event in &events {
        assert_eq!(event.correlation_id, report.rollback_id);
        assert_eq!(event.related_correlation_id, Some(id("deploy-1")));
        assert_eq!(event.actor, "tester");
        assert_eq!(event.outcome, Outcome::Success);
    }
    let step = &events[1];
    assert_eq!(step.details["connector"], "Intune");
    assert_eq!(step.details["ring"], "Canary");
    assert_eq!(step.details["outcome"]["result"], "removed");
    assert_eq!(step.details["attempts"], 1);
}

#[tokio::test]
async fn connectors_and_rings_run_concurrently_within_bound() {
    let harness = Harness::new(
        vec![
            intent("deploy-lab", Ring::Lab, &[Intune, Jamf]),
            intent("promote-canary", Ring::Canary, &[Intune, Jamf, Sccm]),
            intent("promote-pilot", Ring::Pilot, &[Landscape, Ansible]),
        ],
        &[Intune, Jamf, Sccm, Landscape, Ansible],
    );
    let in_flight = Arc::new(InFlight::default());
    let planes: BTreeMap<ConnectorKind, Arc<dyn ExecutionPlane>> = harness
        .planes
        .iter()
        .map(|(kind, plane)| {
            let counting = CountingPlane {
                inner: Arc::clone(plane),
                in_flight: Arc::clone(&in_flight),
            };
            (*kind, Arc::new(counting) as Arc<dyn ExecutionPlane>)
        })
        .collect();
    let rollback = Rollback::new(
        harness.ports(planes),
        RollbackConfig {
            concurrency: 3,
            ..config()
        },
    )
    .unwrap();
    let plan = rollback.plan(&id("deploy-lab"), None).await.unwrap();

    let report = rollback.run(&plan, run_options()).await.unwrap();

    assert!(report.complete, "{report:?}");
    assert_eq!(report.rings, [Ring::Lab, Ring::Canary, Ring::Pilot]);
    assert_eq!(report.steps.len(), 7);
    assert_eq!(harness.calls(Intune), 2);
    assert_eq!(harness.calls(Jamf), 2);
    assert_eq!(harness.calls(Sccm), 1);
    assert_eq!(harness.calls(Landscape), 1);
    assert_eq!(harness.calls(Ansible), 1);
    assert_eq!(
        in_flight.max(),
        3,
        "calls in flight must reach, and never pass, the bound"
    );
    for intent_id in ["deploy-lab", "promote-canary", "promote-pilot"] {
        assert_eq!(
            harness.status(intent_id),
            IntentStatus::RolledBack,
            "{intent_id}"
        );
    }
}

#[tokio::test]
async fn partial_failure_names_connector_and_keeps_status() {
    let harness = Harness::new(
        vec![
            intent("deploy-lab", Ring::Lab, &[Intune, Jamf]),
            intent("promote-canary", Ring::Canary, &[Intune]),
        ],
        &[Intune, Jamf],
    );
    harness.plane(Jamf).failures.always(Failure::Permanent);
    let rollback = harness.rollback();
    let plan = rollback.plan(&id("deploy-lab"), None).await.unwrap();

    let report = rollback.run(&plan, run_options()).await.unwrap();

    assert!(!report.complete);
    let failed: Vec<_> = report.failed_steps().collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].connector, Jamf);
    assert_eq!(failed[0].ring, Ring::Lab);
    let StepOutcome::Failed { error } = &failed[0].outcome else {
        panic!("expected a failure, got {:?}", failed[0].outcome);
    };
    assert!(error.contains("Jamf remove application failed"), "{error}");
    assert!(error.contains("HTTP 400"), "{error}");
    assert!(report.rolled_back_intents.is_empty());
    assert!(harness.control_plane.status_updates().is_empty());
    assert_eq!(harness.status("deploy-lab"), IntentStatus::Deployed);
    let last = harness.audit.events().pop().unwrap();
    assert_eq!(last.event_type, AuditEventType::RollbackFailed);
    assert_eq!(last.outcome, Outcome::Partial);
    assert_eq!(last.details["reason"], "steps_failed");
}

#[tokio::test]
async fn rerun_after_partial_failure_retries_only_failed() {
    let harness = Harness::new(
        vec![
            intent("deploy-lab", Ring::Lab, &[Intune, Jamf]),
            intent("promote-canary", Ring::Canary, &[Intune]),
        ],
        &[Intune, Jamf],
    );
    harness.plane(Jamf).failures.always(Failure::Permanent);
    let rollback = harness.rollback();
    let first_plan = rollback.plan(&id("deploy-lab"), None).await.unwrap();
    let first = rollback.run(&first_plan, run_options()).await.unwrap();
    harness.plane(Jamf).failures.clear();

    let second_plan = rollback.plan(&id("deploy-lab"), None).await.unwrap();
    let second = rollback.run(&second_plan, run_options()).await.unwrap();

    assert!(second.complete, "{second:?}");
    assert!(second_plan.resumes);
    assert_eq!(second.rollback_id, first.rollback_id);
    assert_eq!(second.started_at, first.started_at);
    assert_eq!(harness.calls(Intune), 2, "one per ring, none repeated");
    assert_eq!(harness.calls(Jamf), 2, "the failed call and its retry");
    let outcomes: Vec<_> = second
        .steps
        .iter()
        .map(|step| (step.ring, step.connector, step.outcome.clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (Ring::Lab, Intune, StepOutcome::Skipped),
            (Ring::Lab, Jamf, StepOutcome::Removed),
            (Ring::Canary, Intune, StepOutcome::Skipped),
        ]
    );
    assert_eq!(harness.status("deploy-lab"), IntentStatus::RolledBack);
    assert_eq!(harness.status("promote-canary"), IntentStatus::RolledBack);
}

#[tokio::test]
async fn rerun_after_success_makes_no_calls() {
    let harness = Harness::new(
        vec![
            intent("deploy-lab", Ring::Lab, &[Intune]),
            intent("promote-canary", Ring::Canary, &[Intune, Jamf]),
        ],
        &[Intune, Jamf],
    );
    let rollback = harness.rollback();
    let plan = rollback.plan(&id("deploy-lab"), None).await.unwrap();
    let first = rollback.run(&plan, run_options()).await.unwrap();
    let updates_after_first = harness.control_plane.status_updates().len();

    let rerun_plan = rollback.plan(&id("deploy-lab"), None).await.unwrap();
    let rerun = rollback.run(&rerun_plan, run_options()).await.unwrap();

    assert!(rerun.complete);
    assert_eq!(rerun.rollback_id, first.rollback_id);
    assert_eq!(rerun.rings, [Ring::Lab, Ring::Canary]);
    assert!(
        rerun
            .steps
            .iter()
            .all(|step| step.outcome == StepOutcome::Skipped),
        "{rerun:?}"
    );
    assert_eq!(harness.calls(Intune), 2);
    assert_eq!(harness.calls(Jamf), 1);
    assert_eq!(
        harness.control_plane.status_updates().len(),
        updates_after_first,
        "statuses already RolledBack are not set again"
    );
}

#[tokio::test]
async fn rollback_id_is_prefixed_recorded_and_reused() {
    let harness = Harness::new(vec![intent("deploy-1", Ring::Lab, &[Intune])], &[Intune]);
    harness.plane(Intune).failures.push([Failure::Permanent]);
    let rollback = harness.rollback();
    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();
    let first = rollback.run(&plan, run_options()).await.unwrap();

    let entries = harness.journal.steps(&id("deploy-1")).await.unwrap();
    let rerun_plan = rollback.plan(&id("deploy-1"), None).await.unwrap();
    let rerun = rollback.run(&rerun_plan, run_options()).await.unwrap();

    assert_eq!(first.rollback_id.prefix(), "rollback");
    assert_eq!(first.rollback_id, plan.rollback_id);
    let recorded_id = entries
        .iter()
        .find(|entry| entry.step == "rollback:id")
        .and_then(|entry| entry.detail.clone());
    assert_eq!(recorded_id.as_deref(), Some(first.rollback_id.as_str()));
    assert!(
        entries
            .iter()
            .any(|entry| entry.step == "rollback:started_at")
    );
    assert_eq!(rerun_plan.rollback_id, first.rollback_id);
    assert_eq!(rerun.rollback_id, first.rollback_id);
    assert!(rerun.complete);
}

#[tokio::test]
async fn ring_limited_rollback_has_its_own_id() {
    let harness = Harness::new(
        vec![
            intent("deploy-lab", Ring::Lab, &[Intune]),
            intent("promote-canary", Ring::Canary, &[Intune]),
        ],
        &[Intune],
    );
    let rollback = harness.rollback();
    let canary_plan = rollback
        .plan(&id("deploy-lab"), Some(Ring::Canary))
        .await
        .unwrap();
    let canary = rollback.run(&canary_plan, run_options()).await.unwrap();

    let full_plan = rollback.plan(&id("deploy-lab"), None).await.unwrap();
    let full = rollback.run(&full_plan, run_options()).await.unwrap();

    assert!(canary.complete);
    assert_eq!(harness.status("promote-canary"), IntentStatus::RolledBack);
    assert_ne!(full.rollback_id, canary.rollback_id);
    assert_eq!(
        full.rings,
        [Ring::Lab],
        "Canary was rolled back by the other rollback"
    );
    assert!(full.complete);
    assert_eq!(harness.status("deploy-lab"), IntentStatus::RolledBack);
    assert_eq!(harness.calls(Intune), 2);
}

#[tokio::test]
async fn step_left_started_by_crash_is_retried() {
    let harness = Harness::new(
        vec![intent("deploy-1", Ring::Canary, &[Intune, Jamf])],
        &[Intune, Jamf],
    );
    let crashed_id = id("rollback-crashed-1");
    let started_at = harness.clock.now().to_rfc3339();
    let journal = &harness.journal;
    journal
        .record(
            &id("deploy-1"),
            "rollback:started_at",
            StepState::Succeeded,
            Some(&started_at),
        )
        .await
        .unwrap();
    journal
        .record(
            &id("deploy-1"),
            "rollback:id",
            StepState::Succeeded,
            Some(crashed_id.as_str()),
        )
        .await
        .unwrap();
    journal
        .record(
            &crashed_id,
            "remove:Intune:Canary",
            StepState::Started,
            None,
        )
        .await
        .unwrap();
    journal
        .record(
            &crashed_id,
            "remove:Jamf:Canary",
            StepState::Succeeded,
            None,
        )
        .await
        .unwrap();
    let rollback = harness.rollback();

    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();
    let report = rollback.run(&plan, run_options()).await.unwrap();

    assert!(plan.resumes);
    assert_eq!(plan.rollback_id, crashed_id);
    assert_eq!(report.rollback_id, crashed_id);
    assert!(report.complete, "{report:?}");
    assert_eq!(harness.calls(Intune), 1);
    assert_eq!(harness.calls(Jamf), 0);
    let steps = journal.steps(&crashed_id).await.unwrap();
    let intune = steps
        .iter()
        .find(|entry| entry.step == "remove:Intune:Canary")
        .unwrap();
    assert_eq!(intune.state, StepState::Succeeded);
}

#[tokio::test]
async fn removal_already_absent_counts_as_success() {
    let harness = Harness::new(vec![intent("deploy-1", Ring::Canary, &[Intune])], &[Intune]);
    let rollback = harness.rollback();
    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();
    let request = plan.steps[0].request.clone();
    harness
        .plane(Intune)
        .remove_application(&request)
        .await
        .unwrap();

    let report = rollback.run(&plan, run_options()).await.unwrap();

    assert_eq!(report.steps[0].outcome, StepOutcome::AlreadyAbsent);
    assert!(report.complete);
    assert_eq!(harness.status("deploy-1"), IntentStatus::RolledBack);
}

#[tokio::test]
async fn throttled_removal_waits_retry_after_then_succeeds() {
    let harness = Harness::new(vec![intent("deploy-1", Ring::Canary, &[Intune])], &[Intune]);
    harness
        .plane(Intune)
        .failures
        .push([Failure::Throttled(Duration::from_secs(30))]);
    let rollback = harness.rollback();
    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();

    let report = rollback.run(&plan, run_options()).await.unwrap();

    assert!(report.complete, "{report:?}");
    assert_eq!(harness.clock.sleeps(), [Duration::from_secs(30)]);
    assert_eq!(harness.calls(Intune), 2);
    let step_event = harness
        .audit
        .events()
        .into_iter()
        .find(|event| event.event_type == AuditEventType::RollbackStepCompleted)
        .unwrap();
    assert_eq!(step_event.details["attempts"], 2);
}

#[tokio::test]
async fn permanent_error_is_not_retried() {
    let harness = Harness::new(vec![intent("deploy-1", Ring::Canary, &[Intune])], &[Intune]);
    harness.plane(Intune).failures.push([Failure::Unauthorized]);
    let rollback = harness.rollback();
    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();

    let report = rollback.run(&plan, run_options()).await.unwrap();

    assert!(!report.complete);
    assert_eq!(harness.calls(Intune), 1);
    assert!(harness.clock.sleeps().is_empty());
}

#[tokio::test]
async fn transient_errors_exhaust_retries_and_fail() {
    let harness = Harness::new(vec![intent("deploy-1", Ring::Canary, &[Intune])], &[Intune]);
    harness.plane(Intune).failures.always(Failure::Timeout);
    let rollback = harness.rollback();
    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();

    let report = rollback.run(&plan, run_options()).await.unwrap();

    assert_eq!(
        harness.calls(Intune),
        5,
        "the default policy makes five attempts"
    );
    let StepOutcome::Failed { error } = &report.steps[0].outcome else {
        panic!("expected a failure, got {:?}", report.steps[0].outcome);
    };
    assert!(error.contains("timed out"), "{error}");
    let entries = harness.journal.steps(&report.rollback_id).await.unwrap();
    assert_eq!(entries[0].step, "remove:Intune:Canary");
    assert_eq!(entries[0].state, StepState::Failed);
    assert!(entries[0].detail.as_deref().unwrap().contains("timed out"));
}

#[tokio::test]
async fn audit_failure_before_start_makes_no_calls() {
    let harness = Harness::new(vec![intent("deploy-1", Ring::Canary, &[Intune])], &[Intune]);
    harness.audit.failures.always(Failure::Transient);
    let rollback = harness.rollback();
    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();

    let error = rollback.run(&plan, run_options()).await.unwrap_err();

    assert!(
        matches!(
            error,
            RollbackError::RecordAudit {
                event: AuditEventType::RollbackStarted,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("fix the audit log"), "{error}");
    assert_eq!(harness.calls(Intune), 0);
    assert!(harness.control_plane.status_updates().is_empty());
}

/// An audit sink that fails every event of one type and records the others.
#[derive(Default)]
struct FailingAuditSink {
    inner: FakeAuditSink,
    fail: Option<AuditEventType>,
}

#[async_trait]
impl AuditSink for FailingAuditSink {
    async fn record(&self, event: &AuditEvent) -> PortResult<()> {
        if self.fail == Some(event.event_type) {
            return Err(PortError::transient(
                "audit log",
                "record event",
                "disk full",
            ));
        }
        self.inner.record(event).await
    }
}

#[tokio::test]
async fn step_audit_failure_stops_and_rerun_repeats_step() {
    let harness = Harness::new(vec![intent("deploy-1", Ring::Canary, &[Intune])], &[Intune]);
    let failing = Arc::new(FailingAuditSink {
        inner: FakeAuditSink::default(),
        fail: Some(AuditEventType::RollbackStepCompleted),
    });
    let mut ports = harness.ports(harness.fake_planes());
    ports.audit = failing.clone();
    let rollback = Rollback::new(ports, config()).unwrap();
    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();

    let error = rollback.run(&plan, run_options()).await.unwrap_err();
    let entries = harness.journal.steps(&plan.rollback_id).await.unwrap();
    let rerun = harness.rollback().run(&plan, run_options()).await.unwrap();

    assert!(
        matches!(
            error,
            RollbackError::RecordAudit {
                event: AuditEventType::RollbackStepCompleted,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        entries[0].state,
        StepState::Started,
        "no outcome without evidence"
    );
    assert_eq!(rerun.steps[0].outcome, StepOutcome::AlreadyAbsent);
    assert!(rerun.complete);
    assert_eq!(harness.calls(Intune), 2);
}

#[tokio::test]
async fn journal_failure_makes_no_calls() {
    let harness = Harness::new(vec![intent("deploy-1", Ring::Canary, &[Intune])], &[Intune]);
    let rollback = harness.rollback();
    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();
    harness.journal.failures.push([Failure::Transient]);

    let error = rollback.run(&plan, run_options()).await.unwrap_err();

    assert!(
        matches!(error, RollbackError::ReadJournal { .. }),
        "{error:?}"
    );
    assert_eq!(harness.calls(Intune), 0);
    assert!(harness.audit.events().is_empty());
}

#[tokio::test]
async fn status_update_failure_is_retried_by_rerun() {
    let harness = Harness::new(vec![intent("deploy-1", Ring::Canary, &[Intune])], &[Intune]);
    let rollback = harness.rollback();
    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();
    harness.control_plane.failures.push([Failure::Transient]);

    let error = rollback.run(&plan, run_options()).await.unwrap_err();
    let rerun = rollback.run(&plan, run_options()).await.unwrap();

    assert!(
        matches!(error, RollbackError::UpdateStatus { .. }),
        "{error:?}"
    );
    assert!(rerun.complete);
    assert_eq!(harness.calls(Intune), 1);
    assert_eq!(harness.status("deploy-1"), IntentStatus::RolledBack);
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let harness = Harness::new(
        vec![
            intent("deploy-lab", Ring::Lab, &[Intune]),
            intent("promote-canary", Ring::Canary, &[Jamf]),
        ],
        &[Intune, Jamf],
    );
    let rollback = harness.rollback();
    let plan = rollback.plan(&id("deploy-lab"), None).await.unwrap();

    let report = rollback
        .run(
            &plan,
            RunOptions {
                dry_run: true,
                ..RunOptions::default()
            },
        )
        .await
        .unwrap();

    assert!(report.dry_run);
    assert!(!report.complete);
    assert_eq!(report.rollback_id, plan.rollback_id);
    assert!(
        report
            .steps
            .iter()
            .all(|step| step.outcome == StepOutcome::Planned)
    );
    assert_eq!(harness.total_calls(), 0);
    assert!(harness.audit.events().is_empty());
    assert!(harness.notifier.sent().is_empty());
    assert!(harness.control_plane.status_updates().is_empty());
    assert!(
        harness
            .journal
            .steps(&id("deploy-lab"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        harness
            .journal
            .steps(&plan.rollback_id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn log_lines_carry_both_correlation_ids() {
    let harness = Harness::new(
        vec![intent("deploy-1", Ring::Canary, &[Intune, Jamf])],
        &[Intune, Jamf],
    );
    harness
        .plane(Jamf)
        .failures
        .push([Failure::Throttled(Duration::from_secs(5))]);
    let rollback = harness.rollback();
    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();

    let report = {
        let _default = tracing::subscriber::set_default(subscriber);
        rollback.run(&plan, run_options()).await.unwrap()
    };

    let lines = buffer.lines();
    assert!(lines.len() >= 4, "{lines:#?}");
    let rollback_field = format!("correlation_id={}", report.rollback_id);
    for line in &lines {
        assert!(line.contains(&rollback_field), "{line}");
        assert!(line.contains("intent_correlation_id=deploy-1"), "{line}");
    }
    assert!(
        lines
            .iter()
            .any(|line| line.contains("connector=Jamf") && line.contains("retrying")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn run_many_rolls_back_all_within_bound() {
    let mut intents = Vec::new();
    let connectors = [Intune, Jamf, Sccm, Landscape, Ansible];
    for index in 0..40 {
        let mut lab = intent(&format!("deploy-{index}"), Ring::Lab, &connectors);
        lab.application_id = format!("app-{index}");
        intents.push(lab);
    }
    let ids: Vec<_> = intents
        .iter()
        .map(|intent| intent.correlation_id.clone())
        .collect();
    let harness = Harness::new(intents, &connectors);
    for plane in harness.planes.values() {
        plane
            .failures
            .push(vec![Failure::Throttled(Duration::from_secs(2)); 3]);
    }
    let in_flight = Arc::new(InFlight::default());
    let planes: BTreeMap<ConnectorKind, Arc<dyn ExecutionPlane>> = harness
        .planes
        .iter()
        .map(|(kind, plane)| {
            let counting = CountingPlane {
                inner: Arc::clone(plane),
                in_flight: Arc::clone(&in_flight),
            };
            (*kind, Arc::new(counting) as Arc<dyn ExecutionPlane>)
        })
        .collect();
    let rollback = Rollback::new(
        harness.ports(planes),
        RollbackConfig {
            concurrency: 6,
            ..config()
        },
    )
    .unwrap();

    let plans = rollback
        .plan_many(&ids, None)
        .await
        .unwrap()
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let results = rollback.run_many(plans, run_options()).await;

    assert_eq!(results.len(), 40);
    for (result, intent_id) in results.iter().zip(&ids) {
        let report = result.as_ref().unwrap();
        assert_eq!(&report.intent_id, intent_id);
        assert!(report.complete, "{report:?}");
    }
    assert!(in_flight.max() <= 6, "{} calls in flight", in_flight.max());
    assert_eq!(harness.total_calls(), 40 * 5 + 5 * 3);
    assert_eq!(harness.clock.sleeps().len(), 15);
}

/// A journal that fails to record `Started` steps and keeps everything else.
#[derive(Default)]
struct NoStartJournal {
    inner: ops_testkit::FakeJournal,
}

#[async_trait]
impl Journal for NoStartJournal {
    async fn record(
        &self,
        operation: &ops_core::CorrelationId,
        step: &str,
        state: StepState,
        detail: Option<&str>,
    ) -> PortResult<()> {
        if state == StepState::Started {
            return Err(PortError::transient(
                "journal",
                "record step",
                "database is locked",
            ));
        }
        self.inner.record(operation, step, state, detail).await
    }

    async fn steps(
        &self,
        operation: &ops_core::CorrelationId,
    ) -> PortResult<Vec<ops_core::ports::journal::JournalEntry>> {
        self.inner.steps(operation).await
    }
}

#[tokio::test]
async fn unrecorded_start_makes_no_call() {
    let harness = Harness::new(vec![intent("deploy-1", Ring::Canary, &[Intune])], &[Intune]);
    let mut ports = harness.ports(harness.fake_planes());
    ports.journal = Arc::new(NoStartJournal::default());
    let rollback = Rollback::new(ports, config()).unwrap();
    let plan = rollback.plan(&id("deploy-1"), None).await.unwrap();

    let error = rollback.run(&plan, run_options()).await.unwrap_err();

    assert!(
        matches!(error, RollbackError::WriteJournal { ref step, .. } if step == "remove:Intune:Canary"),
        "{error:?}"
    );
    assert_eq!(harness.calls(Intune), 0);
    assert!(harness.control_plane.status_updates().is_empty());
}

#[tokio::test]
async fn corrupt_rollback_id_is_reported() {
    let harness = Harness::new(vec![intent("deploy-1", Ring::Canary, &[Intune])], &[Intune]);
    harness
        .journal
        .record(
            &id("deploy-1"),
            "rollback:id",
            StepState::Succeeded,
            Some("deploy-not-a-rollback"),
        )
        .await
        .unwrap();

    let error = harness
        .rollback()
        .plan(&id("deploy-1"), None)
        .await
        .unwrap_err();

    assert!(
        matches!(error, RollbackError::CorruptJournal { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("deploy-not-a-rollback"), "{message}");
    assert!(message.contains("rollback:id"), "{message}");
}

#[tokio::test]
async fn control_plane_failure_is_not_bad_input() {
    let harness = Harness::new(vec![intent("deploy-1", Ring::Canary, &[Intune])], &[Intune]);
    harness.control_plane.failures.always(Failure::Transient);

    let error = harness
        .rollback()
        .plan(&id("deploy-1"), None)
        .await
        .unwrap_err();

    assert!(
        matches!(error, RollbackError::LoadIntent { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("deploy-1"), "{error}");
    assert!(!error.is_bad_input());
}

#[tokio::test]
async fn rate_limited_plane_calls_are_spaced() {
    let intents: Vec<_> = (1..=5)
        .map(|index| {
            let mut intent = intent(&format!("deploy-{index}"), Ring::Canary, &[Jamf]);
            intent.application_id = format!("app-{index}");
            intent
        })
        .collect();
    let ids: Vec<_> = intents
        .iter()
        .map(|intent| intent.correlation_id.clone())
        .collect();
    let harness = Harness::new(intents, &[Jamf]);
    let mut config = config();
    config.rate_limits = BTreeMap::from([(Jamf, 2.0)]);
    let rollback = harness.rollback_with(config);

    let plans = rollback
        .plan_many(&ids, None)
        .await
        .unwrap()
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let reports = rollback.run_many(plans, run_options()).await;

    assert!(
        reports
            .iter()
            .all(|report| report.as_ref().unwrap().complete)
    );
    assert_eq!(harness.calls(Jamf), 5);
    let waited: Duration = harness.clock.sleeps().iter().sum();
    assert!(
        waited >= Duration::from_millis(1500) && waited <= Duration::from_millis(2500),
        "five calls at two per second need about two seconds of pauses, waited {waited:?}"
    );
}

#[test]
fn rate_limit_must_be_positive() {
    let mut config = config();
    config.rate_limits = BTreeMap::from([(Intune, 0.0)]);
    let error = config.validate().unwrap_err();
    assert!(
        matches!(error, RollbackError::InvalidRateLimit { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("[rollback.rate_limits] Intune"),
        "{error}"
    );
}
