//! Delivery from the spool to a SIEM: batching by size, splitting on HTTP 413, and removing from
//! the spool only what the SIEM acknowledged.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use ops_core::audit::AuditEvent;
use serde::Serialize;
use uuid::Uuid;

use crate::error::SiemError;
use crate::log::checkpoint::Checkpoint;
use crate::spool::Spool;

/// A SIEM that takes batches of encoded events.
///
/// The [`Forwarder`] decides what goes into a batch. The transport encodes events, sends one
/// batch per call (retrying transient failures itself) and reports whether the SIEM accepted it.
#[async_trait]
pub trait SiemTransport: Send + Sync {
    /// Returns the SIEM's name for logs and errors, such as `Sentinel`.
    fn name(&self) -> &'static str;

    /// Returns the largest request body in bytes, counted before compression.
    fn max_batch_bytes(&self) -> usize;

    /// Encodes one event as one record. `head` is the audit log's current checkpoint, which
    /// records carry so that checkpoints leave the box with every batch.
    fn encode(&self, event: &AuditEvent, head: Option<&Checkpoint>) -> Result<Vec<u8>, SiemError>;

    /// Sends one batch. Returns [`BatchOutcome::TooLarge`] when the SIEM rejects its size.
    async fn send_batch(&self, records: &[&[u8]]) -> Result<BatchOutcome, SiemError>;
}

/// The SIEM's response to a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// The SIEM acknowledged the batch.
    Accepted,
    /// The SIEM rejected the batch as too large (HTTP 413).
    TooLarge,
}

/// Returns the body size of a batch: a JSON array of the records, `[a,b,c]`. A newline-separated
/// body is one byte smaller.
pub(crate) fn batch_bytes<'a>(records: impl IntoIterator<Item = &'a [u8]>) -> usize {
    records
        .into_iter()
        .map(|record| record.len() + 1)
        .sum::<usize>()
        + 1
}

/// Ships spooled events to a SIEM.
#[derive(Clone)]
pub struct Forwarder {
    spool: Spool,
    transport: Arc<dyn SiemTransport>,
}

/// The result of one flush.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FlushReport {
    /// Events the SIEM acknowledged and that left the spool.
    pub delivered: usize,
    /// Requests the SIEM acknowledged.
    pub batches: usize,
    /// Spool files that repeated an event id already in this flush. They left the spool with the
    /// first copy, which is the only one sent.
    pub duplicates: usize,
    /// Events moved to the spool's `rejected/` folder because no SIEM request can carry them.
    pub rejected: Vec<RejectedEvent>,
}

/// An event the SIEM can never accept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedEvent {
    /// The event, when the spool file could be read.
    pub event_id: Option<Uuid>,
    /// The file's new path in `rejected/`.
    pub path: PathBuf,
    /// Why it was rejected.
    pub reason: String,
}

/// One event of a flush: its record and every spool file that holds it.
struct Item {
    event_id: Uuid,
    record: Vec<u8>,
    paths: Vec<PathBuf>,
}

impl Forwarder {
    /// Creates a forwarder from a spool and a transport.
    pub fn new(spool: Spool, transport: Arc<dyn SiemTransport>) -> Forwarder {
        Forwarder { spool, transport }
    }

