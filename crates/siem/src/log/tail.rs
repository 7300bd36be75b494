//! Reading the newest entries back, for `ops audit tail`.

use std::fs;

use ops_core::CorrelationId;
use ops_core::audit::AuditEvent;
use serde::Serialize;

use crate::error::SiemError;
use crate::log::format::{ChainHash, RawEntry};
use crate::log::segment;

/// One entry of the log, decoded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    /// The entry's 0-based position in the chain.
    pub seq: u64,
    /// The hash of the previous entry, or the genesis hash for entry 0.
    pub prev_hash: ChainHash,
    /// The entry's hash.
    pub hash: ChainHash,
    /// The event.
    pub event: AuditEvent,
    /// The segment file holding the entry.
    pub segment: String,
    /// The 1-based line number in that file.
    pub line: u64,
}

/// Returns the newest `count` entries, oldest first, optionally only those whose correlation id
/// or related correlation id is `correlation_id`.
///
/// Lines that are not entries, fail their hash check or hold an event that does not decode are
/// skipped: [`verify`](crate::verify) is the check, this is a viewer. Each segment is read whole,
/// newest first, until enough entries are found.
pub fn tail(
    dir: &std::path::Path,
    count: usize,
    correlation_id: Option<&CorrelationId>,
) -> Result<Vec<LogEntry>, SiemError> {
    let mut entries = Vec::new();
    if count == 0 {
        return Ok(entries);
    }

    for segment in segment::list_segments(dir)?.iter().rev() {
        let bytes = fs::read(&segment.path).map_err(|source| SiemError::Read {
            path: segment.path.clone(),
            source,
        })?;
        let lines: Vec<&[u8]> = bytes.split(|byte| *byte == b'\n').collect();
        for (index, line) in lines.iter().enumerate().rev() {
            let Some(entry) = decode(segment.name(), index as u64 + 1, line) else {
                continue;
            };
            let matches = correlation_id.is_none_or(|wanted| {
                entry.event.correlation_id == *wanted
                    || entry.event.related_correlation_id.as_ref() == Some(wanted)
            });
            if matches {
                entries.push(entry);
            }
            if entries.len() == count {
                entries.reverse();
                return Ok(entries);
            }
        }
    }
    entries.reverse();
    Ok(entries)
}

fn decode(segment: String, line_number: u64, line: &[u8]) -> Option<LogEntry> {
    let raw = RawEntry::parse(line).filter(RawEntry::hash_matches)?;
    Some(LogEntry {
        seq: raw.seq,
        prev_hash: ChainHash::from_hex_bytes(raw.prev_hex)?,
        hash: raw.stored_hash(),
        event: raw.decode_event().ok()?,
        segment,
        line: line_number,
    })
}
