//! Fakes of the failover-group and region-health ports.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use ops_core::PortError;
use ops_core::error::PortResult;
use ops_core::ports::failover::{FailoverGroupStatus, FailoverMode, OperationState};
use ops_core::ports::{FailoverGroup, HealthReport, RegionHealth};

use crate::failures::{Failures, lock};

/// A failover group whose failovers complete after a set number of polls.
#[derive(Debug)]
pub struct FakeFailoverGroup {
    status: Mutex<FailoverGroupStatus>,
    polls_until_done: usize,
    operations: Mutex<BTreeMap<String, (usize, String, FailoverMode)>>,
    /// Failures the next calls return.
    pub failures: Failures,
}

impl FakeFailoverGroup {
    /// Creates a group with `primary` and `secondary` regions whose failovers finish on the
    /// `polls_until_done`-th poll.
    pub fn new(primary: &str, secondary: &str, polls_until_done: usize) -> FakeFailoverGroup {
        FakeFailoverGroup {
            status: Mutex::new(FailoverGroupStatus {
                primary_region: primary.to_owned(),
                secondary_region: secondary.to_owned(),
                replication_state: "CATCH_UP".to_owned(),
            }),
            polls_until_done,
            operations: Mutex::new(BTreeMap::new()),
            failures: Failures::default(),
        }
    }

    /// Returns the modes of every failover started, sorted by handle as text.
    pub fn failovers(&self) -> Vec<FailoverMode> {
        lock(&self.operations)
            .values()
            .map(|(_, _, mode)| *mode)
            .collect()
    }
}

#[async_trait]
impl FailoverGroup for FakeFailoverGroup {
    async fn status(&self) -> PortResult<FailoverGroupStatus> {
        self.failures.next("failover group", "get status")?;
        Ok(lock(&self.status).clone())
    }

    async fn failover(&self, target_region: &str, mode: FailoverMode) -> PortResult<String> {
        self.failures.next("failover group", "fail over")?;
        let status = lock(&self.status).clone();
        if target_region != status.primary_region && target_region != status.secondary_region {
            return Err(PortError::not_found(
                "failover group",
                "fail over",
                format!("region {target_region} is not part of the group"),
            ));
        }
        let mut operations = lock(&self.operations);
        let handle = format!("operation-{}", operations.len() + 1);
        operations.insert(handle.clone(), (0, target_region.to_owned(), mode));
        Ok(handle)
    }

    async fn operation_state(&self, handle: &str) -> PortResult<OperationState> {
        self.failures.next("failover group", "poll operation")?;
        let mut operations = lock(&self.operations);
        let (polls, target, _) = operations.get_mut(handle).ok_or_else(|| {
            PortError::not_found(
                "failover group",
                "poll operation",
                format!("no operation has handle {handle}"),
            )
        })?;
        *polls += 1;
        if *polls < self.polls_until_done {
            return Ok(OperationState::InProgress {
                retry_after_secs: Some(10),
            });
        }
        // Roles change once, on the poll that finishes the operation. Later polls only report
        // it, so polling an old failover does not undo a failback started after it.
        if *polls == self.polls_until_done.max(1) {
            let mut guard = lock(&self.status);
            let status = &mut *guard;
            if status.primary_region != *target {
                std::mem::swap(&mut status.primary_region, &mut status.secondary_region);
            }
        }
        Ok(OperationState::Succeeded)
    }
}

/// Region health answering from a table; unknown regions are unhealthy.
#[derive(Debug, Default)]
pub struct FakeRegionHealth {
    healthy: Mutex<BTreeMap<String, bool>>,
    /// Failures the next calls return.
    pub failures: Failures,
}

impl FakeRegionHealth {
    /// Sets whether a region is healthy.
    pub fn set(&self, region: &str, healthy: bool) {
        lock(&self.healthy).insert(region.to_owned(), healthy);
    }
}

#[async_trait]
impl RegionHealth for FakeRegionHealth {
    async fn check(&self, region: &str) -> PortResult<HealthReport> {
        self.failures.next("region health", "check")?;
        let healthy = lock(&self.healthy).get(region).copied().unwrap_or(false);
        Ok(HealthReport {
            healthy,
            latency: Duration::from_millis(20),
            detail: format!("region {region}"),
        })
    }
}
