//! Shipping audit events to Sentinel from the CLI: an outage spools, a flush delivers.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CLIENT_SECRET: &str = "sentinel-client-secret-9c41e2";

const INTENTS: &str = r#"[
  {"correlation_id": "deploy-1", "application_id": "deb-curl", "app_name": "curl", "version": "7.88.1-10",
   "ring": "Lab", "platform": "debian", "connectors": ["Landscape"], "status": "Deployed"}
]"#;

fn write_config(directory: &Path, endpoint: &str, authority: &str) -> PathBuf {
    let config = directory.join("ops.toml");
    let text = format!(
        "[siem]\nsink = \"sentinel\"\nendpoint = \"{endpoint}\"\ndcr_immutable_id = \"dcr-0123456789abcdef\"\n\
         stream_name = \"Custom-OpsAudit\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"app-1\"\n\
         client_secret_env = \"OPS_TEST_SIEM_SECRET\"\nauthority_host = \"{authority}\"\ntimeout_secs = 5\n"
    );
    std::fs::write(&config, text).unwrap();
    config
}

fn ops(directory: &Path, config: &Path) -> Command {
    let mut command = Command::cargo_bin("ops").unwrap();
    command
        .env_clear()
        .env("OPS_STATE_DIR", directory.join("state"))
        .env("OPS_CONFIG", config)
        .env("OPS_TEST_SIEM_SECRET", CLIENT_SECRET)
        .env("OPS_LOG", "debug")
        .current_dir(directory);
    command
}

fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

fn event_uids(requests: &[wiremock::Request]) -> Vec<String> {
    let mut uids = Vec::new();
    for request in requests
        .iter()
        .filter(|request| request.url.path().contains("/streams/"))
    {
        let mut body = Vec::new();
        flate2::read::GzDecoder::new(request.body.as_slice())
            .read_to_end(&mut body)
            .unwrap_or_else(|_| {
                body = request.body.clone();
                body.len()
            });
        let records: serde_json::Value = serde_json::from_slice(&body).unwrap();
        for record in records.as_array().unwrap() {
            uids.push(record["EventUid"].as_str().unwrap().to_owned());
        }
    }
    uids
}

#[tokio::test]
async fn outage_spools_events_and_flush_delivers_them_once() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("intents.json"), INTENTS).unwrap();

    // The SIEM is down: both commands succeed and keep their events in the spool.
    let down = closed_port_url();
    let config = write_config(directory.path(), &down, &down);
    let import = ops(directory.path(), &config)
        .args(["intents", "import", "intents.json"])
        .output()
        .unwrap();
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let stderr = String::from_utf8_lossy(&import.stderr);
    assert!(stderr.contains("stay spooled"), "{stderr}");
    ops(directory.path(), &config)
        .args(["audit", "checkpoint"])
        .assert()
        .success();
    let spooled = std::fs::read_dir(directory.path().join("state/spool"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.is_file() && !path.file_name().unwrap().to_string_lossy().starts_with('.')
        })
        .count();
    assert_eq!(spooled, 2);

    // The SIEM is back: a flush delivers every spooled event once.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/contoso.onmicrosoft.com/oauth2/v2.0/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": "ingestion-token-77"
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(
            r"^/dataCollectionRules/dcr-0123456789abcdef/streams/Custom-OpsAudit$",
        ))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let config = write_config(directory.path(), &server.uri(), &server.uri());
    let flush = ops(directory.path(), &config)
        .args(["--output", "json", "siem", "flush"])
        .output()
        .unwrap();
    assert!(
        flush.status.success(),
        "{}",
        String::from_utf8_lossy(&flush.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&flush.stdout).unwrap();
    assert_eq!(report["delivered"], 2);
    assert_eq!(report["pending"], 0);

    let requests = server.received_requests().await.unwrap();
    let uids = event_uids(&requests);
    assert_eq!(uids.len(), 2, "{uids:?}");
    assert_eq!(
        uids.iter().collect::<HashSet<_>>().len(),
        2,
        "no event is sent twice"
    );

    for output in [&import, &flush] {
        for stream in [&output.stdout, &output.stderr] {
            let text = String::from_utf8_lossy(stream);
            assert!(
                !text.contains(CLIENT_SECRET),
                "the client secret leaked: {text}"
            );
            assert!(
                !text.contains("ingestion-token-77"),
                "the token leaked: {text}"
            );
        }
    }
}

#[test]
fn flush_without_siem_says_so() {
    let directory = tempfile::tempdir().unwrap();
    let output = Command::cargo_bin("ops")
        .unwrap()
        .env_clear()
        .env("OPS_STATE_DIR", directory.path().join("state"))
        .args(["siem", "flush"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("no SIEM is configured"));
}
