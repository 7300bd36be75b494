//! Verification: walks every segment and reports the first entry that breaks the chain.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::SiemError;
use crate::log::checkpoint::Checkpoint;
use crate::log::format::{ChainHash, RawEntry};
use crate::log::segment::{self, GENESIS_FILE, Segment};
use crate::log::writer::hex;

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    /// Segment files walked.
    pub segments: usize,
    /// Entries that verified, up to the first finding.
    pub entries: u64,
    /// Bytes read from segment files.
    pub bytes: u64,
    /// The head of the verified entries. Without a finding this is the log's current head.
    pub head: Checkpoint,
    /// Torn lines found sealed by a matching `AuditLogRepaired` entry. They are not findings.
    pub repaired_lines: u64,
    /// The first problem, or `None` when the whole log verified.
    pub finding: Option<Finding>,
}

impl VerifyReport {
    /// Returns true when the log verified without any finding.
    pub fn is_intact(&self) -> bool {
        self.finding.is_none()
    }

    /// Returns true when the finding points at tampering rather than at a crash.
    pub fn is_tampered(&self) -> bool {
        self.finding
            .as_ref()
            .is_some_and(|finding| finding.kind.is_tampering())
    }
}

/// A problem and where it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The kind of problem.
    pub kind: FindingKind,
    /// The line where verification found it.
    pub position: Position,
}

/// A place in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Position {
    /// The file name, such as `audit-000003.jsonl` or `audit-genesis.json`.
    pub segment: String,
    /// The 1-based line number in that file.
    pub line: u64,
    /// The byte offset of the line's first byte.
    pub byte_offset: u64,
    /// The sequence number stored on the line, when the line has one.
    pub seq: Option<u64>,
}

/// The kinds of problem [`verify`] reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FindingKind {
    /// The genesis file is missing or unreadable, so entry 0 cannot be checked.
    GenesisMissing {
        /// The reason the genesis could not be used.
        reason: String,
    },
    /// A segment file is missing from the numbered sequence.
    SegmentMissing {
        /// The missing file's name.
        name: String,
    },
    /// The line does not have the layout of an entry and no repair entry seals it.
    MalformedEntry,
    /// The entry's stored hash does not match its content: the entry was edited.
    EntryEdited,
    /// The sequence number jumps ahead: entries before this one were deleted.
    EntriesDeleted {
        /// The sequence number the chain expected.
        expected_seq: u64,
        /// The sequence number on the line.
        found_seq: u64,
    },
    /// This entry and the next are swapped: the next one carries the expected number.
    EntriesReordered {
        /// The sequence number the chain expected.
        expected_seq: u64,
        /// The sequence number on the line.
        found_seq: u64,
    },
    /// The sequence number goes back: an entry was inserted or copied before this line.
    EntryInserted {
        /// The sequence number the chain expected.
        expected_seq: u64,
        /// The sequence number on the line.
        found_seq: u64,
    },
    /// The sequence number fits but the previous hash does not: an entry before this one was
    /// replaced.
    ChainBroken {
        /// The sequence number on the line.
        seq: u64,
    },
    /// The log has fewer entries than the checkpoint counts: newest entries were removed.
    Truncated {
        /// The checkpoint's count.
        checkpoint_count: u64,
        /// Entries in the log.
        entries: u64,
    },
    /// Entry `count - 1` (or the genesis, for a count of 0) has another hash than the
    /// checkpoint: the log was rewritten up to there or replaced.
    CheckpointMismatch {
        /// The checkpoint.
        checkpoint: Checkpoint,
        /// The hash found in the log.
        found_hash: ChainHash,
    },
    /// The last segment ends with an incomplete entry, which an interrupted write leaves. Not a
    /// sign of tampering: the next append seals it with an `AuditLogRepaired` entry.
    IncompleteLastEntry,
}

