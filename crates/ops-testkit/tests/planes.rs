//! Behaviour tests of the control-plane, journal, execution-plane, incidents and clock fakes,
//! and of the scripted failures they share.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ops_core::intent::DeploymentStatus;
use ops_core::ports::journal::StepState;
use ops_core::ports::{
    Clock, ControlPlane, ExecutionPlane, IncidentSummary, Incidents, IntentFilter, Journal,
    RemovalOutcome, RemovalRequest, SubmitOutcome,
};
use ops_core::{
    ConnectorKind, CorrelationId, DeployedApp, DeploymentIntent, ErrorKind, IntentStatus, Platform,
    Ring, Severity,
};
use ops_testkit::{
    Failure, FakeClock, FakeControlPlane, FakeExecutionPlane, FakeIncidents, FakeJournal,
    assert_port_error,
};

fn id(text: &str) -> CorrelationId {
    CorrelationId::parse(text).unwrap()
}

fn start_of_2026() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap()
}

fn intent(correlation_id: &str, app_name: &str, ring: Ring) -> DeploymentIntent {
    DeploymentIntent {
        correlation_id: id(correlation_id),
        application_id: format!("app-{app_name}"),
        app_name: app_name.to_owned(),
        version: "120.0".to_owned(),
        ring,
        platform: Platform::Windows,
        version_scheme: None,
        connectors: vec![ConnectorKind::Intune],
        status: IntentStatus::Approved,
        deployment: None,
        high_risk: false,
        cab_approval: None,
    }
}

fn app(name: &str, version: &str) -> DeployedApp {
    DeployedApp {
        name: name.to_owned(),
        version: version.to_owned(),
        platform: Platform::Windows,
        devices: 10,
    }
}

fn removal(app_name: &str, version: &str, ring: Ring) -> RemovalRequest {
    RemovalRequest {
        correlation_id: id("rollback-1"),
        application_id: format!("app-{app_name}-{version}"),
        app_name: app_name.to_owned(),
        version: version.to_owned(),
        platform: Platform::Windows,
        ring,
    }
}

fn incident(incident_id: &str, deployment: Option<&str>) -> IncidentSummary {
    IncidentSummary {
        id: id(incident_id),
        severity: Severity::P1,
        deployment: deployment.map(id),
        ring: Some(Ring::Canary),
        title: "Crash rate above gate".to_owned(),
        raised_at: start_of_2026(),
        open: true,
    }
}

fn correlation_ids(intents: &[DeploymentIntent]) -> Vec<&str> {
    intents
        .iter()
        .map(|intent| intent.correlation_id.as_str())
        .collect()
}

#[tokio::test]
async fn stored_intent_is_returned() {
    let stored = intent("deploy-1", "Google Chrome", Ring::Canary);
    let plane = FakeControlPlane::with_intents([stored.clone()]);

    let found = plane.intent(&id("deploy-1")).await.unwrap();

    assert_eq!(found, Some(stored.clone()));
    assert_eq!(plane.stored(&id("deploy-1")), Some(stored));
    assert_eq!(plane.intent(&id("deploy-2")).await.unwrap(), None);
}

#[tokio::test]
async fn intents_sorted_by_ring_name_version() {
    let mut newer = intent("deploy-1", "Google Chrome", Ring::Canary);
    newer.version = "121.0".to_owned();
    let plane = FakeControlPlane::with_intents([
        intent("deploy-2", "Zoom", Ring::Lab),
        newer,
        intent("deploy-3", "Google Chrome", Ring::Canary),
        intent("deploy-4", "Firefox", Ring::Canary),
    ]);

    let intents = plane.intents(&IntentFilter::default()).await.unwrap();

    let expected = ["deploy-2", "deploy-4", "deploy-3", "deploy-1"];
    assert_eq!(correlation_ids(&intents), expected);
}

#[tokio::test]
async fn intents_filtered_by_ring() {
    let plane = FakeControlPlane::with_intents([
        intent("deploy-1", "Google Chrome", Ring::Lab),
        intent("deploy-2", "Google Chrome", Ring::Canary),
    ]);
    let filter = IntentFilter {
        ring: Some(Ring::Canary),
        approved_only: false,
    };

    let intents = plane.intents(&filter).await.unwrap();

    assert_eq!(correlation_ids(&intents), ["deploy-2"]);
}

