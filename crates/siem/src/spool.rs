//! The spool: events waiting for the SIEM, one file per event, kept until the SIEM acknowledges
//! them.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ops_core::audit::AuditEvent;

use crate::error::SiemError;
use crate::log::segment::sync_directory;

/// A directory of events not yet acknowledged by the SIEM.
///
/// Each event is a file `<nanoseconds>-<event id>.json`, written to a temporary name, synced and
/// renamed, so a crash leaves either the whole event or nothing. Names sort by the time the event
/// was spooled, which is the delivery order. Events that can never be delivered move to
/// `rejected/` with the reason beside them.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

/// An event read from the spool, with the file that holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct SpooledEvent {
    /// The spool file.
    pub path: PathBuf,
    /// The event.
    pub event: AuditEvent,
}

/// A spool file that could not be read as an event.
#[derive(Debug)]
pub struct UnreadableSpoolFile {
    /// The file.
    pub path: PathBuf,
    /// Why it could not be read.
    pub error: SiemError,
}

/// The last spool timestamp handed out in this process, so that names stay in spooling order even
/// when the clock repeats a value or steps back.
static LAST_STAMP: AtomicU64 = AtomicU64::new(0);

/// The name of the folder for events the SIEM can never accept.
const REJECTED_DIR: &str = "rejected";

/// The name of the lock file that keeps two flushes from sending the same events at once.
pub(crate) const FLUSH_LOCK_FILE: &str = ".flush.lock";

impl Spool {
    /// Opens the spool in `dir`, creating the directory when it does not exist.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Spool, SiemError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|source| SiemError::CreateDirectory {
            path: dir.clone(),
            source,
        })?;
        Ok(Spool { dir })
    }

    /// Returns the spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores an event durably: the file and the directory entry are synced before returning.
    pub fn push(&self, event: &AuditEvent) -> Result<PathBuf, SiemError> {
        let bytes = serde_json::to_vec(event).map_err(|source| SiemError::Encode {
            event_id: event.event_id,
            source,
        })?;
        let name = format!("{:020}-{}.json", next_stamp(), event.event_id);
        let path = self.dir.join(&name);
        let temporary = self.dir.join(format!(".{name}.tmp"));

        let write_error = |source| SiemError::Write {
            path: temporary.clone(),
            source,
        };
        let mut file = File::create(&temporary).map_err(write_error)?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_data())
            .map_err(write_error)?;
        fs::rename(&temporary, &path).map_err(|source| SiemError::Write {
            path: path.clone(),
            source,
        })?;
        sync_directory(&self.dir)?;
        Ok(path)
    }

    /// Returns the spooled events, oldest first, and the files that do not hold an event.
    pub fn pending(&self) -> Result<(Vec<SpooledEvent>, Vec<UnreadableSpoolFile>), SiemError> {
        let mut events = Vec::new();
        let mut unreadable = Vec::new();
        for path in self.spool_files()? {
            match read_event(&path) {
                Ok(event) => events.push(SpooledEvent { path, event }),
                Err(error) => unreadable.push(UnreadableSpoolFile { path, error }),
            }
        }
        Ok((events, unreadable))
    }

    /// Returns the number of spooled files.
    pub fn len(&self) -> Result<usize, SiemError> {
        Ok(self.spool_files()?.len())
    }

    /// Returns true when nothing is spooled.
    pub fn is_empty(&self) -> Result<bool, SiemError> {
        Ok(self.len()? == 0)
    }

    /// Removes delivered events' files and syncs the directory.
    pub fn remove(&self, paths: &[&Path]) -> Result<(), SiemError> {
        for path in paths {
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(SiemError::Write {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
        }
        if paths.is_empty() {
            return Ok(());
        }
        sync_directory(&self.dir)
    }

    /// Moves a file that can never be delivered to `rejected/`, with the reason in a `.reason`
    /// file beside it.
    pub fn reject(&self, path: &Path, reason: &str) -> Result<PathBuf, SiemError> {
        let rejected_dir = self.dir.join(REJECTED_DIR);
        fs::create_dir_all(&rejected_dir).map_err(|source| SiemError::CreateDirectory {
            path: rejected_dir.clone(),
            source,
        })?;
        let file_name = path.file_name().unwrap_or_default();
        let target = rejected_dir.join(file_name);
        let mut reason_path = target.clone().into_os_string();
        reason_path.push(".reason");

        fs::write(&reason_path, format!("{reason}\n")).map_err(|source| SiemError::Write {
            path: PathBuf::from(&reason_path),
            source,
        })?;
        fs::rename(path, &target).map_err(|source| SiemError::Write {
            path: target.clone(),
            source,
        })?;
        sync_directory(&rejected_dir)?;
        sync_directory(&self.dir)?;
        Ok(target)
    }

    /// Opens the flush lock file. The caller locks it for the length of a flush.
    pub(crate) fn flush_lock_file(&self) -> Result<File, SiemError> {
        let path = self.dir.join(FLUSH_LOCK_FILE);
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| SiemError::Lock { path, source })
    }

    /// Lists spool files, oldest first. Hidden files (temporary files, the lock) are skipped.
    fn spool_files(&self) -> Result<Vec<PathBuf>, SiemError> {
        let read_error = |source| SiemError::Read {
            path: self.dir.clone(),
            source,
        };
        let mut paths = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(read_error)? {
            let entry = entry.map_err(read_error)?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let is_spooled_event = !name.starts_with('.') && name.ends_with(".json");
            if is_spooled_event && entry.file_type().map_err(read_error)?.is_file() {
                paths.push(entry.path());
            }
        }
        paths.sort();
        Ok(paths)
    }
}

