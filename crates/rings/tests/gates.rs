//! Gate evaluation with fakes: each gate met and not met, and no data never read as success.

mod common;

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use common::{Harness, healthy, id, intent};
use ops_core::intent::DeploymentStatus;
use ops_core::ports::Incidents;
use ops_core::{CabApproval, DeploymentIntent, Ring, Severity};
use rings::{Gate, GateConfig, GateReport, GateResult, GateStatus, GatesConfig, RingsError};

fn gate(report: &GateReport, gate: Gate) -> &GateResult {
    report
        .gates
        .iter()
        .find(|result| result.gate == gate)
        .unwrap_or_else(|| panic!("no {gate} gate in {report:?}"))
}

fn with_counts(now: DateTime<Utc>, succeeded: u64, failed: u64) -> DeploymentIntent {
    let mut canary = intent("promote-canary", Ring::Canary, now);
    canary.deployment = Some(DeploymentStatus {
        devices_succeeded: succeeded,
        devices_failed: failed,
        ..healthy(now)
    });
    canary
}

async fn evaluate(harness: &Harness, intent_id: &str) -> GateReport {
    let intent = harness.stored(intent_id);
    harness
        .promoter()
        .evaluate(&intent, harness.now())
        .await
        .unwrap()
}

#[tokio::test]
async fn healthy_deployment_meets_every_gate() {
    let harness = Harness::new(|now| vec![intent("promote-canary", Ring::Canary, now)]);

    let report = evaluate(&harness, "promote-canary").await;

    assert!(report.all_met(), "{report:#?}");
    assert_eq!(report.gates.len(), 5);
    assert_eq!(report.ring, Ring::Canary);
    assert_eq!(report.next_ring, Ring::Pilot);
}

#[tokio::test]
async fn success_rate_gate_met_and_not_met() {
    let met = Harness::new(|now| vec![with_counts(now, 96, 4)]);
    let not_met = Harness::new(|now| vec![with_counts(now, 94, 6)]);

    let met_report = evaluate(&met, "promote-canary").await;
    let not_met_report = evaluate(&not_met, "promote-canary").await;

    let met_gate = gate(&met_report, Gate::SuccessRate);
    assert_eq!(met_gate.status, GateStatus::Met);
    assert_eq!(met_gate.threshold, "at least 95.00%");
    let not_met_gate = gate(&not_met_report, Gate::SuccessRate);
    assert_eq!(not_met_gate.status, GateStatus::NotMet);
    assert_eq!(
        not_met_gate.measured,
        "94.00% (94 of 100 reporting devices)"
    );
    assert!(!not_met_report.all_met());
}

#[tokio::test]
async fn devices_reporting_gate_met_and_not_met() {
    let met = Harness::new(|now| vec![with_counts(now, 50, 0)]);
    let not_met = Harness::new(|now| vec![with_counts(now, 49, 0)]);

    let met_report = evaluate(&met, "promote-canary").await;
    let not_met_report = evaluate(&not_met, "promote-canary").await;

    assert_eq!(
        gate(&met_report, Gate::DevicesReporting).status,
        GateStatus::Met
    );
    let not_met_gate = gate(&not_met_report, Gate::DevicesReporting);
    assert_eq!(not_met_gate.status, GateStatus::NotMet);
    assert_eq!(not_met_gate.threshold, "at least 50");
    assert!(
        not_met_gate.measured.starts_with("49 of"),
        "{not_met_gate:?}"
    );
}

#[tokio::test]
async fn bake_time_gate_follows_clock() {
    let harness = Harness::new(|now| {
        let mut canary = intent("promote-canary", Ring::Canary, now);
        canary.deployment = Some(DeploymentStatus {
            deployed_at: Some(now),
            ..healthy(now)
        });
        vec![canary]
    });

    harness.clock.advance(StdDuration::from_secs(23 * 3600));
    let early = evaluate(&harness, "promote-canary").await;
    harness.clock.advance(StdDuration::from_secs(3600));
    let baked = evaluate(&harness, "promote-canary").await;

    let early_gate = gate(&early, Gate::BakeTime);
    assert_eq!(early_gate.status, GateStatus::NotMet);
    assert_eq!(early_gate.threshold, "at least 24 h 00 min");
    assert!(
        early_gate.measured.starts_with("23 h 00 min since"),
        "{early_gate:?}"
    );
    assert_eq!(gate(&baked, Gate::BakeTime).status, GateStatus::Met);
}