#[tokio::test]
async fn intents_filtered_by_approval() {
    let mut pending = intent("deploy-2", "Zoom", Ring::Lab);
    pending.status = IntentStatus::Pending;
    let plane =
        FakeControlPlane::with_intents([intent("deploy-1", "Google Chrome", Ring::Lab), pending]);
    let filter = IntentFilter {
        ring: None,
        approved_only: true,
    };

    let intents = plane.intents(&filter).await.unwrap();

    assert_eq!(correlation_ids(&intents), ["deploy-1"]);
}

#[tokio::test]
async fn update_status_changes_intent() {
    let plane = FakeControlPlane::with_intents([intent("deploy-1", "Zoom", Ring::Lab)]);

    plane
        .update_status(&id("deploy-1"), IntentStatus::RolledBack)
        .await
        .unwrap();

    let stored = plane.stored(&id("deploy-1")).unwrap();
    assert_eq!(stored.status, IntentStatus::RolledBack);
    let expected = [(id("deploy-1"), IntentStatus::RolledBack)];
    assert_eq!(plane.status_updates(), expected);
}

#[tokio::test]
async fn repeated_status_update_succeeds() {
    let plane = FakeControlPlane::with_intents([intent("deploy-1", "Zoom", Ring::Lab)]);

    for _ in 0..2 {
        plane
            .update_status(&id("deploy-1"), IntentStatus::RolledBack)
            .await
            .unwrap();
    }

    let stored = plane.stored(&id("deploy-1")).unwrap();
    assert_eq!(stored.status, IntentStatus::RolledBack);
    assert_eq!(plane.status_updates().len(), 2);
}

#[tokio::test]
async fn update_unknown_intent_not_found() {
    let plane = FakeControlPlane::default();

    let error = plane
        .update_status(&id("deploy-9"), IntentStatus::RolledBack)
        .await
        .unwrap_err();

    assert_port_error(&error, ErrorKind::NotFound, "deploy-9");
    assert!(plane.status_updates().is_empty());
}