impl FindingKind {
    /// Returns true for every finding but [`FindingKind::IncompleteLastEntry`].
    pub fn is_tampering(&self) -> bool {
        !matches!(self, FindingKind::IncompleteLastEntry)
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FindingKind::GenesisMissing { reason } => {
                write!(formatter, "genesis record missing or invalid: {reason}")
            }
            FindingKind::SegmentMissing { name } => {
                write!(formatter, "segment file {name} is missing")
            }
            FindingKind::MalformedEntry => formatter.write_str("line is not a log entry"),
            FindingKind::EntryEdited => {
                formatter.write_str("entry was edited: its hash does not match its content")
            }
            FindingKind::EntriesDeleted {
                expected_seq,
                found_seq,
            } => write!(
                formatter,
                "entries deleted: expected seq {expected_seq}, found {found_seq}"
            ),
            FindingKind::EntriesReordered {
                expected_seq,
                found_seq,
            } => write!(
                formatter,
                "entries reordered: expected seq {expected_seq}, found {found_seq} before it"
            ),
            FindingKind::EntryInserted {
                expected_seq,
                found_seq,
            } => write!(
                formatter,
                "entry inserted or duplicated: expected seq {expected_seq}, found {found_seq}"
            ),
            FindingKind::ChainBroken { seq } => write!(
                formatter,
                "chain broken at seq {seq}: previous hash does not match, an earlier entry was replaced"
            ),
            FindingKind::Truncated {
                checkpoint_count,
                entries,
            } => write!(
                formatter,
                "log truncated: checkpoint counts {checkpoint_count} entries, log has {entries}"
            ),
            FindingKind::CheckpointMismatch {
                checkpoint,
                found_hash,
            } => write!(
                formatter,
                "checkpoint {checkpoint} does not match: entry {} has hash {found_hash}",
                checkpoint.count.saturating_sub(1)
            ),
            FindingKind::IncompleteLastEntry => formatter
                .write_str("incomplete last entry, likely a crash: the next append seals it"),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let position = &self.position;
        write!(formatter, "{} line {}", position.segment, position.line)?;
        if let Some(seq) = position.seq {
            write!(formatter, " (seq {seq})")?;
        }
        write!(formatter, ": {}", self.kind)
    }
}

/// Verifies the log in `dir`, and its agreement with `checkpoint` when one is given.
///
/// Checks that every entry's hash matches its content, that sequence numbers count up from 0
/// without gaps, that each entry names its predecessor's hash (entry 0: the genesis hash), and
/// that segment files are numbered without gaps. Stops at the first problem. It hashes the bytes
/// of each line and decodes only `AuditLogRepaired` events; it does not check that other events
/// decode.
///
/// Returns an error only when a file cannot be read.
pub fn verify(dir: &Path, checkpoint: Option<&Checkpoint>) -> Result<VerifyReport, SiemError> {
    let segments = segment::list_segments(dir)?;
    let genesis = match segment::read_genesis(dir) {
        Ok(Some(hash)) => hash,
        Ok(None) => return Ok(genesis_finding(segments.len(), "the file does not exist")),
        Err(SiemError::InvalidGenesis { reason, .. }) => {
            return Ok(genesis_finding(segments.len(), &reason));
        }
        Err(error) => return Err(error),
    };

    let mut walker = Walker::new(genesis, checkpoint.copied());
    if let Some(kind) = walker.check_checkpoint_at_genesis() {
        return Ok(walker.report(segments.len(), Some(genesis_position(kind))));
    }

    for (index, segment) in segments.iter().enumerate() {
        let expected_number = index as u64 + 1;
        if segment.number != expected_number {
            let finding = Finding {
                kind: FindingKind::SegmentMissing {
                    name: segment::segment_name(expected_number),
                },
                position: Position {
                    segment: segment.name(),
                    line: 1,
                    byte_offset: 0,
                    seq: None,
                },
            };
            return Ok(walker.report(segments.len(), Some(finding)));
        }

        let is_last = index + 1 == segments.len();
        if let Some(finding) = walker.walk_segment(segment, is_last)? {
            return Ok(walker.report(segments.len(), Some(finding)));
        }
    }

    let finding = walker.finish();
    Ok(walker.report(segments.len(), finding))
}

