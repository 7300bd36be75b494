//! The tamper-evident audit log of `ops`, and the sinks that ship its events to a SIEM.
//!
//! Start with [`AuditTrail`], the [`AuditSink`](ops_core::ports::AuditSink) that `ops-bin`
//! wires into every domain: it appends each event to the local [`AuditLog`] and spools it for the
//! SIEM through a [`Forwarder`]. [`verify`], [`tail`] and [`AuditLog::checkpoint`] back the
//! `ops audit` commands; [`AuditTrail::flush`] backs `ops siem flush`. [`SiemConfig`] is the
//! `[siem]` section of the configuration file.
//!
//! # The log
//!
//! A log directory holds `audit-genesis.json`, `audit.lock` and segment files
//! `audit-000001.jsonl`, `audit-000002.jsonl`, … Each segment line is one entry:
//!
//! ```text
//! {"seq":N,"prev":"P","event":E,"hash":"H"}
//! ```
//!
//! `N` counts entries from 0 across segments. `E` is the compact `serde_json` encoding of the
//! [`AuditEvent`](ops_core::audit::AuditEvent), whose fields come in declaration order and whose
//! `details` is a sorted map. `H` is the lowercase hex SHA-256 of the *canonical encoding*
//! `{"seq":N,"prev":"P","event":E}`, the line without its `,"hash":"H"` member. `P` is the hash
//! of entry `N-1`, and for entry 0 the SHA-256 of the bytes of `audit-genesis.json`, a record with
//! a log id, a creation time and 256 random bits, so that no two logs share a chain. Because the
//! stored line contains the canonical encoding, [`verify`] hashes slices of each line as read and
//! never parses or serializes an event; that keeps it near the speed of SHA-256 itself.
//!
//! Writers take an exclusive lock on `audit.lock` ([`std::fs::File::lock`]), read the newest entry
//! again, append, and call `sync_data` before they return, so concurrent writers in one process or
//! several never interleave or fork the chain. A segment that would grow past
//! [`AuditLogOptions::max_segment_bytes`] is left as it is and the next entry starts the next
//! segment. No file is rewritten.
//!
//! # Crash repair
//!
//! A crash can leave the last line of the last segment incomplete. [`verify`] reports such a line
//! as [`FindingKind::IncompleteLastEntry`], not as tampering. The next writer seals it without
//! rewriting anything: it appends a newline that ends the fragment, then an `AuditLogRepaired`
//! entry whose details name the segment and the fragment's byte offset, length and SHA-256.
//! [`verify`] accepts lines that fail their checks only when the entry right after them is such a
//! repair entry naming exactly their bytes. If the crash cut the line just before its newline, the
//! writer only appends the newline. A last line that has the layout of an entry but fails its hash
//! was edited, not torn: writers refuse to append after it, because sealing it would hide the edit.
//!
//! # Checkpoints
//!
//! A [`Checkpoint`] is `HASH@COUNT`: the log's entry count and the hash of its newest entry.
//! [`AuditLog::checkpoint`] returns the head and then appends an `AuditCheckpointed` entry that
//! carries it; the checkpoint covers the entries before that entry, because an entry cannot
//! contain its own hash. Kept off the box, a checkpoint makes truncation visible: [`verify`] with
//! it reports [`FindingKind::Truncated`] or [`FindingKind::CheckpointMismatch`]. Every SIEM record
//! also carries the head at the time of its batch (`AdditionalFields.AuditLogHead` in Sentinel).
//!
//! # Shipping
//!
//! Events wait in a [`Spool`] directory, one synced file per event, until the SIEM acknowledges
//! them. [`Forwarder::flush`] sends them oldest first in batches below the sink's size limit, and
//! removes each batch once it is acknowledged, so a crash re-sends at most the batch in flight. It
//! halves a batch that the SIEM rejects as too large (HTTP 413), and retries throttling and
//! server errors with [`ops_core::retry::RetryPolicy`], honouring Retry-After. Records carry the
//! event id (Sentinel's `EventUid`) so receivers can drop the duplicates that at-least-once
//! delivery allows.

pub mod cef;
pub mod config;
mod error;
pub mod forwarder;
mod http;
pub mod log;
pub mod sentinel;
pub mod splunk;
pub mod spool;
pub mod trail;

pub use config::SiemConfig;
pub use error::SiemError;
pub use forwarder::{BatchOutcome, FlushReport, Forwarder, RejectedEvent, SiemTransport};
pub use log::checkpoint::Checkpoint;
pub use log::format::ChainHash;
pub use log::tail::{LogEntry, tail};
pub use log::verify::{Finding, FindingKind, Position, VerifyReport, verify};
pub use log::writer::{AuditLog, AuditLogOptions};
pub use ops_http::token::{ClientCredentials, TokenProvider};
pub use spool::Spool;
pub use trail::AuditTrail;