#[tokio::test]
async fn deployment_status_returns_reported_counts() {
    let counts = DeploymentStatus {
        devices_targeted: 100,
        devices_succeeded: 90,
        devices_failed: 2,
        deployed_at: Some(start_of_2026()),
    };
    let mut reported = intent("deploy-1", "Zoom", Ring::Lab);
    reported.deployment = Some(counts);
    let plane =
        FakeControlPlane::with_intents([reported, intent("deploy-2", "Google Chrome", Ring::Lab)]);

    let status = plane.deployment_status(&id("deploy-1")).await.unwrap();

    assert_eq!(status, Some(counts));
    assert_eq!(
        plane.deployment_status(&id("deploy-2")).await.unwrap(),
        None
    );
    assert_eq!(
        plane.deployment_status(&id("deploy-9")).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn submitted_intent_is_stored() {
    let plane = FakeControlPlane::default();
    let submitted = intent("promote-1", "Zoom", Ring::Pilot);

    let outcome = plane.submit(&submitted).await.unwrap();

    assert_eq!(outcome, SubmitOutcome::Created);
    assert_eq!(plane.stored(&id("promote-1")), Some(submitted));
    assert_eq!(plane.submissions(), [id("promote-1")]);
}

#[tokio::test]
async fn resubmitted_intent_changes_nothing() {
    let plane = FakeControlPlane::default();
    let submitted = intent("promote-1", "Zoom", Ring::Pilot);
    plane.submit(&submitted).await.unwrap();
    let mut retried = submitted.clone();
    retried.status = IntentStatus::Pending;

    let outcome = plane.submit(&retried).await.unwrap();

    assert_eq!(outcome, SubmitOutcome::AlreadyExists);
    assert_eq!(plane.stored(&id("promote-1")), Some(submitted));
    assert_eq!(plane.submissions().len(), 1);
}

#[tokio::test]
async fn approved_duplicate_already_exists() {
    let plane = FakeControlPlane::with_intents([intent("deploy-1", "Zoom", Ring::Pilot)]);

    let outcome = plane
        .submit(&intent("promote-1", "Zoom", Ring::Pilot))
        .await
        .unwrap();

    assert_eq!(outcome, SubmitOutcome::AlreadyExists);
    assert_eq!(plane.stored(&id("promote-1")), None);
    assert!(plane.submissions().is_empty());
}

#[tokio::test]
async fn pending_duplicate_is_created() {
    let plane = FakeControlPlane::with_intents([intent("deploy-1", "Zoom", Ring::Pilot)]);
    let mut pending = intent("promote-1", "Zoom", Ring::Pilot);
    pending.status = IntentStatus::Pending;

    let outcome = plane.submit(&pending).await.unwrap();

    assert_eq!(outcome, SubmitOutcome::Created);
    assert_eq!(plane.submissions(), [id("promote-1")]);
}

#[tokio::test]
async fn control_plane_reports_health_and_counts() {
    let plane = FakeControlPlane::with_intents([
        intent("deploy-1", "Zoom", Ring::Lab),
        intent("deploy-2", "Google Chrome", Ring::Lab),
    ]);

    let health = plane.health().await.unwrap();
    let metrics = plane.store_metrics().await.unwrap();

    assert!(health.healthy);
    assert_eq!(metrics.event_count, 2);
    assert_eq!(metrics.evidence_pack_count, 0);
}

#[tokio::test]
async fn control_plane_failure_fails_every_method() {
    let plane = FakeControlPlane::with_intents([intent("deploy-1", "Zoom", Ring::Lab)]);
    plane
        .failures
        .push(std::iter::repeat_n(Failure::Transient, 7));
    let deploy = id("deploy-1");

    let errors = [
        plane.intent(&deploy).await.unwrap_err(),
        plane.intents(&IntentFilter::default()).await.unwrap_err(),
        plane
            .update_status(&deploy, IntentStatus::RolledBack)
            .await
            .unwrap_err(),
        plane.deployment_status(&deploy).await.unwrap_err(),
        plane
            .submit(&intent("promote-1", "Zoom", Ring::Canary))
            .await
            .unwrap_err(),
        plane.health().await.unwrap_err(),
        plane.store_metrics().await.unwrap_err(),
    ];

    let operations = [
        "control plane get intent failed",
        "control plane list intents failed",
        "control plane update intent status failed",
        "control plane get deployment status failed",
        "control plane submit intent failed",
        "control plane health failed",
        "control plane store metrics failed",
    ];
    for (error, operation) in errors.iter().zip(operations) {
        assert_port_error(error, ErrorKind::Transient, operation);
    }
    assert_eq!(
        plane.stored(&deploy).unwrap().status,
        IntentStatus::Approved
    );
    assert!(plane.status_updates().is_empty());
    assert!(plane.submissions().is_empty());
}

#[tokio::test]
async fn journal_steps_in_first_order() {
    let journal = FakeJournal::default();
    let operation = id("rollback-1");
    journal
        .record(&operation, "remove:Intune:Canary", StepState::Started, None)
        .await
        .unwrap();
    journal
        .record(&operation, "remove:Jamf:Canary", StepState::Started, None)
        .await
        .unwrap();

    journal
        .record(
            &operation,
            "remove:Intune:Canary",
            StepState::Succeeded,
            Some("removed"),
        )
        .await
        .unwrap();

    let steps = journal.steps(&operation).await.unwrap();
    let names: Vec<&str> = steps.iter().map(|entry| entry.step.as_str()).collect();
    assert_eq!(names, ["remove:Intune:Canary", "remove:Jamf:Canary"]);
    assert_eq!(steps[0].state, StepState::Succeeded);
    assert_eq!(steps[0].detail.as_deref(), Some("removed"));
    assert_eq!(steps[0].operation, operation);
    assert_eq!(steps[1].state, StepState::Started);
}

#[tokio::test]
async fn journal_kept_per_operation() {
    let journal = FakeJournal::default();
    journal
        .record(
            &id("rollback-1"),
            "remove:Intune:Canary",
            StepState::Failed,
            Some("HTTP 503"),
        )
        .await
        .unwrap();

    let other = journal.steps(&id("rollback-2")).await.unwrap();

    assert!(other.is_empty());
}

#[tokio::test]
async fn failed_journal_record_keeps_nothing() {
    let journal = FakeJournal::default();
    let operation = id("rollback-1");
    journal
        .failures
        .push([Failure::Transient, Failure::Timeout]);

    let record = journal
        .record(&operation, "remove:Intune:Canary", StepState::Started, None)
        .await
        .unwrap_err();
    let steps = journal.steps(&operation).await.unwrap_err();

    assert_port_error(&record, ErrorKind::Transient, "journal record step failed");
    assert_port_error(&steps, ErrorKind::Transient, "journal read steps failed");
    assert!(journal.steps(&operation).await.unwrap().is_empty());
}

#[tokio::test]
async fn execution_plane_reports_kind_and_health() {
    let plane = FakeExecutionPlane::new(ConnectorKind::Jamf);

    let health = plane.health().await.unwrap();

    assert_eq!(plane.kind(), ConnectorKind::Jamf);
    assert!(health.healthy);
    assert!(health.detail.contains("Jamf"), "{}", health.detail);
}

#[tokio::test]
async fn deployed_apps_listed_per_ring() {
    let plane = FakeExecutionPlane::new(ConnectorKind::Intune);
    plane.deploy(Ring::Canary, app("Google Chrome", "120.0"));
    plane.deploy(Ring::Canary, app("Zoom", "6.1"));
    plane.deploy(Ring::Pilot, app("Zoom", "6.0"));

    let canary = plane.deployed_applications(Ring::Canary).await.unwrap();

    assert_eq!(canary, [app("Google Chrome", "120.0"), app("Zoom", "6.1")]);
    assert!(
        plane
            .deployed_applications(Ring::Lab)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn deployed_apps_are_distinct() {
    let plane = FakeExecutionPlane::new(ConnectorKind::Intune);
    plane.deploy(Ring::Canary, app("Zoom", "6.1"));
    plane.deploy(Ring::Canary, app("Zoom", "6.1"));

    let canary = plane.deployed_applications(Ring::Canary).await.unwrap();

    assert_eq!(canary, [app("Zoom", "6.1")]);
}

#[tokio::test]
async fn removal_removes_from_ring_only() {
    let plane = FakeExecutionPlane::new(ConnectorKind::Intune);
    plane.deploy(Ring::Canary, app("Google Chrome", "120.0"));
    plane.deploy(Ring::Canary, app("Zoom", "6.1"));
    plane.deploy(Ring::Pilot, app("Google Chrome", "120.0"));

    let outcome = plane
        .remove_application(&removal("Google Chrome", "120.0", Ring::Canary))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::Removed);
    let canary = plane.deployed_applications(Ring::Canary).await.unwrap();
    assert_eq!(canary, [app("Zoom", "6.1")]);
    let pilot = plane.deployed_applications(Ring::Pilot).await.unwrap();
    assert_eq!(pilot, [app("Google Chrome", "120.0")]);
}

#[tokio::test]
async fn second_removal_is_already_absent() {
    let plane = FakeExecutionPlane::new(ConnectorKind::Intune);
    plane.deploy(Ring::Canary, app("Google Chrome", "120.0"));
    let request = removal("Google Chrome", "120.0", Ring::Canary);
    plane.remove_application(&request).await.unwrap();

    let outcome = plane.remove_application(&request).await.unwrap();

    assert_eq!(outcome, RemovalOutcome::AlreadyAbsent);
}

#[tokio::test]
async fn removing_undeployed_app_is_absent() {
    let plane = FakeExecutionPlane::new(ConnectorKind::Intune);

    let outcome = plane
        .remove_application(&removal("Google Chrome", "120.0", Ring::Canary))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::AlreadyAbsent);
}

#[tokio::test]
async fn removal_keeps_other_versions() {
    let plane = FakeExecutionPlane::new(ConnectorKind::Intune);
    plane.deploy(Ring::Canary, app("Google Chrome", "119.0"));
    plane.deploy(Ring::Canary, app("Google Chrome", "120.0"));

    plane
        .remove_application(&removal("Google Chrome", "120.0", Ring::Canary))
        .await
        .unwrap();

    let canary = plane.deployed_applications(Ring::Canary).await.unwrap();
    assert_eq!(canary, [app("Google Chrome", "119.0")]);
}

#[tokio::test]
async fn removal_calls_include_failed_ones() {
    let plane = FakeExecutionPlane::new(ConnectorKind::Sccm);
    plane.deploy(Ring::Canary, app("Google Chrome", "120.0"));
    plane.failures.push([Failure::Transient]);
    let request = removal("Google Chrome", "120.0", Ring::Canary);

    let failed = plane.remove_application(&request).await.unwrap_err();
    let retried = plane.remove_application(&request).await.unwrap();

    assert_port_error(
        &failed,
        ErrorKind::Transient,
        "SCCM remove application failed",
    );
    assert_eq!(retried, RemovalOutcome::Removed);
    assert_eq!(plane.removal_calls(), [request.clone(), request]);
}

#[tokio::test]
async fn failed_removal_keeps_app_deployed() {
    let plane = FakeExecutionPlane::new(ConnectorKind::Intune);
    plane.deploy(Ring::Canary, app("Google Chrome", "120.0"));
    plane.failures.push([Failure::Permanent]);

    let result = plane
        .remove_application(&removal("Google Chrome", "120.0", Ring::Canary))
        .await;

    assert!(result.is_err());
    let canary = plane.deployed_applications(Ring::Canary).await.unwrap();
    assert_eq!(canary, [app("Google Chrome", "120.0")]);
}

#[tokio::test]
async fn execution_plane_failure_names_connector() {
    let plane = FakeExecutionPlane::new(ConnectorKind::Landscape);
    plane
        .failures
        .push(std::iter::repeat_n(Failure::Transient, 2));

    let list = plane.deployed_applications(Ring::Lab).await.unwrap_err();
    let health = plane.health().await.unwrap_err();

    assert_port_error(
        &list,
        ErrorKind::Transient,
        "Landscape list applications failed",
    );
    assert_port_error(&health, ErrorKind::Transient, "Landscape health failed");
}

#[tokio::test]
async fn throttled_removal_carries_retry_after() {
    let plane = FakeExecutionPlane::new(ConnectorKind::Intune);
    plane
        .failures
        .push([Failure::Throttled(Duration::from_secs(42))]);

    let error = plane
        .remove_application(&removal("Google Chrome", "120.0", Ring::Canary))
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Throttled);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(42)));
    assert!(error.is_retryable());
}

