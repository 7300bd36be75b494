//! The `ops` binary end to end: real state directories, real files, real exit codes.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const INTENTS: &str = r#"[
  {"correlation_id": "deploy-101", "application_id": "deb-curl", "app_name": "curl", "version": "7.88.1-10+deb12u5",
   "ring": "Canary", "platform": "Debian", "connectors": ["Landscape"], "status": "Deployed"},
  {"correlation_id": "deploy-102", "application_id": "deb-sudo", "app_name": "sudo", "version": "1.9.13p3-1+deb12u1",
   "ring": "canary", "platform": "debian", "connectors": ["landscape", "Ansible"], "status": "Approved"},
  {"correlation_id": "deploy-103", "application_id": "deb-git", "app_name": "git", "version": "1:2.39.2-1.1",
   "ring": "CANARY", "platform": "debian", "connectors": ["ansible"], "status": "deployed"},
  {"correlation_id": "deploy-104", "application_id": "win-7zip", "app_name": "7-Zip", "version": "23.01",
   "ring": "Pilot", "platform": "windows", "connectors": ["SCCM"], "status": "Deployed"}
]"#;

const DPKG_STATUS: &str = "\
Package: curl
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 7.88.1-10+deb12u7
Description: command line tool for transferring data with URL syntax

Package: git
Status: install ok installed
Architecture: amd64
Version: 1:2.39.2-1.1
Description: fast, scalable, distributed revision control system

Package: telnet
Status: install ok installed
Architecture: amd64
Version: 0.17+2.4-2
Description: basic telnet client

Package: nano
Status: deinstall ok config-files
Architecture: amd64
Version: 7.2-1
Description: small, friendly text editor
";

/// A scratch directory with a state directory, an intents file and a dpkg status file.
struct Scratch {
    directory: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let scratch = Scratch {
            directory: tempfile::tempdir().unwrap(),
        };
        std::fs::write(scratch.path("intents.json"), INTENTS).unwrap();
        std::fs::write(scratch.path("status"), DPKG_STATUS).unwrap();
        scratch
    }

    fn path(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    fn state_dir(&self) -> PathBuf {
        self.path("state")
    }

    fn ops(&self) -> Command {
        let mut command = Command::cargo_bin("ops").unwrap();
        command
            .env_clear()
            .env("OPS_STATE_DIR", self.state_dir())
            .env("USER", "tester")
            .current_dir(self.directory.path());
        command
    }

    /// Runs drift for ring Canary against `intents.json` and the given inventories, after the
    /// global options `global`.
    fn canary_drift(&self, global: &[&str], inventories: &[&str]) -> std::process::Output {
        let mut command = self.ops();
        command.args(global);
        command.args(["drift", "--ring", "Canary", "--intents", "intents.json"]);
        for inventory in inventories {
            command.args(["--inventory", inventory]);
        }
        command.output().unwrap()
    }

    fn dpkg_inventory(&self) -> String {
        format!("dpkg:{}", self.path("status").display())
    }
}

