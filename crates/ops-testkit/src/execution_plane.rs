//! A fake execution plane.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use ops_core::error::PortResult;
use ops_core::ports::execution_plane::{RemovalOutcome, RemovalRequest};
use ops_core::ports::{ExecutionPlane, HealthReport};
use ops_core::{ConnectorKind, DeployedApp, Ring};

use crate::failures::{Failures, lock};

/// An execution plane whose deployments are a map from ring to applications.
#[derive(Debug)]
pub struct FakeExecutionPlane {
    kind: ConnectorKind,
    deployed: Mutex<BTreeMap<Ring, Vec<DeployedApp>>>,
    removal_calls: Mutex<Vec<RemovalRequest>>,
    /// Failures the next calls return.
    pub failures: Failures,
}

impl FakeExecutionPlane {
    /// Creates an empty plane of this kind.
    pub fn new(kind: ConnectorKind) -> FakeExecutionPlane {
        FakeExecutionPlane {
            kind,
            deployed: Mutex::new(BTreeMap::new()),
            removal_calls: Mutex::new(Vec::new()),
            failures: Failures::default(),
        }
    }

    /// Deploys an application to a ring. Deploying one already there replaces it, so the ring
    /// lists each application once.
    pub fn deploy(&self, ring: Ring, app: DeployedApp) {
        let mut deployed = lock(&self.deployed);
        let apps = deployed.entry(ring).or_default();
        let same = apps.iter_mut().find(|existing| {
            existing.name == app.name
                && existing.version == app.version
                && existing.platform == app.platform
        });
        match same {
            Some(existing) => *existing = app,
            None => apps.push(app),
        }
    }

    /// Returns every removal request received, failed ones included, in order.
    pub fn removal_calls(&self) -> Vec<RemovalRequest> {
        lock(&self.removal_calls).clone()
    }
}

#[async_trait]
impl ExecutionPlane for FakeExecutionPlane {
    fn kind(&self) -> ConnectorKind {
        self.kind
    }

    async fn remove_application(&self, request: &RemovalRequest) -> PortResult<RemovalOutcome> {
        lock(&self.removal_calls).push(request.clone());
        self.failures.next(self.kind.name(), "remove application")?;

        let mut deployed = lock(&self.deployed);
        let apps = deployed.entry(request.ring).or_default();
        let before = apps.len();
        apps.retain(|app| !(app.name == request.app_name && app.version == request.version));
        Ok(if apps.len() < before {
            RemovalOutcome::Removed
        } else {
            RemovalOutcome::AlreadyAbsent
        })
    }

    async fn deployed_applications(&self, ring: Ring) -> PortResult<Vec<DeployedApp>> {
        self.failures.next(self.kind.name(), "list applications")?;
        Ok(lock(&self.deployed).get(&ring).cloned().unwrap_or_default())
    }

    async fn health(&self) -> PortResult<HealthReport> {
        self.failures.next(self.kind.name(), "health")?;
        Ok(HealthReport {
            healthy: true,
            latency: Duration::from_millis(5),
            detail: format!("fake {}", self.kind),
        })
    }
}
