//! Behaviour tests of `FakeFailoverGroup` and `FakeRegionHealth` against the failover ports.

use std::time::Duration;

use ops_core::ErrorKind;
use ops_core::ports::failover::{FailoverGroupStatus, FailoverMode, OperationState};
use ops_core::ports::{FailoverGroup, RegionHealth};
use ops_testkit::{Failure, FakeFailoverGroup, FakeRegionHealth, assert_port_error};

const IN_PROGRESS: OperationState = OperationState::InProgress {
    retry_after_secs: Some(10),
};

async fn primary(group: &FakeFailoverGroup) -> String {
    group.status().await.unwrap().primary_region
}

/// Starts a planned failover to `region` and polls it once, which finishes it when the group
/// finishes failovers on the first poll. Returns the operation's handle.
async fn fail_over(group: &FakeFailoverGroup, region: &str) -> String {
    let handle = group.failover(region, FailoverMode::Planned).await.unwrap();
    group.operation_state(&handle).await.unwrap();
    handle
}
#[tokio::test]
async fn new_group_reports_both_regions() {
    let group = FakeFailoverGroup::new("westeurope", "northeurope", 1);

    let status = group.status().await.unwrap();

    let expected = FailoverGroupStatus {
        primary_region: "westeurope".to_owned(),
        secondary_region: "northeurope".to_owned(),
        replication_state: "CATCH_UP".to_owned(),
    };
    assert_eq!(status, expected);
    assert!(group.failovers().is_empty());
}

#[tokio::test]
async fn failover_succeeds_on_set_poll() {
    let group = FakeFailoverGroup::new("westeurope", "northeurope", 3);
    let handle = group
        .failover("northeurope", FailoverMode::Planned)
        .await
        .unwrap();

    let states = [
        group.operation_state(&handle).await.unwrap(),
        group.operation_state(&handle).await.unwrap(),
        group.operation_state(&handle).await.unwrap(),
    ];

    assert_eq!(
        states,
        [IN_PROGRESS, IN_PROGRESS, OperationState::Succeeded]
    );
}

#[tokio::test]
async fn roles_swap_only_when_done() {
    let group = FakeFailoverGroup::new("westeurope", "northeurope", 2);
    let handle = group
        .failover("northeurope", FailoverMode::Planned)
        .await
        .unwrap();
    assert_eq!(primary(&group).await, "westeurope");

    group.operation_state(&handle).await.unwrap();
    assert_eq!(primary(&group).await, "westeurope");

    group.operation_state(&handle).await.unwrap();
    let status = group.status().await.unwrap();
    assert_eq!(status.primary_region, "northeurope");
    assert_eq!(status.secondary_region, "westeurope");
}

#[tokio::test]
async fn zero_polls_finish_at_once() {
    let group = FakeFailoverGroup::new("westeurope", "northeurope", 0);
    let handle = group
        .failover("northeurope", FailoverMode::ForcedAllowDataLoss)
        .await
        .unwrap();

    let state = group.operation_state(&handle).await.unwrap();

    assert_eq!(state, OperationState::Succeeded);
    assert_eq!(primary(&group).await, "northeurope");
}

#[tokio::test]
async fn failover_to_primary_is_noop() {
    let group = FakeFailoverGroup::new("westeurope", "northeurope", 1);

    let handle = group
        .failover("westeurope", FailoverMode::Planned)
        .await
        .unwrap();
    let state = group.operation_state(&handle).await.unwrap();

    let status = group.status().await.unwrap();
    assert_eq!(state, OperationState::Succeeded);
    assert_eq!(status.primary_region, "westeurope");
    assert_eq!(status.secondary_region, "northeurope");
}

#[tokio::test]
async fn failback_restores_first_primary() {
    let group = FakeFailoverGroup::new("westeurope", "northeurope", 1);
    let failover = fail_over(&group, "northeurope").await;

    let failback = fail_over(&group, "westeurope").await;

    assert_ne!(failover, failback);
    assert_eq!(primary(&group).await, "westeurope");
}

#[tokio::test]
async fn repolling_finished_failover_keeps_roles() {
    let group = FakeFailoverGroup::new("westeurope", "northeurope", 1);
    let failover = fail_over(&group, "northeurope").await;
    fail_over(&group, "westeurope").await;

    let state = group.operation_state(&failover).await.unwrap();

    assert_eq!(state, OperationState::Succeeded);
    assert_eq!(primary(&group).await, "westeurope");
}

