//! Checks that the SCCM password and the NTLM messages reach no log line, error or debug
//! output.
//!
//! The test has a binary of its own and installs a global subscriber at TRACE level, so every
//! thread's events are captured. A per-thread subscriber in a binary whose other tests run in
//! parallel can miss events: tracing caches a callsite's interest when some thread first hits
//! it, and that thread may have no subscriber.
#![cfg(feature = "sccm")]

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use connectors::sccm::SccmConfig;
use ops_core::Ring;
use ops_core::ports::ExecutionPlane;
use ops_testkit::FakeClock;
use serde_json::json;
use sspi::{
    AuthIdentity, BufferType, ClientRequestFlags, CredentialUse, DataRepresentation, Ntlm,
    SecurityBuffer, ServerRequestFlags, Sspi, SspiImpl, Username,
};
use wiremock::matchers::{header_regex, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PASSWORD: &str = "Pa55-w0rd-not-for-logs";

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

fn identity() -> AuthIdentity {
    AuthIdentity {
        username: Username::new_down_level_logon_name("svc-ops", "CONTOSO").unwrap(),
        password: PASSWORD.to_owned().into(),
    }
}

/// Returns a CHALLENGE message, base64-encoded, made by sspi's server side for a NEGOTIATE.
fn challenge() -> String {
    let mut client = Ntlm::new();
    let mut client_credentials = client
        .acquire_credentials_handle()
        .with_credential_use(CredentialUse::Outbound)
        .with_auth_data(&identity())
        .execute(&mut client)
        .unwrap()
        .credentials_handle;
    let mut negotiate = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
    let mut builder = client
        .initialize_security_context()
        .with_credentials_handle(&mut client_credentials)
        .with_context_requirements(ClientRequestFlags::ALLOCATE_MEMORY)
        .with_target_data_representation(DataRepresentation::Native)
        .with_output(&mut negotiate);
    client
        .initialize_security_context_impl(&mut builder)
        .unwrap()
        .resolve_to_result()
        .unwrap();

    let mut server = Ntlm::new();
    let mut server_credentials = server
        .acquire_credentials_handle()
        .with_credential_use(CredentialUse::Inbound)
        .with_auth_data(&identity())
        .execute(&mut server)
        .unwrap()
        .credentials_handle;
    let mut challenge = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
    let builder = server
        .accept_security_context()
        .with_credentials_handle(&mut server_credentials)
        .with_context_requirements(ServerRequestFlags::ALLOCATE_MEMORY)
        .with_target_data_representation(DataRepresentation::Native)
        .with_input(&mut negotiate)
        .with_output(&mut challenge);
    server
        .accept_security_context_impl(builder)
        .unwrap()
        .resolve_to_result()
        .unwrap();
    STANDARD.encode(&challenge[0].buffer)
}

async fn mount_handshake(server: &MockServer, challenge: &str) {
    Mock::given(header_regex("authorization", "^Negotiate TlRMTVNTUAAB"))
        .respond_with(ResponseTemplate::new(401).insert_header(
            "WWW-Authenticate",
            format!("Negotiate {challenge}").as_str(),
        ))
        .with_priority(1)
        .expect(1)
        .mount(server)
        .await;
}

fn config(server: &MockServer) -> SccmConfig {
    serde_json::from_value(json!({
        "url": format!("{}/AdminService", server.uri()),
        "username": "svc-ops",
        "domain": "CONTOSO",
        "password": PASSWORD,
        "rings": {"canary": "PS100012"},
        "max_concurrency": 1,
    }))
    .unwrap()
}

#[tokio::test]
async fn ntlm_secrets_stay_out_of_output() {
    // The test's own sspi calls happen before the capture starts: only the adapter is checked.
    let challenge = challenge();
    let logs = LogBuffer::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let server = MockServer::start().await;
    mount_handshake(&server, &challenge).await;
    Mock::given(path("/AdminService/wmi/SMS_Site"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"value": [{"SiteCode": "PS1"}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let config = config(&server);
    let config_debug = format!("{config:?}");
    let plane = config.build(Arc::new(FakeClock::default())).unwrap();
    assert!(plane.health().await.unwrap().healthy);

    // A second server rejects the AUTHENTICATE message, as for a wrong password.
    let failing = MockServer::start().await;
    mount_handshake(&failing, &challenge).await;
    Mock::given(header_regex("authorization", "^Negotiate TlRMTVNTUAAD"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&failing)
        .await;
    let failing_plane = self::config(&failing)
        .build(Arc::new(FakeClock::default()))
        .unwrap();
    let error = failing_plane
        .deployed_applications(Ring::Canary)
        .await
        .unwrap_err();

    let mut sent_messages = Vec::new();
    let requests = server.received_requests().await.unwrap();
    let failing_requests = failing.received_requests().await.unwrap();
    for request in requests.iter().chain(&failing_requests) {
        if let Some(value) = request.headers.get("authorization") {
            let encoded = value.to_str().unwrap().trim_start_matches("Negotiate ");
            // sspi writes messages in hex at TRACE level; look for both forms.
            let hex: String = STANDARD
                .decode(encoded)
                .unwrap()
                .iter()
                .map(|byte| format!("{byte:02X}"))
                .collect();
            sent_messages.push(encoded.to_owned());
            sent_messages.push(hex);
        }
    }
    assert_eq!(sent_messages.len(), 8);
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("called service"),
        "the capture saw no adapter log:\n{logs}"
    );
    assert!(
        !logs.contains("sspi"),
        "sspi logged during the handshake:\n{logs}"
    );
    let outputs = [
        ("logs", logs),
        ("error", error.to_string()),
        ("error debug", format!("{error:?}")),
        ("config debug", config_debug),
        ("plane debug", format!("{plane:?}")),
    ];
    for (what, text) in &outputs {
        assert!(
            !text.contains(PASSWORD),
            "{what} shows the password:\n{text}"
        );
        for message in &sent_messages {
            assert!(
                !text.contains(message.as_str()),
                "{what} shows an NTLM message:\n{text}"
            );
        }
    }
}
