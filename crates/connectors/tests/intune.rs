//! The Intune adapter against a mock Microsoft Graph and Entra ID token endpoint on 127.0.0.1.

#![cfg(feature = "intune")]

use std::sync::Arc;
use std::time::Duration;

use connectors::intune::{IntuneConfig, IntunePlane};
use ops_core::ports::{ExecutionPlane, RemovalOutcome, RemovalRequest};
use ops_core::{ConnectorKind, CorrelationId, DeployedApp, ErrorKind, Platform, Ring};
use ops_testkit::{FakeClock, assert_port_error};
use serde_json::{Value, json};
use wiremock::matchers::{
    bearer_token, body_string_contains, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT_ID: &str = "4a1f7c2e-5b3d-4e8f-9a0b-1c2d3e4f5a6b";
const CLIENT_SECRET: &str = "intune-client-secret-93kd7q";
const TOKEN_1: &str = "graph-token-one-71ac0e";
const TOKEN_2: &str = "graph-token-two-c4f812";

const CANARY_GROUP: &str = "3b6f0d55-1111-4c1e-9d00-aaaaaaaaaaaa";
const OTHER_GROUP: &str = "9c2e0d55-2222-4c1e-9d00-bbbbbbbbbbbb";
const APP_ID: &str = "0f3c1e7a-2b4d-4c6e-8f10-1234567890ab";

const TOKEN_PATH: &str = "/contoso.onmicrosoft.com/oauth2/v2.0/token";
const MOBILE_APPS: &str = "/v1.0/deviceAppManagement/mobileApps";
const BETA_MOBILE_APPS: &str = "/beta/deviceAppManagement/mobileApps";
const MANAGED_DEVICES: &str = "/v1.0/deviceManagement/managedDevices";

// ---- Setup ------------------------------------------------------------------------------------

fn config_json(server: &MockServer) -> Value {
    json!({
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "graph_url": server.uri(),
        "authority_host": server.uri(),
        "rings": {"canary": CANARY_GROUP},
        "timeout_seconds": 5,
        "max_concurrency": 2,
    })
}

fn plane(server: &MockServer) -> (IntunePlane, Arc<FakeClock>) {
    let clock = Arc::new(FakeClock::default());
    let config: IntuneConfig = serde_json::from_value(config_json(server)).unwrap();
    (config.build(clock.clone()).unwrap(), clock)
}

/// Mounts a token endpoint that grants `token` at most `times` times and expects exactly that
/// many requests.
async fn mount_token(server: &MockServer, token: &str, times: u64) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains(format!("client_id={CLIENT_ID}")))
        .and(body_string_contains(format!("client_secret={CLIENT_SECRET}")))
        .and(body_string_contains(
            "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token
        })))
        .up_to_n_times(times)
        .expect(times)
        .mount(server)
        .await;
}

fn graph_error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "innerError": {
        "date": "2026-01-01T00:00:00", "request-id": "5c0b1a2e-0000-4000-8000-000000000001",
        "client-request-id": "5c0b1a2e-0000-4000-8000-000000000001"}}})
}

fn page(server: &MockServer, items: Vec<Value>, next: Option<&str>) -> Value {
    let mut body = json!({"@odata.context": format!("{}/v1.0/$metadata#collection", server.uri()), "value": items});
    if let Some(next) = next {
        body["@odata.nextLink"] = json!(format!("{}{next}", server.uri()));
    }
    body
}

fn removal(application_id: &str, app_name: &str, version: &str) -> RemovalRequest {
    RemovalRequest {
        correlation_id: CorrelationId::generate("rollback"),
        application_id: application_id.to_owned(),
        app_name: app_name.to_owned(),
        version: version.to_owned(),
        platform: Platform::Windows,
        ring: Ring::Canary,
    }
}

fn assignment(id: &str, target_type: &str, group_id: &str, intent: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.mobileAppAssignment",
        "id": id,
        "intent": intent,
        "target": {"@odata.type": target_type, "groupId": group_id},
        "settings": null,
    })
}

const INCLUDE: &str = "#microsoft.graph.groupAssignmentTarget";
const EXCLUDE: &str = "#microsoft.graph.exclusionGroupAssignmentTarget";