fn read_event(path: &Path) -> Result<AuditEvent, SiemError> {
    let bytes = fs::read(path).map_err(|source| SiemError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| SiemError::InvalidSpoolFile {
        path: path.to_owned(),
        source,
    })
}

/// Returns nanoseconds since the Unix epoch, strictly greater than any value returned before in
/// this process.
fn next_stamp() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let mut last = LAST_STAMP.load(Ordering::Relaxed);
    loop {
        let stamp = now.max(last + 1);
        match LAST_STAMP.compare_exchange_weak(last, stamp, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return stamp,
            Err(current) => last = current,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use ops_core::CorrelationId;
    use ops_core::audit::{AuditEventType, Outcome};

    use super::*;

    fn event(index: u32) -> AuditEvent {
        AuditEvent::new(
            AuditEventType::TelemetryCollected,
            CorrelationId::parse("telemetry-1").unwrap(),
            "ops@host",
            DateTime::UNIX_EPOCH,
            Outcome::Success,
        )
        .with_detail("index", index)
    }

    #[test]
    fn pending_returns_events_in_spool_order() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let events: Vec<AuditEvent> = (0..20).map(event).collect();
        for event in &events {
            spool.push(event).unwrap();
        }

        let (pending, unreadable) = spool.pending().unwrap();
        assert!(unreadable.is_empty());
        let read: Vec<AuditEvent> = pending.into_iter().map(|spooled| spooled.event).collect();
        assert_eq!(read, events);
    }

    #[test]
    fn remove_and_reject_take_files_out() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let first = spool.push(&event(1)).unwrap();
        let second = spool.push(&event(2)).unwrap();
        fs::write(dir.path().join("junk.json"), b"not json").unwrap();

        let (pending, unreadable) = spool.pending().unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(unreadable.len(), 1);

        spool.remove(&[first.as_path()]).unwrap();
        let rejected = spool.reject(&second, "too large").unwrap();
        assert!(rejected.exists());
        assert!(!second.exists());
        assert_eq!(spool.len().unwrap(), 1, "only the unreadable file is left");
    }

    #[test]
    fn stamps_strictly_increase() {
        let stamps: Vec<u64> = (0..1000).map(|_| next_stamp()).collect();
        assert!(stamps.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
