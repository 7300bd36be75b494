//! Tests of the SCCM AdminService adapter against local servers on 127.0.0.1.
//!
//! wiremock plays the AdminService for the REST flows. Its NTLM step responds to a NEGOTIATE
//! message with a CHALLENGE made by `sspi`'s server side. A small hand-written HTTP/1.1 server
//! checks what wiremock cannot: that the AUTHENTICATE message is valid for the password,
//! arrives on the connection that got the CHALLENGE, carries the TLS channel binding, and that
//! an authenticated connection is reused.
#![cfg(feature = "sccm")]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use connectors::sccm::{SccmConfig, SccmPlane};
use ops_core::ports::{Clock, ExecutionPlane, RemovalOutcome, RemovalRequest};
use ops_core::{ConnectorKind, CorrelationId, DeployedApp, ErrorKind, Platform, Ring};
use ops_testkit::{FakeClock, assert_port_error};
use serde_json::{Value, json};
use sha2::{Digest, Sha384};
use sspi::{
    AuthIdentity, BufferType, ClientRequestFlags, CredentialUse, DataRepresentation, Ntlm,
    SecurityBuffer, SecurityStatus, ServerRequestFlags, Sspi, SspiImpl, Username,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use wiremock::matchers::{header_regex, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const USERNAME: &str = "svc-ops";
const DOMAIN: &str = "CONTOSO";
const PASSWORD: &str = "Pa55-w0rd-not-for-logs";
const NEGOTIATE_PREFIX: &str = "^Negotiate TlRMTVNTUAAB";
const AUTHENTICATE_PREFIX: &str = "^Negotiate TlRMTVNTUAAD";
const APP_MODEL: &str =
    "ScopeId_6C4B2D6B-1D1B-4C5A-9D1F-1B2C3D4E5F60/Application_0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9";

// ---------------------------------------------------------------------------------------------
// Building the adapter

fn config_json(url: &str) -> Value {
    json!({
        "url": url,
        "username": USERNAME,
        "domain": DOMAIN,
        "password": PASSWORD,
        "rings": {"canary": "PS100012"},
        "page_size": 2,
        "devices_per_query": 2,
        "timeout_seconds": 5,
        "max_concurrency": 1,
    })
}

fn config(url: &str) -> SccmConfig {
    serde_json::from_value(config_json(url)).unwrap()
}

fn plane(server: &MockServer) -> (SccmPlane, Arc<FakeClock>) {
    let clock = Arc::new(FakeClock::default());
    let plane = config(&format!("{}/AdminService", server.uri()))
        .build(clock.clone())
        .unwrap();
    (plane, clock)
}

fn removal(application_id: &str) -> RemovalRequest {
    RemovalRequest {
        correlation_id: CorrelationId::generate("rb"),
        application_id: application_id.to_owned(),
        app_name: "Contoso Agent".to_owned(),
        version: "4.2.1".to_owned(),
        platform: Platform::Windows,
        ring: Ring::Canary,
    }
}

fn app(name: &str, version: &str, devices: u64) -> DeployedApp {
    DeployedApp {
        name: name.to_owned(),
        version: version.to_owned(),
        platform: Platform::Windows,
        devices,
    }
}

// ---------------------------------------------------------------------------------------------
// NTLM with sspi's server side

fn identity(password: &str) -> AuthIdentity {
    AuthIdentity {
        username: Username::new_down_level_logon_name(USERNAME, DOMAIN).unwrap(),
        password: password.to_owned().into(),
    }
}

/// The server side of one NTLM handshake.
struct ServerHandshake {
    context: Ntlm,
    credentials: Option<sspi::AuthIdentityBuffers>,
}

impl ServerHandshake {
    fn new(password: &str, channel_binding: Option<&[u8]>) -> ServerHandshake {
        let mut context = Ntlm::new();
        if let Some(binding) = channel_binding {
            context.set_channel_bindings(binding);
        }
        let acquired = context
            .acquire_credentials_handle()
            .with_credential_use(CredentialUse::Inbound)
            .with_auth_data(&identity(password))
            .execute(&mut context)
            .unwrap();
        ServerHandshake {
            context,
            credentials: acquired.credentials_handle,
        }
    }

    /// Feeds a client message and returns the server's next message, or `None` when the
    /// client message is rejected.
    fn accept(&mut self, message: &[u8]) -> Option<Vec<u8>> {
        let mut input = vec![SecurityBuffer::new(message.to_vec(), BufferType::Token)];
        let mut output = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
        let builder = self
            .context
            .accept_security_context()
            .with_credentials_handle(&mut self.credentials)
            .with_context_requirements(ServerRequestFlags::ALLOCATE_MEMORY)
            .with_target_data_representation(DataRepresentation::Native)
            .with_input(&mut input)
            .with_output(&mut output);
        let result = self
            .context
            .accept_security_context_impl(builder)
            .ok()?
            .resolve_to_result()
            .ok()?;
        // The NTLMv2 response, and so the password, is checked when the token is completed.
        let completion = [
            SecurityStatus::CompleteNeeded,
            SecurityStatus::CompleteAndContinue,
        ];
        if completion.contains(&result.status) {
            self.context.complete_auth_token(&mut output).ok()?;
        }
        Some(std::mem::take(&mut output[0].buffer))
    }
}

/// Returns a CHALLENGE message, base64-encoded, made by a server for a client's NEGOTIATE.
fn challenge() -> String {
    let mut client = Ntlm::new();
    let mut credentials = client
        .acquire_credentials_handle()
        .with_credential_use(CredentialUse::Outbound)
        .with_auth_data(&identity(PASSWORD))
        .execute(&mut client)
        .unwrap()
        .credentials_handle;
    let mut output = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
    let mut builder = client
        .initialize_security_context()
        .with_credentials_handle(&mut credentials)
        .with_context_requirements(ClientRequestFlags::ALLOCATE_MEMORY)
        .with_target_data_representation(DataRepresentation::Native)
        .with_output(&mut output);
    client
        .initialize_security_context_impl(&mut builder)
        .unwrap()
        .resolve_to_result()
        .unwrap();
    let negotiate = output[0].buffer.clone();
    STANDARD.encode(
        ServerHandshake::new(PASSWORD, None)
            .accept(&negotiate)
            .unwrap(),
    )
}

fn challenge_response() -> ResponseTemplate {
    ResponseTemplate::new(401)
        .insert_header(
            "WWW-Authenticate",
            format!("Negotiate {}", challenge()).as_str(),
        )
        .set_body_string("401 - Unauthorized: Access is denied due to invalid credentials.")
}

/// Responds to every NEGOTIATE message with a CHALLENGE, ahead of the other mocks.
async fn mount_handshake(server: &MockServer, times: u64) {
    Mock::given(header_regex("authorization", NEGOTIATE_PREFIX))
        .respond_with(challenge_response())
        .with_priority(1)
        .expect(times)
        .mount(server)
        .await;
}

/// Mounts a page of `class` rows for the query parameters given.
async fn mount_rows(
    server: &MockServer,
    class: &str,
    parameters: &[(&str, &str)],
    rows: Value,
    times: u64,
) {
    let mut mock = Mock::given(method("GET")).and(path(format!("/AdminService/wmi/{class}")));
    for (name, value) in parameters {
        mock = mock.and(query_param(*name, *value));
    }
    if !parameters.iter().any(|(name, _)| *name == "$skip") {
        mock = mock.and(query_param_is_missing("$skip"));
    }
    mock.respond_with(ResponseTemplate::new(200).set_body_json(json!({
        "@odata.context": format!("https://cm01/AdminService/wmi/$metadata#{class}"),
        "value": rows,
    })))
    .expect(times)
    .mount(server)
    .await;
}

const MEMBERS_FILTER: &str = "CollectionID eq 'PS100012'";

// ---------------------------------------------------------------------------------------------
// deployed_applications

#[tokio::test]
async fn deployed_applications_reads_every_page_and_counts_devices() {
    let server = MockServer::start().await;
    mount_handshake(&server, 1).await;
    let members = [
        (
            "0",
            json!([{"ResourceID": 16777220, "Name": "PC1"}, {"ResourceID": 16777221, "Name": "PC2"}]),
        ),
        (
            "2",
            json!([{"ResourceID": 16777222, "Name": "PC3"}, {"ResourceID": "16777223", "Name": "PC4"}]),
        ),
        ("4", json!([{"ResourceID": 16777224, "Name": "PC5"}])),
    ];
    for (skip, rows) in members {
        let mut parameters = vec![("$filter", MEMBERS_FILTER), ("$top", "2")];
        if skip != "0" {
            parameters.push(("$skip", skip));
        }
        mount_rows(
            &server,
            "SMS_FullCollectionMembership",
            &parameters,
            rows,
            1,
        )
        .await;
    }
    let software = "SMS_G_System_INSTALLED_SOFTWARE";
    let first_group = "ResourceID eq 16777220 or ResourceID eq 16777221";
    mount_rows(
        &server,
        software,
        &[("$filter", first_group), ("$orderby", "ResourceID,GroupID")],
        json!([
            {"ResourceID": 16777220, "ProductName": "Contoso Agent", "ProductVersion": "4.2.1"},
            {"ResourceID": 16777220, "ProductName": "Contoso Agent", "ProductVersion": "4.2.1"},
        ]),
        1,
    )
    .await;
    mount_rows(
        &server,
        software,
        &[("$filter", first_group), ("$skip", "2")],
        json!([
            {"ResourceID": 16777221, "ProductName": " Contoso Agent ", "ProductVersion": "4.2.1"},
        ]),
        1,
    )
    .await;
    mount_rows(
        &server,
        software,
        &[(
            "$filter",
            "ResourceID eq 16777222 or ResourceID eq 16777223",
        )],
        json!([
            {"ResourceID": 16777222, "ProductName": "Contoso Agent", "ProductVersion": "4.1.0"},
            {"ResourceID": 16777223, "ProductName": "7-Zip", "ProductVersion": "23.01"},
        ]),
        1,
    )
    .await;
    mount_rows(
        &server,
        software,
        &[("$filter", "ResourceID eq 16777224")],
        json!([
            {"ResourceID": 16777224, "ProductName": null, "ProductVersion": "1.0"},
        ]),
        1,
    )
    .await;
    mount_rows(
        &server,
        software,
        &[
            (
                "$filter",
                "ResourceID eq 16777222 or ResourceID eq 16777223",
            ),
            ("$skip", "2"),
        ],
        json!([]),
        1,
    )
    .await;
    let (plane, _clock) = plane(&server);

    let apps = plane.deployed_applications(Ring::Canary).await.unwrap();

    assert_eq!(
        apps,
        [
            app("7-Zip", "23.01", 1),
            app("Contoso Agent", "4.1.0", 1),
            app("Contoso Agent", "4.2.1", 2),
        ]
    );
    assert_eq!(plane.kind(), ConnectorKind::Sccm);
}

#[tokio::test]
async fn add_remove_programs_reads_both_registry_views() {
    let server = MockServer::start().await;
    mount_handshake(&server, 1).await;
    mount_rows(
        &server,
        "SMS_FullCollectionMembership",
        &[("$filter", MEMBERS_FILTER)],
        json!([
            {"ResourceID": 16777220, "Name": "PC1"},
        ]),
        1,
    )
    .await;
    mount_rows(
        &server,
        "SMS_G_System_ADD_REMOVE_PROGRAMS",
        &[
            ("$filter", "ResourceID eq 16777220"),
            ("$select", "ResourceID,DisplayName,Version"),
        ],
        json!([
            {"ResourceID": 16777220, "DisplayName": "Contoso Agent", "Version": "4.2.1"},
        ]),
        1,
    )
    .await;
    mount_rows(
        &server,
        "SMS_G_System_ADD_REMOVE_PROGRAMS_64",
        &[("$filter", "ResourceID eq 16777220")],
        json!([
            {"ResourceID": 16777220, "DisplayName": "Contoso Agent", "Version": "4.2.1"},
            {"ResourceID": 16777220, "DisplayName": "Notepad++ (64-bit x64)", "Version": "8.6"},
        ]),
        1,
    )
    .await;
    mount_rows(
        &server,
        "SMS_G_System_ADD_REMOVE_PROGRAMS_64",
        &[("$skip", "2")],
        json!([]),
        1,
    )
    .await;
    let mut config = config_json(&format!("{}/AdminService", server.uri()));
    config["software_inventory"] = json!("add_remove_programs");
    let config: SccmConfig = serde_json::from_value(config).unwrap();
    let plane = config.build(Arc::new(FakeClock::default())).unwrap();

    let apps = plane.deployed_applications(Ring::Canary).await.unwrap();

    assert_eq!(
        apps,
        [
            app("Contoso Agent", "4.2.1", 1),
            app("Notepad++ (64-bit x64)", "8.6", 1),
        ]
    );
}

#[tokio::test]
async fn unknown_collection_is_not_found() {
    let server = MockServer::start().await;
    mount_handshake(&server, 1).await;
    mount_rows(
        &server,
        "SMS_FullCollectionMembership",
        &[("$filter", MEMBERS_FILTER)],
        json!([]),
        1,
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/AdminService/wmi/SMS_Collection('PS100012')"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"error": {"code": "NotFound", "message": "x"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(
        error.to_string(),
        "SCCM list collection members failed: collection PS100012 of ring Canary does not \
         exist: check connectors.sccm.rings.Canary"
    );
}

#[tokio::test]
async fn unmapped_ring_names_config_key() {
    let server = MockServer::start().await;
    let (plane, _clock) = plane(&server);

    let error = plane.deployed_applications(Ring::Pilot).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(
        error.to_string().contains("connectors.sccm.rings.Pilot"),
        "{error}"
    );
    let error = plane
        .remove_application(&RemovalRequest {
            ring: Ring::Global,
            ..removal("1")
        })
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("connectors.sccm.rings.Global"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// Resilience

#[tokio::test]
async fn throttling_waits_for_retry_after() {
    let server = MockServer::start().await;
    mount_handshake(&server, 1).await;
    Mock::given(path("/AdminService/wmi/SMS_Site"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    mount_rows(
        &server,
        "SMS_Site",
        &[],
        json!([{"SiteCode": "PS1", "SiteName": "Contoso", "Version": "5.00.9128.1000"}]),
        1,
    )
    .await;
    let (plane, clock) = plane(&server);

    let report = plane.health().await.unwrap();

    assert!(report.healthy, "{report:?}");
    assert_eq!(report.detail, "site PS1 (Contoso) 5.00.9128.1000");
    assert_eq!(clock.sleeps(), [Duration::from_secs(7)]);
}

#[tokio::test]
async fn server_error_is_retried_then_succeeds() {
    let server = MockServer::start().await;
    mount_handshake(&server, 1).await;
    Mock::given(path("/AdminService/wmi/SMS_Site"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    mount_rows(&server, "SMS_Site", &[], json!([{"SiteCode": "PS1"}]), 1).await;
    let (plane, clock) = plane(&server);

    let report = plane.health().await.unwrap();

    assert!(report.healthy, "{report:?}");
    assert_eq!(report.detail, "site PS1 unknown version");
    assert_eq!(clock.sleeps().len(), 1);
}

#[tokio::test]
async fn reused_connection_authenticates_again_after_401() {
    let server = MockServer::start().await;
    mount_handshake(&server, 2).await;
    // The second call reuses the authenticated connection without credentials; the server
    // has dropped that authentication and requests a new handshake.
    Mock::given(|request: &Request| !request.headers.contains_key("authorization"))
        .respond_with(ResponseTemplate::new(401).insert_header("WWW-Authenticate", "Negotiate"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(header_regex("authorization", AUTHENTICATE_PREFIX))
        .and(path("/AdminService/wmi/SMS_Site"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"value": [{"SiteCode": "PS1"}]})),
        )
        .expect(2)
        .mount(&server)
        .await;
    let (plane, clock) = plane(&server);

    assert!(plane.health().await.unwrap().healthy);
    let report = plane.health().await.unwrap();

    assert!(report.healthy, "{report:?}");
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn oversized_body_is_not_read() {
    let server = MockServer::start().await;
    mount_handshake(&server, 1).await;
    let body = vec![b' '; ops_http::DEFAULT_MAX_RESPONSE_BYTES + 1];
    Mock::given(path("/AdminService/wmi/SMS_FullCollectionMembership"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_port_error(
        &error,
        ErrorKind::Permanent,
        "the response body is larger than 67108864 bytes",
    );
}

#[tokio::test]
async fn malformed_json_names_connector_and_call() {
    let server = MockServer::start().await;
    mount_handshake(&server, 1).await;
    Mock::given(path("/AdminService/wmi/SMS_FullCollectionMembership"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"value\": [{\"ResourceID\": "))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert!(
        error.to_string().starts_with(
            "SCCM list collection members failed: the response is not the expected JSON"
        ),
        "{error}"
    );
}

#[tokio::test]
async fn rejected_credentials_are_unauthorized() {
    let server = MockServer::start().await;
    mount_handshake(&server, 1).await;
    Mock::given(header_regex("authorization", AUTHENTICATE_PREFIX))
        .respond_with(ResponseTemplate::new(401).insert_header("WWW-Authenticate", "Negotiate"))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, clock) = plane(&server);

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Unauthorized);
    assert_eq!(
        error.to_string(),
        "SCCM list collection members failed: the server rejected the NTLM credentials of \
         CONTOSO\\svc-ops: check connectors.sccm.username, domain and password"
    );
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn ntlm_scheme_is_tried_when_negotiate_gets_no_challenge() {
    let server = MockServer::start().await;
    Mock::given(header_regex("authorization", NEGOTIATE_PREFIX))
        .respond_with(
            ResponseTemplate::new(401)
                .append_header("WWW-Authenticate", "Negotiate")
                .append_header("WWW-Authenticate", "NTLM"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(header_regex("authorization", "^NTLM TlRMTVNTUAAB"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("WWW-Authenticate", format!("NTLM {}", challenge()).as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(header_regex("authorization", "^NTLM TlRMTVNTUAAD"))
        .and(path("/AdminService/wmi/SMS_Site"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"value": [{"SiteCode": "PS1"}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let report = plane.health().await.unwrap();

    assert!(report.healthy, "{report:?}");
}

#[tokio::test]
async fn kerberos_only_server_is_a_clear_error() {
    let server = MockServer::start().await;
    let spnego = STANDARD.encode([0xa1, 0x81, 0x01, 0x00]);
    Mock::given(header_regex("authorization", NEGOTIATE_PREFIX))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("WWW-Authenticate", format!("Negotiate {spnego}").as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let report = plane.health().await.unwrap();

    assert!(!report.healthy);
    assert!(
        report.detail.contains("not an NTLM challenge"),
        "{}",
        report.detail
    );
}

// ---------------------------------------------------------------------------------------------
// remove_application

async fn mount_application_lookup(server: &MockServer, rows: Value) {
    mount_rows(
        server,
        "SMS_Application",
        &[(
            "$filter",
            "LocalizedDisplayName eq 'Contoso Agent' and IsLatest eq true",
        )],
        rows,
        1,
    )
    .await;
}

async fn mount_assignments(server: &MockServer) {
    mount_rows(server, "SMS_ApplicationAssignment", &[("$filter", "TargetCollectionID eq 'PS100012'")], json!([
        {"AssignmentID": 16777301, "AssignmentName": "Contoso Agent_PS100012_Install", "ApplicationName": "Contoso Agent",
         "AssignedCI_UniqueID": APP_MODEL, "AssignedCIs": [16777500]},
        {"AssignmentID": 16777302, "AssignmentName": "7-Zip_PS100012_Install", "ApplicationName": "7-Zip",
         "AssignedCI_UniqueID": "ScopeId_6C4B2D6B-1D1B-4C5A-9D1F-1B2C3D4E5F60/Application_ffff", "AssignedCIs": [16777600]},
    ]), 1).await;
    // Two rows fill a page of two, so the adapter requests the next one.
    mount_rows(
        server,
        "SMS_ApplicationAssignment",
        &[("$skip", "2")],
        json!([]),
        1,
    )
    .await;
}

async fn mount_delete(server: &MockServer, assignment: u64, status: u16, times: u64) {
    Mock::given(method("DELETE"))
        .and(path(format!(
            "/AdminService/wmi/SMS_ApplicationAssignment({assignment})"
        )))
        .respond_with(ResponseTemplate::new(status))
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn remove_by_name_deletes_the_ring_deployment() {
    let server = MockServer::start().await;
    mount_handshake(&server, 1).await;
    mount_application_lookup(&server, json!([
        {"CI_ID": 16777500, "CI_UniqueID": format!("{APP_MODEL}/3"), "LocalizedDisplayName": "Contoso Agent", "SoftwareVersion": "4.2.1"},
    ])).await;
    mount_assignments(&server).await;
    mount_delete(&server, 16777301, 200, 1).await;
    mount_delete(&server, 16777302, 200, 0).await;
    let (plane, _clock) = plane(&server);

    let outcome = plane
        .remove_application(&removal("contoso-agent"))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::Removed);
}

#[tokio::test]
async fn remove_by_ci_id_matches_assigned_cis() {
    let server = MockServer::start().await;
    mount_handshake(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/AdminService/wmi/SMS_Application(16777500)"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"CI_ID": 16777500, "LocalizedDisplayName": "Contoso Agent"},
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    mount_assignments(&server).await;
    mount_delete(&server, 16777301, 204, 1).await;
    let (plane, _clock) = plane(&server);

    let outcome = plane
        .remove_application(&removal("16777500"))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::Removed);
}

#[tokio::test]
async fn remove_404_on_delete_is_already_absent() {
    let server = MockServer::start().await;
    mount_handshake(&server, 1).await;
    mount_assignments(&server).await;
    mount_delete(&server, 16777301, 404, 1).await;
    let (plane, _clock) = plane(&server);

    let outcome = plane
        .remove_application(&removal(&format!("{APP_MODEL}/5")))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::AlreadyAbsent);
}

#[tokio::test]
async fn remove_without_deployment_is_already_absent() {
    let server = MockServer::start().await;
    mount_handshake(&server, 1).await;
    mount_rows(
        &server,
        "SMS_ApplicationAssignment",
        &[("$filter", "TargetCollectionID eq 'PS100012'")],
        json!([
            {"AssignmentID": 16777302, "ApplicationName": "7-Zip", "AssignedCIs": [16777600]},
        ]),
        1,
    )
    .await;
    mount_delete(&server, 16777302, 200, 0).await;
    let (plane, _clock) = plane(&server);

    let outcome = plane.remove_application(&removal(APP_MODEL)).await.unwrap();

    assert_eq!(outcome, RemovalOutcome::AlreadyAbsent);
}

#[tokio::test]
async fn remove_unknown_application_is_already_absent() {
    let server = MockServer::start().await;
    mount_handshake(&server, 1).await;
    mount_application_lookup(&server, json!([])).await;
    Mock::given(path("/AdminService/wmi/SMS_ApplicationAssignment"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let outcome = plane
        .remove_application(&removal("contoso-agent"))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::AlreadyAbsent);
}

#[tokio::test]
async fn remove_ambiguous_name_is_a_conflict() {
    let server = MockServer::start().await;
    mount_handshake(&server, 1).await;
    mount_application_lookup(&server, json!([
        {"CI_ID": 16777500, "CI_UniqueID": "ScopeId_A/Application_1/1", "LocalizedDisplayName": "Contoso Agent", "SoftwareVersion": "4.2.1"},
        {"CI_ID": 16777510, "CI_UniqueID": "ScopeId_A/Application_2/1", "LocalizedDisplayName": "Contoso Agent", "SoftwareVersion": "4.2.1"},
    ])).await;
    mount_rows(&server, "SMS_Application", &[("$skip", "2")], json!([]), 1).await;
    let (plane, _clock) = plane(&server);

    let error = plane
        .remove_application(&removal("contoso-agent"))
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Conflict);
    assert!(
        error.to_string().contains("CI_IDs 16777500, 16777510"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[test]
fn config_errors_name_the_key() {
    let cases = [
        (
            "url",
            json!("http://cm01.contoso.com/AdminService"),
            "connectors.sccm.url",
        ),
        (
            "rings",
            json!({"canary": "PS1"}),
            "connectors.sccm.rings.canary",
        ),
        (
            "rings",
            json!({"prod": "PS100012"}),
            "connectors.sccm.rings.prod",
        ),
        (
            "username",
            json!("CONTOSO\\svc-ops"),
            "connectors.sccm.username",
        ),
        (
            "devices_per_query",
            json!(500),
            "connectors.sccm.devices_per_query",
        ),
        ("page_size", json!(0), "connectors.sccm.page_size"),
        (
            "max_concurrency",
            json!(0),
            "connectors.sccm.max_concurrency",
        ),
        (
            "ca_certificate",
            json!("/nonexistent/ca.pem"),
            "connectors.sccm.ca_certificate",
        ),
    ];
    for (key, value, expected) in cases {
        let mut config = config_json("https://cm01.contoso.com/AdminService");
        config[key] = value;
        let config: SccmConfig = serde_json::from_value(config).unwrap();
        let error = config.build(Arc::new(FakeClock::default())).unwrap_err();
        assert_eq!(error.key, expected, "{key}: {error}");
    }
}

#[test]
fn config_rejects_unknown_keys() {
    let mut config = config_json("https://cm01.contoso.com");
    config["pasword"] = json!("typo");
    let error = serde_json::from_value::<SccmConfig>(config).unwrap_err();
    assert!(
        error.to_string().contains("unknown field `pasword`"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// A hand-written NTLM server: handshakes verified by sspi, connections tracked

#[derive(Debug, Default)]
struct ServerLog {
    connections: usize,
    /// (connection, request line, authorization scheme and message type or "none", status)
    requests: Vec<(usize, String, String, u16)>,
}

struct NtlmServer {
    address: SocketAddr,
    log: Arc<Mutex<ServerLog>>,
}

struct ServerOptions {
    password: &'static str,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// The channel binding the server expects in AUTHENTICATE messages.
    channel_binding: Option<Vec<u8>>,
}

async fn start_ntlm_server(options: ServerOptions) -> NtlmServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(ServerLog::default()));
    let options = Arc::new(options);
    let server_log = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let connection = {
                let mut log = server_log.lock().unwrap();
                log.connections += 1;
                log.connections
            };
            let (log, options) = (server_log.clone(), options.clone());
            tokio::spawn(async move {
                match &options.tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(tcp).await {
                            serve(stream, connection, &options, &log).await;
                        }
                    }
                    None => serve(tcp, connection, &options, &log).await,
                }
            });
        }
    });
    NtlmServer { address, log }
}

/// Serves HTTP/1.1 requests without bodies on one connection.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    connection: usize,
    options: &ServerOptions,
    log: &Mutex<ServerLog>,
) {
    let mut stream = BufReader::new(stream);
    let mut handshake: Option<ServerHandshake> = None;
    let mut authenticated = false;
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            match stream.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => head.push(line.trim_end().to_owned()),
            }
        }
        let request_line = head.first().cloned().unwrap_or_default();
        let authorization = head.iter().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("authorization")
                .then(|| value.trim().to_owned())
        });
        let message = authorization
            .as_deref()
            .and_then(|value| value.strip_prefix("Negotiate "))
            .and_then(|token| STANDARD.decode(token).ok());

        let (status, extra_header, body, kind) = match message {
            Some(message) if message.get(8) == Some(&1) => {
                let mut server =
                    ServerHandshake::new(options.password, options.channel_binding.as_deref());
                let challenge = server.accept(&message).unwrap();
                handshake = Some(server);
                authenticated = false;
                (
                    401,
                    format!(
                        "WWW-Authenticate: Negotiate {}\r\n",
                        STANDARD.encode(challenge)
                    ),
                    "denied",
                    "negotiate",
                )
            }
            Some(message) if message.get(8) == Some(&3) => {
                // Only the connection that sent the NEGOTIATE message keeps the handshake state.
                let accepted = handshake
                    .take()
                    .and_then(|mut server| server.accept(&message))
                    .is_some();
                authenticated = accepted;
                if accepted {
                    (200, String::new(), SITES, "authenticate")
                } else {
                    (
                        401,
                        "WWW-Authenticate: Negotiate\r\n".to_owned(),
                        "denied",
                        "authenticate",
                    )
                }
            }
            Some(_) => (400, String::new(), "bad token", "other"),
            None if authenticated => (200, String::new(), SITES, "none"),
            None => (
                401,
                "WWW-Authenticate: Negotiate\r\n".to_owned(),
                "denied",
                "none",
            ),
        };
        log.lock()
            .unwrap()
            .requests
            .push((connection, request_line, kind.to_owned(), status));
        let response = format!(
            "HTTP/1.1 {status} X\r\n{extra_header}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream
            .get_mut()
            .write_all(response.as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

const SITES: &str =
    r#"{"value": [{"SiteCode": "PS1", "SiteName": "Contoso", "Version": "5.00.9128.1000"}]}"#;

fn server_config(url: String, password: &str, ca_certificate: Option<&str>) -> SccmConfig {
    let mut config = config_json(&url);
    config["password"] = json!(password);
    config["max_concurrency"] = json!(2);
    if let Some(path) = ca_certificate {
        config["ca_certificate"] = json!(path);
    }
    serde_json::from_value(config).unwrap()
}

#[tokio::test]
async fn handshake_is_valid_and_stays_on_one_connection() {
    let server = start_ntlm_server(ServerOptions {
        password: PASSWORD,
        tls: None,
        channel_binding: None,
    })
    .await;
    let plane = server_config(
        format!("http://{}/AdminService", server.address),
        PASSWORD,
        None,
    )
    .build(Arc::new(FakeClock::default()))
    .unwrap();

    for _ in 0..3 {
        let report = plane.health().await.unwrap();
        assert!(report.healthy, "{report:?}");
        assert_eq!(report.detail, "site PS1 (Contoso) 5.00.9128.1000");
    }

    let log = server.log.lock().unwrap();
    assert_eq!(log.connections, 1, "{log:?}");
    let kinds: Vec<(&str, u16)> = log
        .requests
        .iter()
        .map(|(_, _, kind, status)| (kind.as_str(), *status))
        .collect();
    assert_eq!(
        kinds,
        [
            ("negotiate", 401),
            ("authenticate", 200),
            ("none", 200),
            ("none", 200)
        ]
    );
    assert!(
        log.requests[0].1.starts_with(
            "GET /AdminService/wmi/SMS_Site?$select=SiteCode,SiteName,Version&$top=100 HTTP/1.1"
        ),
        "{log:?}"
    );
}

#[tokio::test]
async fn handshake_with_wrong_password_is_rejected() {
    let server = start_ntlm_server(ServerOptions {
        password: "the-real-password",
        tls: None,
        channel_binding: None,
    })
    .await;
    let plane = server_config(
        format!("http://{}/AdminService", server.address),
        PASSWORD,
        None,
    )
    .build(Arc::new(FakeClock::default()))
    .unwrap();

    let report = plane.health().await.unwrap();

    assert!(!report.healthy);
    assert!(
        report
            .detail
            .contains("rejected the NTLM credentials of CONTOSO\\svc-ops"),
        "{}",
        report.detail
    );
    let log = server.log.lock().unwrap();
    assert_eq!(log.requests.len(), 2, "{log:?}");
}

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/sccm/tls/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn tls_acceptor() -> (tokio_rustls::TlsAcceptor, Vec<u8>) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let certificate = CertificateDer::from_pem_file(fixture("provider-sha384.pem")).unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("provider-sha384-key.pem")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certificate.clone()], key)
        .unwrap();
    // RFC 5929: the certificate is signed with ECDSA and SHA-384, so the binding uses SHA-384.
    let binding = [
        b"tls-server-end-point:".as_slice(),
        &Sha384::digest(&certificate),
    ]
    .concat();
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), binding)
}

#[tokio::test]
async fn tls_trusts_ca_certificate_and_sends_channel_binding() {
    let (acceptor, binding) = tls_acceptor();
    let server = start_ntlm_server(ServerOptions {
        password: PASSWORD,
        tls: Some(acceptor),
        channel_binding: Some(binding),
    })
    .await;
    let url = format!("https://127.0.0.1:{}/AdminService", server.address.port());
    let plane = server_config(url, PASSWORD, Some(&fixture("ca.pem")))
        .build(Arc::new(FakeClock::default()))
        .unwrap();

    let report = plane.health().await.unwrap();

    assert!(report.healthy, "{report:?}");
}

#[tokio::test]
async fn tls_channel_binding_mismatch_is_rejected() {
    // A server expecting another binding proves that the client sends one.
    let (acceptor, _binding) = tls_acceptor();
    let wrong = b"tls-server-end-point:not-this-certificate".to_vec();
    let server = start_ntlm_server(ServerOptions {
        password: PASSWORD,
        tls: Some(acceptor),
        channel_binding: Some(wrong),
    })
    .await;
    let url = format!("https://127.0.0.1:{}/AdminService", server.address.port());
    let plane = server_config(url, PASSWORD, Some(&fixture("ca.pem")))
        .build(Arc::new(FakeClock::default()))
        .unwrap();

    let report = plane.health().await.unwrap();

    assert!(!report.healthy);
    assert!(
        report.detail.contains("rejected the NTLM credentials"),
        "{}",
        report.detail
    );
}

#[tokio::test]
async fn tls_without_ca_certificate_names_the_option() {
    let (acceptor, binding) = tls_acceptor();
    let server = start_ntlm_server(ServerOptions {
        password: PASSWORD,
        tls: Some(acceptor),
        channel_binding: Some(binding),
    })
    .await;
    let url = format!("https://127.0.0.1:{}/AdminService", server.address.port());
    let clock: Arc<dyn Clock> = Arc::new(FakeClock::default());
    let plane = server_config(url, PASSWORD, None).build(clock).unwrap();

    let report = plane.health().await.unwrap();

    assert!(!report.healthy);
    assert!(
        report.detail.contains("connectors.sccm.ca_certificate"),
        "{}",
        report.detail
    );
    assert_eq!(server.log.lock().unwrap().requests.len(), 0);
}
