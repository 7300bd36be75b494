//! `cargo xtask bench`: benchmarks of the work that grows with fleet size.
//!
//! `bench drift` generates a seeded synthetic fleet in the osquery results-log format, runs
//! the release `ops drift` on it, and runs the same comparison in DuckDB on the same file, in
//! the same run, so the two numbers come from the same machine and the same page cache.
//! Wall time and peak resident memory come from `/usr/bin/time` (GNU time).
//!
//! Options: `--devices N` (default 20,000), `--apps N` per device (default 100),
//! `--intents N` (default 5,000), `--runs N` (default 3; the best run is reported).
//!
//! `bench audit` fills an audit log of about 200 MB with batched appends, times durable single
//! appends and `verify`, and times `openssl dgst -sha256` on the same segment files for
//! comparison (the `audit_bench` example of the `siem` crate does the log work).
//!
//! `bench rollback` rolls back 10,000 applications across five in-process execution planes that
//! throttle above 200 calls per second each, and reports the achieved call rate (the
//! `throttled_planes` example of the `rollback` crate).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Parameters of the synthetic fleet.
struct Fleet {
    devices: u64,
    apps_per_device: u64,
    intents: u64,
    runs: u64,
}

/// The seed of the generator, so every run measures the same file.
const SEED: u64 = 0x0d_41f7;

/// Runs a benchmark by name.
pub fn run(root: &Path, arguments: &[String]) -> anyhow::Result<()> {
    match arguments.first().map(String::as_str) {
        Some("drift") => drift(root, &parse_fleet(&arguments[1..])?),
        Some("audit") => audit(root),
        Some("rollback") => crate::run(
            root,
            "cargo",
            &[
                "run",
                "--release",
                "--quiet",
                "-p",
                "rollback",
                "--example",
                "throttled_planes",
                "--",
                "10000",
                "200",
            ],
        ),
        _ => bail!(
            "usage: cargo xtask bench drift [--devices N] [--apps N] [--intents N] [--runs N], \
             or cargo xtask bench audit|rollback"
        ),
    }
}

fn parse_fleet(arguments: &[String]) -> anyhow::Result<Fleet> {
    let mut fleet = Fleet {
        devices: 20_000,
        apps_per_device: 100,
        intents: 5_000,
        runs: 3,
    };
    for pair in arguments.chunks(2) {
        let [flag, value] = pair else {
            bail!("{} needs a value", pair[0]);
        };
        let value: u64 = value
            .parse()
            .with_context(|| format!("{flag} takes a whole number, not {value:?}"))?;
        match flag.as_str() {
            "--devices" => fleet.devices = value,
            "--apps" => fleet.apps_per_device = value,
            "--intents" => fleet.intents = value,
            "--runs" => fleet.runs = value.max(1),
            other => {
                bail!("unknown option {other}: expected --devices, --apps, --intents or --runs")
            }
        }
    }
    if fleet.apps_per_device > fleet.intents {
        bail!(
            "--apps ({}) must not exceed --intents ({})",
            fleet.apps_per_device,
            fleet.intents
        );
    }
    Ok(fleet)
}

