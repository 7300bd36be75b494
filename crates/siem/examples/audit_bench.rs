//! Measures the audit log: durable appends per second, and verification throughput.
//!
//! Usage: `cargo run --release -p siem --example audit_bench -- DIR [MEGABYTES] [APPENDS]`.
//! When DIR already contains a log, the program only times `verify` over it, three times.
//! Otherwise it fills DIR with about MEGABYTES of log (default 200) using
//! batched appends, times `verify` over it, then times APPENDS single durable appends (default
//! 2000) in a second directory beside it. Compare verification with
//! `openssl dgst -sha256 DIR/audit-*.jsonl` on the same files.

use std::path::PathBuf;
use std::time::Instant;

use chrono::Utc;
use ops_core::CorrelationId;
use ops_core::audit::{AuditEvent, AuditEventType, Outcome};
use siem::{AuditLog, verify};

fn event(index: usize) -> AuditEvent {
    AuditEvent::new(
        AuditEventType::RollbackStepCompleted,
        CorrelationId::generate("rollback"),
        "svc-ops@contoso.onmicrosoft.com",
        Utc::now(),
        Outcome::Success,
    )
    .with_related(CorrelationId::generate("deploy"))
    .with_detail("index", index)
    .with_detail("connector", "Intune")
    .with_detail("ring", "Pilot")
    .with_detail("app", "contoso-agent")
    .with_detail("version", "4.2.1")
    .with_detail("devices", 1250)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: audit_bench DIR [MEGABYTES] [APPENDS]")?,
    );
    let megabytes: u64 = args.next().map_or(Ok(200), |text| text.parse())?;
    let appends: usize = args.next().map_or(Ok(2000), |text| text.parse())?;
    if dir.join("audit-genesis.json").exists() {
        for _ in 0..3 {
            time_verify(&dir)?;
        }
        return Ok(());
    }

    let log = AuditLog::open(&dir)?;
    let started = Instant::now();
    let mut index = 0;
    let mut written = 0;
    while written < megabytes * 1_000_000 {
        let batch: Vec<AuditEvent> = (index..index + 10_000).map(event).collect();
        index += batch.len();
        log.append_batch(&batch)?;
        written = segment_bytes(&dir)?;
    }
    println!(
        "filled {} entries, {:.1} MB in {:.1} s",
        index,
        written as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    time_verify(&dir)?;

    let append_dir = dir.with_extension("appends");
    let append_log = AuditLog::open(&append_dir)?;
    let started = Instant::now();
    for index in 0..appends {
        append_log.append(&event(index))?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "append: {appends} durable appends in {seconds:.2} s = {:.0} appends/s (in {})",
        appends as f64 / seconds,
        append_dir.display()
    );
    Ok(())
}

fn time_verify(dir: &std::path::Path) -> Result<(), siem::SiemError> {
    let started = Instant::now();
    let report = verify(dir, None)?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "verify: {} entries, {:.1} MB in {:.3} s = {:.0} MB/s, intact: {}",
        report.entries,
        report.bytes as f64 / 1e6,
        seconds,
        report.bytes as f64 / 1e6 / seconds,
        report.is_intact()
    );
    Ok(())
}

fn segment_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().ends_with(".jsonl") {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}
