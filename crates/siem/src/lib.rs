//! The tamper-evident audit log and the SIEM sinks of `ops`.

mod error;
pub mod log;

pub use error::SiemError;
pub use log::checkpoint::Checkpoint;
pub use log::format::ChainHash;
pub use log::tail::{LogEntry, tail};
pub use log::verify::{Finding, FindingKind, Position, VerifyReport, verify};
pub use log::writer::{AuditLog, AuditLogOptions};