fn genesis_finding(segments: usize, reason: &str) -> VerifyReport {
    VerifyReport {
        segments,
        entries: 0,
        bytes: 0,
        head: Checkpoint {
            count: 0,
            head_hash: ChainHash::of(b""),
        },
        repaired_lines: 0,
        finding: Some(genesis_position(FindingKind::GenesisMissing {
            reason: reason.to_owned(),
        })),
    }
}

fn genesis_position(kind: FindingKind) -> Finding {
    Finding {
        kind,
        position: Position {
            segment: GENESIS_FILE.to_owned(),
            line: 1,
            byte_offset: 0,
            seq: None,
        },
    }
}

/// A run of lines that fail their checks, which a following `AuditLogRepaired` entry may seal.
struct BadRun {
    /// The finding to report if no repair entry seals the run.
    first: Finding,
    segment_number: u64,
    start: u64,
    length: u64,
    hasher: Sha256,
    /// True while every line of the run lacks the layout of an entry, as crash debris does.
    all_malformed: bool,
}

/// An entry whose sequence number jumped ahead: deleted entries, unless the next line carries
/// the expected number, which makes it a swap.
struct Gap {
    place: Place,
    expected_seq: u64,
    found_seq: u64,
}

/// The state of the walk through the chain.
struct Walker {
    checkpoint: Option<Checkpoint>,
    genesis: ChainHash,
    expected_seq: u64,
    /// The hash of the last accepted entry as lowercase hex, the form lines store it in, so that
    /// the per-line checks compare bytes and never convert.
    prev_hex: [u8; 64],
    bytes: u64,
    repaired_lines: u64,
    bad_run: Option<BadRun>,
    gap: Option<Gap>,
    /// The position of an unterminated line at the end of the last segment.
    unterminated: Option<Position>,
    /// The newest entry accepted.
    head_place: Option<Place>,
}

/// One line as read from a segment.
struct Line<'a> {
    bytes: &'a [u8],
    number: u64,
    offset: u64,
    terminated: bool,
}

impl Walker {
    fn new(genesis: ChainHash, checkpoint: Option<Checkpoint>) -> Walker {
        Walker {
            checkpoint,
            genesis,
            expected_seq: 0,
            prev_hex: genesis.to_hex_bytes(),
            bytes: 0,
            repaired_lines: 0,
            bad_run: None,
            gap: None,
            unterminated: None,
            head_place: None,
        }
    }

    fn prev_hash(&self) -> ChainHash {
        // `prev_hex` holds only hex that this walker computed, so it always converts.
        ChainHash::from_hex_bytes(&self.prev_hex).unwrap_or(self.genesis)
    }

    fn check_checkpoint_at_genesis(&self) -> Option<FindingKind> {
        let checkpoint = self.checkpoint?;
        (checkpoint.count == 0 && checkpoint.head_hash != self.genesis).then_some(
            FindingKind::CheckpointMismatch {
                checkpoint,
                found_hash: self.genesis,
            },
        )
    }

    fn report(&self, segments: usize, finding: Option<Finding>) -> VerifyReport {
        VerifyReport {
            segments,
            entries: self.expected_seq,
            bytes: self.bytes,
            head: Checkpoint {
                count: self.expected_seq,
                head_hash: self.prev_hash(),
            },
            repaired_lines: self.repaired_lines,
            finding,
        }
    }