#[tokio::test]
async fn failures_map_to_error_kinds() {
    let cases = [
        (
            Failure::Throttled(Duration::from_secs(1)),
            ErrorKind::Throttled,
            "HTTP 429",
        ),
        (Failure::Transient, ErrorKind::Transient, "HTTP 503"),
        (Failure::Timeout, ErrorKind::Transient, "timed out"),
        (Failure::NotFound, ErrorKind::NotFound, "HTTP 404"),
        (Failure::Unauthorized, ErrorKind::Unauthorized, "HTTP 401"),
        (Failure::Permanent, ErrorKind::Permanent, "HTTP 400"),
    ];
    let plane = FakeExecutionPlane::new(ConnectorKind::Jamf);

    for (failure, kind, message) in cases {
        plane.failures.push([failure]);
        let error = plane.health().await.unwrap_err();
        assert_port_error(&error, kind, message);
    }
}

#[tokio::test]
async fn only_throttled_failure_has_retry_after() {
    let plane = FakeExecutionPlane::new(ConnectorKind::Jamf);
    plane.failures.push([Failure::Transient]);

    let error = plane.health().await.unwrap_err();

    assert_eq!(error.retry_after(), None);
}

#[tokio::test]
async fn queued_failures_come_in_order() {
    let plane = FakeExecutionPlane::new(ConnectorKind::Jamf);
    plane.failures.push([Failure::Timeout]);
    plane.failures.push([Failure::Unauthorized]);

    let first = plane.health().await.unwrap_err();
    let second = plane.health().await.unwrap_err();

    assert_eq!(first.kind(), ErrorKind::Transient);
    assert_eq!(second.kind(), ErrorKind::Unauthorized);
    assert!(plane.health().await.is_ok());
}

