//! Tamper and crash scenarios on real log files.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ops_core::audit::{AuditEvent, AuditEventType, Outcome};
use ops_core::ports::AuditSink;
use ops_core::{CorrelationId, ErrorKind};
use siem::{AuditLog, AuditLogOptions, FindingKind, SiemError, tail, verify};

fn event(index: usize) -> AuditEvent {
    AuditEvent::new(
        AuditEventType::DriftDetected,
        CorrelationId::parse(&format!("drift-{}", index % 3)).unwrap(),
        "ops@host",
        DateTime::<Utc>::UNIX_EPOCH,
        Outcome::Success,
    )
    .with_detail("index", index)
    .with_detail("ring", "Canary")
}

/// Creates a log with `count` events in one segment and returns the log and its segment path.
fn log_with(count: usize) -> (tempfile::TempDir, AuditLog, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path().join("audit")).unwrap();
    for index in 0..count {
        log.append(&event(index)).unwrap();
    }
    let segment = log.dir().join("audit-000001.jsonl");
    (dir, log, segment)
}

fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    fs::write(path, text).unwrap();
}

fn append_raw(path: &Path, bytes: &[u8]) {
    let mut file = OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(bytes).unwrap();
}

#[test]
fn intact_log_verifies() {
    let (_dir, log, _segment) = log_with(50);
    let report = verify(log.dir(), None).unwrap();
    assert!(report.is_intact(), "{:?}", report.finding);
    assert_eq!(report.entries, 50);
    assert_eq!(report.segments, 1);
    assert_eq!(report.head, log.head().unwrap());
}

#[test]
fn empty_log_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    let report = verify(log.dir(), Some(&log.head().unwrap())).unwrap();
    assert!(report.is_intact(), "{:?}", report.finding);
    assert_eq!(report.entries, 0);
}

#[test]
fn edited_entry_is_found() {
    let (_dir, log, segment) = log_with(20);
    let mut lines = read_lines(&segment);
    lines[9] = lines[9].replace("ops@host", "ops@evil");
    write_lines(&segment, &lines);

    let finding = verify(log.dir(), None).unwrap().finding.unwrap();
    assert_eq!(finding.kind, FindingKind::EntryEdited);
    assert_eq!(finding.position.segment, "audit-000001.jsonl");
    assert_eq!(finding.position.line, 10);
    assert_eq!(finding.position.seq, Some(9));
}

#[test]
fn deleted_entry_is_found() {
    let (_dir, log, segment) = log_with(20);
    let mut lines = read_lines(&segment);
    lines.remove(9);
    write_lines(&segment, &lines);

    let finding = verify(log.dir(), None).unwrap().finding.unwrap();
    let expected = FindingKind::EntriesDeleted {
        expected_seq: 9,
        found_seq: 10,
    };
    assert_eq!(finding.kind, expected);
    assert_eq!(finding.position.line, 10);
    assert_eq!(finding.position.seq, Some(10));
}

#[test]
fn inserted_copy_is_found() {
    let (_dir, log, segment) = log_with(20);
    let mut lines = read_lines(&segment);
    let copy = lines[2].clone();
    lines.insert(10, copy);
    write_lines(&segment, &lines);

    let finding = verify(log.dir(), None).unwrap().finding.unwrap();
    let expected = FindingKind::EntryInserted {
        expected_seq: 10,
        found_seq: 2,
    };
    assert_eq!(finding.kind, expected);
    assert_eq!(finding.position.line, 11);
}

#[test]
fn inserted_forged_entry_is_found() {
    // A forger who has the format appends a well-formed entry to a copy of the log, then splices
    // it into the original: the entry itself is consistent, the one after it is not.
    let (_dir, log, segment) = log_with(20);
    let forged_dir = tempfile::tempdir().unwrap();
    for file in ["audit-genesis.json", "audit-000001.jsonl"] {
        fs::copy(log.dir().join(file), forged_dir.path().join(file)).unwrap();
    }
    let mut forged_lines = read_lines(&forged_dir.path().join("audit-000001.jsonl"));
    forged_lines.truncate(10);
    write_lines(&forged_dir.path().join("audit-000001.jsonl"), &forged_lines);
    AuditLog::open(forged_dir.path())
        .unwrap()
        .append(&event(999))
        .unwrap();
    let forged = read_lines(&forged_dir.path().join("audit-000001.jsonl"))[10].clone();

    let mut lines = read_lines(&segment);
    lines.insert(10, forged);
    write_lines(&segment, &lines);

    let finding = verify(log.dir(), None).unwrap().finding.unwrap();
    let expected = FindingKind::EntryInserted {
        expected_seq: 11,
        found_seq: 10,
    };
    assert_eq!(finding.kind, expected);
    assert_eq!(finding.position.line, 12);
}

