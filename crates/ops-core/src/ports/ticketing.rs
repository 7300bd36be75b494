//! The ticketing port: bugs for the next sprint, CAB requests.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::PortResult;
use crate::{CorrelationId, Severity};

/// A ticket to open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRequest {
    /// The operation the ticket comes from.
    pub correlation_id: CorrelationId,
    /// The severity the ticket is filed at.
    pub severity: Severity,
    /// The ticket's title.
    pub title: String,
    /// The ticket's description.
    pub description: String,
}

/// Opens tickets in the team's tracker.
///
/// Opening a ticket for a correlation id that already has one returns the existing ticket's
/// reference.
#[async_trait]
pub trait Ticketing: Send + Sync {
    /// Opens a ticket, or finds the one already opened for the same correlation id, and returns
    /// its reference (such as `BUG-1234`).
    async fn open_ticket(&self, request: &TicketRequest) -> PortResult<String>;
}