#[tokio::test]
async fn clear_drops_all_failures() {
    let plane = FakeExecutionPlane::new(ConnectorKind::Jamf);
    plane
        .failures
        .push([Failure::Permanent, Failure::Permanent]);
    plane.failures.always(Failure::Transient);

    plane.failures.clear();

    assert!(plane.health().await.is_ok());
    assert!(plane.health().await.is_ok());
    assert!(plane.health().await.is_ok());
}

#[tokio::test]
async fn raised_incident_is_recorded() {
    let incidents = FakeIncidents::default();
    let raised = incident("incident-1", Some("deploy-1"));

    let stored = incidents.raise(&raised).await.unwrap();

    assert_eq!(stored, raised);
    assert_eq!(incidents.all(), [raised]);
}

#[tokio::test]
async fn raising_twice_returns_stored_incident() {
    let incidents = FakeIncidents::default();
    let first = incident("incident-1", Some("deploy-1"));
    incidents.raise(&first).await.unwrap();
    let mut retried = first.clone();
    retried.title = "Crash rate above gate, retried".to_owned();

    let stored = incidents.raise(&retried).await.unwrap();

    assert_eq!(stored, first);
    assert_eq!(incidents.all(), [first]);
}

#[tokio::test]
async fn open_incidents_filtered_by_deployment() {
    let incidents = FakeIncidents::default();
    let about_deploy = incident("incident-1", Some("deploy-1"));
    incidents.raise(&about_deploy).await.unwrap();
    incidents
        .raise(&incident("incident-2", Some("deploy-2")))
        .await
        .unwrap();
    incidents
        .raise(&incident("incident-3", None))
        .await
        .unwrap();

    let open = incidents
        .open_for_deployment(&id("deploy-1"))
        .await
        .unwrap();

    assert_eq!(open, [about_deploy]);
}

