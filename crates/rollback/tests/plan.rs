//! Planning a rollback: which rings and execution planes it covers, and the errors of bad input.

mod common;

use common::{Harness, config, id, intent};
use ops_core::ConnectorKind::{Ansible, Intune, Jamf, Landscape, Sccm};
use ops_core::{IntentStatus, Ring};
use rollback::{Rollback, RollbackError, RollbackSettings};

#[tokio::test]
async fn plan_covers_rings_reached_by_promotion() {
    let mut pending = intent("deploy-pilot", Ring::Pilot, &[Sccm]);
    pending.status = IntentStatus::Pending;
    let mut other_version = intent("deploy-other-version", Ring::Department, &[Sccm]);
    other_version.version = "121.0".to_owned();
    let mut other_app = intent("deploy-other-app", Ring::Global, &[Sccm]);
    other_app.application_id = "app-firefox".to_owned();
    let harness = Harness::new(
        vec![
            intent("deploy-lab", Ring::Lab, &[Intune]),
            intent("promote-canary", Ring::Canary, &[Intune, Jamf]),
            pending,
            other_version,
            other_app,
        ],
        &[Intune, Jamf, Sccm],
    );

    let plan = harness
        .rollback()
        .plan(&id("deploy-lab"), None)
        .await
        .unwrap();

    assert_eq!(plan.rings, [Ring::Lab, Ring::Canary]);
    let steps: Vec<_> = plan
        .steps
        .iter()
        .map(|step| (step.ring, step.connector))
        .collect();
    assert_eq!(
        steps,
        [
            (Ring::Lab, Intune),
            (Ring::Canary, Intune),
            (Ring::Canary, Jamf)
        ]
    );
    let intents: Vec<_> = plan
        .intents
        .iter()
        .map(|intent| intent.id.as_str())
        .collect();
    assert_eq!(intents, ["deploy-lab", "promote-canary"]);
    assert_eq!(plan.rollback_id.prefix(), "rollback");
    assert!(!plan.resumes);
    assert!(plan.steps.iter().all(|step| !step.already_done));
}

#[tokio::test]
async fn plan_requests_carry_rollback_id_and_ring() {
    let harness = Harness::new(
        vec![
            intent("deploy-lab", Ring::Lab, &[Intune]),
            intent("promote-canary", Ring::Canary, &[Intune]),
        ],
        &[Intune],
    );

    let plan = harness
        .rollback()
        .plan(&id("promote-canary"), None)
        .await
        .unwrap();

    for step in &plan.steps {
        assert_eq!(step.request.correlation_id, plan.rollback_id);
        assert_eq!(step.request.ring, step.ring);
        assert_eq!(step.request.application_id, "app-chrome");
        assert_eq!(step.request.version, "120.0");
    }
    assert_eq!(plan.rings, [Ring::Lab, Ring::Canary]);
}

#[tokio::test]
async fn plan_limited_to_one_ring() {
    let harness = Harness::new(
        vec![
            intent("deploy-lab", Ring::Lab, &[Intune]),
            intent("promote-canary", Ring::Canary, &[Jamf]),
        ],
        &[Intune, Jamf],
    );

    let plan = harness
        .rollback()
        .plan(&id("deploy-lab"), Some(Ring::Canary))
        .await
        .unwrap();

    assert_eq!(plan.rings, [Ring::Canary]);
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.steps[0].connector, Jamf);
    assert_eq!(plan.intents.len(), 1);
    assert_eq!(plan.intents[0].id.as_str(), "promote-canary");
    assert_eq!(plan.ring_limit, Some(Ring::Canary));
}