    /// Returns the spool.
    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// Returns the SIEM's name.
    pub fn sink_name(&self) -> &'static str {
        self.transport.name()
    }

    /// Delivers every spooled event, oldest first, and removes each batch from the spool once the
    /// SIEM acknowledged it.
    ///
    /// Delivery is at least once: a crash after an acknowledgement and before the removal sends
    /// that batch again on the next flush. Within one flush no event id is sent twice, and a
    /// flush holds the spool's flush lock, so two flushes never send the same files at once.
    /// Receivers drop duplicates by `EventUid`.
    ///
    /// Stops at the first batch that fails after the transport's retries, with
    /// [`SiemError::FlushIncomplete`]; what was delivered before stays delivered.
    pub async fn flush(&self, head: Option<&Checkpoint>) -> Result<FlushReport, SiemError> {
        let _flush_lock = self.lock_flush().await?;
        let mut report = FlushReport::default();
        let items = self.load_items(head, &mut report)?;
        let sink = self.transport.name();

        let mut queue: VecDeque<Range<usize>> = self.plan_batches(&items).into();
        while let Some(range) = queue.pop_front() {
            let records: Vec<&[u8]> = items[range.clone()]
                .iter()
                .map(|item| item.record.as_slice())
                .collect();
            let outcome = match self.transport.send_batch(&records).await {
                Ok(outcome) => outcome,
                Err(error) => {
                    let remaining = range.len() + queue.iter().map(Range::len).sum::<usize>();
                    tracing::warn!(sink, delivered = report.delivered, remaining, error = %error, "siem flush stopped");
                    return Err(SiemError::FlushIncomplete {
                        sink,
                        delivered: report.delivered,
                        remaining,
                        source: Box::new(error),
                    });
                }
            };

            match outcome {
                BatchOutcome::Accepted => {
                    let paths: Vec<&Path> = items[range.clone()]
                        .iter()
                        .flat_map(|item| item.paths.iter().map(PathBuf::as_path))
                        .collect();
                    self.spool.remove(&paths)?;
                    report.delivered += range.len();
                    report.batches += 1;
                }
                BatchOutcome::TooLarge if range.len() > 1 => {
                    let middle = range.start + range.len() / 2;
                    tracing::info!(
                        sink,
                        events = range.len(),
                        "batch too large for the siem, splitting it"
                    );
                    queue.push_front(middle..range.end);
                    queue.push_front(range.start..middle);
                }
                BatchOutcome::TooLarge => {
                    let item = &items[range.start];
                    let reason = format!("{sink} rejected the event alone as too large (HTTP 413)");
                    self.reject_item(item, &reason, &mut report)?;
                }
            }
        }

        tracing::info!(
            sink,
            delivered = report.delivered,
            batches = report.batches,
            rejected = report.rejected.len(),
            "siem flush finished"
        );
        Ok(report)
    }

    /// Blocks, off the async runtime, until this flush holds the spool's flush lock.
    async fn lock_flush(&self) -> Result<std::fs::File, SiemError> {
        let file = self.spool.flush_lock_file()?;
        let path = self.spool.dir().join(crate::spool::FLUSH_LOCK_FILE);
        tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .map_err(|source| SiemError::Task { source })?
            .map_err(|source| SiemError::Lock { path, source })
    }

    /// Reads the spool, drops duplicate event ids and encodes each event, rejecting files that
    /// cannot be read and events that no request can carry.
    fn load_items(
        &self,
        head: Option<&Checkpoint>,
        report: &mut FlushReport,
    ) -> Result<Vec<Item>, SiemError> {
        let (spooled, unreadable) = self.spool.pending()?;
        for file in unreadable {
            let reason = error_chain(&file.error);
            let path = self.spool.reject(&file.path, &reason)?;
            tracing::error!(path = %path.display(), reason, "rejected an unreadable spool file");
            report.rejected.push(RejectedEvent {
                event_id: None,
                path,
                reason,
            });
        }

        let limit = self.transport.max_batch_bytes();
        let mut items: Vec<Item> = Vec::with_capacity(spooled.len());
        let mut index_of: HashMap<Uuid, usize> = HashMap::new();
        for spooled_event in spooled {
            let event_id = spooled_event.event.event_id;
            if let Some(&index) = index_of.get(&event_id) {
                items[index].paths.push(spooled_event.path);
                report.duplicates += 1;
                continue;
            }
            let encoded = self
                .transport
                .encode(&spooled_event.event, head)
                .and_then(|record| check_size(record, event_id, self.transport.name(), limit));
            let item = Item {
                event_id,
                record: Vec::new(),
                paths: vec![spooled_event.path],
            };
            match encoded {
                Ok(record) => {
                    index_of.insert(event_id, items.len());
                    items.push(Item { record, ..item });
                }
                Err(error) => self.reject_item(&item, &error_chain(&error), report)?,
            }
        }
        Ok(items)
    }

    /// Groups items into consecutive batches whose bodies fit the transport's limit.
    fn plan_batches(&self, items: &[Item]) -> Vec<Range<usize>> {
        let limit = self.transport.max_batch_bytes();
        let mut batches = Vec::new();
        let mut start = 0;
        let mut size = 1;
        for (index, item) in items.iter().enumerate() {
            let added = item.record.len() + 1;
            if index > start && size + added > limit {
                batches.push(start..index);
                start = index;
                size = 1;
            }
            size += added;
        }
        if start < items.len() {
            batches.push(start..items.len());
        }
        batches
    }

    fn reject_item(
        &self,
        item: &Item,
        reason: &str,
        report: &mut FlushReport,
    ) -> Result<(), SiemError> {
        for path in &item.paths {
            let target = self.spool.reject(path, reason)?;
            tracing::error!(event_id = %item.event_id, path = %target.display(), reason, "rejected an event the siem cannot accept");
            report.rejected.push(RejectedEvent {
                event_id: Some(item.event_id),
                path: target,
                reason: reason.to_owned(),
            });
        }
        Ok(())
    }
}

/// Returns the record, or an error naming the event when it alone exceeds the request limit.
fn check_size(
    record: Vec<u8>,
    event_id: Uuid,
    sink: &'static str,
    limit: usize,
) -> Result<Vec<u8>, SiemError> {
    let size = batch_bytes([record.as_slice()]);
    if size > limit {
        return Err(SiemError::EventTooLarge {
            event_id,
            sink,
            size,
            limit,
        });
    }
    Ok(record)
}

/// Joins an error and its causes with colons, for reasons stored beside rejected files.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
