//! The writer: appends entries under an exclusive file lock and syncs them before returning.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use ops_core::CorrelationId;
use ops_core::audit::{AuditEvent, AuditEventType, Outcome};
use ops_core::error::PortResult;
use ops_core::ports::AuditSink;
use sha2::{Digest, Sha256};

use crate::error::SiemError;
use crate::log::checkpoint::Checkpoint;
use crate::log::format::{ChainHash, RawEntry, encode_entry};
use crate::log::segment::{self, LOCK_FILE, Segment};

/// Settings of an [`AuditLog`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLogOptions {
    /// The size in bytes past which the next entry starts a new segment file. An entry is never
    /// split, so a segment can exceed this by one entry, and a repair entry always stays in the
    /// segment of the line it seals.
    pub max_segment_bytes: u64,
}

impl Default for AuditLogOptions {
    /// Segments of 64 MiB.
    fn default() -> AuditLogOptions {
        AuditLogOptions {
            max_segment_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A handle on the hash-chained audit log in one directory.
///
/// Handles are cheap to clone. Any number of handles, in one process or several, may append to
/// the same directory at once: each append takes an exclusive lock on the directory's lock file,
/// reads the newest entry again under the lock, appends and syncs.
#[derive(Debug, Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    options: AuditLogOptions,
}

/// The actor and operation of the append that found a torn line, recorded in the repair entry.
struct RepairCause<'a> {
    actor: &'a str,
    correlation_id: Option<&'a CorrelationId>,
}

impl AuditLog {
    /// Opens the log in `dir` with default options, creating the directory and the genesis
    /// record when they do not exist.
    pub fn open(dir: impl Into<PathBuf>) -> Result<AuditLog, SiemError> {
        AuditLog::open_with(dir, AuditLogOptions::default())
    }