async fn mount_assignments(server: &MockServer, app_id: &str, assignments: Vec<Value>) {
    Mock::given(method("GET"))
        .and(path(format!("{MOBILE_APPS}/{app_id}/assignments")))
        .and(bearer_token(TOKEN_1))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(server, assignments, None)))
        .expect(1)
        .mount(server)
        .await;
}

async fn mount_delete(server: &MockServer, app_id: &str, assignment_id: &str, status: u16) {
    let response = if status == 404 {
        ResponseTemplate::new(404).set_body_json(graph_error("ResourceNotFound", "not found"))
    } else {
        ResponseTemplate::new(status)
    };
    Mock::given(method("DELETE"))
        .and(path(format!(
            "{MOBILE_APPS}/{app_id}/assignments/{assignment_id}"
        )))
        .and(bearer_token(TOKEN_1))
        .respond_with(response)
        .expect(1)
        .mount(server)
        .await;
}

/// Fails the test on any DELETE, counting it.
async fn forbid_deletes(server: &MockServer) {
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(server)
        .await;
}

// ---- deployed_applications --------------------------------------------------------------------

fn entra_device(object_id: &str, device_id: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.device", "id": object_id, "deviceId": device_id})
}

fn managed_device(id: &str, entra_id: &str, os: &str, synced: &str) -> Value {
    json!({"id": id, "azureADDeviceId": entra_id, "operatingSystem": os, "lastSyncDateTime": synced})
}

fn detected(name: &str, version: &str, platform: &str) -> Value {
    json!({"id": format!("{name}-{version}"), "displayName": name, "version": version,
        "sizeInByte": 1024, "deviceCount": 0, "publisher": "Contoso", "platform": platform})
}

async fn mount_detected_apps(server: &MockServer, device: &str, body: Value) {
    Mock::given(method("GET"))
        .and(path(format!(
            "/beta/deviceManagement/managedDevices/{device}/detectedApps"
        )))
        .and(query_param_is_missing("$skiptoken"))
        .and(bearer_token(TOKEN_1))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn deployed_applications_count_ring_devices() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1, 1).await;
    let members_path = format!("/v1.0/groups/{CANARY_GROUP}/transitiveMembers/graph.device");
    // Two pages of group members. The second is reached through the first page's next link.
    Mock::given(method("GET"))
        .and(path(members_path.clone()))
        .and(query_param("$select", "id,deviceId"))
        .and(query_param_is_missing("$skiptoken"))
        .and(bearer_token(TOKEN_1))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            &server,
            vec![
                entra_device("obj-1", "AAAA0000-0000-4000-8000-000000000001"),
                entra_device("obj-2", "aaaa0000-0000-4000-8000-000000000002"),
            ],
            Some(&format!(
                "{members_path}?$select=id,deviceId&$skiptoken=RFNwdAIAAQAAAA"
            )),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(members_path.clone()))
        .and(query_param("$skiptoken", "RFNwdAIAAQAAAA"))
        .and(bearer_token(TOKEN_1))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            &server,
            vec![
                entra_device("obj-3", "aaaa0000-0000-4000-8000-000000000003"),
                // Registered in Entra ID but not enrolled in Intune.
                entra_device("obj-4", "aaaa0000-0000-4000-8000-000000000004"),
            ],
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(MANAGED_DEVICES))
        .and(query_param(
            "$select",
            "id,azureADDeviceId,operatingSystem,lastSyncDateTime",
        ))
        .and(bearer_token(TOKEN_1))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            &server,
            vec![
                managed_device(
                    "md-1",
                    "aaaa0000-0000-4000-8000-000000000001",
                    "Windows",
                    "2026-01-02T08:00:00Z",
                ),
                // A stale record of device 1 from an earlier enrollment.
                managed_device(
                    "md-1-old",
                    "aaaa0000-0000-4000-8000-000000000001",
                    "Windows",
                    "2025-06-01T08:00:00Z",
                ),
                managed_device(
                    "md-2",
                    "aaaa0000-0000-4000-8000-000000000002",
                    "Windows",
                    "2026-01-02T09:00:00Z",
                ),
                managed_device(
                    "md-3",
                    "aaaa0000-0000-4000-8000-000000000003",
                    "macOS",
                    "2026-01-02T10:00:00Z",
                ),
                // Not in the ring's group.
                managed_device(
                    "md-9",
                    "aaaa0000-0000-4000-8000-000000000009",
                    "Windows",
                    "2026-01-02T10:00:00Z",
                ),
            ],
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;

    // Device 1 reports two pages of apps, 7-Zip twice and an app of unknown platform.
    let device_1_next = "/beta/deviceManagement/managedDevices/md-1/detectedApps?$skiptoken=page2";
    mount_detected_apps(
        &server,
        "md-1",
        page(
            &server,
            vec![
                detected("7-Zip", "23.01", "windows"),
                detected("Contoso Agent", "4.2.1", "unknown"),
            ],
            Some(device_1_next),
        ),
    )
    .await;
    Mock::given(method("GET"))
        .and(path(
            "/beta/deviceManagement/managedDevices/md-1/detectedApps",
        ))
        .and(query_param("$skiptoken", "page2"))
        .and(bearer_token(TOKEN_1))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            &server,
            vec![detected("7-Zip", "23.01", "windows")],
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;
    mount_detected_apps(
        &server,
        "md-2",
        page(
            &server,
            vec![
                detected("7-Zip", "23.01", "windows"),
                detected("Contoso Agent", "4.2.0", "windows"),
                detected("Company Portal", "5.0", "ios"),
            ],
            None,
        ),
    )
    .await;
    mount_detected_apps(
        &server,
        "md-3",
        page(
            &server,
            vec![
                detected("Contoso Agent", "4.2.1", "macOS"),
                json!({"id": "x", "displayName": " "}),
            ],
            None,
        ),
    )
    .await;
    let (plane, _clock) = plane(&server);

    let apps = plane.deployed_applications(Ring::Canary).await.unwrap();

    let app = |name: &str, version: &str, platform, devices| DeployedApp {
        name: name.to_owned(),
        version: version.to_owned(),
        platform,
        devices,
    };
    assert_eq!(
        apps,
        [
            app("7-Zip", "23.01", Platform::Windows, 2),
            app("Contoso Agent", "4.2.0", Platform::Windows, 1),
            app("Contoso Agent", "4.2.1", Platform::Windows, 1),
            app("Contoso Agent", "4.2.1", Platform::Macos, 1),
        ]
    );
}

