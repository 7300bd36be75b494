//! Throughput of the osquery results log reader on a generated fleet log.
//!
//! Run with `cargo bench -p connectors --bench osquery_log`. The log is written once to
//! `$OPS_BENCH_LOG`, or `/tmp/ops-osquery-bench.log` by default: 20,000 hosts reporting 100
//! applications each in event format, 2 million lines and about 695 MB, with 5,000 distinct
//! application and version pairs across the four software tables. Set `OPS_BENCH_HOSTS` to
//! write a smaller log (delete the old file first).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use connectors::inventory::{InventoryFormat, InventorySource, read_inventory};
use ops_core::Inventory;

const APPS_PER_HOST: u64 = 100;
const DISTINCT_NAMES: u64 = 250;
const VERSIONS_PER_NAME: u64 = 5;
const RUNS: usize = 5;

fn main() {
    let path = std::env::var_os("OPS_BENCH_LOG").map_or_else(
        || PathBuf::from("/tmp/ops-osquery-bench.log"),
        PathBuf::from,
    );
    let hosts = std::env::var("OPS_BENCH_HOSTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20_000);
    if !path.exists() {
        let started = Instant::now();
        write_log(&path, hosts).expect("failed to write the benchmark log");
        println!(
            "wrote {} in {:.1} s",
            path.display(),
            started.elapsed().as_secs_f64()
        );
    }
    let size = std::fs::metadata(&path)
        .expect("benchmark log is missing")
        .len();
    let source = InventorySource {
        format: InventoryFormat::Osquery,
        path: path.clone(),
    };

    let mut best = f64::MAX;
    for run in 1..=RUNS {
        let mut inventory = Inventory::new();
        let started = Instant::now();
        let summary =
            read_inventory(&source, &mut inventory, &|_| {}).expect("benchmark log failed to read");
        let seconds = started.elapsed().as_secs_f64();
        best = best.min(seconds);
        println!(
            "run {run}: {:.3} s, {:.0} MB/s, {} rows, {} distinct, {} devices",
            seconds,
            size as f64 / 1e6 / seconds,
            summary.rows,
            inventory.len(),
            summary.devices
        );
    }
    println!(
        "best of {RUNS}: {:.3} s for {:.0} MB, {:.0} MB/s",
        best,
        size as f64 / 1e6,
        size as f64 / 1e6 / best
    );
}

/// A small deterministic generator (SplitMix64), so every run writes the same log.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut value = self.0;
        value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        value ^ (value >> 31)
    }
}

fn write_log(path: &Path, hosts: u64) -> std::io::Result<()> {
    let mut output = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut random = SplitMix(7);
    for host in 0..hosts {
        let table = host % 4;
        let unix_time = 1_762_247_565 + host;
        for slot in 0..APPS_PER_HOST {
            let app = (random.next() % DISTINCT_NAMES + slot * 7) % DISTINCT_NAMES;
            let version = random.next() % VERSIONS_PER_NAME;
            write!(
                output,
                "{{\"name\":\"pack_inventory_software\",\"hostIdentifier\":\"host-{host:05}\",\
                 \"calendarTime\":\"Tue Nov  4 09:12:45 2025 UTC\",\"unixTime\":{unix_time},\"epoch\":0,\
                 \"counter\":0,\"numerics\":false,\"decorations\":{{\"host_uuid\":\"4C4C4544-0042-{host:04X}-8052\"}},\
                 \"columns\":"
            )?;
            match table {
                0 => write!(
                    output,
                    "{{\"name\":\"Vendor App {app} (x64)\",\"version\":\"{}.{version}.{app}\",\
                     \"install_location\":\"C:\\\\Program Files\\\\App{app}\"}}",
                    app % 30
                )?,
                1 => write!(
                    output,
                    "{{\"name\":\"pkg-{app}\",\"version\":\"1:{}.{version}-{app}ubuntu1\",\"arch\":\"amd64\",\
                     \"maintainer\":\"Ubuntu Developers\"}}",
                    app % 30
                )?,
                2 => write!(
                    output,
                    "{{\"name\":\"pkg-{app}\",\"version\":\"{}.{version}\",\"release\":\"{app}.el9\",\
                     \"epoch\":\"\",\"arch\":\"x86_64\",\"sha1\":\"\"}}",
                    app % 30
                )?,
                _ => write!(
                    output,
                    "{{\"name\":\"App {app}.app\",\"bundle_short_version\":\"{}.{version}\",\
                     \"bundle_identifier\":\"com.vendor.app{app}\"}}",
                    app % 30
                )?,
            }
            writeln!(output, ",\"action\":\"added\"}}")?;
        }
    }
    output.flush()
}