#[tokio::test]
async fn resolved_incident_is_not_open() {
    let incidents = FakeIncidents::default();
    incidents
        .raise(&incident("incident-1", Some("deploy-1")))
        .await
        .unwrap();

    incidents.resolve(&id("incident-1")).await.unwrap();

    let open = incidents
        .open_for_deployment(&id("deploy-1"))
        .await
        .unwrap();
    assert!(open.is_empty());
    let all = incidents.all();
    assert_eq!(all.len(), 1);
    assert!(!all[0].open);
}

#[tokio::test]
async fn resolve_unknown_incident_not_found() {
    let incidents = FakeIncidents::default();

    let error = incidents.resolve(&id("incident-9")).await.unwrap_err();

    assert_port_error(&error, ErrorKind::NotFound, "no incident has id incident-9");
}

#[tokio::test]
async fn incidents_failure_fails_every_method() {
    let incidents = FakeIncidents::default();
    incidents
        .failures
        .push(std::iter::repeat_n(Failure::Transient, 3));

    let errors = [
        incidents
            .open_for_deployment(&id("deploy-1"))
            .await
            .unwrap_err(),
        incidents
            .raise(&incident("incident-1", Some("deploy-1")))
            .await
            .unwrap_err(),
        incidents.resolve(&id("incident-1")).await.unwrap_err(),
    ];

    let operations = [
        "incidents list open incidents failed",
        "incidents raise incident failed",
        "incidents resolve incident failed",
    ];
    for (error, operation) in errors.iter().zip(operations) {
        assert_port_error(error, ErrorKind::Transient, operation);
    }
    assert!(incidents.all().is_empty());
}

#[tokio::test]
async fn default_clock_starts_2026() {
    let clock = FakeClock::default();

    assert_eq!(clock.now(), start_of_2026());
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn clock_moves_only_when_advanced() {
    let start = start_of_2026() + chrono::Duration::days(30);
    let clock = FakeClock::at(start);
    assert_eq!(clock.now(), start);

    clock.advance(Duration::from_secs(90));

    assert_eq!(clock.now(), start + chrono::Duration::seconds(90));
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn sleeps_recorded_and_advance_time() {
    let clock = FakeClock::default();

    clock.sleep(Duration::from_secs(30)).await;
    clock.sleep(Duration::from_secs(4 * 3600)).await;

    let expected = [Duration::from_secs(30), Duration::from_secs(4 * 3600)];
    assert_eq!(clock.sleeps(), expected);
    let elapsed = clock.now() - start_of_2026();
    assert_eq!(elapsed, chrono::Duration::seconds(30 + 4 * 3600));
}
