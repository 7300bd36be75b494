//! `cargo xtask tidy`: conventions no compiler checks.
//!
//! - Domain and adapter crates depend on no crate of this workspace but `ops-core` and the HTTP
//!   plumbing in `ops-http` (tests may also use `ops-testkit`), so each can be built, versioned
//!   and tested on its own. `ops-http` itself uses only `ops-core`, and `ops-core` nothing.
//! - Every Rust file opens with a `//!` comment saying what it is for.
//! - Every TODO names its category, as in `TODO-correctness:`.
//! - Every CLI domain has a runbook.
//!
//! The same checks run as tests under `cargo test -p xtask`, so CI fails on a violation even
//! when only the test command runs. Each failure names the file, the line and the fix.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Crates that only `ops-bin` may combine.
const ISOLATED_CRATES: [&str; 14] = [
    "incident",
    "rollback",
    "rings",
    "drift",
    "telemetry",
    "hadr",
    "secrets",
    "rbac",
    "siem",
    "connectors",
    "ops-store",
    "ops-testkit",
    "ops-core",
    "ops-http",
];

/// Returns the crates of this workspace that `name` may depend on.
fn allowed_dependencies(name: &str) -> &'static [&'static str] {
    match name {
        "ops-core" => &[],
        "ops-http" | "ops-testkit" => &["ops-core"],
        _ => &["ops-core", "ops-http"],
    }
}

/// Returns the crates of this workspace that the tests of `name` may use.
fn allowed_dev_dependencies(name: &str) -> &'static [&'static str] {
    match name {
        "ops-core" => &[],
        _ => &["ops-core", "ops-http", "ops-testkit"],
    }
}

/// Runbooks the CLI's domains need, by file name under `runbooks/`.
const RUNBOOKS: [&str; 6] = [
    "intents.md",
    "drift.md",
    "rollback.md",
    "ring-promotion.md",
    "connectors.md",
    "audit-and-siem.md",
];

/// Runs every check and fails listing all violations.
pub fn run(root: &Path) -> anyhow::Result<()> {
    let mut violations = Vec::new();
    violations.extend(dependency_violations(root)?);
    violations.extend(source_violations(root)?);
    violations.extend(runbook_violations(root));
    if violations.is_empty() {
        eprintln!("tidy: ok");
        return Ok(());
    }
    for violation in &violations {
        eprintln!("tidy: {violation}");
    }
    bail!("tidy found {} violation(s)", violations.len())
}

fn workspace_crates(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root.join("crates")).context("cannot list crates/")? {
        let manifest = entry?.path().join("Cargo.toml");
        if let Some(name) = package_name(&manifest)? {
            names.push(name);
        }
    }
    Ok(names)
}

fn package_name(manifest: &Path) -> anyhow::Result<Option<String>> {
    if !manifest.is_file() {
        return Ok(None);
    }
    let table = read_manifest(manifest)?;
    Ok(table
        .get("package")
        .and_then(|package| package.get("name"))
        .and_then(|name| name.as_str())
        .map(str::to_owned))
}

fn read_manifest(manifest: &Path) -> anyhow::Result<toml::Table> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    text.parse()
        .with_context(|| format!("{} is not valid TOML", manifest.display()))
}

/// Lists dependencies on workspace crates that break the isolation rule.
pub fn dependency_violations(root: &Path) -> anyhow::Result<Vec<String>> {
    let ours = workspace_crates(root)?;
    let mut violations = Vec::new();
    for entry in std::fs::read_dir(root.join("crates"))? {
        let manifest = entry?.path().join("Cargo.toml");
        let Some(name) = package_name(&manifest)? else {
            continue;
        };
        if !ISOLATED_CRATES.contains(&name.as_str()) {
            continue;
        }
        let table = read_manifest(&manifest)?;
        let sections = [
            ("dependencies", allowed_dependencies(&name)),
            ("dev-dependencies", allowed_dev_dependencies(&name)),
            ("build-dependencies", allowed_dependencies(&name)),
        ];
        for (section, allowed) in sections {
            let Some(dependencies) = table.get(section).and_then(|value| value.as_table()) else {
                continue;
            };
            for dependency in dependencies.keys() {
                let is_ours = ours.contains(dependency);
                let is_self = *dependency == name;
                if is_ours && !is_self && !allowed.contains(&dependency.as_str()) {
                    let allowed = if allowed.is_empty() {
                        "none".to_owned()
                    } else {
                        allowed.join(", ")
                    };
                    violations.push(format!(
                        "{}: [{section}] names {dependency}, but {name} may use only {allowed} among this \
                         workspace's crates; move the shared part into an ops-core trait and let ops-bin wire it",
                        manifest.display(),
                    ));
                }
            }
        }
    }
    Ok(violations)
}

