//! Behaviour tests of the audit sink, notifier, ticketing and metrics exporter fakes.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ops_core::audit::{AuditEvent, AuditEventType, Outcome};
use ops_core::ports::metrics::MetricSample;
use ops_core::ports::{
    AuditSink, MetricsExporter, Notification, Notifier, TicketRequest, Ticketing,
};
use ops_core::{CorrelationId, ErrorKind, Severity};
use ops_testkit::{
    Failure, FakeAuditSink, FakeMetricsExporter, FakeNotifier, FakeTicketing, assert_port_error,
};

fn id(text: &str) -> CorrelationId {
    CorrelationId::parse(text).unwrap()
}

fn start_of_2026() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap()
}

fn event(event_type: AuditEventType) -> AuditEvent {
    AuditEvent::new(
        event_type,
        id("rollback-1"),
        "ops@test",
        start_of_2026(),
        Outcome::Success,
    )
}

fn notification(dedup_key: &str, title: &str) -> Notification {
    Notification {
        correlation_id: id("rollback-1"),
        severity: Severity::P1,
        title: title.to_owned(),
        body: "Rollback of Google Chrome 120.0 failed on Intune.".to_owned(),
        dedup_key: dedup_key.to_owned(),
    }
}

fn ticket(correlation_id: &str, title: &str) -> TicketRequest {
    TicketRequest {
        correlation_id: id(correlation_id),
        severity: Severity::P2,
        title: title.to_owned(),
        description: "Drift found in the Pilot ring.".to_owned(),
    }
}

fn sample(name: &str, value: f64) -> MetricSample {
    MetricSample {
        name: name.to_owned(),
        value,
        labels: BTreeMap::from([("connector".to_owned(), "Jamf".to_owned())]),
        time: start_of_2026(),
        correlation_id: id("telemetry-1"),
    }
}

#[tokio::test]
async fn audit_events_kept_in_order() {
    let sink = FakeAuditSink::default();
    let started = event(AuditEventType::RollbackStarted);
    let completed = event(AuditEventType::RollbackCompleted);

    sink.record(&started).await.unwrap();
    sink.record(&completed).await.unwrap();

    assert_eq!(sink.events(), [started, completed]);
}

#[tokio::test]
async fn audit_event_recorded_twice_succeeds() {
    let sink = FakeAuditSink::default();
    let started = event(AuditEventType::RollbackStarted);

    sink.record(&started).await.unwrap();
    let retry = sink.record(&started).await;

    assert!(retry.is_ok());
}

#[tokio::test]
async fn failed_audit_record_keeps_nothing() {
    let sink = FakeAuditSink::default();
    sink.failures.push([Failure::Transient]);
    let started = event(AuditEventType::RollbackStarted);

    let error = sink.record(&started).await.unwrap_err();

    assert_port_error(
        &error,
        ErrorKind::Transient,
        "audit log record event failed",
    );
    assert!(sink.events().is_empty());
    sink.record(&started).await.unwrap();
    assert_eq!(sink.events(), [started]);
}

#[tokio::test]
async fn notifier_keeps_sent_notifications() {
    let notifier = FakeNotifier::default();
    let first = notification("rollback-1", "Rollback failed");
    let second = notification("rollback-2", "Rollback past deadline");

    notifier.notify(&first).await.unwrap();
    notifier.notify(&second).await.unwrap();

    assert_eq!(notifier.sent(), [first, second]);
    assert_eq!(notifier.pages(), 2);
}

#[tokio::test]
async fn retry_with_dedup_key_pages_once() {
    let notifier = FakeNotifier::default();
    let first = notification("rollback-1", "Rollback failed");
    let retry = notification("rollback-1", "Rollback failed, retried");

    notifier.notify(&first).await.unwrap();
    notifier.notify(&retry).await.unwrap();

    assert_eq!(notifier.sent().len(), 2);
    assert_eq!(notifier.pages(), 1);
}

#[tokio::test]
async fn failed_notification_is_not_sent() {
    let notifier = FakeNotifier::default();
    notifier
        .failures
        .push([Failure::Throttled(Duration::from_secs(60))]);

    let error = notifier
        .notify(&notification("rollback-1", "Rollback failed"))
        .await
        .unwrap_err();

    assert_port_error(&error, ErrorKind::Throttled, "notifier notify failed");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(60)));
    assert!(notifier.sent().is_empty());
    assert_eq!(notifier.pages(), 0);
}

#[tokio::test]
async fn ticket_opened_with_reference() {
    let ticketing = FakeTicketing::default();
    let request = ticket("drift-1", "Unauthorized app in Pilot");

    let reference = ticketing.open_ticket(&request).await.unwrap();

    assert!(reference.starts_with("BUG-"), "{reference}");
    assert_eq!(ticketing.tickets(), [(reference, request)]);
}

#[tokio::test]
async fn tickets_differ_per_correlation_id() {
    let ticketing = FakeTicketing::default();

    let first = ticketing
        .open_ticket(&ticket("drift-1", "Unauthorized app in Pilot"))
        .await
        .unwrap();
    let second = ticketing
        .open_ticket(&ticket("drift-2", "Missing app in Canary"))
        .await
        .unwrap();

    assert_ne!(first, second);
    assert_eq!(ticketing.tickets().len(), 2);
}

#[tokio::test]
async fn reopening_ticket_returns_existing() {
    let ticketing = FakeTicketing::default();
    let original = ticket("drift-1", "Unauthorized app in Pilot");
    let first = ticketing.open_ticket(&original).await.unwrap();

    let again = ticketing
        .open_ticket(&ticket("drift-1", "Unauthorized app in Pilot, rerun"))
        .await
        .unwrap();

    assert_eq!(again, first);
    assert_eq!(ticketing.tickets(), [(first, original)]);
}

#[tokio::test]
async fn failed_ticket_opens_nothing() {
    let ticketing = FakeTicketing::default();
    ticketing.failures.push([Failure::Unauthorized]);

    let error = ticketing
        .open_ticket(&ticket("drift-1", "Unauthorized app in Pilot"))
        .await
        .unwrap_err();

    assert_port_error(
        &error,
        ErrorKind::Unauthorized,
        "ticketing open ticket failed",
    );
    assert!(ticketing.tickets().is_empty());
}

#[tokio::test]
async fn metric_batches_kept_in_order() {
    let exporter = FakeMetricsExporter::default();
    let first = vec![sample("ops_connector_latency_ms", 120.0)];
    let second = vec![
        sample("ops_connector_latency_ms", 95.0),
        sample("ops_connector_errors", 1.0),
    ];

    exporter.export(&first).await.unwrap();
    exporter.export(&second).await.unwrap();

    assert_eq!(exporter.batches(), [first, second]);
}

#[tokio::test]
async fn failed_export_keeps_nothing() {
    let exporter = FakeMetricsExporter::default();
    exporter.failures.push([Failure::Permanent]);

    let error = exporter
        .export(&[sample("ops_connector_latency_ms", 120.0)])
        .await
        .unwrap_err();

    assert_port_error(
        &error,
        ErrorKind::Permanent,
        "metrics exporter export failed",
    );
    assert!(exporter.batches().is_empty());
}