fn drift(root: &Path, fleet: &Fleet) -> anyhow::Result<()> {
    crate::run(
        root,
        "cargo",
        &["build", "--release", "--quiet", "-p", "ops-bin"],
    )?;
    let target = target_dir(root);
    let ops = target.join("release/ops");
    let directory = target.join("bench");
    std::fs::create_dir_all(&directory)?;

    let name = format!(
        "fleet-{}x{}-{}",
        fleet.devices, fleet.apps_per_device, fleet.intents
    );
    let log = directory.join(format!("{name}.log"));
    let intents = directory.join(format!("{name}-intents.json"));
    if !log.is_file() || !intents.is_file() {
        eprintln!("generating {} ...", log.display());
        generate(fleet, &log, &intents)?;
    }
    let bytes = std::fs::metadata(&log)?.len();
    let rows = fleet.devices * fleet.apps_per_device;
    let state_dir = directory.join("state");
    let _ = std::fs::remove_dir_all(&state_dir);

    let inventory = format!("osquery:{}", log.display());
    let ops_command: Vec<String> = vec![
        ops.display().to_string(),
        "--state-dir".into(),
        state_dir.display().to_string(),
        "--output".into(),
        "json".into(),
        "drift".into(),
        "--ring".into(),
        "Lab".into(),
        "--intents".into(),
        intents.display().to_string(),
        "--inventory".into(),
        inventory,
    ];
    let script = directory.join("duckdb_drift.py");
    std::fs::write(&script, DUCKDB_SCRIPT)?;
    let duckdb_command: Vec<String> = vec![
        "python3".into(),
        script.display().to_string(),
        log.display().to_string(),
        intents.display().to_string(),
    ];

    let ops_best = best_of(fleet.runs, &ops_command, &[0, 3])?;
    let duckdb_best = best_of(fleet.runs, &duckdb_command, &[0])?;

    let mut report = String::new();
    writeln!(
        report,
        "input: {} ({:.0} MB, {rows} rows, {} intents)",
        log.display(),
        bytes as f64 / 1e6,
        fleet.intents
    )?;
    for (label, measured) in [("ops drift", &ops_best), ("duckdb", &duckdb_best)] {
        writeln!(
            report,
            "{label:<10} {:>6.2} s  {:>10.0} rows/s  {:>7.0} MB/s  peak {:>6.0} MB",
            measured.seconds,
            rows as f64 / measured.seconds,
            bytes as f64 / 1e6 / measured.seconds,
            measured.peak_kib as f64 / 1024.0
        )?;
    }
    writeln!(
        report,
        "speed-up of ops over duckdb: {:.2}x",
        duckdb_best.seconds / ops_best.seconds
    )?;
    print!("{report}");
    Ok(())
}

fn audit(root: &Path) -> anyhow::Result<()> {
    let target = target_dir(root);
    let directory = target.join("bench/audit-log");
    let _ = std::fs::remove_dir_all(&directory);
    let _ = std::fs::remove_dir_all(target.join("bench/audit-log-appends"));
    let directory_arg = directory.display().to_string();
    crate::run(
        root,
        "cargo",
        &[
            "run",
            "--release",
            "--quiet",
            "-p",
            "siem",
            "--example",
            "audit_bench",
            "--",
            &directory_arg,
            "200",
            "2000",
        ],
    )?;

    let mut segments: Vec<String> = std::fs::read_dir(&directory)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "jsonl")
        })
        .map(|path| path.display().to_string())
        .collect();
    segments.sort();
    let mut command = vec![
        "openssl".to_owned(),
        "dgst".to_owned(),
        "-sha256".to_owned(),
    ];
    command.extend(segments);
    let openssl = best_of(3, &command, &[0])?;
    println!(
        "openssl dgst -sha256 on the same segments: {:.3} s",
        openssl.seconds
    );
    Ok(())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Wall time and peak memory of one run.
struct Measured {
    seconds: f64,
    peak_kib: u64,
}

fn best_of(runs: u64, command: &[String], accepted_codes: &[i32]) -> anyhow::Result<Measured> {
    let mut best: Option<Measured> = None;
    for _ in 0..runs {
        let measured = measure(command, accepted_codes)?;
        if best
            .as_ref()
            .is_none_or(|best| measured.seconds < best.seconds)
        {
            best = Some(measured);
        }
    }
    best.context("no run")
}

fn measure(command: &[String], accepted_codes: &[i32]) -> anyhow::Result<Measured> {
    let output = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("BENCH %e %M")
        .args(command)
        .output()
        .context("cannot run /usr/bin/time: install GNU time (apt-get install time)")?;
    let code = output.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !accepted_codes.contains(&code) {
        bail!("`{}` exited with {code}:\n{stderr}", command.join(" "));
    }
    let line = stderr
        .lines()
        .rev()
        .find(|line| line.starts_with("BENCH "))
        .context("GNU time printed no measurement")?;
    let mut fields = line.split_whitespace().skip(1);
    let seconds: f64 = fields.next().context("no time")?.parse()?;
    let peak_kib: u64 = fields.next().context("no memory")?.parse()?;
    Ok(Measured { seconds, peak_kib })
}

