//! Promotion with fakes: submission once, blocking gates, dry runs and rejected requests.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use common::{Harness, healthy, id, intent};
use ops_core::audit::{AuditEventType, Outcome};
use ops_core::error::PortResult;
use ops_core::intent::DeploymentStatus;
use ops_core::ports::journal::StepState;
use ops_core::ports::{
    ControlPlane, HealthReport, IntentFilter, Journal, StoreMetrics, SubmitOutcome,
};
use ops_core::{
    CabApproval, CorrelationId, DeploymentIntent, IntentStatus, PortError, Ring, Severity,
};
use ops_testkit::{Failure, FakeControlPlane};
use rings::{Gate, GatesConfig, Promoter, PromotionOutcome, PromotionPorts, RingsError};

/// A control plane over the fake that reports healthy device counts for intents that carry
/// none, as a deployment would report in time, and fails the first `failed_submits`
/// submissions.
struct ReportingControlPlane {
    inner: Arc<FakeControlPlane>,
    failed_submits: AtomicUsize,
    /// The time the reported counts are measured at.
    now: DateTime<Utc>,
    /// When set, another process stores its promotion of the same deployment under this id
    /// just before each submission, as a second operator running the same command would.
    rival: Option<CorrelationId>,
}

#[async_trait]
impl ControlPlane for ReportingControlPlane {
    async fn intent(&self, id: &CorrelationId) -> PortResult<Option<DeploymentIntent>> {
        self.inner.intent(id).await
    }

    async fn intents(&self, filter: &IntentFilter) -> PortResult<Vec<DeploymentIntent>> {
        self.inner.intents(filter).await
    }

    async fn update_status(&self, id: &CorrelationId, status: IntentStatus) -> PortResult<()> {
        self.inner.update_status(id, status).await
    }

    async fn deployment_status(&self, id: &CorrelationId) -> PortResult<Option<DeploymentStatus>> {
        let reported = self.inner.deployment_status(id).await?;
        Ok(reported.or_else(|| Some(healthy(self.now))))
    }

    async fn submit(&self, intent: &DeploymentIntent) -> PortResult<SubmitOutcome> {
        let failing = self
            .failed_submits
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if failing {
            return Err(PortError::transient(
                "control plane",
                "submit intent",
                "HTTP 503",
            ));
        }
        if let Some(rival) = &self.rival {
            let rival = DeploymentIntent {
                correlation_id: rival.clone(),
                ..intent.clone()
            };
            self.inner.submit(&rival).await?;
        }
        self.inner.submit(intent).await
    }

    async fn health(&self) -> PortResult<HealthReport> {
        self.inner.health().await
    }

    async fn store_metrics(&self) -> PortResult<StoreMetrics> {
        self.inner.store_metrics().await
    }
}

#[tokio::test]
async fn met_gates_submit_copy_for_next_ring() {
    let harness = Harness::new(|now| {
        let mut canary = intent("promote-canary", Ring::Canary, now);
        canary.high_risk = true;
        canary.cab_approval = Some(CabApproval {
            approver: "cab-chair@example.com".to_owned(),
            approved_at: now,
        });
        vec![canary]
    });

    let report = harness
        .promoter()
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap();

    assert_eq!(report.promote_id.prefix(), "promote");
    assert_eq!(
        report.outcome,
        PromotionOutcome::Submitted {
            intent_id: report.promote_id.clone()
        }
    );
    assert_eq!(
        harness.control_plane.submissions(),
        vec![report.promote_id.clone()]
    );
    let promoted = harness.control_plane.stored(&report.promote_id).unwrap();
    let original = harness.stored("promote-canary");
    assert_eq!(promoted.ring, Ring::Pilot);
    assert_eq!(promoted.status, IntentStatus::Approved);
    assert_eq!(promoted.deployment, None);
    assert_eq!(promoted.application_id, original.application_id);
    assert_eq!(promoted.version, original.version);
    assert_eq!(promoted.connectors, original.connectors);
    assert_eq!(promoted.cab_approval, original.cab_approval);
    assert_eq!(
        original.status,
        IntentStatus::Deployed,
        "the original is left alone"
    );
}

