//! `ops rings` end to end on the SQLite store.

use assert_cmd::Command;
use serde_json::Value;

fn intents(succeeded: u64) -> String {
    format!(
        r#"[
  {{"correlation_id": "deploy-601", "application_id": "win-agent", "app_name": "Contoso Agent", "version": "4.2.1",
    "ring": "Canary", "platform": "windows", "connectors": ["Intune"], "status": "Deployed",
    "devices_targeted": 120, "devices_succeeded": {succeeded}, "devices_failed": 2,
    "deployed_at": "2026-01-01T00:00:00Z"}}
]"#
    )
}

fn ops(directory: &std::path::Path) -> Command {
    let mut command = Command::cargo_bin("ops").unwrap();
    command
        .env_clear()
        .env("OPS_STATE_DIR", directory.join("state"))
        .current_dir(directory);
    command
}

fn import(directory: &std::path::Path, text: &str) {
    std::fs::write(directory.join("intents.json"), text).unwrap();
    ops(directory)
        .args(["intents", "import", "intents.json"])
        .assert()
        .success();
}

#[test]
fn unmet_gate_exits_3_naming_it_and_submits_nothing() {
    let directory = tempfile::tempdir().unwrap();
    import(directory.path(), &intents(20));
    let output = ops(directory.path())
        .args([
            "rings",
            "promote",
            "--correlation-id",
            "deploy-601",
            "--ring",
            "Canary",
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("devices_reporting"), "{text}");
    assert!(text.contains("NOT MET"), "{text}");

    let listed = ops(directory.path())
        .args(["--output", "json", "intents", "list", "--ring", "Pilot"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&listed.stdout).unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn met_gates_submit_once_for_the_next_ring() {
    let directory = tempfile::tempdir().unwrap();
    import(directory.path(), &intents(118));
    let promote = |extra: &[&str]| {
        ops(directory.path())
            .args([
                "--output",
                "json",
                "rings",
                "promote",
                "--correlation-id",
                "deploy-601",
                "--ring",
                "canary",
            ])
            .args(extra)
            .output()
            .unwrap()
    };

    let dry = promote(&["--dry-run"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&dry.stdout).unwrap()["outcome"]["result"],
        "would_submit"
    );

    let first = promote(&[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let report: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(report["outcome"]["result"], "submitted");
    let promoted = report["outcome"]["intent_id"].as_str().unwrap().to_owned();
    assert!(promoted.starts_with("promote-"), "{promoted}");

    let second = promote(&[]);
    let report: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(report["outcome"]["result"], "already_promoted");
    assert_eq!(report["outcome"]["intent_id"], promoted.as_str());

    let listed = ops(directory.path())
        .args(["--output", "json", "intents", "list", "--ring", "Pilot"])
        .output()
        .unwrap();
    let pilot: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(pilot.as_array().unwrap().len(), 1);
    assert_eq!(pilot[0]["status"], "Approved");
}

#[test]
fn promoting_from_global_is_an_error() {
    let directory = tempfile::tempdir().unwrap();
    import(
        directory.path(),
        &intents(118).replace("\"Canary\"", "\"Global\""),
    );
    let output = ops(directory.path())
        .args([
            "rings",
            "promote",
            "--correlation-id",
            "deploy-601",
            "--ring",
            "Global",
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("Global"));
}

#[test]
fn gates_of_a_ring_are_listed() {
    let directory = tempfile::tempdir().unwrap();
    import(directory.path(), &intents(118));
    let output = ops(directory.path())
        .args(["--output", "json", "rings", "gates", "--ring", "Canary"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reports: Value = serde_json::from_slice(&output.stdout).unwrap();
    let gates: Vec<&str> = reports[0]["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|gate| gate["gate"].as_str().unwrap())
        .collect();
    assert_eq!(gates.len(), 5, "{gates:?}");

    let thresholds = ops(directory.path())
        .args(["rings", "gates"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&thresholds.stdout);
    assert!(table.contains("min bake hours"), "{table}");
    assert!(table.contains("Department"), "{table}");
    assert!(table.contains("98.0%"), "{table}");
    assert!(!table.contains('{'), "no raw JSON in the table: {table}");
}