    /// Walks one segment. Returns the first finding in it, if any.
    fn walk_segment(
        &mut self,
        segment: &Segment,
        is_last: bool,
    ) -> Result<Option<Finding>, SiemError> {
        let read_error = |source| SiemError::Read {
            path: segment.path.clone(),
            source,
        };
        let file = File::open(&segment.path).map_err(read_error)?;
        let mut reader = LineReader::new(file);
        while let Some(line) = reader.next_line().map_err(read_error)? {
            self.bytes += line.bytes.len() as u64 + u64::from(line.terminated);
            if !line.terminated && is_last {
                self.unterminated = Some(position(segment, &line, None));
                return Ok(None);
            }
            if let Some(finding) = self.check_line(segment, &line) {
                return Ok(Some(finding));
            }
        }

        // A run that reaches the end of the last segment may be crash debris; `finish` decides.
        // Anywhere else it would have been sealed in the same segment.
        if is_last {
            return Ok(None);
        }
        if let Some(gap) = self.gap.take() {
            return Ok(Some(gap_finding(gap, false)));
        }
        Ok(self.bad_run.take().map(|run| run.first))
    }

    /// Checks one terminated line, or an unterminated one in a segment that is not the last.
    fn check_line(&mut self, segment: &Segment, line: &Line<'_>) -> Option<Finding> {
        let raw = RawEntry::parse(line.bytes).filter(|_| line.terminated);
        let Some(raw) = raw else {
            if let Some(gap) = self.gap.take() {
                return Some(gap_finding(gap, false));
            }
            let finding = Finding {
                kind: FindingKind::MalformedEntry,
                position: position(segment, line, None),
            };
            self.extend_bad_run(segment, line, finding, true);
            return None;
        };
        let here = Place::of(segment, line, Some(raw.seq));

        if let Some(gap) = self.gap.take() {
            return Some(gap_finding(gap, raw.seq == self.expected_seq));
        }
        let Some(hash_hex) = raw.verified_hash_hex() else {
            let finding = Finding {
                kind: FindingKind::EntryEdited,
                position: here.position(),
            };
            self.extend_bad_run(segment, line, finding, false);
            return None;
        };
        if let Some(run) = self.bad_run.take() {
            if !self.seals(&raw, &run, segment) {
                return Some(run.first);
            }
            self.repaired_lines += 1;
        }

        if raw.seq > self.expected_seq {
            self.gap = Some(Gap {
                place: here,
                expected_seq: self.expected_seq,
                found_seq: raw.seq,
            });
            return None;
        }
        if raw.seq < self.expected_seq {
            let kind = FindingKind::EntryInserted {
                expected_seq: self.expected_seq,
                found_seq: raw.seq,
            };
            return Some(Finding {
                kind,
                position: here.position(),
            });
        }
        if raw.prev_hex != self.prev_hex {
            let kind = FindingKind::ChainBroken { seq: raw.seq };
            return Some(Finding {
                kind,
                position: here.position(),
            });
        }

        self.expected_seq += 1;
        self.prev_hex = hash_hex;
        self.head_place = Some(here);
        self.check_checkpoint(here)
    }

    /// Compares the entry just accepted with the checkpoint, when it is the checkpoint's head.
    fn check_checkpoint(&self, here: Place) -> Option<Finding> {
        let checkpoint = self.checkpoint?;
        let is_head = checkpoint.count == self.expected_seq;
        (is_head && checkpoint.head_hash.to_hex_bytes() != self.prev_hex).then_some(Finding {
            kind: FindingKind::CheckpointMismatch {
                checkpoint,
                found_hash: self.prev_hash(),
            },
            position: here.position(),
        })
    }

    fn extend_bad_run(
        &mut self,
        segment: &Segment,
        line: &Line<'_>,
        finding: Finding,
        malformed: bool,
    ) {
        let run = self.bad_run.get_or_insert_with(|| BadRun {
            first: finding,
            segment_number: segment.number,
            start: line.offset,
            length: 0,
            hasher: Sha256::new(),
            all_malformed: true,
        });
        if run.length > 0 || line.offset > run.start {
            run.hasher.update(b"\n");
            run.length += 1;
        }
        run.hasher.update(line.bytes);
        run.length += line.bytes.len() as u64;
        run.all_malformed &= malformed;
    }

