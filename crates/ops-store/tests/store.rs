//! The SQLite store on real database files.

use std::path::Path;

use chrono::{TimeZone, Utc};
use ops_core::ports::control_plane::{IntentFilter, SubmitOutcome};
use ops_core::ports::journal::StepState;
use ops_core::ports::{ControlPlane, Journal};
use ops_core::{CorrelationId, DeploymentIntent, ErrorKind, IntentStatus, Ring};
use ops_store::{ImportMode, SqliteStore, StoreError, intents_file, migrations};

const INTENTS: &str = r#"[
  {"correlation_id": "deploy-1", "application_id": "a1", "app_name": "curl", "version": "7.88.1-10",
   "ring": "Canary", "platform": "debian", "connectors": ["Landscape"], "status": "Deployed",
   "devices_targeted": 40, "devices_succeeded": 38, "devices_failed": 1, "deployed_at": "2026-11-30T08:00:00Z"},
  {"correlation_id": "deploy-2", "application_id": "a2", "app_name": "Google Chrome", "version": "120.0.6099.130",
   "ring": "Pilot", "platform": "windows", "connectors": ["Intune", "SCCM"], "status": "Approved"},
  {"correlation_id": "deploy-3", "application_id": "a3", "app_name": "Slack", "version": "4.36",
   "ring": "Canary", "platform": "macos", "connectors": ["Jamf"], "status": "Pending"}
]"#;

/// The error type of a `before_commit` hook in these tests.
#[derive(Debug)]
enum Failure {
    Audit,
    #[allow(dead_code)] // Only constructed through `From`, when a store call fails.
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        Failure::Store(error)
    }
}

fn intents() -> Vec<DeploymentIntent> {
    intents_file::parse(INTENTS.as_bytes(), Path::new("intents.json")).unwrap()
}

fn id(text: &str) -> CorrelationId {
    CorrelationId::parse(text).unwrap()
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
}

fn import(store: &SqliteStore, intents: &[DeploymentIntent]) -> ops_store::ImportSummary {
    store
        .import(intents, now(), ImportMode::Apply, |_| {
            Ok::<(), StoreError>(())
        })
        .unwrap()
}

fn schema_version(path: &Path) -> i64 {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap()
}

#[test]
fn empty_directory_gets_latest_schema() {
    let directory = tempfile::tempdir().unwrap();
    let state_dir = directory.path().join("nested/state");
    let store = SqliteStore::open(&state_dir).unwrap();
    assert_eq!(schema_version(store.path()), migrations::latest_version());
    assert!(state_dir.join("ops.db").is_file());
}

#[tokio::test]
async fn existing_store_keeps_data_across_reopen() {
    let directory = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(directory.path()).unwrap();
        import(&store, &intents());
    }
    let store = SqliteStore::open(directory.path()).unwrap();
    assert_eq!(schema_version(store.path()), migrations::latest_version());
    let all = store.intents(&IntentFilter::default()).await.unwrap();
    assert_eq!(all.len(), 3);
}

