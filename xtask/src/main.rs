//! Project automation, run as `cargo xtask <command>`.
//!
//! - `ci`: everything CI runs, in order: format, lints, tidy, tests, cargo-deny.
//! - `tidy`: the project's own conventions (see [`tidy`]).
//! - `bench drift|audit`: benchmarks that grow with fleet size; see docs/benchmarks.md.
//! - `coverage`: line coverage per crate with cargo-tarpaulin's LLVM engine.
//!
//! It needs nothing but cargo and the tools `.ci/run` installs.

mod bench;
mod coverage;
mod deny;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match arguments.first().map(String::as_str) {
        Some("ci") => ci(&root),
        Some("tidy") => tidy::run(&root),
        Some("bench") => bench::run(&root, &arguments[1..]),
        Some("coverage") => coverage::run(&root),
        Some("deny") => deny::run(&root),
        _ => {
            eprintln!("usage: cargo xtask <ci|tidy|bench drift|bench audit|coverage|deny>");
            bail!("unknown or missing command {:?}", arguments.first())
        }
    }
}

/// Runs every check CI runs, stopping at the first failure. The tests run last, so that
/// their summary closes the output.
fn ci(root: &Path) -> anyhow::Result<()> {
    run(root, "cargo", &["fmt", "--all", "--check"])?;
    run(
        root,
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    tidy::run(root)?;
    deny::run(root)?;
    // Not `--all-targets`: a benchmark binary is no test, and nextest would run it as one.
    run(
        root,
        "cargo",
        &["nextest", "run", "--workspace", "--no-fail-fast"],
    )
}

/// Returns the workspace root: the parent of this crate's directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_owned()
}

/// Runs a command in `directory`, echoing it, and fails when it fails.
fn run(directory: &Path, program: &str, arguments: &[&str]) -> anyhow::Result<()> {
    eprintln!("$ {program} {}", arguments.join(" "));
    let status = Command::new(program)
        .args(arguments)
        .current_dir(directory)
        .status()
        .with_context(|| format!("cannot start {program}: is it installed?"))?;
    if !status.success() {
        bail!("`{program} {}` failed with {status}", arguments.join(" "));
    }
    Ok(())
}