/// Mounts a ring of one group page and one managed-device page, with the given managed ids.
async fn mount_ring(server: &MockServer, managed_ids: &[&str]) {
    let members: Vec<Value> = managed_ids
        .iter()
        .map(|id| entra_device(&format!("obj-{id}"), &format!("entra-{id}")))
        .collect();
    let managed: Vec<Value> = managed_ids
        .iter()
        .map(|id| {
            managed_device(
                id,
                &format!("entra-{id}"),
                "Windows",
                "2026-01-02T08:00:00Z",
            )
        })
        .collect();
    Mock::given(method("GET"))
        .and(path(format!(
            "/v1.0/groups/{CANARY_GROUP}/transitiveMembers/graph.device"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(server, members, None)))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(MANAGED_DEVICES))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(server, managed, None)))
        .expect(1)
        .mount(server)
        .await;
}

async fn mount_device_not_found(server: &MockServer, device: &str) {
    Mock::given(method("GET"))
        .and(path(format!(
            "/beta/deviceManagement/managedDevices/{device}/detectedApps"
        )))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(graph_error("ResourceNotFound", "gone")),
        )
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn device_gone_between_listings_is_skipped() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1, 1).await;
    mount_ring(&server, &["md-1", "md-2"]).await;
    mount_device_not_found(&server, "md-1").await;
    mount_detected_apps(
        &server,
        "md-2",
        page(&server, vec![detected("7-Zip", "23.01", "windows")], None),
    )
    .await;
    let (plane, _clock) = plane(&server);

    let apps = plane.deployed_applications(Ring::Canary).await.unwrap();

    assert_eq!(
        apps,
        [DeployedApp {
            name: "7-Zip".to_owned(),
            version: "23.01".to_owned(),
            platform: Platform::Windows,
            devices: 1,
        }]
    );
}

