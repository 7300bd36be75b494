//! Fakes of the ports that only receive: audit sink, notifier, ticketing, metrics exporter.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use ops_core::audit::AuditEvent;
use ops_core::error::PortResult;
use ops_core::ports::metrics::MetricSample;
use ops_core::ports::notifier::Notification;
use ops_core::ports::ticketing::TicketRequest;
use ops_core::ports::{AuditSink, MetricsExporter, Notifier, Ticketing};

use crate::failures::{Failures, lock};

/// An audit sink that keeps events in memory.
#[derive(Debug, Default)]
pub struct FakeAuditSink {
    events: Mutex<Vec<AuditEvent>>,
    /// Failures the next calls return; use it to test that an operation fails closed.
    pub failures: Failures,
}

impl FakeAuditSink {
    /// Returns the events recorded, in order.
    pub fn events(&self) -> Vec<AuditEvent> {
        lock(&self.events).clone()
    }
}

#[async_trait]
impl AuditSink for FakeAuditSink {
    async fn record(&self, event: &AuditEvent) -> PortResult<()> {
        self.failures.next("audit log", "record event")?;
        lock(&self.events).push(event.clone());
        Ok(())
    }
}

/// A notifier that keeps notifications and pages once per dedup key, as PagerDuty does.
#[derive(Debug, Default)]
pub struct FakeNotifier {
    sent: Mutex<Vec<Notification>>,
    /// Failures the next calls return.
    pub failures: Failures,
}

impl FakeNotifier {
    /// Returns every notification accepted, retries included.
    pub fn sent(&self) -> Vec<Notification> {
        lock(&self.sent).clone()
    }

    /// Returns the number of distinct pages: notifications with distinct dedup keys.
    pub fn pages(&self) -> usize {
        let sent = lock(&self.sent);
        let mut keys: Vec<&str> = sent.iter().map(|note| note.dedup_key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        keys.len()
    }
}

#[async_trait]
impl Notifier for FakeNotifier {
    async fn notify(&self, notification: &Notification) -> PortResult<()> {
        self.failures.next("notifier", "notify")?;
        lock(&self.sent).push(notification.clone());
        Ok(())
    }
}

/// A tracker that opens one ticket per correlation id.
#[derive(Debug, Default)]
pub struct FakeTicketing {
    tickets: Mutex<BTreeMap<String, (String, TicketRequest)>>,
    /// Failures the next calls return.
    pub failures: Failures,
}

impl FakeTicketing {
    /// Returns the tickets opened, by reference.
    pub fn tickets(&self) -> Vec<(String, TicketRequest)> {
        lock(&self.tickets).values().cloned().collect()
    }
}

#[async_trait]
impl Ticketing for FakeTicketing {
    async fn open_ticket(&self, request: &TicketRequest) -> PortResult<String> {
        self.failures.next("ticketing", "open ticket")?;
        let mut tickets = lock(&self.tickets);
        let next_number = tickets.len() + 1;
        let (reference, _) = tickets
            .entry(request.correlation_id.to_string())
            .or_insert_with(|| (format!("BUG-{next_number}"), request.clone()));
        Ok(reference.clone())
    }
}

/// A metrics exporter that keeps every batch.
#[derive(Debug, Default)]
pub struct FakeMetricsExporter {
    batches: Mutex<Vec<Vec<MetricSample>>>,
    /// Failures the next calls return.
    pub failures: Failures,
}

impl FakeMetricsExporter {
    /// Returns every batch exported, in order.
    pub fn batches(&self) -> Vec<Vec<MetricSample>> {
        lock(&self.batches).clone()
    }
}

#[async_trait]
impl MetricsExporter for FakeMetricsExporter {
    async fn export(&self, samples: &[MetricSample]) -> PortResult<()> {
        self.failures.next("metrics exporter", "export")?;
        lock(&self.batches).push(samples.to_vec());
        Ok(())
    }
}
