//! Checks that the AWX token reaches no log line, error or debug output.
//!
//! The test has a binary of its own and installs a global subscriber at TRACE level, so every
//! thread's events are captured. A per-thread subscriber in a binary whose other tests run in
//! parallel can miss events: tracing caches a callsite's interest when some thread first hits
//! it, and that thread may have no subscriber.
#![cfg(feature = "awx")]

use std::io::Write;
use std::sync::{Arc, Mutex};

use connectors::awx::AwxConfig;
use ops_core::ports::{ExecutionPlane, RemovalRequest};
use ops_core::{CorrelationId, Platform, Ring};
use ops_testkit::FakeClock;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "tok-3f9a1c-do-not-log";

/// A log sink shared with the test.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn token_stays_out_of_output() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/me/"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "count": 1, "next": null, "results": [{"username": "ops-bot"}],
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/job_templates/42/launch/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ask_limit_on_launch": true, "ask_variables_on_launch": true,
            "passwords_needed_to_start": [], "variables_needed_to_start": [],
        })))
        .expect(1)
        .mount(&server)
        .await;
    // The token is rejected on launch: once, and once more after the token is invalidated.
    Mock::given(method("POST"))
        .and(path("/api/v2/job_templates/42/launch/"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"detail": "Invalid token."})))
        .expect(2)
        .mount(&server)
        .await;
    let config: AwxConfig = serde_json::from_value(json!({
        "url": server.uri(),
        "token": TOKEN,
        "inventory": 3,
        "uninstall_job_template": 42,
        "rings": {"canary": "ring_canary"},
    }))
    .unwrap();
    let config_debug = format!("{config:?}");
    let plane = config.build(Arc::new(FakeClock::default())).unwrap();

    assert!(plane.health().await.unwrap().healthy);
    let request = RemovalRequest {
        correlation_id: CorrelationId::generate("rb"),
        application_id: "contoso-agent".to_owned(),
        app_name: "contoso-agent".to_owned(),
        version: "4.2.1-1".to_owned(),
        platform: Platform::Debian,
        ring: Ring::Canary,
    };
    let error = plane.remove_application(&request).await.unwrap_err();

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("called service"),
        "the capture saw no adapter log:\n{logs}"
    );
    let outputs = [
        ("logs", logs),
        ("error", error.to_string()),
        ("error debug", format!("{error:?}")),
        ("config debug", config_debug),
        ("plane debug", format!("{plane:?}")),
    ];
    for (what, text) in &outputs {
        assert!(!text.contains(TOKEN), "{what} shows the token:\n{text}");
    }
}