#[tokio::test]
async fn detected_apps_missing_everywhere_fails() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1, 1).await;
    mount_ring(&server, &["md-1", "md-2"]).await;
    mount_device_not_found(&server, "md-1").await;
    mount_device_not_found(&server, "md-2").await;
    let (plane, _clock) = plane(&server);

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(
        error.to_string(),
        "Intune list detected apps failed: HTTP 404 (ResourceNotFound)"
    );
}

#[tokio::test]
async fn malformed_json_names_connector_and_call() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1, 1).await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v1.0/groups/{CANARY_GROUP}/transitiveMembers/graph.device"
        )))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string(r#"{"value": [{"deviceId": "aaaa"#),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert_eq!(error.service(), "Intune");
    assert_eq!(error.operation(), "list group devices");
    assert!(
        error
            .to_string()
            .starts_with("Intune list group devices failed: the response is not the expected JSON"),
        "{error}"
    );
}

#[tokio::test]
async fn next_link_cycle_is_rejected() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1, 1).await;
    let members = format!("/v1.0/groups/{CANARY_GROUP}/transitiveMembers/graph.device");
    // The first page leads to page 2, page 2 to page 3, and page 3 back to page 2.
    for (token, next) in [(None, "2"), (Some("2"), "3"), (Some("3"), "2")] {
        let mock = Mock::given(method("GET")).and(path(&members));
        let mock = match token {
            Some(token) => mock.and(query_param("$skiptoken", token)),
            None => mock.and(query_param_is_missing("$skiptoken")),
        };
        let body = page(
            &server,
            vec![],
            Some(&format!("{members}?$skiptoken={next}")),
        );
        mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
            .mount(&server)
            .await;
    }
    let (plane, _clock) = plane(&server);

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_port_error(
        &error,
        ErrorKind::Permanent,
        "the service linked back to a page already read",
    );
}

#[tokio::test]
async fn next_link_to_other_host_is_rejected() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1, 1).await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v1.0/groups/{CANARY_GROUP}/transitiveMembers/graph.device"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [],
            "@odata.nextLink": "https://graph.attacker.example/v1.0/groups?$skiptoken=x"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert!(
        error.to_string().contains("refusing to send credentials"),
        "{error}"
    );
}

// ---- remove_application -----------------------------------------------------------------------

#[tokio::test]
async fn remove_deletes_ring_assignment_by_app_id() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1, 1).await;
    mount_assignments(
        &server,
        APP_ID,
        vec![
            assignment("as-ring", INCLUDE, CANARY_GROUP, "required"),
            assignment("as-other", INCLUDE, OTHER_GROUP, "required"),
            assignment("as-excluded", EXCLUDE, CANARY_GROUP, "required"),
            assignment("as-uninstall", INCLUDE, CANARY_GROUP, "uninstall"),
        ],
    )
    .await;
    let request = removal(APP_ID, "Contoso Agent", "4.2.1");
    let correlation = request.correlation_id.unique_part().to_owned();
    Mock::given(method("DELETE"))
        .and(path(format!("{MOBILE_APPS}/{APP_ID}/assignments/as-ring")))
        .and(bearer_token(TOKEN_1))
        .and(header("client-request-id", correlation.as_str()))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let outcome = plane.remove_application(&request).await.unwrap();

    assert_eq!(outcome, RemovalOutcome::Removed);
    assert_eq!(plane.kind(), ConnectorKind::Intune);
}

#[tokio::test]
async fn remove_finds_app_by_name_and_version() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1, 1).await;
    let wanted = "7aa10000-0000-4000-8000-000000000002";
    Mock::given(method("GET"))
        .and(path(BETA_MOBILE_APPS))
        .and(query_param("$filter", "displayName eq 'Contoso''s Agent'"))
        .and(bearer_token(TOKEN_1))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            &server,
            vec![
                json!({"@odata.type": "#microsoft.graph.win32LobApp", "id": "7aa10000-0000-4000-8000-000000000001",
                    "displayName": "Contoso's Agent", "displayVersion": "4.2.0", "publishingState": "published"}),
                json!({"@odata.type": "#microsoft.graph.win32LobApp", "id": wanted,
                    "displayName": "Contoso's Agent", "displayVersion": "4.2.1", "publishingState": "published",
                    "msiInformation": {"productVersion": "4.2.1.0"}}),
                json!({"@odata.type": "#microsoft.graph.macOSPkgApp", "id": "7aa10000-0000-4000-8000-000000000003",
                    "displayName": "Contoso's Agent", "primaryBundleVersion": "4.2.1"}),
            ],
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;
    mount_assignments(
        &server,
        wanted,
        vec![assignment("as-ring", INCLUDE, CANARY_GROUP, "available")],
    )
    .await;
    mount_delete(&server, wanted, "as-ring", 204).await;
    let (plane, _clock) = plane(&server);

    let outcome = plane
        .remove_application(&removal("contoso-agent", "Contoso's Agent", "4.2.1"))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::Removed);
}