#[tokio::test]
async fn deployment_in_future_has_no_bake_time() {
    let harness = Harness::new(|now| {
        let mut canary = intent("promote-canary", Ring::Canary, now);
        canary.deployment = Some(DeploymentStatus {
            deployed_at: Some(now + Duration::hours(30)),
            ..healthy(now)
        });
        vec![canary]
    });

    let report = evaluate(&harness, "promote-canary").await;

    let bake = gate(&report, Gate::BakeTime);
    assert_eq!(bake.status, GateStatus::NotMet);
    assert!(bake.measured.starts_with("0 h 00 min"), "{bake:?}");
}

#[tokio::test]
async fn open_p1_incident_blocks() {
    let harness = Harness::new(|now| vec![intent("promote-canary", Ring::Canary, now)]);
    harness
        .raise("incident-1", Severity::P1, "promote-canary")
        .await;

    let report = evaluate(&harness, "promote-canary").await;

    let incidents = gate(&report, Gate::OpenIncidents);
    assert_eq!(incidents.status, GateStatus::NotMet);
    assert_eq!(incidents.measured, "incident-1 (P1)");
}

#[tokio::test]
async fn open_p0_incident_in_earlier_ring_blocks() {
    let harness = Harness::new(|now| {
        vec![
            intent("deploy-lab", Ring::Lab, now),
            intent("promote-canary", Ring::Canary, now),
        ]
    });
    harness
        .raise("incident-2", Severity::P0, "deploy-lab")
        .await;

    let report = evaluate(&harness, "promote-canary").await;

    let incidents = gate(&report, Gate::OpenIncidents);
    assert_eq!(incidents.status, GateStatus::NotMet);
    assert_eq!(incidents.measured, "incident-2 (P0)");
}

#[tokio::test]
async fn p3_and_resolved_incidents_do_not_block() {
    let harness = Harness::new(|now| vec![intent("promote-canary", Ring::Canary, now)]);
    harness
        .raise("incident-3", Severity::P3, "promote-canary")
        .await;
    harness
        .raise("incident-4", Severity::P1, "promote-canary")
        .await;
    harness.incidents.resolve(&id("incident-4")).await.unwrap();

    let report = evaluate(&harness, "promote-canary").await;

    let incidents = gate(&report, Gate::OpenIncidents);
    assert_eq!(incidents.status, GateStatus::Met);
    assert_eq!(incidents.measured, "none");
}

#[tokio::test]
async fn cab_required_for_high_risk() {
    let approved_at = Utc::now();
    let harness = Harness::new(|now| {
        let mut absent = intent("promote-absent", Ring::Canary, now);
        absent.high_risk = true;
        let mut present = intent("promote-present", Ring::Canary, now);
        present.application_id = "app-other".to_owned();
        present.high_risk = true;
        present.cab_approval = Some(CabApproval {
            approver: "cab-chair@example.com".to_owned(),
            approved_at,
        });
        vec![absent, present]
    });

    let absent = evaluate(&harness, "promote-absent").await;
    let present = evaluate(&harness, "promote-present").await;

    let absent_gate = gate(&absent, Gate::CabApproval);
    assert_eq!(absent_gate.status, GateStatus::NotMet);
    assert_eq!(absent_gate.measured, "no approval");
    let present_gate = gate(&present, Gate::CabApproval);
    assert_eq!(present_gate.status, GateStatus::Met);
    assert!(
        present_gate.measured.contains("cab-chair@example.com"),
        "{present_gate:?}"
    );
}