#[test]
fn swapped_entries_are_found() {
    let (_dir, log, segment) = log_with(20);
    let mut lines = read_lines(&segment);
    lines.swap(9, 10);
    write_lines(&segment, &lines);

    let finding = verify(log.dir(), None).unwrap().finding.unwrap();
    let expected = FindingKind::EntriesReordered {
        expected_seq: 9,
        found_seq: 10,
    };
    assert_eq!(finding.kind, expected);
    assert_eq!(finding.position.line, 10);
}

#[test]
fn truncation_is_found_only_against_checkpoint() {
    let (_dir, log, segment) = log_with(50);
    let checkpoint = log.head().unwrap();
    let mut lines = read_lines(&segment);
    lines.truncate(45);
    write_lines(&segment, &lines);

    let without = verify(log.dir(), None).unwrap();
    assert!(
        without.is_intact(),
        "truncation is invisible without a checkpoint"
    );

    let finding = verify(log.dir(), Some(&checkpoint))
        .unwrap()
        .finding
        .unwrap();
    let expected = FindingKind::Truncated {
        checkpoint_count: 50,
        entries: 45,
    };
    assert_eq!(finding.kind, expected);
    assert_eq!(finding.position.seq, Some(44));
}

#[test]
fn replaced_log_fails_checkpoint() {
    let (_dir, log, _segment) = log_with(10);
    let checkpoint = log.head().unwrap();
    let (_other_dir, other, _other_segment) = log_with(12);

    let finding = verify(other.dir(), Some(&checkpoint))
        .unwrap()
        .finding
        .unwrap();
    assert!(
        matches!(finding.kind, FindingKind::CheckpointMismatch { .. }),
        "{finding}"
    );
    assert_eq!(finding.position.seq, Some(9));
}

#[test]
fn checkpoint_covers_entries_before_its_event() {
    let (_dir, log, _segment) = log_with(5);
    let before = log.head().unwrap();
    let checkpoint = log
        .checkpoint("ops@host", CorrelationId::generate("audit"))
        .unwrap();
    assert_eq!(checkpoint, before);

    let newest = tail(log.dir(), 1, None).unwrap();
    assert_eq!(
        newest[0].event.event_type,
        AuditEventType::AuditCheckpointed
    );
    assert_eq!(newest[0].seq, 5);
    assert_eq!(
        newest[0].event.details["checkpoint"],
        checkpoint.to_string()
    );

    log.append(&event(6)).unwrap();
    let report = verify(log.dir(), Some(&checkpoint)).unwrap();
    assert!(report.is_intact(), "{:?}", report.finding);
    assert_eq!(report.entries, 7);
}

#[test]
fn torn_last_line_is_a_crash_then_sealed() {
    let (_dir, log, segment) = log_with(10);
    let lines = read_lines(&segment);
    append_raw(&segment, &lines[3].as_bytes()[..40]);

    let report = verify(log.dir(), None).unwrap();
    let finding = report.finding.clone().unwrap();
    assert_eq!(finding.kind, FindingKind::IncompleteLastEntry);
    assert!(!report.is_tampered());
    assert_eq!(finding.position.line, 11);
    assert!(finding.to_string().contains("likely a crash"), "{finding}");

    log.append(&event(10)).unwrap();
    let report = verify(log.dir(), None).unwrap();
    assert!(report.is_intact(), "{:?}", report.finding);
    assert_eq!(report.repaired_lines, 1);
    assert_eq!(
        report.entries, 12,
        "10 events, the repair entry and the new event"
    );

    let entries = tail(log.dir(), 2, None).unwrap();
    let repair = &entries[0].event;
    assert_eq!(repair.event_type, AuditEventType::AuditLogRepaired);
    assert_eq!(repair.details["length"], 40);
    assert_eq!(repair.details["segment"], "audit-000001.jsonl");
    assert_eq!(entries[1].event.details["index"], 10);
}