#[tokio::test]
async fn unknown_app_id_falls_back_to_name() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("{MOBILE_APPS}/{APP_ID}/assignments")))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(graph_error("ResourceNotFound", "no app")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(BETA_MOBILE_APPS))
        .and(query_param("$filter", "displayName eq 'Contoso Agent'"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&server, vec![], None)))
        .expect(1)
        .mount(&server)
        .await;
    forbid_deletes(&server).await;
    let (plane, _clock) = plane(&server);

    let outcome = plane
        .remove_application(&removal(APP_ID, "Contoso Agent", "4.2.1"))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::AlreadyAbsent);
}

#[tokio::test]
async fn no_ring_assignment_is_already_absent() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1, 1).await;
    mount_assignments(
        &server,
        APP_ID,
        vec![
            assignment("as-other", INCLUDE, OTHER_GROUP, "required"),
            assignment("as-excluded", EXCLUDE, CANARY_GROUP, "required"),
            assignment("as-uninstall", INCLUDE, CANARY_GROUP, "uninstall"),
        ],
    )
    .await;
    forbid_deletes(&server).await;
    let (plane, _clock) = plane(&server);

    let outcome = plane
        .remove_application(&removal(APP_ID, "Contoso Agent", "4.2.1"))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::AlreadyAbsent);
}

#[tokio::test]
async fn delete_not_found_is_already_absent() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1, 1).await;
    mount_assignments(
        &server,
        APP_ID,
        vec![assignment("as-ring", INCLUDE, CANARY_GROUP, "required")],
    )
    .await;
    mount_delete(&server, APP_ID, "as-ring", 404).await;
    let (plane, _clock) = plane(&server);

    let outcome = plane
        .remove_application(&removal(APP_ID, "Contoso Agent", "4.2.1"))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::AlreadyAbsent);
}

#[tokio::test]
async fn ambiguous_app_name_is_rejected() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1, 1).await;
    let app = |id: &str, version: &str| {
        json!({"@odata.type": "#microsoft.graph.win32LobApp", "id": id,
            "displayName": "Contoso Agent", "displayVersion": version})
    };
    Mock::given(method("GET"))
        .and(path(BETA_MOBILE_APPS))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            &server,
            vec![
                app("app-a", "4.2.1"),
                app("app-b", "4.2.1"),
                app("app-c", "4.0"),
            ],
            None,
        )))
        .expect(2)
        .mount(&server)
        .await;
    forbid_deletes(&server).await;
    let (plane, _clock) = plane(&server);

    let several = plane
        .remove_application(&removal("agent", "Contoso Agent", "4.2.1"))
        .await
        .unwrap_err();
    let none = plane
        .remove_application(&removal("agent", "Contoso Agent", "9.9"))
        .await
        .unwrap_err();

    assert_eq!(several.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        several.to_string(),
        "Intune find app failed: 2 Intune apps are named \"Contoso Agent\" at version \"4.2.1\" \
         (app-a, app-b): pass the Intune app id as application_id"
    );
    assert_eq!(none.kind(), ErrorKind::NotFound);
    assert!(
        none.to_string()
            .contains("found 4.2.1 in app-a, 4.2.1 in app-b, 4.0 in app-c"),
        "{none}"
    );
}