    /// Returns true when `raw` is an `AuditLogRepaired` entry in the same segment that names
    /// exactly the bytes of `run`.
    fn seals(&self, raw: &RawEntry<'_>, run: &BadRun, segment: &Segment) -> bool {
        if raw.event_type_name() != Some(&b"AuditLogRepaired"[..])
            || run.segment_number != segment.number
        {
            return false;
        }
        let Ok(event) = raw.decode_event() else {
            return false;
        };
        let digest: [u8; 32] = run.hasher.clone().finalize().into();
        let detail = |key: &str| event.details.get(key);
        detail("segment").and_then(|value| value.as_str()) == Some(segment.name().as_str())
            && detail("offset").and_then(|value| value.as_u64()) == Some(run.start)
            && detail("length").and_then(|value| value.as_u64()) == Some(run.length)
            && detail("sha256").and_then(|value| value.as_str()) == Some(hex(&digest).as_str())
    }

    /// Reports what remains open after the last segment.
    fn finish(&mut self) -> Option<Finding> {
        if let Some(gap) = self.gap.take() {
            return Some(gap_finding(gap, false));
        }
        let run = self.bad_run.take();
        if let Some(run) = run.as_ref().filter(|run| !run.all_malformed) {
            return Some(run.first.clone());
        }
        if let Some(checkpoint) = self.checkpoint
            && self.expected_seq < checkpoint.count
        {
            // The finding points at the newest entry that is left.
            let position = self
                .head_place
                .map(Place::position)
                .unwrap_or_else(|| genesis_position(FindingKind::IncompleteLastEntry).position);
            return Some(Finding {
                kind: FindingKind::Truncated {
                    checkpoint_count: checkpoint.count,
                    entries: self.expected_seq,
                },
                position,
            });
        }
        let crash_position = run
            .map(|run| run.first.position)
            .or(self.unterminated.take());
        crash_position.map(|position| Finding {
            kind: FindingKind::IncompleteLastEntry,
            position,
        })
    }
}

fn gap_finding(gap: Gap, next_has_expected: bool) -> Finding {
    let kind = if next_has_expected {
        FindingKind::EntriesReordered {
            expected_seq: gap.expected_seq,
            found_seq: gap.found_seq,
        }
    } else {
        FindingKind::EntriesDeleted {
            expected_seq: gap.expected_seq,
            found_seq: gap.found_seq,
        }
    };
    Finding {
        kind,
        position: gap.place.position(),
    }
}

/// A position without the segment's file name, cheap to copy for every line.
#[derive(Debug, Clone, Copy)]
struct Place {
    segment_number: u64,
    line: u64,
    byte_offset: u64,
    seq: Option<u64>,
}

impl Place {
    fn of(segment: &Segment, line: &Line<'_>, seq: Option<u64>) -> Place {
        Place {
            segment_number: segment.number,
            line: line.number,
            byte_offset: line.offset,
            seq,
        }
    }

    fn position(self) -> Position {
        Position {
            segment: segment::segment_name(self.segment_number),
            line: self.line,
            byte_offset: self.byte_offset,
            seq: self.seq,
        }
    }
}

fn position(segment: &Segment, line: &Line<'_>, seq: Option<u64>) -> Position {
    Position {
        segment: segment.name(),
        line: line.number,
        byte_offset: line.offset,
        seq,
    }
}

/// Reads a file line by line through one large buffer, without copying lines.
struct LineReader {
    file: File,
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    /// The file offset of `buffer[0]`.
    buffer_offset: u64,
    line_number: u64,
    eof: bool,
}

/// The buffer size: large reads keep system calls rare next to hashing.
const READ_BUFFER: usize = 4 * 1024 * 1024;

impl LineReader {
    fn new(file: File) -> LineReader {
        LineReader {
            file,
            buffer: vec![0; READ_BUFFER],
            start: 0,
            end: 0,
            buffer_offset: 0,
            line_number: 0,
            eof: false,
        }
    }