#[test]
fn interrupted_seal_is_sealed_again() {
    // A crash after the sealing newline but before the repair entry leaves a malformed line that
    // ends with a newline.
    let (_dir, log, segment) = log_with(5);
    append_raw(&segment, b"{\"seq\":5,\"pr\n");

    let finding = verify(log.dir(), None).unwrap().finding.unwrap();
    assert_eq!(finding.kind, FindingKind::IncompleteLastEntry);

    log.append(&event(5)).unwrap();
    let report = verify(log.dir(), None).unwrap();
    assert!(report.is_intact(), "{:?}", report.finding);
    assert_eq!(report.repaired_lines, 1);
}

#[test]
fn complete_entry_missing_newline_is_completed() {
    let (_dir, log, segment) = log_with(5);
    let mut bytes = fs::read(&segment).unwrap();
    bytes.pop();
    fs::write(&segment, &bytes).unwrap();

    let finding = verify(log.dir(), None).unwrap().finding.unwrap();
    assert_eq!(finding.kind, FindingKind::IncompleteLastEntry);

    log.append(&event(5)).unwrap();
    let report = verify(log.dir(), None).unwrap();
    assert!(report.is_intact(), "{:?}", report.finding);
    assert_eq!(report.repaired_lines, 0);
    assert_eq!(report.entries, 6);
}

#[test]
fn edited_last_entry_stops_writers() {
    let (_dir, log, segment) = log_with(5);
    let mut lines = read_lines(&segment);
    lines[4] = lines[4].replace("Canary", "Broad");
    write_lines(&segment, &lines);

    let error = log.append(&event(5)).unwrap_err();
    assert!(
        matches!(error, SiemError::DamagedTail { line: 5, .. }),
        "{error}"
    );
    let finding = verify(log.dir(), None).unwrap().finding.unwrap();
    assert_eq!(finding.kind, FindingKind::EntryEdited);
    assert_eq!(read_lines(&segment).len(), 5, "nothing was appended");
}

#[test]
fn forged_repair_entry_is_not_accepted() {
    let (_dir, log, segment) = log_with(5);
    append_raw(&segment, b"torn");
    log.append(&event(5)).unwrap();

    let mut lines = read_lines(&segment);
    lines[5] = "torn-but-different".to_owned();
    write_lines(&segment, &lines);

    let finding = verify(log.dir(), None).unwrap().finding.unwrap();
    assert_eq!(finding.kind, FindingKind::MalformedEntry);
    assert_eq!(finding.position.line, 6);
}

#[test]
fn segments_roll_over_and_chain_continues() {
    let dir = tempfile::tempdir().unwrap();
    let options = AuditLogOptions {
        max_segment_bytes: 4096,
    };
    let log = AuditLog::open_with(dir.path(), options.clone()).unwrap();
    for index in 0..60 {
        log.append(&event(index)).unwrap();
    }
    let batch: Vec<AuditEvent> = (60..100).map(event).collect();
    log.append_batch(&batch).unwrap();

    let report = verify(log.dir(), None).unwrap();
    assert!(report.is_intact(), "{:?}", report.finding);
    assert_eq!(report.entries, 100);
    assert!(report.segments > 5, "{} segments", report.segments);
    for number in 1..=report.segments {
        let path = dir.path().join(format!("audit-{number:06}.jsonl"));
        let len = fs::metadata(&path).unwrap().len();
        assert!(len <= 4096, "{} is {len} bytes", path.display());
    }

    fs::remove_file(dir.path().join("audit-000003.jsonl")).unwrap();
    let finding = verify(log.dir(), None).unwrap().finding.unwrap();
    let expected = FindingKind::SegmentMissing {
        name: "audit-000003.jsonl".to_owned(),
    };
    assert_eq!(finding.kind, expected);
    assert_eq!(finding.position.segment, "audit-000004.jsonl");
}