#[tokio::test]
async fn unmapped_ring_fails_without_calls() {
    let server = MockServer::start().await;
    let (plane, _clock) = plane(&server);
    let mut request = removal(APP_ID, "Contoso Agent", "4.2.1");
    request.ring = Ring::Pilot;

    let removal_error = plane.remove_application(&request).await.unwrap_err();
    let listing_error = plane.deployed_applications(Ring::Global).await.unwrap_err();

    assert_eq!(removal_error.kind(), ErrorKind::InvalidInput);
    assert!(
        removal_error
            .to_string()
            .contains("set connectors.intune.rings.Pilot"),
        "{removal_error}"
    );
    assert!(
        listing_error
            .to_string()
            .contains("set connectors.intune.rings.Global"),
        "{listing_error}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

// ---- Resilience -------------------------------------------------------------------------------

#[tokio::test]
async fn expired_token_is_replaced_once() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1, 1).await;
    mount_token(&server, TOKEN_2, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("{MOBILE_APPS}/{APP_ID}/assignments")))
        .and(bearer_token(TOKEN_1))
        .respond_with(ResponseTemplate::new(401).set_body_json(graph_error(
            "InvalidAuthenticationToken",
            "Lifetime validation failed, the token is expired.",
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{MOBILE_APPS}/{APP_ID}/assignments")))
        .and(bearer_token(TOKEN_2))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            &server,
            vec![assignment("as-ring", INCLUDE, CANARY_GROUP, "required")],
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{MOBILE_APPS}/{APP_ID}/assignments/as-ring")))
        .and(bearer_token(TOKEN_2))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, clock) = plane(&server);

    let outcome = plane
        .remove_application(&removal(APP_ID, "Contoso Agent", "4.2.1"))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::Removed);
    assert!(clock.sleeps().is_empty(), "{:?}", clock.sleeps());
}

#[tokio::test]
async fn throttling_waits_for_retry_after() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("{MOBILE_APPS}/{APP_ID}/assignments")))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "7")
                .set_body_json(graph_error("TooManyRequests", "Too many requests")),
        )
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_assignments(&server, APP_ID, vec![]).await;
    let (plane, clock) = plane(&server);

    let outcome = plane
        .remove_application(&removal(APP_ID, "Contoso Agent", "4.2.1"))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::AlreadyAbsent);
    assert_eq!(clock.sleeps(), [Duration::from_secs(7)]);
}

#[tokio::test]
async fn server_error_is_retried() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1, 1).await;
    Mock::given(method("GET"))
        .and(path(MOBILE_APPS))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(graph_error("ServiceUnavailable", "try again")),
        )
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(MOBILE_APPS))
        .and(query_param("$select", "id"))
        .and(query_param("$top", "1"))
        .and(bearer_token(TOKEN_1))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&server, vec![], None)))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, clock) = plane(&server);

    let report = plane.health().await.unwrap();

    assert!(report.healthy, "{report:?}");
    assert_eq!(report.detail, "Graph listed Intune apps");
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 1);
    assert!(sleeps[0] <= Duration::from_millis(500), "{sleeps:?}");
}

#[tokio::test]
async fn token_endpoint_outage_is_retried_on_the_clock() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "3"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_token(&server, TOKEN_1, 1).await;
    Mock::given(method("GET"))
        .and(path(MOBILE_APPS))
        .and(bearer_token(TOKEN_1))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&server, vec![], None)))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, clock) = plane(&server);

    let report = plane.health().await.unwrap();

    assert!(report.healthy, "{report:?}");
    assert_eq!(clock.sleeps(), [Duration::from_secs(3)]);
}

#[tokio::test]
async fn health_failure_is_reported_unhealthy() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN_1, 1).await;
    Mock::given(method("GET"))
        .and(path(MOBILE_APPS))
        .respond_with(ResponseTemplate::new(403).set_body_json(graph_error(
            "Forbidden",
            "Application is not authorized to perform this operation.",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let report = plane.health().await.unwrap();

    assert!(!report.healthy);
    assert_eq!(
        report.detail,
        "Intune health check failed: HTTP 403 (Forbidden)"
    );
}

#[tokio::test]
async fn rejected_secret_is_unauthorized() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.",
            "error_codes": [7000215],
            "timestamp": "2026-01-01 00:00:00Z",
            "trace_id": "0b8e0000-0000-4000-8000-000000000001",
            "correlation_id": "0b8e0000-0000-4000-8000-000000000002"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, clock) = plane(&server);

    let error = plane
        .remove_application(&removal(APP_ID, "Contoso Agent", "4.2.1"))
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Unauthorized);
    assert_eq!(
        error.to_string(),
        "Intune request token failed: HTTP 401 (AADSTS7000215)"
    );
    assert!(clock.sleeps().is_empty());
}