fn stdout_json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not JSON ({error}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_lists_domains_and_exit_codes() {
    let output = Command::cargo_bin("ops")
        .unwrap()
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for domain in ["intents", "drift", "audit", "siem"] {
        assert!(help.contains(domain), "--help lacks {domain}:\n{help}");
    }
    for line in ["0  success", "2  bad input", "3  attention needed"] {
        assert!(help.contains(line), "--help lacks {line:?}:\n{help}");
    }
}

#[test]
fn import_round_trips_through_sqlite() {
    let scratch = Scratch::new();
    scratch
        .ops()
        .args(["intents", "import", "intents.json"])
        .assert()
        .success();

    let output = scratch
        .ops()
        .args(["--output", "json", "intents", "list"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let listed = stdout_json(&output);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 4);
    let sudo = listed
        .iter()
        .find(|intent| intent["app_name"] == "sudo")
        .unwrap();
    assert_eq!(sudo["ring"], "Canary");
    assert_eq!(sudo["platform"], "debian");
    assert_eq!(
        sudo["connectors"],
        serde_json::json!(["Landscape", "Ansible"])
    );
    assert_eq!(sudo["status"], "Approved");

    let pilot = scratch
        .ops()
        .args(["--output", "json", "intents", "list", "--ring", "pilot"])
        .output()
        .unwrap();
    assert_eq!(stdout_json(&pilot).as_array().unwrap().len(), 1);
}

#[test]
fn reimport_changes_nothing() {
    let scratch = Scratch::new();
    scratch
        .ops()
        .args(["intents", "import", "intents.json"])
        .assert()
        .success();
    let output = scratch
        .ops()
        .args(["--output", "json", "intents", "import", "intents.json"])
        .output()
        .unwrap();
    let summary = stdout_json(&output);
    assert_eq!(summary["created"], 0);
    assert_eq!(summary["unchanged"], 4);
}

#[test]
fn malformed_import_exits_2_naming_record_and_leaves_store() {
    let scratch = Scratch::new();
    scratch
        .ops()
        .args(["intents", "import", "intents.json"])
        .assert()
        .success();

    let broken = INTENTS
        .replace("deploy-101", "deploy-201")
        .replace("deploy-102", "deploy-202")
        .replace("\"ring\": \"Pilot\"", "\"ring\": \"Production\"");
    std::fs::write(scratch.path("broken.json"), broken).unwrap();
    let output = scratch
        .ops()
        .args(["intents", "import", "broken.json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("record 3"), "{message}");
    assert!(message.contains("field \"ring\""), "{message}");
    assert!(message.contains("\"Production\""), "{message}");

    let listed = scratch
        .ops()
        .args(["--output", "json", "intents", "list"])
        .output()
        .unwrap();
    let ids: Vec<String> = stdout_json(&listed)
        .as_array()
        .unwrap()
        .iter()
        .map(|intent| intent["correlation_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.iter().all(|id| id.starts_with("deploy-10")), "{ids:?}");
}

#[test]
fn import_of_missing_file_exits_2_naming_it() {
    let scratch = Scratch::new();
    let output = scratch
        .ops()
        .args(["intents", "import", "nope.json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("nope.json"), "{}", stderr(&output));
}

#[test]
fn dry_run_import_writes_nothing() {
    let scratch = Scratch::new();
    let output = scratch
        .ops()
        .args([
            "--output",
            "json",
            "intents",
            "import",
            "--dry-run",
            "intents.json",
        ])
        .output()
        .unwrap();
    assert_eq!(stdout_json(&output)["created"], 4);
    let listed = scratch
        .ops()
        .args(["--output", "json", "intents", "list"])
        .output()
        .unwrap();
    assert_eq!(stdout_json(&listed), serde_json::json!([]));
}

#[test]
fn drift_found_exits_3_with_the_documented_json() {
    let scratch = Scratch::new();
    let output = scratch.canary_drift(&["--output", "json"], &[&scratch.dpkg_inventory()]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let report = stdout_json(&output);
    assert_eq!(report["ring"], "Canary");
    assert!(
        report["correlation_id"]
            .as_str()
            .unwrap()
            .starts_with("drift-")
    );
    assert_eq!(
        report["unauthorized"],
        serde_json::json!([
            {"name": "telnet", "version": "0.17+2.4-2", "platform": "debian", "devices": 1}
        ])
    );
    assert_eq!(report["missing"][0]["name"], "sudo");
    assert_eq!(report["missing"][0]["version"], "1.9.13p3-1+deb12u1");
    assert_eq!(report["missing"].as_array().unwrap().len(), 1);
    assert_eq!(report["version_drift"][0]["name"], "curl");
    assert_eq!(report["version_drift"][0]["expected"], "7.88.1-10+deb12u5");
    assert_eq!(report["version_drift"][0]["actual"], "7.88.1-10+deb12u7");
    assert_eq!(report["version_drift"].as_array().unwrap().len(), 1);
}

#[test]
fn no_drift_exits_0() {
    let scratch = Scratch::new();
    let matching = r#"[
      {"correlation_id": "deploy-1", "application_id": "a", "app_name": "curl", "version": "7.88.1-10+deb12u7",
       "ring": "Lab", "platform": "debian", "connectors": ["Landscape"], "status": "Deployed"},
      {"correlation_id": "deploy-2", "application_id": "b", "app_name": "git", "version": "1:2.39.2-1.1",
       "ring": "Lab", "platform": "debian", "connectors": ["Landscape"], "status": "Deployed"},
      {"correlation_id": "deploy-3", "application_id": "c", "app_name": "telnet", "version": "0:0.17+2.4-2",
       "ring": "Lab", "platform": "debian", "connectors": ["Landscape"], "status": "Deployed"}
    ]"#;
    std::fs::write(scratch.path("matching.json"), matching).unwrap();
    let output = scratch
        .ops()
        .args([
            "drift",
            "--ring",
            "Lab",
            "--intents",
            "matching.json",
            "--inventory",
            &scratch.dpkg_inventory(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn unwritable_report_exits_1() {
    let scratch = Scratch::new();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    // assert_cmd captures stdout, so this runs the binary directly with stdout on /dev/full.
    let output = std::process::Command::new(assert_cmd::cargo::cargo_bin!("ops"))
        .env_clear()
        .env("OPS_STATE_DIR", scratch.state_dir())
        .current_dir(scratch.directory.path())
        .args([
            "--output",
            "json",
            "drift",
            "--ring",
            "Canary",
            "--intents",
            "intents.json",
            "--inventory",
            &scratch.dpkg_inventory(),
        ])
        .stdout(full)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("error: cannot write the report to stdout: No space left on device"),
        "{message}"
    );
}

#[test]
fn summary_names_inventories_without_devices() {
    let scratch = Scratch::new();
    std::fs::write(
        scratch.path("apps.csv"),
        "ApplicationName,ApplicationVersion,Platform,DeviceCount\n7-Zip,23.01,Windows,42\n",
    )
    .unwrap();
    let output = scratch.canary_drift(&[], &[&scratch.dpkg_inventory(), "intune:apps.csv"]);

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .contains("on 1 device plus the devices counted in intune:apps.csv, which names none"),
        "{stdout}"
    );
}

#[test]
fn drift_reads_intents_from_the_store() {
    let scratch = Scratch::new();
    scratch
        .ops()
        .args(["intents", "import", "intents.json"])
        .assert()
        .success();
    let output = scratch
        .ops()
        .args([
            "--output",
            "json",
            "drift",
            "--ring",
            "canary",
            "--inventory",
            &scratch.dpkg_inventory(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let report = stdout_json(&output);
    assert_eq!(report["missing"][0]["name"], "sudo");
    assert_eq!(report["intents_compared"], 3);
}

#[test]
fn every_log_line_carries_the_correlation_id() {
    let scratch = Scratch::new();
    let output = scratch
        .ops()
        .args([
            "--output",
            "json",
            "--log-format",
            "json",
            "drift",
            "--ring",
            "Canary",
        ])
        .args([
            "--intents",
            "intents.json",
            "--inventory",
            &scratch.dpkg_inventory(),
        ])
        .output()
        .unwrap();
    let correlation_id = stdout_json(&output)["correlation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let log = stderr(&output);
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() >= 2, "{log}");
    for line in lines {
        let record: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert_eq!(
            record["span"]["correlation_id"],
            correlation_id.as_str(),
            "{line}"
        );
    }
}

#[test]
fn drift_is_recorded_in_the_audit_log() {
    let scratch = Scratch::new();
    let output = scratch.canary_drift(&["--output", "json"], &[&scratch.dpkg_inventory()]);
    let correlation_id = stdout_json(&output)["correlation_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let tail = scratch
        .ops()
        .args([
            "--output",
            "json",
            "audit",
            "tail",
            "--correlation-id",
            &correlation_id,
        ])
        .output()
        .unwrap();
    let entries = stdout_json(&tail);
    assert_eq!(entries.as_array().unwrap().len(), 1);
    assert_eq!(entries[0]["event"]["event_type"], "DriftDetected");
    assert_eq!(entries[0]["event"]["details"]["missing"], 1);
    assert_eq!(
        entries[0]["event"]["actor"]
            .as_str()
            .unwrap()
            .split('@')
            .next(),
        Some("tester")
    );

    scratch.ops().args(["audit", "verify"]).assert().success();
}

#[test]
fn bad_ring_exits_2_listing_rings() {
    let scratch = Scratch::new();
    let output = scratch
        .ops()
        .args([
            "drift",
            "--ring",
            "prod",
            "--inventory",
            &scratch.dpkg_inventory(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("Canary"), "{}", stderr(&output));
}

#[test]
fn drift_without_store_exits_2() {
    let scratch = Scratch::new();
    let output = scratch
        .ops()
        .args([
            "drift",
            "--ring",
            "Canary",
            "--inventory",
            &scratch.dpkg_inventory(),
        ])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("no state store in"), "{message}");
    assert!(message.contains("ops intents import FILE"), "{message}");
    assert!(
        !scratch.state_dir().join("ops.db").exists(),
        "a mistyped state directory must not get a new store"
    );
}

#[test]
fn verify_without_audit_log_exits_2() {
    let scratch = Scratch::new();
    let output = scratch.ops().args(["audit", "verify"]).output().unwrap();

    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("no audit log in"), "{message}");
}

#[test]
fn empty_inventory_exits_2() {
    let scratch = Scratch::new();
    std::fs::write(scratch.path("empty"), "").unwrap();
    std::fs::write(
        scratch.path("removed.log"),
        "{\"name\":\"pack_inventory_deb_packages\",\"hostIdentifier\":\"h1\",\"columns\":{\"name\":\"curl\",\"version\":\"7.88.1-10\",\"arch\":\"amd64\"},\"action\":\"removed\"}\n",
    )
    .unwrap();

    for (inventory, expected) in [
        (
            "dpkg:empty",
            "inventory dpkg:empty has no software rows (0 skipped)",
        ),
        (
            "osquery:removed.log",
            "inventory osquery:removed.log has no software rows (1 skipped)",
        ),
    ] {
        let output = scratch.canary_drift(&[], &[inventory]);
        assert_eq!(output.status.code(), Some(2), "{inventory}");
        let message = stderr(&output);
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn intents_of_other_platforms_exit_2() {
    let scratch = Scratch::new();
    // Ring Pilot has one intent, for Windows; the inventory describes Debian only.
    let output = scratch
        .ops()
        .args([
            "drift",
            "--ring",
            "Pilot",
            "--intents",
            "intents.json",
            "--inventory",
            &scratch.dpkg_inventory(),
        ])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains(
            "ring Pilot has 1 approved intent, all for platforms no inventory describes (windows)"
        ),
        "{message}"
    );
}

#[test]
fn bad_inventory_exits_2_naming_it() {
    let scratch = Scratch::new();
    let unknown_format = scratch
        .ops()
        .args([
            "drift",
            "--ring",
            "Lab",
            "--inventory",
            "rpmdb:/var/lib/rpm",
        ])
        .output()
        .unwrap();
    assert_eq!(unknown_format.status.code(), Some(2));
    assert!(
        stderr(&unknown_format).contains("rpmdb"),
        "{}",
        stderr(&unknown_format)
    );

    let missing_file = scratch
        .ops()
        .args([
            "drift",
            "--ring",
            "Lab",
            "--intents",
            "intents.json",
            "--inventory",
            "dpkg:/nonexistent/status",
        ])
        .output()
        .unwrap();
    assert_eq!(missing_file.status.code(), Some(2));
    assert!(
        stderr(&missing_file).contains("/nonexistent/status"),
        "{}",
        stderr(&missing_file)
    );
}

#[test]
fn unwritable_audit_log_stops_the_import() {
    let scratch = Scratch::new();
    std::fs::create_dir_all(scratch.state_dir()).unwrap();
    std::fs::write(scratch.state_dir().join("audit"), "not a directory").unwrap();

    let output = scratch
        .ops()
        .args(["intents", "import", "intents.json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("audit"), "{}", stderr(&output));

    let listed = scratch
        .ops()
        .args(["--output", "json", "intents", "list"])
        .output()
        .unwrap();
    assert_eq!(
        stdout_json(&listed),
        serde_json::json!([]),
        "the import must not have happened"
    );
}

#[test]
fn tampered_audit_log_fails_verification() {
    let scratch = Scratch::new();
    scratch
        .ops()
        .args(["intents", "import", "intents.json"])
        .assert()
        .success();
    scratch
        .ops()
        .args(["intents", "import", "intents.json"])
        .assert()
        .success();
    let segment = first_segment(&scratch.state_dir().join("audit"));
    let text = std::fs::read_to_string(&segment).unwrap();
    std::fs::write(&segment, text.replacen("\"created\":4", "\"created\":5", 1)).unwrap();

    let output = scratch.ops().args(["audit", "verify"]).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

fn first_segment(audit_dir: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(audit_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "jsonl")
        })
        .collect();
    segments.sort();
    segments.remove(0)
}

#[test]
fn unknown_configuration_key_exits_2() {
    let scratch = Scratch::new();
    std::fs::write(scratch.path("ops.toml"), "stat_dir = \"/tmp\"\n").unwrap();
    let output = scratch
        .ops()
        .args(["--config", "ops.toml", "intents", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("stat_dir"), "{}", stderr(&output));
}

#[test]
fn configuration_file_sets_state_dir() {
    let scratch = Scratch::new();
    let configured = scratch.path("configured-state");
    std::fs::write(
        scratch.path("ops.toml"),
        format!("state_dir = {:?}\n", configured.display().to_string()),
    )
    .unwrap();
    let mut command = Command::cargo_bin("ops").unwrap();
    command
        .env_clear()
        .current_dir(scratch.directory.path())
        .args(["--config", "ops.toml", "intents", "import", "intents.json"])
        .assert()
        .success();
    assert!(configured.join("ops.db").is_file());
}