fn rust_files(directory: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(directory)
        .with_context(|| format!("cannot list {}", directory.display()))?
    {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        if path.is_dir() && name != "target" && name != "fixtures" {
            rust_files(&path, files)?;
        } else if name.ends_with(".rs") {
            files.push(path);
        }
    }
    Ok(())
}

/// Lists source files without a `//!` header and TODOs without a category.
pub fn source_violations(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files)?;
    rust_files(&root.join("xtask"), &mut files)?;
    if root.join("tests").is_dir() {
        rust_files(&root.join("tests"), &mut files)?;
    }

    let mut violations = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        if !text.trim_start().starts_with("//!") {
            violations.push(format!(
                "{}:1: add a `//!` comment saying what this file is for",
                file.display()
            ));
        }
        for (number, line) in text.lines().enumerate() {
            if let Some(marker) = uncategorized_marker(line) {
                violations.push(format!(
                    "{}:{}: name the category, as in {marker}-correctness: or {marker}-performance:",
                    file.display(),
                    number + 1
                ));
            }
        }
    }
    Ok(violations)
}

/// Returns the marker when a comment on `line` opens with a shortcoming marker that lacks a
/// category, such as `// TODO: ...` rather than `// TODO-robustness: ...`.
fn uncategorized_marker(line: &str) -> Option<&'static str> {
    // The marker is assembled so that this file does not flag itself.
    const MARKERS: [&str; 1] = [concat!("TO", "DO")];
    let comment = &line[line.find("//")? + 2..];
    let text = comment.trim_start_matches(['/', '!']).trim_start();
    MARKERS
        .into_iter()
        .find(|marker| text.starts_with(marker) && !text[marker.len()..].starts_with('-'))
}

/// Lists CLI domains without a runbook.
pub fn runbook_violations(root: &Path) -> Vec<String> {
    RUNBOOKS
        .iter()
        .filter(|name| !root.join("runbooks").join(name).is_file())
        .map(|name| format!("runbooks/{name}: missing; every CLI domain needs a runbook"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        crate::workspace_root()
    }

    #[test]
    fn domain_crates_depend_only_on_core() {
        let violations = dependency_violations(&root()).unwrap();
        assert!(violations.is_empty(), "{}", violations.join("\n"));
    }

    #[test]
    fn source_files_have_headers_and_categorized_todos() {
        let violations = source_violations(&root()).unwrap();
        assert!(violations.is_empty(), "{}", violations.join("\n"));
    }

    #[test]
    fn marker_needs_a_category() {
        let marker = concat!("TO", "DO");
        assert_eq!(
            uncategorized_marker(&format!("    // {marker}: later")),
            Some(marker)
        );
        assert_eq!(
            uncategorized_marker(&format!("/// {marker} fix")),
            Some(marker)
        );
        assert_eq!(
            uncategorized_marker(&format!("// {marker}-robustness: retry")),
            None
        );
        assert_eq!(
            uncategorized_marker(&format!("let x = \"{marker}\";")),
            None
        );
    }

    #[test]
    fn every_domain_has_a_runbook() {
        let violations = runbook_violations(&root());
        assert!(violations.is_empty(), "{}", violations.join("\n"));
    }

    #[test]
    fn dependency_check_catches_a_domain_using_another() {
        let scratch = std::env::temp_dir().join(format!("xtask-tidy-{}", std::process::id()));
        let crate_dir = |name: &str| scratch.join("crates").join(name);
        for name in ["ops-core", "drift", "rollback"] {
            std::fs::create_dir_all(crate_dir(name)).unwrap();
        }
        std::fs::write(
            crate_dir("ops-core").join("Cargo.toml"),
            "[package]\nname = \"ops-core\"\n",
        )
        .unwrap();
        std::fs::write(
            crate_dir("rollback").join("Cargo.toml"),
            "[package]\nname = \"rollback\"\n",
        )
        .unwrap();
        std::fs::write(
            crate_dir("drift").join("Cargo.toml"),
            "[package]\nname = \"drift\"\n[dependencies]\nops-core = {}\nrollback = {}\n",
        )
        .unwrap();

        let violations = dependency_violations(&scratch).unwrap();
        std::fs::remove_dir_all(&scratch).unwrap();
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(
            violations[0].contains("names rollback"),
            "{}",
            violations[0]
        );
    }
}
