//! The error type of the `siem` crate.

use std::io;
use std::path::PathBuf;

use ops_core::{ErrorKind, PortError};
use uuid::Uuid;

/// A failure of the audit log, the spool or a SIEM sink.
///
/// Messages name the file, event or setting involved and leave the cause to `source()`.
#[derive(Debug, thiserror::Error)]
pub enum SiemError {
    /// The audit log or spool directory could not be created.
    #[error("failed to create directory {path}")]
    CreateDirectory {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The audit log's lock file could not be opened or locked.
    #[error("failed to lock audit log lock file {path}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A file of the audit log or spool could not be read.
    #[error("failed to read {path}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A file of the audit log or spool could not be written or synced to disk.
    #[error("failed to write {path}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The genesis file is missing although segments exist, or it is not a valid genesis record.
    #[error("audit log genesis {path} is missing or invalid ({reason}): run `ops audit verify`")]
    InvalidGenesis {
        /// The genesis file.
        path: PathBuf,
        /// The problem found.
        reason: String,
    },
    /// The newest entries of the log fail their checks in a way a crash cannot explain, so the
    /// writer refuses to append after them.
    #[error(
        "audit log segment {path} has a damaged entry at line {line} ({reason}); \
         appending is refused: run `ops audit verify` and follow the runbook"
    )]
    DamagedTail {
        /// The segment file.
        path: PathBuf,
        /// The 1-based line number of the damaged entry.
        line: u64,
        /// The problem found.
        reason: String,
    },
    /// An event could not be encoded as JSON.
    #[error("failed to encode event {event_id} as JSON")]
    Encode {
        /// The event.
        event_id: Uuid,
        /// The cause.
        source: serde_json::Error,
    },
    /// A checkpoint text is not of the form `HASH@COUNT` or its JSON form.
    #[error(
        "invalid checkpoint {text:?}: expected HASH@COUNT (64 hex digits, '@', entry count) \
         or {{\"head_hash\": HASH, \"count\": COUNT}}"
    )]
    InvalidCheckpoint {
        /// The rejected text, shortened to 200 characters.
        text: String,
    },
    /// A spooled file does not contain an audit event.
    #[error("spooled file {path} does not contain an audit event")]
    InvalidSpoolFile {
        /// The spooled file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// One event alone is larger than the sink accepts in a request.
    #[error(
        "event {event_id} encodes to {size} bytes, more than the {limit}-byte request limit of {sink}"
    )]
    EventTooLarge {
        /// The event.
        event_id: Uuid,
        /// The sink.
        sink: &'static str,
        /// The encoded size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A request to the SIEM failed. The port error's kind shows whether a retry may help.
    #[error("{sink} delivery failed")]
    Delivery {
        /// The sink.
        sink: &'static str,
        /// The cause, with its kind and Retry-After hint.
        source: Box<PortError>,
    },
    /// A flush stopped before the spool was empty.
    #[error("flush to {sink} stopped after {delivered} events; {remaining} remain spooled")]
    FlushIncomplete {
        /// The sink.
        sink: &'static str,
        /// Events delivered and removed from the spool before the failure.
        delivered: usize,
        /// Events still in the spool.
        remaining: usize,
        /// The failure that stopped the flush.
        source: Box<SiemError>,
    },
    /// A setting of the `[siem]` configuration is invalid.
    #[error("invalid [siem] setting {field}: {reason}")]
    InvalidConfig {
        /// The setting, such as `sentinel.endpoint`.
        field: &'static str,
        /// The problem and the expected value.
        reason: String,
    },
    /// A sink needs a secret that the caller did not pass.
    #[error("the {sink} sink needs a secret: set the environment variable named by `{field}`")]
    MissingSecret {
        /// The sink.
        sink: &'static str,
        /// The setting naming the environment variable.
        field: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("failed to build the HTTP client for {sink}")]
    HttpClient {
        /// The sink.
        sink: &'static str,
        /// The cause.
        source: reqwest::Error,
    },
    /// A blocking task of the audit log panicked or was cancelled.
    #[error("audit log task did not finish")]
    Task {
        /// The cause.
        source: tokio::task::JoinError,
    },
}

impl SiemError {
    /// Converts the error into the port error that [`ops_core::ports::AuditSink`] returns.
    ///
    /// Every failure to record is permanent for the caller, which must not act without evidence.
    pub fn into_port_error(self, service: &str, event_id: Uuid) -> PortError {
        let kind = match &self {
            SiemError::Delivery { source, .. } => source.kind(),
            _ => ErrorKind::Permanent,
        };
        PortError::new(
            kind,
            service,
            "record event",
            format!("event {event_id} was not recorded"),
        )
        .with_source(self)
    }
}
