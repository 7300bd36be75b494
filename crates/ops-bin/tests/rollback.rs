//! `ops rollback` end to end: the SQLite store, the audit log, and a Jamf Pro mock on 127.0.0.1.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const JAMF_SECRET: &str = "jamf-client-secret-5d2e";

const INTENTS: &str = r#"[
  {"correlation_id": "deploy-501", "application_id": "77", "app_name": "Contoso Agent", "version": "4.2.1",
   "ring": "Canary", "platform": "macos", "connectors": ["Jamf"], "status": "Deployed"}
]"#;

struct Site {
    directory: tempfile::TempDir,
    config: PathBuf,
}

impl Site {
    fn new(jamf_url: &str) -> Site {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(directory.path().join("intents.json"), INTENTS).unwrap();
        let config = directory.path().join("ops.toml");
        std::fs::write(
            &config,
            format!(
                "[connectors.jamf]\nurl = \"{jamf_url}\"\nclient_id = \"ops-client\"\n\n[connectors.jamf.rings]\nCanary = 42\n"
            ),
        )
        .unwrap();
        let site = Site { directory, config };
        site.ops()
            .args(["intents", "import", "intents.json"])
            .assert()
            .success();
        site
    }

    fn ops(&self) -> Command {
        let mut command = Command::cargo_bin("ops").unwrap();
        command
            .env_clear()
            .env("OPS_STATE_DIR", self.directory.path().join("state"))
            .env("OPS_CONFIG", &self.config)
            .env("OPS_CONNECTORS__JAMF__CLIENT_SECRET", JAMF_SECRET)
            .current_dir(self.directory.path());
        command
    }

    fn status(&self) -> String {
        let output = self
            .ops()
            .args(["--output", "json", "intents", "list"])
            .output()
            .unwrap();
        let intents: Value = serde_json::from_slice(&output.stdout).unwrap();
        intents[0]["status"].as_str().unwrap().to_owned()
    }
}

fn policy(excluded: &[u64]) -> Value {
    let excluded: Vec<Value> = excluded
        .iter()
        .map(|id| json!({"id": id, "name": format!("group {id}")}))
        .collect();
    json!({"policy": {
        "general": {"id": 77, "name": "Contoso Agent", "enabled": true},
        "scope": {"all_computers": false, "computers": [], "computer_groups": [{"id": 42, "name": "Ring - Canary"}],
                  "exclusions": {"computers": [], "computer_groups": excluded}}
    }})
}

async fn jamf() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "jamf-token", "scope": "api-role:3", "token_type": "Bearer", "expires_in": 299
        })))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn dry_run_prints_the_plan_and_calls_nothing() {
    let server = jamf().await;
    let site = Site::new(&server.uri());
    let output = site
        .ops()
        .args([
            "--output",
            "json",
            "rollback",
            "--correlation-id",
            "deploy-501",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["steps"][0]["connector"], "Jamf");
    assert_eq!(report["steps"][0]["outcome"]["result"], "planned");
    assert!(server.received_requests().await.unwrap().is_empty());
    assert_eq!(site.status(), "Deployed");
}

#[tokio::test]
async fn failed_plane_then_rerun_completes_once() {
    let server = jamf().await;
    let site = Site::new(&server.uri());

    // The API role lacks the privilege to update policies: the rollback fails, nothing changes.
    let forbidden = Mock::given(method("PUT"))
        .and(path("/JSSResource/policies/id/77"))
        .respond_with(ResponseTemplate::new(403).set_body_string("<html>Forbidden</html>"))
        .expect(1)
        .mount_as_scoped(&server)
        .await;
    let get_policy = Mock::given(method("GET"))
        .and(path("/JSSResource/policies/id/77"))
        .respond_with(ResponseTemplate::new(200).set_body_json(policy(&[])))
        .mount_as_scoped(&server)
        .await;
    let failed = site
        .ops()
        .args(["rollback", "--correlation-id", "deploy-501"])
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let message = String::from_utf8_lossy(&failed.stderr);
    assert!(message.contains("Jamf in Canary"), "{message}");
    assert!(message.contains("HTTP 403"), "{message}");
    assert!(!message.contains("Forbidden</html>"), "{message}");
    assert_eq!(site.status(), "Deployed");
    drop(forbidden);
    drop(get_policy);

    // The privilege is granted: the rerun retries Jamf and marks the intent RolledBack.
    let _get_policy = Mock::given(method("GET"))
        .and(path("/JSSResource/policies/id/77"))
        .respond_with(ResponseTemplate::new(200).set_body_json(policy(&[])))
        .expect(1)
        .mount_as_scoped(&server)
        .await;
    let _put_policy = Mock::given(method("PUT"))
        .and(path("/JSSResource/policies/id/77"))
        .respond_with(ResponseTemplate::new(201).set_body_string("<policy><id>77</id></policy>"))
        .expect(1)
        .mount_as_scoped(&server)
        .await;
    let output = site
        .ops()
        .args([
            "--output",
            "json",
            "rollback",
            "--correlation-id",
            "deploy-501",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let rollback_id = report["rollback_id"].as_str().unwrap().to_owned();
    assert!(rollback_id.starts_with("rollback-"), "{rollback_id}");
    assert_eq!(report["steps"][0]["outcome"]["result"], "removed");
    assert_eq!(site.status(), "RolledBack");
    drop(_get_policy);
    drop(_put_policy);

    // A rerun after success calls no plane and reuses the rollback id.
    let again = site
        .ops()
        .args([
            "--output",
            "json",
            "rollback",
            "--correlation-id",
            "deploy-501",
        ])
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["rollback_id"], rollback_id.as_str());
    assert_eq!(again["steps"][0]["outcome"]["result"], "skipped");
    let calls_after_success = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|request| request.url.path().starts_with("/JSSResource"))
        .count();
    assert_eq!(
        calls_after_success, 4,
        "403 run: GET and PUT; success run: GET and PUT; rerun: none"
    );

    // Every audit event of the rollback names it and links the deployment.
    let tail = site
        .ops()
        .args([
            "--output",
            "json",
            "audit",
            "tail",
            "-n",
            "50",
            "--correlation-id",
            &rollback_id,
        ])
        .output()
        .unwrap();
    let entries: Value = serde_json::from_slice(&tail.stdout).unwrap();
    let types: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["event"]["event_type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"RollbackStarted") && types.contains(&"RollbackCompleted"),
        "{types:?}"
    );
    for entry in entries.as_array().unwrap() {
        assert_eq!(entry["event"]["related_correlation_id"], "deploy-501");
    }
}

#[tokio::test]
async fn missing_intent_exits_2_naming_it() {
    let server = jamf().await;
    let site = Site::new(&server.uri());
    let output = site
        .ops()
        .args(["rollback", "--correlation-id", "deploy-404"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("deploy-404"));
}

#[tokio::test]
async fn secrets_stay_out_of_output() {
    let server = jamf().await;
    let site = Site::new(&server.uri());
    let output = site
        .ops()
        .env("OPS_LOG", "trace")
        .args(["rollback", "--correlation-id", "deploy-501"])
        .output()
        .unwrap();
    for stream in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(!text.contains(JAMF_SECRET), "the client secret leaked");
        assert!(!text.contains("jamf-token"), "the bearer token leaked");
    }
}
