//! The notifier port: paging and messaging people.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::PortResult;
use crate::{CorrelationId, Severity};

/// A message for people on call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The operation the message is about.
    pub correlation_id: CorrelationId,
    /// How urgent it is.
    pub severity: Severity,
    /// A one-line summary.
    pub title: String,
    /// The details.
    pub body: String,
    /// A key that makes a retried notification update the first instead of paging again.
    pub dedup_key: String,
}

/// Sends notifications by email, chat or paging.
///
/// A retry with the same `dedup_key` must not page twice.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends one notification.
    async fn notify(&self, notification: &Notification) -> PortResult<()>;
}