#[tokio::test]
async fn missing_intent_is_named() {
    let harness = Harness::new(vec![], &[Intune]);

    let error = harness
        .rollback()
        .plan(&id("deploy-missing"), None)
        .await
        .unwrap_err();

    assert!(
        matches!(error, RollbackError::IntentNotFound { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("deploy-missing"), "{error}");
    assert!(error.is_bad_input());
}

#[tokio::test]
async fn ring_never_reached_is_named_with_reached_rings() {
    let harness = Harness::new(
        vec![
            intent("deploy-lab", Ring::Lab, &[Intune]),
            intent("promote-canary", Ring::Canary, &[Intune]),
        ],
        &[Intune],
    );

    let error = harness
        .rollback()
        .plan(&id("deploy-lab"), Some(Ring::Pilot))
        .await
        .unwrap_err();

    let message = error.to_string();
    assert!(
        matches!(
            error,
            RollbackError::RingNotReached {
                ring: Ring::Pilot,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(message.contains("Pilot"), "{message}");
    assert!(message.contains("Lab, Canary"), "{message}");
    assert!(error.is_bad_input());
}

#[tokio::test]
async fn unconfigured_connector_is_an_error() {
    let harness = Harness::new(
        vec![intent("deploy-lab", Ring::Lab, &[Intune, Landscape])],
        &[Intune],
    );

    let error = harness
        .rollback()
        .plan(&id("deploy-lab"), None)
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            RollbackError::ConnectorNotConfigured {
                connector: Landscape,
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("Landscape"), "{message}");
    assert!(message.contains("deploy-lab"), "{message}");
    assert!(error.is_bad_input());
}

#[tokio::test]
async fn run_rejects_plan_with_unconfigured_connector() {
    let wide = Harness::new(
        vec![intent("deploy-lab", Ring::Lab, &[Intune, Ansible])],
        &[Intune, Ansible],
    );
    let plan = wide.rollback().plan(&id("deploy-lab"), None).await.unwrap();
    let narrow = Rollback::new(
        wide.ports(
            wide.fake_planes()
                .into_iter()
                .filter(|(kind, _)| *kind == Intune)
                .collect(),
        ),
        config(),
    )
    .unwrap();

    let error = narrow.run(&plan, Default::default()).await.unwrap_err();

    assert!(
        matches!(
            error,
            RollbackError::ConnectorNotConfigured {
                connector: Ansible,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(wide.total_calls(), 0);
    assert!(wide.audit.events().is_empty());
}

#[tokio::test]
async fn plane_under_wrong_kind_is_rejected() {
    let harness = Harness::new(vec![], &[Intune]);
    let mut planes = harness.fake_planes();
    let intune = planes.remove(&Intune).unwrap();
    planes.insert(Jamf, intune);

    let error = Rollback::new(harness.ports(planes), config())
        .err()
        .expect("a plane under another kind is rejected");

    assert!(
        matches!(
            error,
            RollbackError::PlaneRegisteredUnderOtherKind {
                registered: Jamf,
                reported: Intune
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn plan_many_lists_intents_once_and_keeps_order() {
    let mut intents = Vec::new();
    for index in 0..5 {
        let mut lab = intent(&format!("deploy-{index}"), Ring::Lab, &[Intune]);
        lab.application_id = format!("app-{index}");
        let mut canary = intent(&format!("promote-{index}"), Ring::Canary, &[Jamf]);
        canary.application_id = format!("app-{index}");
        intents.extend([lab, canary]);
    }
    let harness = Harness::new(intents, &[Intune, Jamf]);
    let ids = [id("deploy-3"), id("deploy-missing"), id("deploy-0")];

    let plans = harness.rollback().plan_many(&ids, None).await.unwrap();

    assert_eq!(plans.len(), 3);
    let first = plans[0].as_ref().unwrap();
    assert_eq!(first.intent_id.as_str(), "deploy-3");
    assert_eq!(first.application_id, "app-3");
    assert_eq!(first.rings, [Ring::Lab, Ring::Canary]);
    assert!(matches!(
        plans[1],
        Err(RollbackError::IntentNotFound { .. })
    ));
    assert_eq!(plans[2].as_ref().unwrap().intent_id.as_str(), "deploy-0");
}

#[test]
fn config_rejects_zero_concurrency() {
    let harness = Harness::new(vec![], &[Intune]);
    let zero = rollback::RollbackConfig {
        concurrency: 0,
        ..config()
    };

    let error = Rollback::new(harness.ports(harness.fake_planes()), zero)
        .err()
        .expect("zero concurrency is rejected");

    assert!(matches!(error, RollbackError::ZeroConcurrency), "{error:?}");
    assert!(error.to_string().contains("[rollback] concurrency"));
}

#[test]
fn config_rejects_warning_beyond_deadline() {
    let settings: RollbackSettings = toml::from_str(
        "deadline_hours = 1
         warn_before_minutes = [90]",
    )
    .unwrap();
    let config = rollback::RollbackConfig::from_settings(&settings, "tester");

    let error = config.validate().unwrap_err();

    assert!(
        matches!(
            error,
            RollbackError::WarningOutsideDeadline {
                warn_before_minutes: 90,
                deadline_minutes: 60
            }
        ),
        "{error:?}"
    );
}

#[test]
fn settings_default_and_parse_from_toml() {
    let empty: RollbackSettings = toml::from_str("").unwrap();
    let parsed: RollbackSettings = toml::from_str(
        "concurrency = 8
         deadline_hours = 2
         warn_before_minutes = [30]",
    )
    .unwrap();
    let config = rollback::RollbackConfig::from_settings(&parsed, "tester");

    assert_eq!(empty, RollbackSettings::default());
    assert_eq!(
        rollback::RollbackConfig::from_settings(&empty, "tester"),
        rollback::RollbackConfig::new("tester")
    );
    assert_eq!(config.concurrency, 8);
    assert_eq!(config.deadline, std::time::Duration::from_secs(2 * 3600));
    assert_eq!(
        config.warn_before,
        [std::time::Duration::from_secs(30 * 60)]
    );
    assert!(toml::from_str::<RollbackSettings>("deadline = 4").is_err());
}
