//! The Intune adapter keeps its client secret and tokens out of logs, errors and Debug output.
//!
//! This test has a binary of its own because it captures logs with a thread-local subscriber.
//! While only one subscriber exists, tracing-core 0.1.36 computes a log statement's interest
//! from the default subscriber of whichever thread reaches the statement first. A test running
//! beside it on another thread would then switch off, for good, statements this test needs.

#![cfg(feature = "intune")]

use std::io;
use std::sync::{Arc, Mutex};

use connectors::intune::IntuneConfig;
use ops_core::ports::{ExecutionPlane, RemovalRequest};
use ops_core::{CorrelationId, ErrorKind, Platform, Ring};
use ops_testkit::FakeClock;
use serde_json::{Value, json};
use wiremock::matchers::{bearer_token, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CLIENT_SECRET: &str = "intune-client-secret-93kd7q";
const TOKEN_1: &str = "graph-token-one-71ac0e";
const TOKEN_2: &str = "graph-token-two-c4f812";
const TOKEN_PATH: &str = "/contoso.onmicrosoft.com/oauth2/v2.0/token";
const MOBILE_APPS: &str = "/v1.0/deviceAppManagement/mobileApps";
const APP_ID: &str = "0f3c1e7a-2b4d-4c6e-8f10-1234567890ab";

fn config_for(server: &MockServer) -> IntuneConfig {
    serde_json::from_value(json!({
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "4a1f7c2e-5b3d-4e8f-9a0b-1c2d3e4f5a6b",
        "client_secret": CLIENT_SECRET,
        "graph_url": server.uri(),
        "authority_host": server.uri(),
        "rings": {"Canary": "3b6f0d55-1111-4c1e-9d00-aaaaaaaaaaaa"},
    }))
    .unwrap()
}

async fn mount_token(server: &MockServer, token: &str) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": token
        })))
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
}

fn graph_error(code: &str) -> Value {
    json!({"error": {"code": code, "message": "detail", "innerError": {"request-id": "5c0b1a2e"}}})
}

/// A tracing writer that appends to a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn secrets_stay_out_of_logs_and_errors() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    // The first token expires early, so both tokens pass through the adapter.
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1).await;
    mount_token(&server, TOKEN_2).await;
    Mock::given(method("GET"))
        .and(path(MOBILE_APPS))
        .and(bearer_token(TOKEN_1))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(graph_error("InvalidAuthenticationToken")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(MOBILE_APPS))
        .and(bearer_token(TOKEN_2))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{MOBILE_APPS}/{APP_ID}/assignments")))
        .respond_with(ResponseTemplate::new(403).set_body_json(graph_error("Forbidden")))
        .expect(1)
        .mount(&server)
        .await;
    let config = config_for(&server);
    let config_debug = format!("{config:?}");
    let adapter = config.build(Arc::new(FakeClock::default())).unwrap();

    // A second adapter, whose secret the token endpoint rejects.
    let rejecting = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.",
            "error_codes": [7000215]
        })))
        .expect(1)
        .mount(&rejecting)
        .await;
    let rejected = config_for(&rejecting)
        .build(Arc::new(FakeClock::default()))
        .unwrap();

    let report = adapter.health().await.unwrap();
    let graph_failure = adapter
        .remove_application(&RemovalRequest {
            correlation_id: CorrelationId::generate("rollback"),
            application_id: APP_ID.to_owned(),
            app_name: "Contoso Agent".to_owned(),
            version: "4.2.1".to_owned(),
            platform: Platform::Windows,
            ring: Ring::Canary,
        })
        .await
        .unwrap_err();
    let token_failure = rejected
        .deployed_applications(Ring::Canary)
        .await
        .unwrap_err();

    assert!(report.healthy, "{report:?}");
    assert_eq!(graph_failure.kind(), ErrorKind::Unauthorized);
    assert_eq!(token_failure.kind(), ErrorKind::Unauthorized);
    let logs = captured.text();
    for expected in ["called service", "oauth2/v2.0/token"] {
        assert!(
            logs.contains(expected),
            "the logs lack {expected:?}: {logs}"
        );
    }
    let outputs = [
        ("logs", logs),
        ("config Debug", config_debug),
        ("adapter Debug", format!("{adapter:?} {rejected:?}")),
        ("Graph error Display", graph_failure.to_string()),
        ("Graph error Debug", format!("{graph_failure:?}")),
        ("token error Display", token_failure.to_string()),
        ("token error Debug", format!("{token_failure:?}")),
    ];
    for (label, text) in &outputs {
        for secret in [CLIENT_SECRET, TOKEN_1, TOKEN_2] {
            assert!(!text.contains(secret), "{label} contains {secret}: {text}");
        }
    }
}
