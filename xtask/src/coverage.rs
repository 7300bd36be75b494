//! `cargo xtask coverage`: line coverage per crate, with cargo-tarpaulin's LLVM engine.
//!
//! Tarpaulin builds from crates.io and its LLVM engine needs no rustup component, so nothing
//! downloads a toolchain. Install it once with `cargo install --locked cargo-tarpaulin`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};

/// The line coverage each crate aims for, in percent.
const TARGET_PERCENT: f64 = 90.0;

/// Runs the tests under coverage and prints a table of line coverage per crate.
pub fn run(root: &Path) -> anyhow::Result<()> {
    let installed = std::process::Command::new("cargo")
        .args(["tarpaulin", "--version"])
        .output()
        .map(|output| output.status.success())
        .unwrap_or(false);
    if !installed {
        bail!("cargo-tarpaulin is not installed: run `cargo install --locked cargo-tarpaulin`");
    }

    let output_dir = root.join("target/coverage");
    let output_arg = output_dir.display().to_string();
    crate::run(
        root,
        "cargo",
        &[
            "tarpaulin",
            "--engine",
            "llvm",
            "--workspace",
            "--exclude",
            "xtask",
            "--skip-clean",
            "--out",
            "Lcov",
            "--output-dir",
            &output_arg,
        ],
    )?;

    let lcov = std::fs::read_to_string(output_dir.join("lcov.info"))
        .context("tarpaulin wrote no lcov.info")?;
    let per_crate = lines_per_crate(&lcov, root);
    println!(
        "{:<14} {:>8} {:>8} {:>8}",
        "crate", "lines", "covered", "percent"
    );
    for (name, (total, covered)) in &per_crate {
        let percent = if *total == 0 {
            100.0
        } else {
            *covered as f64 * 100.0 / *total as f64
        };
        let flag = if percent < TARGET_PERCENT {
            "  below target"
        } else {
            ""
        };
        println!("{name:<14} {total:>8} {covered:>8} {percent:>7.1}%{flag}");
    }
    Ok(())
}

/// Sums instrumented and covered lines per crate from an lcov report.
fn lines_per_crate(lcov: &str, root: &Path) -> BTreeMap<String, (u64, u64)> {
    let mut totals: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in lcov.lines() {
        if let Some(path) = line.strip_prefix("SF:") {
            let relative = Path::new(path)
                .strip_prefix(root)
                .unwrap_or(Path::new(path));
            let mut parts = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned());
            current = match (parts.next().as_deref(), parts.next()) {
                (Some("crates"), Some(name)) => Some(name),
                _ => None,
            };
        } else if let (Some(name), Some(data)) = (&current, line.strip_prefix("DA:")) {
            let hits = data
                .split(',')
                .nth(1)
                .and_then(|hits| hits.parse::<u64>().ok())
                .unwrap_or(0);
            let entry = totals.entry(name.clone()).or_default();
            entry.0 += 1;
            entry.1 += u64::from(hits > 0);
        }
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcov_lines_are_summed_per_crate() {
        let lcov = "SF:/w/crates/drift/src/lib.rs\nDA:1,3\nDA:2,0\nend_of_record\n\
                    SF:/w/crates/ops-core/src/ring.rs\nDA:5,1\nend_of_record\n\
                    SF:/w/xtask/src/main.rs\nDA:1,0\nend_of_record\n";
        let totals = lines_per_crate(lcov, Path::new("/w"));
        assert_eq!(totals["drift"], (2, 1));
        assert_eq!(totals["ops-core"], (1, 1));
        assert_eq!(totals.len(), 2);
    }
}
