//! Fixtures shared by the rollback tests: intents, fakes wired into a `Rollback`, and wrappers
//! that slow an execution plane down or count the calls in flight.

// Each test binary includes this module and uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ops_core::error::PortResult;
use ops_core::ports::execution_plane::{RemovalOutcome, RemovalRequest};
use ops_core::ports::{ExecutionPlane, HealthReport};
use ops_core::{
    ConnectorKind, CorrelationId, DeployedApp, DeploymentIntent, IntentStatus, Platform, Ring,
};
use ops_testkit::{
    FakeAuditSink, FakeClock, FakeControlPlane, FakeExecutionPlane, FakeJournal, FakeNotifier,
};
use rollback::{Rollback, RollbackConfig, RollbackPorts};

/// Parses a correlation id.
pub fn id(text: &str) -> CorrelationId {
    CorrelationId::parse(text).unwrap()
}

/// An intent deploying version 120.0 of application `app-chrome`, deployed in its ring.
pub fn intent(correlation_id: &str, ring: Ring, connectors: &[ConnectorKind]) -> DeploymentIntent {
    DeploymentIntent {
        correlation_id: id(correlation_id),
        application_id: "app-chrome".to_owned(),
        app_name: "Google Chrome".to_owned(),
        version: "120.0".to_owned(),
        ring,
        platform: Platform::Windows,
        version_scheme: None,
        connectors: connectors.to_vec(),
        status: IntentStatus::Deployed,
        deployment: None,
        high_risk: false,
        cab_approval: None,
    }
}

/// The fakes behind one `Rollback`.
pub struct Harness {
    pub control_plane: Arc<FakeControlPlane>,
    pub planes: BTreeMap<ConnectorKind, Arc<FakeExecutionPlane>>,
    pub journal: Arc<FakeJournal>,
    pub audit: Arc<FakeAuditSink>,
    pub notifier: Arc<FakeNotifier>,
    pub clock: Arc<FakeClock>,
}

impl Harness {
    /// Creates fakes holding `intents`, with one fake execution plane per connector in
    /// `configured`, each having the application deployed in every ring.
    pub fn new(intents: Vec<DeploymentIntent>, configured: &[ConnectorKind]) -> Harness {
        let planes = configured
            .iter()
            .map(|kind| {
                let plane = FakeExecutionPlane::new(*kind);
                for ring in Ring::ALL {
                    plane.deploy(
                        ring,
                        DeployedApp {
                            name: "Google Chrome".to_owned(),
                            version: "120.0".to_owned(),
                            platform: Platform::Windows,
                            devices: 10,
                        },
                    );
                }
                (*kind, Arc::new(plane))
            })
            .collect();
        Harness {
            control_plane: Arc::new(FakeControlPlane::with_intents(intents)),
            planes,
            journal: Arc::new(FakeJournal::default()),
            audit: Arc::new(FakeAuditSink::default()),
            notifier: Arc::new(FakeNotifier::default()),
            clock: Arc::new(FakeClock::default()),
        }
    }

    /// Returns the fake plane of a connector.
    pub fn plane(&self, kind: ConnectorKind) -> &FakeExecutionPlane {
        &self.planes[&kind]
    }

    /// Returns the number of removal calls each connector received, failed ones included.
    pub fn calls(&self, kind: ConnectorKind) -> usize {
        self.plane(kind).removal_calls().len()
    }

    /// Returns the total number of removal calls.
    pub fn total_calls(&self) -> usize {
        self.planes
            .values()
            .map(|plane| plane.removal_calls().len())
            .sum()
    }

    /// Returns the fake planes as ports.
    pub fn fake_planes(&self) -> BTreeMap<ConnectorKind, Arc<dyn ExecutionPlane>> {
        self.planes
            .iter()
            .map(|(kind, plane)| (*kind, Arc::clone(plane) as Arc<dyn ExecutionPlane>))
            .collect()
    }

    /// Returns the ports, with `planes` as execution planes.
    pub fn ports(&self, planes: BTreeMap<ConnectorKind, Arc<dyn ExecutionPlane>>) -> RollbackPorts {
        RollbackPorts {
            control_plane: self.control_plane.clone(),
            execution_planes: planes,
            journal: self.journal.clone(),
            audit: self.audit.clone(),
            notifier: self.notifier.clone(),
            clock: self.clock.clone(),
        }
    }

    /// Returns a rollback with the default configuration over the fake planes.
    pub fn rollback(&self) -> Rollback {
        self.rollback_with(config())
    }

    /// Returns a rollback with `config` over the fake planes.
    pub fn rollback_with(&self, config: RollbackConfig) -> Rollback {
        Rollback::new(self.ports(self.fake_planes()), config).unwrap()
    }

    /// Returns the status of a stored intent.
    pub fn status(&self, intent_id: &str) -> IntentStatus {
        self.control_plane.stored(&id(intent_id)).unwrap().status
    }
}

/// Returns the default configuration, acting as `tester`.
pub fn config() -> RollbackConfig {
    RollbackConfig::new("tester")
}

/// An execution plane that advances the fake clock on every removal, as a slow service would.
pub struct SlowPlane {
    pub inner: Arc<FakeExecutionPlane>,
    pub clock: Arc<FakeClock>,
    pub per_call: Duration,
}

#[async_trait]
impl ExecutionPlane for SlowPlane {
    fn kind(&self) -> ConnectorKind {
        self.inner.kind()
    }

    async fn remove_application(&self, request: &RemovalRequest) -> PortResult<RemovalOutcome> {
        self.clock.advance(self.per_call);
        self.inner.remove_application(request).await
    }

    async fn deployed_applications(&self, ring: Ring) -> PortResult<Vec<DeployedApp>> {
        self.inner.deployed_applications(ring).await
    }

    async fn health(&self) -> PortResult<HealthReport> {
        self.inner.health().await
    }
}

/// Counts removal calls in flight across every plane that shares it.
#[derive(Default)]
pub struct InFlight {
    current: AtomicUsize,
    max: AtomicUsize,
}

impl InFlight {
    /// Returns the most calls that were in flight at once.
    pub fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

/// An execution plane whose removals take a few real milliseconds, counted in `in_flight`.
pub struct CountingPlane {
    pub inner: Arc<FakeExecutionPlane>,
    pub in_flight: Arc<InFlight>,
}

#[async_trait]
impl ExecutionPlane for CountingPlane {
    fn kind(&self) -> ConnectorKind {
        self.inner.kind()
    }

    async fn remove_application(&self, request: &RemovalRequest) -> PortResult<RemovalOutcome> {
        let now = self.in_flight.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.in_flight.max.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2)).await;
        let result = self.inner.remove_application(request).await;
        self.in_flight.current.fetch_sub(1, Ordering::SeqCst);
        result
    }

    async fn deployed_applications(&self, ring: Ring) -> PortResult<Vec<DeployedApp>> {
        self.inner.deployed_applications(ring).await
    }

    async fn health(&self) -> PortResult<HealthReport> {
        self.inner.health().await
    }
}

/// A buffer that collects formatted log lines.
#[derive(Clone, Default)]
pub struct LogBuffer(pub Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Returns the lines written so far.
    pub fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