#[tokio::test]
async fn cab_optional_low_risk_or_disabled() {
    let harness = Harness::new(|now| {
        let mut high_risk = intent("promote-canary", Ring::Canary, now);
        high_risk.high_risk = true;
        vec![intent("deploy-lab", Ring::Lab, now), high_risk]
    });
    let mut gates = GatesConfig::default();
    let canary = GateConfig {
        require_cab_for_high_risk: false,
        ..gates.for_ring(Ring::Canary).unwrap().clone()
    };
    gates.set(Ring::Canary, canary).unwrap();

    let low_risk = evaluate(&harness, "deploy-lab").await;
    let disabled = harness
        .promoter_with(gates)
        .evaluate(&harness.stored("promote-canary"), harness.now())
        .await
        .unwrap();

    assert_eq!(gate(&low_risk, Gate::CabApproval).status, GateStatus::Met);
    assert_eq!(gate(&disabled, Gate::CabApproval).status, GateStatus::Met);
}

#[tokio::test]
async fn no_deployment_status_is_no_data() {
    let harness = Harness::new(|now| {
        let mut canary = intent("promote-canary", Ring::Canary, now);
        canary.deployment = None;
        vec![canary]
    });

    let report = evaluate(&harness, "promote-canary").await;

    for measured in [Gate::SuccessRate, Gate::DevicesReporting, Gate::BakeTime] {
        let result = gate(&report, measured);
        assert_eq!(result.status, GateStatus::NoData, "{result:?}");
        assert!(!result.is_met());
        assert!(result.measured.starts_with("no data"), "{result:?}");
    }
    assert!(!report.all_met());
}

#[tokio::test]
async fn no_device_reporting_is_no_data() {
    let harness = Harness::new(|now| vec![with_counts(now, 0, 0)]);

    let report = evaluate(&harness, "promote-canary").await;

    assert_eq!(gate(&report, Gate::SuccessRate).status, GateStatus::NoData);
    assert_eq!(
        gate(&report, Gate::DevicesReporting).status,
        GateStatus::NoData
    );
    assert!(!report.all_met());
}

#[tokio::test]
async fn unknown_deployment_time_is_no_data() {
    let harness = Harness::new(|now| {
        let mut canary = intent("promote-canary", Ring::Canary, now);
        canary.deployment = Some(DeploymentStatus {
            deployed_at: None,
            ..healthy(now)
        });
        vec![canary]
    });

    let report = evaluate(&harness, "promote-canary").await;

    assert_eq!(gate(&report, Gate::BakeTime).status, GateStatus::NoData);
    assert_eq!(gate(&report, Gate::SuccessRate).status, GateStatus::Met);
    assert!(!report.all_met());
}

#[tokio::test]
async fn no_data_with_zero_thresholds_is_not_met() {
    let harness = Harness::new(|now| vec![with_counts(now, 0, 0)]);
    let mut gates = GatesConfig::default();
    gates
        .set(
            Ring::Canary,
            GateConfig {
                min_success_rate: 0.0,
                min_devices_reporting: 0,
                min_bake: StdDuration::ZERO,
                require_cab_for_high_risk: false,
            },
        )
        .unwrap();

    let report = harness
        .promoter_with(gates)
        .evaluate(&harness.stored("promote-canary"), harness.now())
        .await
        .unwrap();

    assert_eq!(gate(&report, Gate::SuccessRate).status, GateStatus::NoData);
    assert_eq!(
        gate(&report, Gate::DevicesReporting).status,
        GateStatus::NoData
    );
    assert!(!report.all_met());
}

#[tokio::test]
async fn next_ring_follows_ring_order() {
    let expected = [
        (Ring::Lab, Ring::Canary),
        (Ring::Canary, Ring::Pilot),
        (Ring::Pilot, Ring::Department),
        (Ring::Department, Ring::Global),
    ];
    let harness = Harness::new(|now| {
        expected
            .iter()
            .map(|(ring, _)| {
                let mut ring_intent = intent(&format!("deploy-{ring}"), *ring, now);
                ring_intent.application_id = format!("app-{ring}");
                ring_intent
            })
            .collect()
    });

    for (ring, next) in expected {
        let report = evaluate(&harness, &format!("deploy-{ring}")).await;
        assert_eq!(report.next_ring, next, "from {ring}");
    }
}