#[tokio::test]
async fn failover_unknown_region_not_found() {
    let group = FakeFailoverGroup::new("westeurope", "northeurope", 1);

    let error = group
        .failover("eastus", FailoverMode::Planned)
        .await
        .unwrap_err();

    assert_port_error(&error, ErrorKind::NotFound, "region eastus");
    assert!(group.failovers().is_empty());
    assert_eq!(primary(&group).await, "westeurope");
}

#[tokio::test]
async fn unknown_handle_not_found() {
    let group = FakeFailoverGroup::new("westeurope", "northeurope", 1);

    let error = group.operation_state("operation-9").await.unwrap_err();

    assert_port_error(
        &error,
        ErrorKind::NotFound,
        "no operation has handle operation-9",
    );
}

#[tokio::test]
async fn failovers_lists_modes_in_order() {
    let group = FakeFailoverGroup::new("westeurope", "northeurope", 1);
    group
        .failover("northeurope", FailoverMode::Planned)
        .await
        .unwrap();
    group
        .failover("northeurope", FailoverMode::ForcedAllowDataLoss)
        .await
        .unwrap();

    let modes = group.failovers();

    assert_eq!(
        modes,
        [FailoverMode::Planned, FailoverMode::ForcedAllowDataLoss]
    );
}

#[tokio::test]
async fn queued_failure_fails_every_method() {
    let group = FakeFailoverGroup::new("westeurope", "northeurope", 1);
    group
        .failures
        .push(std::iter::repeat_n(Failure::Transient, 3));

    let errors = [
        group.status().await.unwrap_err(),
        group
            .failover("northeurope", FailoverMode::Planned)
            .await
            .unwrap_err(),
        group.operation_state("operation-1").await.unwrap_err(),
    ];

    let operations = [
        "failover group get status failed",
        "failover group fail over failed",
        "failover group poll operation failed",
    ];
    for (error, operation) in errors.iter().zip(operations) {
        assert_port_error(error, ErrorKind::Transient, operation);
    }
    assert!(group.failovers().is_empty());
}

#[tokio::test]
async fn failed_poll_keeps_roles() {
    let group = FakeFailoverGroup::new("westeurope", "northeurope", 1);
    let handle = group
        .failover("northeurope", FailoverMode::Planned)
        .await
        .unwrap();
    group
        .failures
        .push([Failure::Throttled(Duration::from_secs(15))]);

    let error = group.operation_state(&handle).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Throttled);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(15)));
    assert_eq!(primary(&group).await, "westeurope");
    let state = group.operation_state(&handle).await.unwrap();
    assert_eq!(state, OperationState::Succeeded);
}

#[tokio::test]
async fn unknown_region_is_unhealthy() {
    let health = FakeRegionHealth::default();

    let report = health.check("westeurope").await.unwrap();

    assert!(!report.healthy);
    assert!(report.detail.contains("westeurope"), "{}", report.detail);
}

#[tokio::test]
async fn region_health_follows_set() {
    let health = FakeRegionHealth::default();
    health.set("westeurope", true);
    health.set("northeurope", false);

    assert!(health.check("westeurope").await.unwrap().healthy);
    assert!(!health.check("northeurope").await.unwrap().healthy);

    health.set("westeurope", false);
    assert!(!health.check("westeurope").await.unwrap().healthy);
}

#[tokio::test]
async fn region_check_reports_latency() {
    let health = FakeRegionHealth::default();
    health.set("westeurope", true);

    let report = health.check("westeurope").await.unwrap();

    assert!(report.latency > Duration::ZERO);
}

#[tokio::test]
async fn queued_failure_fails_region_check() {
    let health = FakeRegionHealth::default();
    health.set("westeurope", true);
    health.failures.push([Failure::Timeout]);

    let error = health.check("westeurope").await.unwrap_err();

    assert_port_error(&error, ErrorKind::Transient, "region health check failed");
    assert!(health.check("westeurope").await.unwrap().healthy);
}

#[tokio::test]
async fn always_failure_lasts_until_clear() {
    let health = FakeRegionHealth::default();
    health.set("westeurope", true);
    health.failures.always(Failure::Transient);

    let first = health.check("westeurope").await;
    let second = health.check("westeurope").await;
    health.failures.clear();

    assert!(first.is_err());
    assert!(second.is_err());
    assert!(health.check("westeurope").await.unwrap().healthy);
}
