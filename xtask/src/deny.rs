//! `cargo xtask deny`: cargo-deny with the offline RustSec snapshot.
//!
//! cargo-deny clones its advisory database from the network, which CI cannot reach. The
//! snapshot in `../shared/advisory-db/` is copied to the directory `deny.toml` names, made a git
//! repository with one commit (cargo-deny reads the HEAD commit's time), and cargo-deny runs
//! with `--offline`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The directory name cargo-deny expects for the default advisory database URL.
const DATABASE_DIR: &str = "advisory-db-3157b0e258782691";

/// Prepares the advisory database and runs `cargo deny --offline check`.
pub fn run(root: &Path) -> anyhow::Result<()> {
    let snapshot = root.join("../shared/advisory-db");
    if !snapshot.join("crates").is_dir() {
        bail!(
            "advisory database snapshot not found at {}: CI provides it beside the clone",
            snapshot.display()
        );
    }
    let database = root.join("target/advisory-dbs").join(DATABASE_DIR);
    prepare_database(&snapshot, &database)?;

    crate::run(root, "cargo", &["fetch", "--locked"])?;
    crate::run(root, "cargo", &["deny", "--offline", "check"])
}

fn prepare_database(snapshot: &Path, database: &PathBuf) -> anyhow::Result<()> {
    if database.join(".git").is_dir() {
        return Ok(());
    }
    if database.exists() {
        std::fs::remove_dir_all(database)
            .with_context(|| format!("cannot clear {}", database.display()))?;
    }
    std::fs::create_dir_all(database)
        .with_context(|| format!("cannot create {}", database.display()))?;
    let copy = Command::new("cp")
        .arg("-R")
        .arg(format!("{}/.", snapshot.display()))
        .arg(database)
        .status()
        .context("cannot run cp")?;
    if !copy.success() {
        bail!(
            "copying the advisory snapshot to {} failed",
            database.display()
        );
    }
    for arguments in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"][..],
        &[
            "-c",
            "user.name=xtask",
            "-c",
            "user.email=xtask@localhost",
            "commit",
            "-q",
            "-m",
            "snapshot",
        ][..],
    ] {
        let status = Command::new("git")
            .args(arguments)
            .current_dir(database)
            .status()
            .context("cannot run git")?;
        if !status.success() {
            bail!(
                "git {} failed in {}",
                arguments.join(" "),
                database.display()
            );
        }
    }
    Ok(())
}