#[test]
fn store_from_newer_ops_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("ops.db");
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection.pragma_update(None, "user_version", 99).unwrap();
    drop(connection);
    let error = SqliteStore::open(directory.path()).unwrap_err();
    assert!(
        matches!(error, StoreError::SchemaTooNew { found: 99, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("upgrade ops"), "{error}");
}

#[test]
fn state_dir_that_is_a_file_is_an_error_naming_it() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let error = SqliteStore::open(&file.path().join("state")).unwrap_err();
    assert!(
        matches!(error, StoreError::CreateStateDir { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains(&file.path().display().to_string()),
        "{error}"
    );
}

#[tokio::test]
async fn import_round_trips_every_field() {
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(directory.path()).unwrap();
    let summary = import(&store, &intents());
    assert_eq!(summary.created, 3);

    for expected in intents() {
        let stored = store
            .intent(&expected.correlation_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored, expected);
    }
    let status = store
        .deployment_status(&id("deploy-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.devices_succeeded, 38);
    assert_eq!(
        store.deployment_status(&id("deploy-2")).await.unwrap(),
        None
    );
}

#[test]
fn reimport_is_idempotent() {
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(directory.path()).unwrap();
    import(&store, &intents());
    let second = import(&store, &intents());
    assert_eq!(
        (second.created, second.updated, second.unchanged),
        (0, 0, 3)
    );
}

#[tokio::test]
async fn changed_intent_is_updated() {
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(directory.path()).unwrap();
    import(&store, &intents());
    let mut changed = intents();
    changed[1].status = IntentStatus::Deployed;
    let summary = import(&store, &changed);
    assert_eq!((summary.updated, summary.unchanged), (1, 2));
    assert_eq!(
        store.intent(&id("deploy-2")).await.unwrap().unwrap().status,
        IntentStatus::Deployed
    );
}

#[tokio::test]
async fn rolled_back_intent_is_not_revived_by_import() {
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(directory.path()).unwrap();
    import(&store, &intents());
    store
        .update_status(&id("deploy-1"), IntentStatus::RolledBack)
        .await
        .unwrap();

    let summary = import(&store, &intents());
    assert_eq!(summary.kept_rolled_back, ["deploy-1"]);
    assert_eq!(
        store.intent(&id("deploy-1")).await.unwrap().unwrap().status,
        IntentStatus::RolledBack
    );
}

#[tokio::test]
async fn failing_before_commit_leaves_store_unchanged() {
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(directory.path()).unwrap();
    let result = store.import(&intents(), now(), ImportMode::Apply, |_| {
        Err::<(), Failure>(Failure::Audit)
    });
    assert!(matches!(result, Err(Failure::Audit)));
    assert!(
        store
            .intents(&IntentFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(directory.path()).unwrap();
    let summary = store
        .import(
            &intents(),
            now(),
            ImportMode::DryRun,
            |_| -> Result<(), StoreError> { panic!("a dry run never commits") },
        )
        .unwrap();
    assert_eq!(summary.created, 3);
    assert!(
        store
            .intents(&IntentFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn filter_selects_ring_and_approved() {
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(directory.path()).unwrap();
    import(&store, &intents());
    let canary_approved = store
        .intents(&IntentFilter {
            ring: Some(Ring::Canary),
            approved_only: true,
        })
        .await
        .unwrap();
    let ids: Vec<&str> = canary_approved
        .iter()
        .map(|intent| intent.correlation_id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["deploy-1"],
        "the Pending Slack intent is not approved"
    );
}

#[tokio::test]
async fn submit_is_idempotent() {
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(directory.path()).unwrap();
    let intent = intents().remove(0);
    assert_eq!(store.submit(&intent).await.unwrap(), SubmitOutcome::Created);
    assert_eq!(
        store.submit(&intent).await.unwrap(),
        SubmitOutcome::AlreadyExists
    );
}

#[tokio::test]
async fn status_update_of_unknown_intent_is_not_found() {
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(directory.path()).unwrap();
    let error = store
        .update_status(&id("deploy-404"), IntentStatus::RolledBack)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(error.to_string().contains("deploy-404"), "{error}");
}

#[tokio::test]
async fn metrics_count_events_and_health_checks_integrity() {
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(directory.path()).unwrap();
    import(&store, &intents());
    store
        .update_status(&id("deploy-2"), IntentStatus::Deployed)
        .await
        .unwrap();
    let metrics = store.store_metrics().await.unwrap();
    assert_eq!(metrics.event_count, 4);
    assert_eq!(metrics.evidence_pack_count, 0);
    let health = store.health().await.unwrap();
    assert!(health.healthy, "{health:?}");
}

#[tokio::test]
async fn journal_keeps_first_order_and_latest_state() {
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(directory.path()).unwrap();
    let operation = id("rollback-1");
    store
        .record(&operation, "remove:Intune", StepState::Started, None)
        .await
        .unwrap();
    store
        .record(&operation, "remove:Jamf", StepState::Started, None)
        .await
        .unwrap();
    store
        .record(
            &operation,
            "remove:Intune",
            StepState::Failed,
            Some("HTTP 503"),
        )
        .await
        .unwrap();
    store
        .record(&id("rollback-2"), "remove:SCCM", StepState::Succeeded, None)
        .await
        .unwrap();

    let steps = store.steps(&operation).await.unwrap();
    let summary: Vec<(&str, StepState, Option<&str>)> = steps
        .iter()
        .map(|entry| (entry.step.as_str(), entry.state, entry.detail.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("remove:Intune", StepState::Failed, Some("HTTP 503")),
            ("remove:Jamf", StepState::Started, None)
        ]
    );
}

#[tokio::test]
async fn journal_survives_reopen() {
    let directory = tempfile::tempdir().unwrap();
    let operation = id("rollback-1");
    {
        let store = SqliteStore::open(directory.path()).unwrap();
        store
            .record(&operation, "remove:Intune", StepState::Succeeded, None)
            .await
            .unwrap();
    }
    let store = SqliteStore::open(directory.path()).unwrap();
    assert_eq!(
        store.steps(&operation).await.unwrap()[0].state,
        StepState::Succeeded
    );
}

#[tokio::test]
async fn version_1_store_migrates_and_keeps_rows() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("ops.db");
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection.execute_batch(migrations::MIGRATIONS[0]).unwrap();
    connection.pragma_update(None, "user_version", 1).unwrap();
    connection
        .execute(
            "INSERT INTO intents (correlation_id, application_id, app_name, version, ring, platform, connectors, \
             status, created_at, updated_at) VALUES ('deploy-7', 'a7', 'curl', '7.88.1-10', 'Lab', 'debian', \
             'Landscape', 'Deployed', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            [],
        )
        .unwrap();
    drop(connection);

    let store = SqliteStore::open(directory.path()).unwrap();
    assert_eq!(schema_version(&path), migrations::latest_version());
    let intent = store.intent(&id("deploy-7")).await.unwrap().unwrap();
    assert_eq!(intent.app_name, "curl");
    assert!(!intent.high_risk);
    assert_eq!(intent.cab_approval, None);
}

#[tokio::test]
async fn risk_and_cab_approval_round_trip() {
    let text = r#"[{"correlation_id": "deploy-9", "application_id": "a9", "app_name": "Agent", "version": "2.0",
        "ring": "Pilot", "platform": "windows", "connectors": ["Intune"], "status": "Deployed",
        "high_risk": true, "cab_approved_by": "cab@contoso.com", "cab_approved_at": "2026-11-29T10:00:00Z"}]"#;
    let intents = intents_file::parse(text.as_bytes(), Path::new("risky.json")).unwrap();
    assert!(intents[0].high_risk);
    assert_eq!(
        intents[0].cab_approval.as_ref().unwrap().approver,
        "cab@contoso.com"
    );

    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(directory.path()).unwrap();
    import(&store, &intents);
    assert_eq!(
        store.intent(&id("deploy-9")).await.unwrap().unwrap(),
        intents[0]
    );

    let half = text.replace(r#", "cab_approved_at": "2026-11-29T10:00:00Z""#, "");
    let error = intents_file::parse(half.as_bytes(), Path::new("risky.json")).unwrap_err();
    assert!(error.to_string().contains("cab_approved_at"), "{error}");
}

#[tokio::test]
async fn new_intent_for_rolled_back_version_is_flagged() {
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(directory.path()).unwrap();
    import(&store, &intents());
    store
        .update_status(&id("deploy-1"), IntentStatus::RolledBack)
        .await
        .unwrap();

    let mut again = intents().remove(0);
    again.correlation_id = id("deploy-1-again");
    let summary = import(&store, &[again]);
    assert_eq!(summary.created, 1);
    assert_eq!(summary.approves_rolled_back_version, ["deploy-1-again"]);
}