    /// Opens the log in `dir`, creating the directory and the genesis record when they do not
    /// exist.
    pub fn open_with(
        dir: impl Into<PathBuf>,
        options: AuditLogOptions,
    ) -> Result<AuditLog, SiemError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|source| SiemError::CreateDirectory {
            path: dir.clone(),
            source,
        })?;
        let log = AuditLog {
            inner: Arc::new(Inner { dir, options }),
        };
        let _lock = log.lock()?;
        log.genesis_hash(true)?;
        Ok(log)
    }

    /// Returns the log directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Appends one event and syncs it to disk. Returns the head after the append.
    pub fn append(&self, event: &AuditEvent) -> Result<Checkpoint, SiemError> {
        self.append_batch(std::slice::from_ref(event))
    }

    /// Appends events in order under one lock, with one sync per segment written. Returns the
    /// head after the last one.
    ///
    /// When the write fails part-way, the entries before the failure may be durable and the
    /// failing one may be left torn. The next writer seals it.
    pub fn append_batch(&self, events: &[AuditEvent]) -> Result<Checkpoint, SiemError> {
        let Some(first) = events.first() else {
            return self.head();
        };
        let _lock = self.lock()?;
        let cause = RepairCause {
            actor: &first.actor,
            correlation_id: Some(&first.correlation_id),
        };
        let mut writer = self.writer(&cause)?;
        writer.append(events)?;
        Ok(writer.head())
    }

    /// Returns the current head without writing anything.
    ///
    /// A torn last line is skipped: the head is the last complete entry.
    pub fn head(&self) -> Result<Checkpoint, SiemError> {
        let _lock = self.lock()?;
        let genesis = self.genesis_hash(false)?;
        let segments = segment::list_segments(self.dir())?;
        let last = last_valid_entry(&segments, true)?;
        Ok(match last {
            Some(entry) => Checkpoint {
                count: entry.seq + 1,
                head_hash: entry.hash,
            },
            None => Checkpoint {
                count: 0,
                head_hash: genesis,
            },
        })
    }

    /// Takes a checkpoint: returns the head, then appends an `AuditCheckpointed` event that
    /// carries it, both under one lock.
    ///
    /// The returned checkpoint covers the entries before the `AuditCheckpointed` entry, because
    /// an entry cannot contain its own hash. Publish it off the box: a later
    /// [`verify`](crate::verify) against it proves that no entry up to it was removed or edited.
    pub fn checkpoint(
        &self,
        actor: &str,
        correlation_id: CorrelationId,
    ) -> Result<Checkpoint, SiemError> {
        let _lock = self.lock()?;
        let cause = RepairCause {
            actor,
            correlation_id: Some(&correlation_id),
        };
        let mut writer = self.writer(&cause)?;
        let checkpoint = writer.head();

        let event = AuditEvent::new(
            AuditEventType::AuditCheckpointed,
            correlation_id,
            actor,
            Utc::now(),
            Outcome::Success,
        )
        .with_detail("checkpoint", checkpoint.to_string())
        .with_detail("count", checkpoint.count)
        .with_detail("head_hash", checkpoint.head_hash.to_string());
        writer.append(std::slice::from_ref(&event))?;
        tracing::info!(checkpoint = %checkpoint, dir = %self.dir().display(), "audit log checkpointed");
        Ok(checkpoint)
    }

    /// Opens the lock file and blocks until this handle holds its exclusive lock. The lock is
    /// released when the returned file is dropped.
    fn lock(&self) -> Result<File, SiemError> {
        let path = self.dir().join(LOCK_FILE);
        let lock_error = |source| SiemError::Lock {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(lock_error)?;
        file.lock().map_err(lock_error)?;
        Ok(file)
    }

    /// Returns the genesis hash, creating the genesis record in an empty directory when `create`
    /// is set. The caller holds the lock.
    fn genesis_hash(&self, create: bool) -> Result<ChainHash, SiemError> {
        if let Some(hash) = segment::read_genesis(self.dir())? {
            return Ok(hash);
        }
        let has_segments = !segment::list_segments(self.dir())?.is_empty();
        if !create || has_segments {
            return Err(SiemError::InvalidGenesis {
                path: self.dir().join(segment::GENESIS_FILE),
                reason: "the file does not exist".to_owned(),
            });
        }
        segment::create_genesis(self.dir())
    }

    /// Reads the newest entry under the lock, seals a torn last line, and returns a writer
    /// positioned after the newest entry.
    fn writer(&self, cause: &RepairCause<'_>) -> Result<Writer<'_>, SiemError> {
        let genesis = self.genesis_hash(true)?;
        let segments = segment::list_segments(self.dir())?;
        let (current, earlier) = match segments.split_last() {
            Some((last, earlier)) => (last.clone(), earlier),
            None => (Segment::new(self.dir(), 1), &[][..]),
        };
        let mut file = open_segment(&current)?;
        let len = file_len(&file, &current.path)?;

        let scan = scan_tail(&mut file, len, &current.path)?;
        let previous = match scan.last {
            Some(entry) => Some(entry),
            None => last_valid_entry(earlier, false)?,
        };
        let (next_seq, head) = match previous {
            Some(entry) => (entry.seq + 1, entry.hash),
            None => (0, genesis),
        };

        let mut writer = Writer {
            log: self,
            segment: current,
            file,
            len,
            next_seq,
            head,
        };
        if let Some(region) = scan.region {
            writer.finish_tail(region, cause)?;
        }
        Ok(writer)
    }
}

#[async_trait]
impl AuditSink for AuditLog {
    /// Appends the event and syncs it. Fails closed: any failure to write is returned as a
    /// permanent error naming the file, and the caller must not act.
    async fn record(&self, event: &AuditEvent) -> PortResult<()> {
        let log = self.clone();
        let owned = event.clone();
        let result = tokio::task::spawn_blocking(move || log.append(&owned))
            .await
            .map_err(|source| SiemError::Task { source })
            .and_then(|appended| appended);
        match result {
            Ok(_) => Ok(()),
            Err(error) => Err(error.into_port_error("audit log", event.event_id)),
        }
    }
}

/// The newest complete entry of a segment.
#[derive(Debug, Clone, Copy)]
struct LastEntry {
    seq: u64,
    hash: ChainHash,
}

/// Bytes after the newest complete entry of the last segment, left by an interrupted write.
#[derive(Debug)]
struct TailRegion {
    /// Offset of the first byte after the newest complete entry.
    start: u64,
    /// The bytes from `start` to the end of the file.
    bytes: Vec<u8>,
}

/// The newest complete entry of a segment and the bytes after it.
struct TailScan {
    last: Option<LastEntry>,
    region: Option<TailRegion>,
}

/// The open segment and the chain position of the next entry. Exists only under the lock.
struct Writer<'a> {
    log: &'a AuditLog,
    segment: Segment,
    file: File,
    len: u64,
    next_seq: u64,
    head: ChainHash,
}

