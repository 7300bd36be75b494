//! The files of a log directory: the genesis record, the lock file and the numbered segments.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::SiemError;
use crate::log::format::ChainHash;

/// The genesis record's file name. Entry 0 chains to the SHA-256 of this file's bytes.
pub const GENESIS_FILE: &str = "audit-genesis.json";

/// The lock file's name. Writers hold an exclusive lock on it while they append.
pub const LOCK_FILE: &str = "audit.lock";

/// The format name written in the genesis record.
const FORMAT: &str = "ops-audit-log/1";

/// The genesis record: what makes two logs' chains differ from their first entry on.
#[derive(Debug, Serialize, Deserialize)]
struct Genesis {
    format: String,
    log_id: Uuid,
    created: DateTime<Utc>,
    /// 256 random bits from the operating system.
    nonce: String,
}

/// One segment file, `audit-NNNNNN.jsonl`, numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    pub number: u64,
    pub path: PathBuf,
}

impl Segment {
    pub fn new(dir: &Path, number: u64) -> Segment {
        Segment {
            number,
            path: dir.join(segment_name(number)),
        }
    }

    /// Returns the file name, as reported in findings.
    pub fn name(&self) -> String {
        segment_name(self.number)
    }
}

/// Returns the file name of segment `number`.
pub(crate) fn segment_name(number: u64) -> String {
    format!("audit-{number:06}.jsonl")
}

/// Parses a segment file name, accepting only the exact name [`segment_name`] produces.
fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("audit-")?.strip_suffix(".jsonl")?;
    let number: u64 = digits.parse().ok()?;
    (number > 0 && segment_name(number) == name).then_some(number)
}

/// Lists the segments of `dir`, lowest number first.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<Segment>, SiemError> {
    let read_error = |source| SiemError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let name = entry.file_name();
        if let Some(number) = name.to_str().and_then(parse_segment_name) {
            segments.push(Segment::new(dir, number));
        }
    }
    segments.sort_by_key(|segment| segment.number);
    Ok(segments)
}

/// Reads the genesis file and returns its hash, or `None` when the file does not exist.
pub(crate) fn read_genesis(dir: &Path) -> Result<Option<ChainHash>, SiemError> {
    let path = dir.join(GENESIS_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SiemError::Read { path, source }),
    };
    match serde_json::from_slice::<Genesis>(&bytes) {
        Ok(genesis) if genesis.format == FORMAT => Ok(Some(ChainHash::of(&bytes))),
        Ok(genesis) => Err(SiemError::InvalidGenesis {
            path,
            reason: format!("unknown format {:?}, expected {FORMAT:?}", genesis.format),
        }),
        Err(error) => Err(SiemError::InvalidGenesis {
            path,
            reason: error.to_string(),
        }),
    }
}

/// Writes a new genesis record and returns its hash. The caller holds the lock.
///
/// The record is written to a temporary file, synced, and renamed into place, so a crash leaves
/// either no genesis or a complete one.
pub(crate) fn create_genesis(dir: &Path) -> Result<ChainHash, SiemError> {
    let path = dir.join(GENESIS_FILE);
    let genesis = Genesis {
        format: FORMAT.to_owned(),
        log_id: Uuid::now_v7(),
        created: Utc::now(),
        nonce: format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()),
    };
    let mut bytes = serde_json::to_vec(&genesis).map_err(|error| SiemError::InvalidGenesis {
        path: path.clone(),
        reason: error.to_string(),
    })?;
    bytes.push(b'\n');

    let temporary = dir.join(format!(".{GENESIS_FILE}.tmp-{}", std::process::id()));
    let write_error = |source| SiemError::Write {
        path: temporary.clone(),
        source,
    };
    let mut file = fs::File::create(&temporary).map_err(write_error)?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(write_error)?;
    fs::rename(&temporary, &path).map_err(|source| SiemError::Write {
        path: path.clone(),
        source,
    })?;
    sync_directory(dir)?;
    Ok(ChainHash::of(&bytes))
}

/// Syncs a directory, so that files created or renamed in it survive a crash.
pub(crate) fn sync_directory(dir: &Path) -> Result<(), SiemError> {
    fs::File::open(dir)
        .and_then(|directory| directory.sync_all())
        .map_err(|source| SiemError::Write {
            path: dir.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_parse_only_in_canonical_form() {
        assert_eq!(segment_name(1), "audit-000001.jsonl");
        assert_eq!(segment_name(1_234_567), "audit-1234567.jsonl");
        assert_eq!(parse_segment_name("audit-000001.jsonl"), Some(1));
        assert_eq!(parse_segment_name("audit-1234567.jsonl"), Some(1_234_567));
        for name in [
            "audit-1.jsonl",
            "audit-0000001.jsonl",
            "audit-000000.jsonl",
            "x.jsonl",
        ] {
            assert_eq!(parse_segment_name(name), None, "{name}");
        }
    }

    #[test]
    fn genesis_hashes_differ_between_logs() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let first_hash = create_genesis(first.path()).unwrap();
        let second_hash = create_genesis(second.path()).unwrap();
        assert_ne!(first_hash, second_hash);
        assert_eq!(read_genesis(first.path()).unwrap(), Some(first_hash));
    }

    #[test]
    fn read_genesis_rejects_foreign_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_genesis(dir.path()).unwrap(), None);
        fs::write(dir.path().join(GENESIS_FILE), b"{\"format\":\"other\"}").unwrap();
        let error = read_genesis(dir.path()).unwrap_err();
        assert!(matches!(error, SiemError::InvalidGenesis { .. }), "{error}");
    }
}