// ---- Configuration ----------------------------------------------------------------------------

#[tokio::test]
async fn config_errors_name_key_and_fix() {
    let server = MockServer::start().await;
    let cases = [
        (
            "graph_url",
            json!("http://graph.contoso.com"),
            "connectors.intune.graph_url",
            "must use https",
        ),
        (
            "authority_host",
            json!("ftp://login"),
            "connectors.intune.authority_host",
            "must use https",
        ),
        (
            "tenant_id",
            json!("contoso/../x"),
            "connectors.intune.tenant_id",
            "not a tenant id",
        ),
        (
            "client_id",
            json!(" "),
            "connectors.intune.client_id",
            "client id is empty",
        ),
        (
            "client_secret",
            json!(""),
            "connectors.intune.client_secret",
            "OPS_CONNECTORS__INTUNE__CLIENT_SECRET",
        ),
        (
            "timeout_seconds",
            json!(0),
            "connectors.intune.timeout_seconds",
            "set a timeout",
        ),
        (
            "max_concurrency",
            json!(0),
            "connectors.intune.max_concurrency",
            "set 1 or more",
        ),
        (
            "rings",
            json!({"Canary": "not-a-guid"}),
            "connectors.intune.rings.Canary",
            "not a group object id",
        ),
        (
            "rings",
            json!({"Beta": CANARY_GROUP}),
            "connectors.intune.rings.Beta",
            "unknown ring",
        ),
        (
            "rings",
            json!({"canary": CANARY_GROUP, "Canary": OTHER_GROUP}),
            "connectors.intune.rings.canary",
            "appears twice",
        ),
    ];
    for (field, value, key, fix) in cases {
        let mut config = config_json(&server);
        config[field] = value;
        let config: IntuneConfig = serde_json::from_value(config).unwrap();
        let error = config.build(Arc::new(FakeClock::default())).unwrap_err();
        assert_eq!(error.key, key, "{field}: {error}");
        assert!(error.to_string().contains(fix), "{field}: {error}");
    }
}

#[test]
fn unknown_config_keys_are_rejected() {
    let error = serde_json::from_value::<IntuneConfig>(json!({
        "tenant_id": TENANT, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "graph_endpoint": "https://graph.microsoft.com"
    }))
    .unwrap_err();
    assert!(
        error.to_string().contains("unknown field `graph_endpoint`"),
        "{error}"
    );
}

#[test]
fn defaults_point_at_public_cloud() {
    let config: IntuneConfig = serde_json::from_value(json!({
        "tenant_id": TENANT, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET
    }))
    .unwrap();
    assert_eq!(config.graph_url, "https://graph.microsoft.com");
    assert_eq!(config.authority_host, "https://login.microsoftonline.com");
    assert_eq!(config.timeout_seconds, 30);
    assert_eq!(config.max_concurrency, 4);
    assert!(config.rings.is_empty());
}

#[test]
fn documented_example_builds() {
    // The TOML example of the module documentation, as JSON. It points at the public cloud, and
    // building sends nothing.
    let config: IntuneConfig = serde_json::from_value(json!({
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "4a1f7c2e-5b3d-4e8f-9a0b-1c2d3e4f5a6b",
        "client_secret": "the client secret value",
        "graph_url": "https://graph.microsoft.com",
        "authority_host": "https://login.microsoftonline.com",
        "timeout_seconds": 30,
        "max_concurrency": 4,
        "rings": {
            "Canary": "3b6f0d55-1111-4c1e-9d00-aaaaaaaaaaaa",
            "Pilot": "9c2e0d55-2222-4c1e-9d00-bbbbbbbbbbbb"
        }
    }))
    .unwrap();

    let plane = config.build(Arc::new(FakeClock::default())).unwrap();

    let debug = format!("{plane:?}");
    assert!(debug.contains("https://graph.microsoft.com/"), "{debug}");
    assert!(debug.contains("Pilot"), "{debug}");
}