impl Writer<'_> {
    fn head(&self) -> Checkpoint {
        Checkpoint {
            count: self.next_seq,
            head_hash: self.head,
        }
    }

    /// Deals with bytes after the newest complete entry.
    ///
    /// An unterminated line that is the complete next entry gets its newline. Anything else is
    /// sealed: a newline ends the fragment, and an `AuditLogRepaired` entry records its offset,
    /// length and SHA-256. Terminated lines that have the layout of an entry but fail their hash
    /// are not crash damage, so they are refused.
    fn finish_tail(
        &mut self,
        region: TailRegion,
        cause: &RepairCause<'_>,
    ) -> Result<(), SiemError> {
        let ends_with_newline = region.bytes.last() == Some(&b'\n');
        let fragment = if ends_with_newline {
            &region.bytes[..region.bytes.len() - 1]
        } else {
            &region.bytes[..]
        };

        let mut line_start = region.start;
        let mut lines = fragment.split(|byte| *byte == b'\n').peekable();
        while let Some(line) = lines.next() {
            let terminated = lines.peek().is_some() || ends_with_newline;
            if terminated && RawEntry::parse(line).is_some() {
                return Err(SiemError::DamagedTail {
                    path: self.segment.path.clone(),
                    line: line_number_at(&self.segment.path, line_start)?,
                    reason: "an entry fails its hash check".to_owned(),
                });
            }
            line_start += line.len() as u64 + 1;
        }

        if !ends_with_newline && self.completes_chain(fragment) {
            self.write_and_sync(b"\n")?;
            let raw = RawEntry::parse(fragment).ok_or_else(|| self.damaged(region.start))?;
            self.next_seq = raw.seq + 1;
            self.head = raw.stored_hash();
            tracing::warn!(
                segment = %self.segment.path.display(),
                seq = raw.seq,
                "completed the last audit log entry, which lacked only its newline"
            );
            return Ok(());
        }

        self.seal(region.start, fragment, ends_with_newline, cause)
    }

    /// Returns true when `line` is a complete entry that continues the chain.
    fn completes_chain(&self, line: &[u8]) -> bool {
        RawEntry::parse(line).is_some_and(|raw| {
            raw.seq == self.next_seq
                && raw.prev_hex == self.head.to_hex_bytes()
                && raw.hash_matches()
        })
    }

    fn damaged(&self, offset: u64) -> SiemError {
        SiemError::DamagedTail {
            path: self.segment.path.clone(),
            line: line_number_at(&self.segment.path, offset).unwrap_or(0),
            reason: "the last line changed while the lock was held".to_owned(),
        }
    }

    /// Terminates a torn fragment and appends the `AuditLogRepaired` entry that names it.
    fn seal(
        &mut self,
        start: u64,
        fragment: &[u8],
        ends_with_newline: bool,
        cause: &RepairCause<'_>,
    ) -> Result<(), SiemError> {
        let digest: [u8; 32] = Sha256::digest(fragment).into();
        let mut event = AuditEvent::new(
            AuditEventType::AuditLogRepaired,
            CorrelationId::generate("audit"),
            cause.actor,
            Utc::now(),
            Outcome::Success,
        )
        .with_detail("segment", self.segment.name())
        .with_detail("offset", start)
        .with_detail("length", fragment.len() as u64)
        .with_detail("sha256", hex(&digest))
        .with_detail("reason", "torn last line left by an interrupted write");
        if let Some(correlation_id) = cause.correlation_id {
            event = event.with_related(correlation_id.clone());
        }

        let encoded = encode_entry(self.next_seq, self.head, &event)?;
        let mut bytes = Vec::with_capacity(encoded.line.len() + 1);
        if !ends_with_newline {
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(&encoded.line);
        self.write_and_sync(&bytes)?;
        self.next_seq += 1;
        self.head = encoded.hash;

        tracing::warn!(
            segment = %self.segment.path.display(),
            offset = start,
            length = fragment.len(),
            "sealed a torn last line of the audit log"
        );
        Ok(())
    }

    /// Appends events, starting new segments as they fill, and syncs each segment written.
    fn append(&mut self, events: &[AuditEvent]) -> Result<(), SiemError> {
        let max_segment_bytes = self.log.inner.options.max_segment_bytes;
        let mut pending = Vec::new();
        for event in events {
            let encoded = encode_entry(self.next_seq, self.head, event)?;
            let size = self.len + (pending.len() + encoded.line.len()) as u64;
            if self.len + pending.len() as u64 > 0 && size > max_segment_bytes {
                self.write_and_sync(&pending)?;
                pending.clear();
                self.roll_over()?;
            }
            pending.extend_from_slice(&encoded.line);
            self.next_seq += 1;
            self.head = encoded.hash;
        }
        self.write_and_sync(&pending)
    }

    /// Starts the next segment file.
    fn roll_over(&mut self) -> Result<(), SiemError> {
        let next = Segment::new(self.log.dir(), self.segment.number + 1);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(&next.path)
            .map_err(|source| SiemError::Write {
                path: next.path.clone(),
                source,
            })?;
        segment::sync_directory(self.log.dir())?;
        tracing::info!(segment = %next.path.display(), "started a new audit log segment");
        self.segment = next;
        self.file = file;
        self.len = 0;
        Ok(())
    }

    fn write_and_sync(&mut self, bytes: &[u8]) -> Result<(), SiemError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(bytes)
            .and_then(|()| self.file.sync_data())
            .map_err(|source| SiemError::Write {
                path: self.segment.path.clone(),
                source,
            })?;
        self.len += bytes.len() as u64;
        Ok(())
    }
}

