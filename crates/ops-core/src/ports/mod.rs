//! The port traits: one per external capability the domains need.
//!
//! Each trait's documentation is its contract: what must be idempotent, what must be durable
//! and which errors a caller should expect. Adapters implement them at the edge of the system
//! (`ops-store` for the embedded SQLite control plane, `connectors` for execution planes,
//! `siem` for the audit trail) and the `ops-testkit` crate contains an in-memory fake of each.
//!
//! All traits are object safe and `Send + Sync`, so `ops-bin` can wire them as
//! `Arc<dyn Trait>`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod audit;
pub mod clock;
pub mod control_plane;
pub mod directory;
pub mod execution_plane;
pub mod failover;
pub mod incidents;
pub mod journal;
pub mod metrics;
pub mod notifier;
pub mod secrets;
pub mod ticketing;

pub use audit::AuditSink;
pub use clock::Clock;
pub use control_plane::{ControlPlane, IntentFilter, StoreMetrics, SubmitOutcome};
pub use directory::Directory;
pub use execution_plane::{ExecutionPlane, RemovalOutcome, RemovalRequest};
pub use failover::{FailoverGroup, RegionHealth};
pub use incidents::{IncidentSummary, Incidents};
pub use journal::{Journal, StepState};
pub use metrics::MetricsExporter;
pub use notifier::{Notification, Notifier};
pub use secrets::{Secret, SecretStore};
pub use ticketing::{TicketRequest, Ticketing};

/// The result of a health check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// True when the service responded as expected.
    pub healthy: bool,
    /// Time from request to response.
    #[serde(with = "duration_millis")]
    pub latency: Duration,
    /// A short description, such as the HTTP status or the version the service reported.
    pub detail: String,
}

/// Serializes a duration as whole milliseconds, the unit operators read in reports.
mod duration_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(duration.as_millis().min(u64::MAX as u128) as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}