/// Writes the fleet's osquery results log and the approved intents.
///
/// Application `i` is the Debian package `pkg-i` at approved version `1.i.0-1`. Each device
/// reports `apps_per_device` packages, drawn from a window of the catalogue that moves with the
/// device. About 2% of rows report another version (newer or older), 0.5% spell the approved
/// version with an explicit zero epoch (equal under Debian rules, different as text), and every
/// fiftieth device carries one package nobody approved.
fn generate(fleet: &Fleet, log: &Path, intents: &Path) -> anyhow::Result<()> {
    let mut rng = fastrand::Rng::with_seed(SEED);

    let mut records = Vec::with_capacity(fleet.intents as usize);
    for index in 0..fleet.intents {
        records.push(serde_json::json!({
            "correlation_id": format!("deploy-bench-{index:05}"),
            "application_id": format!("app-{index:05}"),
            "app_name": format!("pkg-{index}"),
            "version": format!("1.{index}.0-1"),
            "ring": "Lab",
            "platform": "debian",
            "connectors": ["Landscape"],
            "status": "Deployed",
        }));
    }
    std::fs::write(intents, serde_json::to_vec(&records)?)?;

    let partial = log.with_extension("partial");
    let mut writer = BufWriter::with_capacity(1 << 20, File::create(&partial)?);
    let mut counter: u64 = 0;
    for device in 0..fleet.devices {
        let host = format!("host-{device:06}.corp.example");
        let start = (device * 37) % fleet.intents;
        for slot in 0..fleet.apps_per_device {
            let index = (start + slot) % fleet.intents;
            let roll = rng.u32(0..1000);
            let (name, version) = match roll {
                0..=9 => (format!("pkg-{index}"), format!("1.{index}.1-1")),
                10..=19 => (format!("pkg-{index}"), format!("1.{index}.0~rc1-1")),
                20..=24 => (format!("pkg-{index}"), format!("0:1.{index}.0-1")),
                _ if slot == 0 && device % 50 == 0 => (
                    format!("unapproved-tool-{}", device % 7),
                    "2.0-1".to_owned(),
                ),
                _ => (format!("pkg-{index}"), format!("1.{index}.0-1")),
            };
            counter += 1;
            writeln!(
                writer,
                r#"{{"name":"pack_inventory_deb_packages","hostIdentifier":"{host}","calendarTime":"Fri Dec  4 21:00:00 2026 UTC","unixTime":1796418000,"epoch":0,"counter":{counter},"numerics":false,"decorations":{{"host_uuid":"{device:08x}-0000-4000-8000-000000000000"}},"columns":{{"name":"{name}","version":"{version}","arch":"amd64","revision":"1"}},"action":"added"}}"#,
            )?;
        }
    }
    writer.flush()?;
    drop(writer);
    std::fs::rename(&partial, log)?;
    Ok(())
}

/// The same drift in DuckDB: read the log, aggregate rows by name and version, and join with
/// the intents on name. Versions compare as text, which is DuckDB's only notion here.
const DUCKDB_SCRIPT: &str = r#"
import sys
import duckdb

log, intents = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute(f"""
    CREATE TABLE inventory AS
    SELECT columns.name AS name, columns.version AS version, count(*) AS devices
    FROM read_json('{log}', format = 'newline_delimited',
                   columns = {{hostIdentifier: 'VARCHAR', action: 'VARCHAR',
                              columns: 'STRUCT(name VARCHAR, version VARCHAR)'}})
    WHERE action = 'added'
    GROUP BY ALL
""")
con.execute(f"CREATE TABLE intents AS SELECT app_name AS name, version FROM read_json('{intents}')")
unauthorized = con.execute("""
    SELECT i.name, i.version FROM inventory i ANTI JOIN intents a ON a.name = i.name
""").fetchall()
missing = con.execute("""
    SELECT a.name, a.version FROM intents a ANTI JOIN inventory i ON a.name = i.name
""").fetchall()
drift = con.execute("""
    SELECT a.name, a.version, i.version FROM intents a JOIN inventory i ON a.name = i.name
    WHERE a.version <> i.version
""").fetchall()
print(f"unauthorized={len(unauthorized)} missing={len(missing)} version_drift={len(drift)}", file=sys.stderr)
"#;