#[tokio::test]
async fn global_intent_has_no_gates() {
    let harness = Harness::new(|now| vec![intent("promote-global", Ring::Global, now)]);

    let error = harness
        .promoter()
        .evaluate(&harness.stored("promote-global"), harness.now())
        .await
        .unwrap_err();
    let ring_error = harness
        .promoter()
        .evaluate_ring(Ring::Global)
        .await
        .unwrap_err();

    assert!(
        matches!(error, RingsError::NoNextRing { ring: Ring::Global }),
        "{error:?}"
    );
    assert!(matches!(ring_error, RingsError::NoNextRing { .. }));
}

#[tokio::test]
async fn evaluate_ring_covers_approved_intents_only() {
    let harness = Harness::new(|now| {
        let mut pending = intent("deploy-pending", Ring::Canary, now);
        pending.application_id = "app-pending".to_owned();
        pending.status = ops_core::IntentStatus::Pending;
        let mut other = intent("deploy-other", Ring::Canary, now);
        other.application_id = "app-other".to_owned();
        vec![
            intent("promote-canary", Ring::Canary, now),
            other,
            pending,
            intent("deploy-lab", Ring::Lab, now),
        ]
    });

    let reports = harness
        .promoter()
        .evaluate_ring(Ring::Canary)
        .await
        .unwrap();

    let ids: Vec<_> = reports
        .iter()
        .map(|report| report.intent_id.as_str())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"promote-canary"));
    assert!(ids.contains(&"deploy-other"));
}

#[test]
fn default_gates_rise_with_ring() {
    let gates = GatesConfig::default();
    let expected = [
        (Ring::Lab, 0.90, 5, 4),
        (Ring::Canary, 0.95, 50, 24),
        (Ring::Pilot, 0.97, 500, 48),
        (Ring::Department, 0.98, 2000, 72),
    ];

    for (ring, rate, devices, hours) in expected {
        let config = gates.for_ring(ring).unwrap();
        assert_eq!(config.min_success_rate, rate, "{ring}");
        assert_eq!(config.min_devices_reporting, devices, "{ring}");
        assert_eq!(
            config.min_bake,
            StdDuration::from_secs(hours * 3600),
            "{ring}"
        );
        assert!(config.require_cab_for_high_risk, "{ring}");
    }
    assert!(gates.for_ring(Ring::Global).is_none());
}

#[derive(Debug, serde::Deserialize)]
struct RingsSection {
    #[serde(default)]
    gates: GatesConfig,
}

#[test]
fn toml_overrides_keep_other_defaults() {
    let section: RingsSection = toml::from_str(
        "[gates.Canary]
         min_devices_reporting = 20
         min_bake_hours = 12.5

         [gates.pilot]
         require_cab_for_high_risk = false",
    )
    .unwrap();

    let canary = section.gates.for_ring(Ring::Canary).unwrap();
    assert_eq!(canary.min_devices_reporting, 20);
    assert_eq!(canary.min_bake, StdDuration::from_secs(12 * 3600 + 1800));
    assert_eq!(canary.min_success_rate, 0.95);
    assert!(canary.require_cab_for_high_risk);
    let pilot = section.gates.for_ring(Ring::Pilot).unwrap();
    assert!(!pilot.require_cab_for_high_risk);
    assert_eq!(pilot.min_devices_reporting, 500);
    assert_eq!(
        section.gates.for_ring(Ring::Lab),
        GatesConfig::default().for_ring(Ring::Lab)
    );
}

#[test]
fn toml_without_gates_uses_defaults() {
    let section: RingsSection = toml::from_str("").unwrap();

    assert_eq!(section.gates, GatesConfig::default());
}

#[test]
fn toml_rejects_invalid_gates() {
    let cases = [
        ("[gates.Global]\nmin_devices_reporting = 1", "Global"),
        ("[gates.Canary]\nmin_success_rate = 95", "between 0 and 1"),
        (
            "[gates.Canary]\nmin_bake_hours = -1",
            "min_bake_hours is -1",
        ),
        ("[gates.Canary]\nmin_devices = 3", "min_devices"),
        ("[gates.Prod]\nmin_devices_reporting = 3", "unknown ring"),
    ];

    for (text, expected) in cases {
        let error = toml::from_str::<RingsSection>(text)
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{text:?} gave {error}");
    }
}