#[test]
fn missing_genesis_is_found() {
    let (_dir, log, _segment) = log_with(3);
    fs::remove_file(log.dir().join("audit-genesis.json")).unwrap();

    let finding = verify(log.dir(), None).unwrap().finding.unwrap();
    assert!(
        matches!(finding.kind, FindingKind::GenesisMissing { .. }),
        "{finding}"
    );
    let error = log.append(&event(3)).unwrap_err();
    assert!(matches!(error, SiemError::InvalidGenesis { .. }), "{error}");
}

#[test]
fn tail_filters_by_correlation_id() {
    let (_dir, log, _segment) = log_with(30);
    let wanted = CorrelationId::parse("drift-1").unwrap();

    let entries = tail(log.dir(), 4, Some(&wanted)).unwrap();
    let indexes: Vec<u64> = entries
        .iter()
        .map(|entry| entry.event.details["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [19, 22, 25, 28]);
    assert!(entries.windows(2).all(|pair| pair[0].seq < pair[1].seq));

    let all = tail(log.dir(), 100, None).unwrap();
    assert_eq!(all.len(), 30);
    assert_eq!(all[0].seq, 0);
}

#[test]
fn two_handles_in_two_threads_do_not_fork() {
    let dir = tempfile::tempdir().unwrap();
    let first = AuditLog::open(dir.path()).unwrap();
    let second = AuditLog::open(dir.path()).unwrap();

    let writers: Vec<_> = [first, second]
        .into_iter()
        .enumerate()
        .map(|(writer, log)| {
            std::thread::spawn(move || {
                for index in 0..200 {
                    log.append(&event(writer * 1000 + index)).unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }

    let report = verify(dir.path(), None).unwrap();
    assert!(report.is_intact(), "{:?}", report.finding);
    assert_eq!(report.entries, 400);
    let mut indexes: Vec<u64> = tail(dir.path(), 400, None)
        .unwrap()
        .iter()
        .map(|entry| entry.event.details["index"].as_u64().unwrap())
        .collect();
    indexes.sort_unstable();
    let expected: Vec<u64> = (0..200).chain(1000..1200).collect();
    assert_eq!(indexes, expected);
}

/// The environment variable that turns this test binary into a child writer.
const CHILD_DIR_VAR: &str = "SIEM_TEST_CHILD_WRITER_DIR";

#[test]
fn two_processes_do_not_fork() {
    if let Ok(dir) = std::env::var(CHILD_DIR_VAR) {
        let writer: usize = std::env::var("SIEM_TEST_CHILD_WRITER")
            .unwrap()
            .parse()
            .unwrap();
        let log = AuditLog::open(dir).unwrap();
        for index in 0..150 {
            log.append(&event(writer * 1000 + index)).unwrap();
        }
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    AuditLog::open(dir.path()).unwrap();
    let executable = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|writer| {
            std::process::Command::new(&executable)
                .args(["two_processes_do_not_fork", "--exact", "--test-threads=1"])
                .env(CHILD_DIR_VAR, dir.path())
                .env("SIEM_TEST_CHILD_WRITER", writer.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }

    let report = verify(dir.path(), None).unwrap();
    assert!(report.is_intact(), "{:?}", report.finding);
    assert_eq!(report.entries, 300);
}

#[test]
fn open_fails_where_a_file_blocks_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("state");
    fs::write(&blocker, b"a file, not a directory").unwrap();

    let error = AuditLog::open(blocker.join("audit")).unwrap_err();
    assert!(
        matches!(error, SiemError::CreateDirectory { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("state/audit"), "{error}");
}

#[tokio::test]
async fn record_fails_closed_when_log_is_unwritable() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("audit");
    let log = AuditLog::open(&log_dir).unwrap();
    log.record(&event(0)).await.unwrap();

    // Root ignores permission bits, so a file where the directory was is the reliable failure.
    fs::rename(&log_dir, dir.path().join("moved")).unwrap();
    fs::write(&log_dir, b"a file, not a directory").unwrap();

    let error = log.record(&event(1)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    let source = std::error::Error::source(&error).unwrap().to_string();
    assert!(source.contains(&log_dir.display().to_string()), "{source}");
    assert!(error.to_string().contains("was not recorded"), "{error}");
}