#[tokio::test]
async fn lost_race_records_failure() {
    let harness = Harness::new(|now| vec![intent("promote-canary", Ring::Canary, now)]);
    let promoter = Promoter::new(
        PromotionPorts {
            control_plane: Arc::new(ReportingControlPlane {
                inner: harness.control_plane.clone(),
                failed_submits: AtomicUsize::new(0),
                now: harness.now(),
                rival: Some(id("promote-competitor")),
            }),
            ..harness.ports()
        },
        GatesConfig::default(),
        "tester",
    );

    let report = promoter
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap();

    assert_eq!(
        report.outcome,
        PromotionOutcome::AlreadyPromoted {
            intent_id: id("promote-competitor")
        }
    );
    assert_eq!(harness.control_plane.stored(&report.promote_id), None);
    let events = harness.audit.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event_type, AuditEventType::PromotionSubmitted);
    assert_eq!(events[0].outcome, Outcome::Success);
    assert_eq!(events[1].event_type, AuditEventType::PromotionSubmitted);
    assert_eq!(events[1].outcome, Outcome::Failure);
    assert_eq!(events[1].correlation_id, report.promote_id);
    assert_eq!(
        events[1].details["already_promoted_as"],
        "promote-competitor"
    );
    let entries = harness.journal.steps(&id("promote-canary")).await.unwrap();
    assert_eq!(entries[0].state, StepState::Succeeded);

    // A rerun finds the competitor's intent and records nothing more.
    let rerun = promoter
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap();
    assert_eq!(rerun.outcome, report.outcome);
    assert_eq!(harness.audit.events().len(), 2);
}

#[tokio::test]
async fn submission_records_id_and_evidence() {
    let harness = Harness::new(|now| vec![intent("promote-canary", Ring::Canary, now)]);

    let report = harness
        .promoter()
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap();

    let entries = harness.journal.steps(&id("promote-canary")).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].step, "promote:Pilot:id");
    assert_eq!(entries[0].state, StepState::Succeeded);
    assert_eq!(
        entries[0].detail.as_deref(),
        Some(report.promote_id.as_str())
    );
    let events = harness.audit.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, AuditEventType::PromotionSubmitted);
    assert_eq!(events[0].correlation_id, report.promote_id);
    assert_eq!(events[0].related_correlation_id, Some(id("promote-canary")));
    assert_eq!(events[0].details["from_ring"], "Canary");
    assert_eq!(events[0].details["to_ring"], "Pilot");
}

#[tokio::test]
async fn rerun_does_not_submit_twice() {
    let harness = Harness::new(|now| vec![intent("promote-canary", Ring::Canary, now)]);
    let promoter = harness.promoter();
    let first = promoter
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap();

    let rerun = promoter
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap();

    assert_eq!(harness.control_plane.submissions().len(), 1);
    assert_eq!(
        rerun.outcome,
        PromotionOutcome::AlreadyPromoted {
            intent_id: first.promote_id.clone()
        }
    );
    assert_eq!(rerun.promote_id, first.promote_id);
    assert_eq!(rerun.gates, None);
    assert_eq!(harness.audit.events().len(), 1);
}

#[tokio::test]
async fn recorded_id_is_reused_after_crash() {
    let harness = Harness::new(|now| vec![intent("promote-canary", Ring::Canary, now)]);
    harness
        .journal
        .record(
            &id("promote-canary"),
            "promote:Pilot:id",
            StepState::Started,
            Some("promote-crashed-1"),
        )
        .await
        .unwrap();

    let report = harness
        .promoter()
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap();

    assert_eq!(report.promote_id, id("promote-crashed-1"));
    assert_eq!(
        harness.control_plane.submissions(),
        [id("promote-crashed-1")]
    );
}

#[tokio::test]
async fn failed_submission_is_retried_under_same_id() {
    let harness = Harness::new(|now| vec![intent("promote-canary", Ring::Canary, now)]);
    let control_plane = Arc::new(ReportingControlPlane {
        inner: harness.control_plane.clone(),
        failed_submits: AtomicUsize::new(1),
        now: harness.now(),
        rival: None,
    });
    let promoter = Promoter::new(
        PromotionPorts {
            control_plane: control_plane.clone(),
            ..harness.ports()
        },
        GatesConfig::default(),
        "tester",
    );

    let error = promoter
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap_err();
    let rerun = promoter
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap();

    let RingsError::Submit { promote_id, .. } = &error else {
        panic!("expected a submit error, got {error:?}");
    };
    assert_eq!(&rerun.promote_id, promote_id);
    assert_eq!(
        harness.control_plane.submissions(),
        vec![promote_id.clone()]
    );
    assert!(error.to_string().contains("reuses the same id"), "{error}");
}

