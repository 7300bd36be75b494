//! Fixtures shared by the promotion tests: intents with device counts, and fakes wired into a
//! `Promoter`.

// Each test binary includes this module and uses only part of it.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ops_core::intent::DeploymentStatus;
use ops_core::ports::{Clock, IncidentSummary, Incidents};
use ops_core::{
    ConnectorKind, CorrelationId, DeploymentIntent, IntentStatus, Platform, Ring, Severity,
};
use ops_testkit::{FakeAuditSink, FakeClock, FakeControlPlane, FakeIncidents, FakeJournal};
use rings::{GatesConfig, Promoter, PromotionPorts};

/// Parses a correlation id.
pub fn id(text: &str) -> CorrelationId {
    CorrelationId::parse(text).unwrap()
}

/// Device counts that meet every default gate: 3000 reporting, 99.5% successful, first
/// deployed 100 hours before `now`.
pub fn healthy(now: DateTime<Utc>) -> DeploymentStatus {
    DeploymentStatus {
        devices_targeted: 3100,
        devices_succeeded: 2985,
        devices_failed: 15,
        deployed_at: Some(now - Duration::hours(100)),
    }
}

/// A deployed intent of version 120.0 of `app-chrome` in `ring`, with healthy device counts.
pub fn intent(correlation_id: &str, ring: Ring, now: DateTime<Utc>) -> DeploymentIntent {
    DeploymentIntent {
        correlation_id: id(correlation_id),
        application_id: "app-chrome".to_owned(),
        app_name: "Google Chrome".to_owned(),
        version: "120.0".to_owned(),
        ring,
        platform: Platform::Windows,
        version_scheme: None,
        connectors: vec![ConnectorKind::Intune],
        status: IntentStatus::Deployed,
        deployment: Some(healthy(now)),
        high_risk: false,
        cab_approval: None,
    }
}

/// The fakes behind one `Promoter`.
pub struct Harness {
    pub control_plane: Arc<FakeControlPlane>,
    pub incidents: Arc<FakeIncidents>,
    pub journal: Arc<FakeJournal>,
    pub audit: Arc<FakeAuditSink>,
    pub clock: Arc<FakeClock>,
}

impl Harness {
    /// Creates fakes holding the intents `build` returns for the fake clock's time.
    pub fn new(build: impl FnOnce(DateTime<Utc>) -> Vec<DeploymentIntent>) -> Harness {
        let clock = Arc::new(FakeClock::default());
        Harness {
            control_plane: Arc::new(FakeControlPlane::with_intents(build(clock.now()))),
            incidents: Arc::new(FakeIncidents::default()),
            journal: Arc::new(FakeJournal::default()),
            audit: Arc::new(FakeAuditSink::default()),
            clock,
        }
    }

    /// Returns the current time of the fake clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Returns a promoter with the default gates.
    pub fn promoter(&self) -> Promoter {
        self.promoter_with(GatesConfig::default())
    }

    /// Returns a promoter with `gates`.
    pub fn promoter_with(&self, gates: GatesConfig) -> Promoter {
        Promoter::new(self.ports(), gates, "tester")
    }

    /// Returns the ports over the fakes.
    pub fn ports(&self) -> PromotionPorts {
        PromotionPorts {
            control_plane: self.control_plane.clone(),
            incidents: self.incidents.clone(),
            journal: self.journal.clone(),
            audit: self.audit.clone(),
            clock: self.clock.clone(),
        }
    }

    /// Returns the stored intent.
    pub fn stored(&self, intent_id: &str) -> DeploymentIntent {
        self.control_plane.stored(&id(intent_id)).unwrap()
    }

    /// Records an open incident about a deployment.
    pub async fn raise(&self, incident_id: &str, severity: Severity, deployment: &str) {
        let incident = IncidentSummary {
            id: id(incident_id),
            severity,
            deployment: Some(id(deployment)),
            ring: None,
            title: "installs crash on start".to_owned(),
            raised_at: self.now(),
            open: true,
        };
        self.incidents.raise(&incident).await.unwrap();
    }
}