    /// Returns the next line without its newline, or the unterminated rest of the file.
    fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        loop {
            let pending = &self.buffer[self.start..self.end];
            if let Some(newline) = memchr::memchr(b'\n', pending) {
                let line_start = self.start;
                self.start += newline + 1;
                return Ok(Some(self.line(line_start, line_start + newline, true)));
            }
            if self.eof {
                if self.start == self.end {
                    return Ok(None);
                }
                let line_start = self.start;
                self.start = self.end;
                return Ok(Some(self.line(line_start, self.end, false)));
            }
            self.fill()?;
        }
    }

    fn line(&mut self, start: usize, end: usize, terminated: bool) -> Line<'_> {
        self.line_number += 1;
        Line {
            bytes: &self.buffer[start..end],
            number: self.line_number,
            offset: self.buffer_offset + start as u64,
            terminated,
        }
    }

    /// Moves the unread bytes to the front, grows the buffer for a line longer than it, and reads.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.buffer_offset += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buffer.len() {
            self.buffer.resize(self.buffer.len() * 2, 0);
        }
        let read = self.file.read(&mut self.buffer[self.end..])?;
        self.eof = read == 0;
        self.end += read;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns each finding with the words the audit runbook's table lists it under, where `…`
    /// stands for the variable part of the message.
    fn findings() -> Vec<(FindingKind, &'static str)> {
        let checkpoint = Checkpoint::parse(&format!("{}@3", ChainHash::of(b"head"))).unwrap();
        let (expected_seq, found_seq) = (4, 7);
        vec![
            (
                FindingKind::GenesisMissing {
                    reason: "no such file".to_owned(),
                },
                "genesis record missing or invalid",
            ),
            (
                FindingKind::SegmentMissing {
                    name: "audit-000002.jsonl".to_owned(),
                },
                "segment file … is missing",
            ),
            (FindingKind::MalformedEntry, "line is not a log entry"),
            (FindingKind::EntryEdited, "entry was edited"),
            (
                FindingKind::EntriesDeleted {
                    expected_seq,
                    found_seq,
                },
                "entries deleted",
            ),
            (
                FindingKind::EntriesReordered {
                    expected_seq,
                    found_seq,
                },
                "entries reordered",
            ),
            (
                FindingKind::EntryInserted {
                    expected_seq,
                    found_seq,
                },
                "entry inserted or duplicated",
            ),
            (FindingKind::ChainBroken { seq: 5 }, "chain broken"),
            (
                FindingKind::Truncated {
                    checkpoint_count: 9,
                    entries: 3,
                },
                "log truncated",
            ),
            (
                FindingKind::CheckpointMismatch {
                    checkpoint,
                    found_hash: ChainHash::of(b"other"),
                },
                "checkpoint … does not match",
            ),
            (
                FindingKind::IncompleteLastEntry,
                "incomplete last entry, likely a crash",
            ),
        ]
    }

    #[test]
    fn finding_messages_match_the_runbook() {
        let runbook = include_str!("../../../../runbooks/audit-and-siem.md");
        for (finding, words) in findings() {
            let message = finding.to_string();
            let (head, tail) = words.split_once(" … ").unwrap_or((words, ""));
            assert!(message.starts_with(head), "{message}");
            assert!(message.contains(tail), "{message}");
            let row = format!("| `{words}");
            assert!(
                runbook.contains(&row),
                "the runbook has no row for {words:?}"
            );
        }
    }

    #[test]
    fn only_a_torn_last_entry_is_not_tampering() {
        for (finding, _) in findings() {
            let expected = finding != FindingKind::IncompleteLastEntry;
            assert_eq!(finding.is_tampering(), expected, "{finding}");
        }
    }

    #[test]
    fn checkpoint_mismatch_names_the_entry() {
        let checkpoint = Checkpoint::parse(&format!("{}@3", ChainHash::of(b"head"))).unwrap();
        let finding = FindingKind::CheckpointMismatch {
            checkpoint,
            found_hash: ChainHash::of(b"other"),
        };
        let message = finding.to_string();
        assert!(
            message.contains("does not match: entry 2 has hash "),
            "{message}"
        );
    }
}