#[tokio::test]
async fn blocked_gates_submit_nothing_and_record_why() {
    let harness = Harness::new(|now| vec![intent("promote-canary", Ring::Canary, now)]);
    harness
        .raise("incident-1", Severity::P1, "promote-canary")
        .await;

    let report = harness
        .promoter()
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap();

    assert!(report.is_blocked());
    let gates = report.gates.as_ref().unwrap();
    let unmet: Vec<_> = gates.unmet().map(|gate| gate.gate).collect();
    assert_eq!(unmet, [Gate::OpenIncidents]);
    assert!(harness.control_plane.submissions().is_empty());
    assert!(
        harness
            .journal
            .steps(&id("promote-canary"))
            .await
            .unwrap()
            .is_empty()
    );
    let events = harness.audit.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, AuditEventType::PromotionBlocked);
    let unmet_details = &events[0].details["unmet_gates"];
    assert_eq!(unmet_details[0]["gate"], "open_incidents");
    assert_eq!(unmet_details[0]["measured"], "incident-1 (P1)");
    assert_eq!(unmet_details[0]["threshold"], "no open P0 or P1 incident");
}

#[tokio::test]
async fn dry_run_submits_nothing() {
    let harness = Harness::new(|now| vec![intent("promote-canary", Ring::Canary, now)]);

    let report = harness
        .promoter()
        .promote(&id("promote-canary"), Ring::Canary, true)
        .await
        .unwrap();

    assert!(report.dry_run);
    assert_eq!(
        report.outcome,
        PromotionOutcome::WouldSubmit {
            intent_id: report.promote_id.clone()
        }
    );
    assert!(harness.control_plane.submissions().is_empty());
    assert!(harness.audit.events().is_empty());
    assert!(
        harness
            .journal
            .steps(&id("promote-canary"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn blocked_dry_run_records_nothing() {
    let harness = Harness::new(|now| {
        let mut canary = intent("promote-canary", Ring::Canary, now);
        canary.deployment = None;
        vec![canary]
    });

    let report = harness
        .promoter()
        .promote(&id("promote-canary"), Ring::Canary, true)
        .await
        .unwrap();

    assert!(report.is_blocked());
    assert!(harness.audit.events().is_empty());
}

#[tokio::test]
async fn promotion_walks_every_ring() {
    let harness = Harness::new(|now| vec![intent("deploy-lab", Ring::Lab, now)]);
    let control_plane = Arc::new(ReportingControlPlane {
        inner: harness.control_plane.clone(),
        failed_submits: AtomicUsize::new(0),
        now: harness.now(),
        rival: None,
    });
    let promoter = Promoter::new(
        PromotionPorts {
            control_plane,
            ..harness.ports()
        },
        GatesConfig::default(),
        "tester",
    );
    let mut current = id("deploy-lab");
    let mut rings = vec![Ring::Lab];

    for ring in [Ring::Lab, Ring::Canary, Ring::Pilot, Ring::Department] {
        let report = promoter.promote(&current, ring, false).await.unwrap();
        let PromotionOutcome::Submitted { intent_id } = report.outcome else {
            panic!("promotion from {ring} was {:?}", report.outcome);
        };
        rings.push(harness.control_plane.stored(&intent_id).unwrap().ring);
        current = intent_id;
    }

    assert_eq!(
        rings,
        [
            Ring::Lab,
            Ring::Canary,
            Ring::Pilot,
            Ring::Department,
            Ring::Global
        ]
    );
}

#[tokio::test]
async fn promoting_from_global_is_an_error() {
    let harness = Harness::new(|now| vec![intent("promote-global", Ring::Global, now)]);

    let error = harness
        .promoter()
        .promote(&id("promote-global"), Ring::Global, false)
        .await
        .unwrap_err();

    assert!(
        matches!(error, RingsError::NoNextRing { ring: Ring::Global }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("Global is the last ring"),
        "{error}"
    );
    assert!(error.is_bad_input());
    assert!(harness.control_plane.submissions().is_empty());
}

#[tokio::test]
async fn wrong_ring_names_both_rings() {
    let harness = Harness::new(|now| vec![intent("promote-canary", Ring::Canary, now)]);

    let error = harness
        .promoter()
        .promote(&id("promote-canary"), Ring::Lab, false)
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            RingsError::WrongRing {
                actual: Ring::Canary,
                requested: Ring::Lab,
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("Canary") && message.contains("Lab"),
        "{message}"
    );
    assert!(error.is_bad_input());
}

#[tokio::test]
async fn rolled_back_intent_is_rejected() {
    let harness = Harness::new(|now| {
        let mut canary = intent("promote-canary", Ring::Canary, now);
        canary.status = IntentStatus::RolledBack;
        vec![canary]
    });

    let error = harness
        .promoter()
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap_err();

    assert!(matches!(error, RingsError::RolledBack { .. }), "{error:?}");
    assert!(error.to_string().contains("rolled back"), "{error}");
    assert!(harness.control_plane.submissions().is_empty());
}

#[tokio::test]
async fn pending_intent_is_rejected() {
    let harness = Harness::new(|now| {
        let mut canary = intent("promote-canary", Ring::Canary, now);
        canary.status = IntentStatus::Pending;
        vec![canary]
    });

    let error = harness
        .promoter()
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            RingsError::NotApproved {
                status: IntentStatus::Pending,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn missing_intent_is_named() {
    let harness = Harness::new(|_| vec![]);

    let error = harness
        .promoter()
        .promote(&id("deploy-missing"), Ring::Lab, false)
        .await
        .unwrap_err();

    assert!(
        matches!(error, RingsError::IntentNotFound { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("deploy-missing"), "{error}");
}

#[tokio::test]
async fn audit_failure_submits_nothing() {
    let harness = Harness::new(|now| vec![intent("promote-canary", Ring::Canary, now)]);
    harness.audit.failures.always(Failure::Transient);

    let error = harness
        .promoter()
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            RingsError::RecordAudit {
                event: AuditEventType::PromotionSubmitted,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(harness.control_plane.submissions().is_empty());
}

#[tokio::test]
async fn blocked_promotion_fails_closed_without_audit() {
    let harness = Harness::new(|now| {
        let mut canary = intent("promote-canary", Ring::Canary, now);
        canary.deployment = None;
        vec![canary]
    });
    harness.audit.failures.always(Failure::Transient);

    let error = harness
        .promoter()
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            RingsError::RecordAudit {
                event: AuditEventType::PromotionBlocked,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn next_ring_rollback_blocks_promotion() {
    let harness = Harness::new(|now| {
        let mut pilot = intent("promote-pilot", Ring::Pilot, now);
        pilot.status = IntentStatus::RolledBack;
        vec![intent("promote-canary", Ring::Canary, now), pilot]
    });

    let error = harness
        .promoter()
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            RingsError::RolledBackInNextRing {
                ring: Ring::Pilot,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("promote-pilot"), "{error}");
    assert!(harness.control_plane.submissions().is_empty());
}

#[tokio::test]
async fn corrupt_promote_id_is_reported() {
    let harness = Harness::new(|now| vec![intent("promote-canary", Ring::Canary, now)]);
    harness
        .journal
        .record(
            &id("promote-canary"),
            "promote:Pilot:id",
            StepState::Started,
            Some("not an id"),
        )
        .await
        .unwrap();

    let error = harness
        .promoter()
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap_err();

    assert!(
        matches!(error, RingsError::CorruptJournal { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("\"not an id\""), "{error}");
    assert!(harness.control_plane.submissions().is_empty());
}

/// A journal that reads from the fake and fails every write.
#[derive(Default)]
struct ReadOnlyJournal {
    inner: ops_testkit::FakeJournal,
}

#[async_trait]
impl Journal for ReadOnlyJournal {
    async fn record(
        &self,
        _operation: &CorrelationId,
        _step: &str,
        _state: StepState,
        _detail: Option<&str>,
    ) -> PortResult<()> {
        Err(PortError::transient(
            "journal",
            "record step",
            "database is locked",
        ))
    }

    async fn steps(
        &self,
        operation: &CorrelationId,
    ) -> PortResult<Vec<ops_core::ports::journal::JournalEntry>> {
        self.inner.steps(operation).await
    }
}

#[tokio::test]
async fn unrecorded_promote_id_submits_nothing() {
    let harness = Harness::new(|now| vec![intent("promote-canary", Ring::Canary, now)]);
    let promoter = Promoter::new(
        PromotionPorts {
            journal: Arc::new(ReadOnlyJournal::default()),
            ..harness.ports()
        },
        GatesConfig::default(),
        "tester",
    );

    let error = promoter
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap_err();

    assert!(
        matches!(error, RingsError::WriteJournal { ref step, .. } if step == "promote:Pilot:id"),
        "{error:?}"
    );
    assert!(harness.control_plane.submissions().is_empty());
    assert!(harness.audit.events().is_empty());
}

#[tokio::test]
async fn incidents_failure_is_an_error() {
    let harness = Harness::new(|now| vec![intent("promote-canary", Ring::Canary, now)]);
    harness.incidents.failures.always(Failure::Timeout);

    let error = harness
        .promoter()
        .promote(&id("promote-canary"), Ring::Canary, false)
        .await
        .unwrap_err();

    assert!(
        matches!(error, RingsError::ReadIncidents { .. }),
        "{error:?}"
    );
    assert!(!error.is_bad_input());
    assert!(harness.control_plane.submissions().is_empty());
}