/// Opens a segment for reading and appending, creating it when it does not exist.
fn open_segment(segment: &Segment) -> Result<File, SiemError> {
    let existed = segment.path.exists();
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&segment.path)
        .map_err(|source| SiemError::Write {
            path: segment.path.clone(),
            source,
        })?;
    if let (false, Some(dir)) = (existed, segment.path.parent()) {
        segment::sync_directory(dir)?;
    }
    Ok(file)
}

fn file_len(file: &File, path: &Path) -> Result<u64, SiemError> {
    file.metadata()
        .map(|metadata| metadata.len())
        .map_err(|source| SiemError::Read {
            path: path.to_owned(),
            source,
        })
}

/// Finds the newest complete entry of the newest segment that has one, looking at earlier
/// segments only while later ones hold none.
///
/// Bytes after the newest entry are allowed only in the log's last segment, which is the last of
/// `segments` when `last_is_newest` is set. Writers seal torn lines before they start a new
/// segment, so anywhere else such bytes are damage.
fn last_valid_entry(
    segments: &[Segment],
    last_is_newest: bool,
) -> Result<Option<LastEntry>, SiemError> {
    for (index, segment) in segments.iter().enumerate().rev() {
        let mut file = File::open(&segment.path).map_err(|source| SiemError::Read {
            path: segment.path.clone(),
            source,
        })?;
        let len = file_len(&file, &segment.path)?;
        let scan = scan_tail(&mut file, len, &segment.path)?;
        let may_be_torn = last_is_newest && index + 1 == segments.len();
        if let (false, Some(region)) = (may_be_torn, &scan.region) {
            return Err(SiemError::DamagedTail {
                path: segment.path.clone(),
                line: line_number_at(&segment.path, region.start)?,
                reason: "a segment that is not the newest ends with an incomplete line".to_owned(),
            });
        }
        if scan.last.is_some() {
            return Ok(scan.last);
        }
    }
    Ok(None)
}

/// The first window read from the end of a segment. It doubles until it contains a complete entry.
const TAIL_WINDOW: u64 = 64 * 1024;

/// Reads backwards from the end of a segment to its newest complete entry: a terminated line
/// with the layout of an entry and a matching hash. Returns that entry and the bytes after it.
fn scan_tail(file: &mut File, len: u64, path: &Path) -> Result<TailScan, SiemError> {
    let read_error = |source| SiemError::Read {
        path: path.to_owned(),
        source,
    };
    let mut window = TAIL_WINDOW.min(len);
    loop {
        let start = len - window;
        let mut bytes = vec![0u8; window as usize];
        file.seek(SeekFrom::Start(start)).map_err(read_error)?;
        file.read_exact(&mut bytes).map_err(read_error)?;

        if let Some((entry, end)) = newest_entry_in(&bytes, start == 0) {
            let region = (end < bytes.len()).then(|| TailRegion {
                start: start + end as u64,
                bytes: bytes[end..].to_vec(),
            });
            return Ok(TailScan {
                last: Some(entry),
                region,
            });
        }
        if start == 0 {
            let region = (!bytes.is_empty()).then_some(TailRegion { start: 0, bytes });
            return Ok(TailScan { last: None, region });
        }
        window = (window * 2).min(len);
    }
}

/// Returns the newest complete entry in `bytes` and the offset just past its newline. The first
/// line counts only when `starts_at_line` is set, because a window may begin mid-line.
fn newest_entry_in(bytes: &[u8], starts_at_line: bool) -> Option<(LastEntry, usize)> {
    let mut end = memchr::memrchr(b'\n', bytes)?;
    loop {
        let line_start = match memchr::memrchr(b'\n', &bytes[..end]) {
            Some(newline) => newline + 1,
            None if starts_at_line => 0,
            None => return None,
        };
        let line = &bytes[line_start..end];
        if let Some(raw) = RawEntry::parse(line).filter(RawEntry::hash_matches) {
            let entry = LastEntry {
                seq: raw.seq,
                hash: raw.stored_hash(),
            };
            return Some((entry, end + 1));
        }
        if line_start == 0 {
            return None;
        }
        end = line_start - 1;
    }
}

/// Counts the lines before `offset`, for error messages. Returns the 1-based line number.
fn line_number_at(path: &Path, offset: u64) -> Result<u64, SiemError> {
    let bytes = fs::read(path).map_err(|source| SiemError::Read {
        path: path.to_owned(),
        source,
    })?;
    let end = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    Ok(memchr::memchr_iter(b'\n', &bytes[..end]).count() as u64 + 1)
}

/// Encodes bytes as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
