//! The Jamf Pro adapter against a mock Jamf Pro server on 127.0.0.1.

#![cfg(feature = "jamf")]

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connectors::jamf::{JamfConfig, JamfPlane};
use ops_core::ports::{ExecutionPlane, RemovalOutcome, RemovalRequest};
use ops_core::{ConnectorKind, CorrelationId, DeployedApp, ErrorKind, Platform, Ring};
use ops_testkit::FakeClock;
use serde_json::{Value, json};
use wiremock::matchers::{
    body_string, body_string_contains, header, header_exists, method, path, query_param,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CLIENT_SECRET: &str = "jamf-client-secret-4b1d9";
const PASSWORD: &str = "jamf-user-password-77c2e";
const TOKEN_1: &str = "jamf-token-one-a8f3";
const TOKEN_2: &str = "jamf-token-two-5e0b";

fn api_client_config(server: &MockServer) -> Value {
    json!({
        "url": server.uri(),
        "client_id": "ops-client",
        "client_secret": CLIENT_SECRET,
        "rings": {"canary": 42, "Pilot": "43"},
    })
}

fn build(config: Value, clock: Arc<FakeClock>) -> JamfPlane {
    let config: JamfConfig = serde_json::from_value(config).unwrap();
    config.build(clock).unwrap()
}

fn plane(server: &MockServer) -> (JamfPlane, Arc<FakeClock>) {
    let clock = Arc::new(FakeClock::default());
    (build(api_client_config(server), clock.clone()), clock)
}

fn build_error(config: Value) -> String {
    let config: JamfConfig = serde_json::from_value(config).unwrap();
    config
        .build(Arc::new(FakeClock::default()))
        .unwrap_err()
        .to_string()
}

/// Mounts a client-credentials response with `token`, served once.
async fn mount_api_token(server: &MockServer, token: &str) {
    Mock::given(method("POST"))
        .and(path("/api/oauth/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_id=ops-client"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": token, "scope": "api-role:3", "token_type": "Bearer", "expires_in": 299
        })))
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn group_body(ids: &[u64]) -> Value {
    let computers: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "name": format!("mac-{id:02}"), "serial_number": format!("C02X{id}")}))
        .collect();
    json!({"computer_group": {"id": 42, "name": "Ring - Canary", "is_smart": false, "computers": computers}})
}

fn computer(id: &str, apps: &[(&str, &str)]) -> Value {
    let applications: Vec<Value> = apps
        .iter()
        .map(|(name, version)| {
            json!({"name": name, "path": format!("/Applications/{name}"), "version": version,
                   "bundleId": "com.example.app", "macAppStore": false})
        })
        .collect();
    json!({"id": id, "udid": format!("UDID-{id}"), "general": {"name": format!("mac-{id}")},
           "applications": applications})
}

fn request(application_id: &str, ring: Ring) -> RemovalRequest {
    RemovalRequest {
        correlation_id: CorrelationId::generate("rollback"),
        application_id: application_id.to_owned(),
        app_name: "Contoso Agent".to_owned(),
        version: "4.2.1".to_owned(),
        platform: Platform::Macos,
        ring,
    }
}

fn app(name: &str, version: &str, devices: u64) -> DeployedApp {
    DeployedApp {
        name: name.to_owned(),
        version: version.to_owned(),
        platform: Platform::Macos,
        devices,
    }
}

fn policy_body(excluded_groups: &[u64]) -> Value {
    let excluded: Vec<Value> = excluded_groups
        .iter()
        .map(|id| json!({"id": id, "name": format!("group {id}")}))
        .collect();
    json!({"policy": {
        "general": {"id": 77, "name": "Contoso Agent", "enabled": true},
        "scope": {
            "all_computers": false,
            "computers": [],
            "computer_groups": [{"id": 42, "name": "Ring - Canary"}],
            "exclusions": {"computers": [], "computer_groups": excluded}
        },
        "package_configuration": {"packages": [{"id": 9, "name": "ContosoAgent-4.2.1.pkg"}]}
    }})
}

#[tokio::test]
async fn applications_of_ring_group_are_aggregated() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/computergroups/id/42"))
        .and(header("accept", "application/json"))
        .and(header("authorization", bearer(TOKEN_1).as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(group_body(&[17, 18])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/computers-inventory"))
        .and(query_param("page", "0"))
        .and(query_param("page-size", "100"))
        .and(query_param("filter", "id=in=(17,18)"))
        .and(header("authorization", bearer(TOKEN_1).as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "totalCount": 2,
            "results": [
                computer("17", &[("Contoso Agent.app", "4.2.1"), ("Safari.app", "17.1"),
                                 ("Safari.app", "17.1")]),
                computer("18", &[("Contoso Agent.app", "4.2.1"), ("Safari.app", "17.2")]),
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let apps = plane.deployed_applications(Ring::Canary).await.unwrap();

    assert_eq!(plane.kind(), ConnectorKind::Jamf);
    assert_eq!(
        apps,
        [
            app("Contoso Agent", "4.2.1", 2),
            app("Safari", "17.1", 1),
            app("Safari", "17.2", 1),
        ]
    );
}

#[tokio::test]
async fn inventory_follows_every_page() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/computergroups/id/43"))
        .respond_with(ResponseTemplate::new(200).set_body_json(group_body(&[1, 2, 3])))
        .expect(1)
        .mount(&server)
        .await;
    let pages = [
        (
            "0",
            vec![
                computer("1", &[("Slack.app", "4.35")]),
                computer("2", &[("Slack.app", "4.35")]),
            ],
        ),
        ("1", vec![computer("3", &[("Slack.app", "4.36")])]),
    ];
    for (page, results) in pages {
        Mock::given(method("GET"))
            .and(path("/api/v4/computers-inventory"))
            .and(query_param("page", page))
            .and(query_param("page-size", "2"))
            .and(query_param("sort", "id:asc"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"totalCount": 3, "results": results})),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    let mut config = api_client_config(&server);
    config["inventory_api_version"] = json!(4);
    config["page_size"] = json!(2);
    let plane = build(config, Arc::new(FakeClock::default()));

    let apps = plane.deployed_applications(Ring::Pilot).await.unwrap();

    assert_eq!(apps, [app("Slack", "4.35", 2), app("Slack", "4.36", 1)]);
}

#[tokio::test]
async fn empty_group_reads_no_inventory() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/computergroups/id/42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(group_body(&[])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v3/computers-inventory"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    assert!(
        plane
            .deployed_applications(Ring::Canary)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn missing_applications_section_is_an_error() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/computergroups/id/42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(group_body(&[17])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/computers-inventory"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "totalCount": 1, "results": [{"id": "17", "general": {"name": "mac-17"}}]
        })))
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert!(
        error.to_string().contains("inventory_api_version"),
        "{error}"
    );
}

#[tokio::test]
async fn expired_token_is_replaced_once() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    mount_api_token(&server, TOKEN_2).await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/computergroups/id/42"))
        .and(header("authorization", bearer(TOKEN_1).as_str()))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "httpStatus": 401, "errors": [{"code": "INVALID_TOKEN", "description": "expired"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/computergroups/id/42"))
        .and(header("authorization", bearer(TOKEN_2).as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(group_body(&[])))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let apps = plane.deployed_applications(Ring::Canary).await.unwrap();

    assert!(apps.is_empty());
}

#[tokio::test]
async fn api_client_token_is_replaced_before_expiry() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    mount_api_token(&server, TOKEN_2).await;
    for token in [TOKEN_1, TOKEN_2] {
        Mock::given(method("GET"))
            .and(path("/api/v1/jamf-pro-version"))
            .and(header("authorization", bearer(token).as_str()))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"version": "11.30.0-t1"})),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    let (plane, clock) = plane(&server);

    assert!(plane.health().await.unwrap().healthy);
    // The token lives 299 s and is replaced at half its lifetime.
    clock.advance(Duration::from_secs(150));
    assert!(plane.health().await.unwrap().healthy);
}

fn user_config(server: &MockServer) -> Value {
    json!({
        "url": format!("{}/", server.uri()),
        "username": "ops-rollback",
        "password": PASSWORD,
        "rings": {"Canary": 42},
    })
}

fn token_body(token: &str, expires: &str) -> Value {
    json!({"token": token, "expires": expires})
}

#[tokio::test]
async fn user_token_is_renewed_through_keep_alive() {
    let server = MockServer::start().await;
    // FakeClock starts at 2026-01-01T00:00:00Z; the token lives 20 minutes.
    Mock::given(method("POST"))
        .and(path("/api/v1/auth/token"))
        .and(header(
            "authorization",
            "Basic b3BzLXJvbGxiYWNrOmphbWYtdXNlci1wYXNzd29yZC03N2MyZQ==",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_body(TOKEN_1, "2026-01-01T00:20:00.000Z")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/auth/keep-alive"))
        .and(header("authorization", bearer(TOKEN_1).as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_body(TOKEN_2, "2026-01-01T00:36:00.000Z")),
        )
        .expect(1)
        .mount(&server)
        .await;
    for token in [TOKEN_1, TOKEN_2] {
        Mock::given(method("GET"))
            .and(path("/api/v1/jamf-pro-version"))
            .and(header("authorization", bearer(token).as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": "11.30.0"})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let clock = Arc::new(FakeClock::default());
    let plane = build(user_config(&server), clock.clone());

    let first = plane.health().await.unwrap();
    clock.advance(Duration::from_secs(16 * 60));
    let second = plane.health().await.unwrap();

    assert!(first.healthy, "{}", first.detail);
    assert!(second.healthy, "{}", second.detail);
    assert_eq!(second.detail, "Jamf Pro 11.30.0");
}

#[tokio::test]
async fn rejected_user_password_is_unauthorized() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/auth/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "httpStatus": 401, "errors": []
        })))
        .expect(1)
        .mount(&server)
        .await;
    let plane = build(user_config(&server), Arc::new(FakeClock::default()));

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Unauthorized);
    assert_eq!(
        error.to_string(),
        "Jamf request token failed: HTTP 401: check connectors.jamf.username and password"
    );
}

#[tokio::test]
async fn throttling_waits_for_retry_after() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/computergroups/id/42"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/computergroups/id/42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(group_body(&[])))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, clock) = plane(&server);

    plane.deployed_applications(Ring::Canary).await.unwrap();

    assert_eq!(clock.sleeps(), [Duration::from_secs(7)]);
}

#[tokio::test]
async fn server_error_is_retried() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/computergroups/id/42"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/computergroups/id/42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(group_body(&[])))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, clock) = plane(&server);

    plane.deployed_applications(Ring::Canary).await.unwrap();

    assert_eq!(clock.sleeps().len(), 1);
}

#[tokio::test]
async fn malformed_json_names_connector_and_call() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/computergroups/id/42"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"computer_group\": {"))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Permanent);
    let message = error.to_string();
    assert!(
        message.starts_with(
            "Jamf list ring group members failed: the response is not the expected JSON"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn unknown_group_names_ring_key() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/computergroups/id/42"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_string("<html><body>The server has not found anything</body></html>"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(
        error.to_string().contains("connectors.jamf.rings.Canary"),
        "{error}"
    );
}

#[tokio::test]
async fn remove_excludes_ring_group_from_policy() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/policies/id/77"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(policy_body(&[7])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/JSSResource/policies/id/77"))
        .and(header("content-type", "application/xml"))
        .and(header("authorization", bearer(TOKEN_1).as_str()))
        .and(body_string(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><policy><scope><exclusions>\
             <computer_groups><computer_group><id>7</id></computer_group><computer_group>\
             <id>42</id></computer_group></computer_groups></exclusions></scope></policy>",
        ))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("content-type", "text/xml")
                .set_body_string(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><policy><id>77</id></policy>",
                ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let outcome = plane
        .remove_application(&request("77", Ring::Canary))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::Removed);
}

#[tokio::test]
async fn remove_finds_policy_by_name() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/policies"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"policies": [
                {"id": 76, "name": "Contoso Agent 4.1.0"},
                {"id": 77, "name": "Contoso Agent 4.2.1"},
            ]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/policies/id/77"))
        .respond_with(ResponseTemplate::new(200).set_body_json(policy_body(&[])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/JSSResource/policies/id/77"))
        .and(body_string_contains(
            "<computer_group><id>43</id></computer_group>",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_string("<policy><id>77</id></policy>"))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = api_client_config(&server);
    config["policy_name"] = json!("{name} {version}");
    let plane = build(config, Arc::new(FakeClock::default()));

    let outcome = plane
        .remove_application(&request("contoso-agent", Ring::Pilot))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::Removed);
}

#[tokio::test]
async fn remove_without_matching_policy_is_not_found() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/policies"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"policies": [{"id": 5, "name": "Other"}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane
        .remove_application(&request("contoso-agent", Ring::Canary))
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(
        error
            .to_string()
            .contains("no policy is named \"Contoso Agent\""),
        "{error}"
    );
}

#[tokio::test]
async fn remove_twice_is_already_absent() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/policies/id/77"))
        .respond_with(ResponseTemplate::new(200).set_body_json(policy_body(&[42])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let outcome = plane
        .remove_application(&request("77", Ring::Canary))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::AlreadyAbsent);
}

#[tokio::test]
async fn remove_deleted_policy_is_already_absent() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/policies/id/77"))
        .respond_with(
            ResponseTemplate::new(404)
                .insert_header("content-type", "text/html")
                .set_body_string("<html><body><p>The server has not found anything matching the request URI</p></body></html>"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let outcome = plane
        .remove_application(&request("77", Ring::Canary))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::AlreadyAbsent);
}

#[tokio::test]
async fn rejected_policy_update_keeps_html_out_of_error() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/policies/id/77"))
        .respond_with(ResponseTemplate::new(200).set_body_json(policy_body(&[])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/JSSResource/policies/id/77"))
        .respond_with(
            ResponseTemplate::new(409)
                .insert_header("content-type", "text/html")
                .set_body_string(
                    "<html><body><p>Error: Problem with computer group in scope</p></body></html>",
                ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane
        .remove_application(&request("77", Ring::Canary))
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Conflict);
    assert_eq!(
        error.to_string(),
        "Jamf update policy scope failed: HTTP 409"
    );
}

#[tokio::test]
async fn unmapped_ring_names_config_key() {
    let server = MockServer::start().await;
    let (plane, _clock) = plane(&server);

    let error = plane
        .remove_application(&request("77", Ring::Global))
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(
        error.to_string().contains("connectors.jamf.rings.Global"),
        "{error}"
    );
}

#[tokio::test]
async fn health_failure_is_reported_unhealthy() {
    let server = MockServer::start().await;
    mount_api_token(&server, TOKEN_1).await;
    Mock::given(method("GET"))
        .and(path("/api/v1/jamf-pro-version"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "httpStatus": 403, "errors": [{"code": "INVALID_PRIVILEGE", "description": "x"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let report = plane.health().await.unwrap();

    assert!(!report.healthy);
    assert_eq!(
        report.detail,
        "Jamf health check failed: HTTP 403 (INVALID_PRIVILEGE)"
    );
}

#[test]
fn config_rejects_more_than_five_connections() {
    let server_uri = "http://127.0.0.1:9";
    let message = build_error(json!({
        "url": server_uri, "client_id": "a", "client_secret": "b", "max_concurrency": 6
    }));
    assert!(
        message.starts_with("connectors.jamf.max_concurrency: 6 is outside 1..=5"),
        "{message}"
    );
}

#[test]
fn config_errors_name_key_and_fix() {
    let url = "http://127.0.0.1:9";
    let cases = [
        (
            json!({"url": url}),
            "connectors.jamf.client_id: no credentials",
        ),
        (
            json!({"url": url, "client_id": "a", "client_secret": "b",
                   "username": "u", "password": "p"}),
            "connectors.jamf.client_id: both an API client and a user account",
        ),
        (
            json!({"url": url, "username": "u"}),
            "connectors.jamf.password: username is set without password",
        ),
        (
            json!({"url": "http://jamf.example.com", "client_id": "a", "client_secret": "b"}),
            "connectors.jamf.url: \"http://jamf.example.com\" must use https",
        ),
        (
            json!({"url": url, "client_id": "a", "client_secret": "b", "rings": {"prod": 4}}),
            "connectors.jamf.rings.prod: unknown ring \"prod\"",
        ),
        (
            json!({"url": url, "client_id": "a", "client_secret": "b", "rings": {"Canary": "x"}}),
            "connectors.jamf.rings.Canary: \"x\" is not a computer group id",
        ),
        (
            json!({"url": url, "client_id": "a", "client_secret": "b",
                   "rings": {"Canary": 1, "canary": 2}}),
            "is listed twice",
        ),
        (
            json!({"url": url, "client_id": "a", "client_secret": "b", "policy_name": "Install"}),
            "connectors.jamf.policy_name: \"Install\" lacks the {name} placeholder",
        ),
        (
            json!({"url": url, "client_id": "a", "client_secret": "b", "page_size": 0}),
            "connectors.jamf.page_size: 0 is outside 1..=2000",
        ),
    ];
    for (config, expected) in cases {
        let message = build_error(config.clone());
        assert!(message.contains(expected), "{config}: {message}");
    }
}

#[test]
fn config_rejects_unknown_keys() {
    let error = serde_json::from_value::<JamfConfig>(json!({
        "url": "https://contoso.jamfcloud.com", "client_secret_value": "x"
    }))
    .unwrap_err();
    assert!(error.to_string().contains("unknown field"), "{error}");
}

/// A log sink shared between the subscriber and the test.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn credentials_stay_out_of_logs_and_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/auth/token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(token_body(TOKEN_1, "2026-01-01T00:20:00Z")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/jamf-pro-version"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": "11.30.0"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/JSSResource/policies/id/77"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_string(format!("<html>token {TOKEN_1} password {PASSWORD}</html>")),
        )
        .mount(&server)
        .await;
    let config: JamfConfig = serde_json::from_value(user_config(&server)).unwrap();
    let config_debug = format!("{config:?}");
    let plane = config.build(Arc::new(FakeClock::default())).unwrap();
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();

    let error = {
        let _default = tracing::subscriber::set_default(subscriber);
        plane.health().await.unwrap();
        plane
            .remove_application(&request("77", Ring::Canary))
            .await
            .unwrap_err()
    };

    let logs = logs.text();
    assert!(logs.contains("retrying"), "{logs}");
    let outputs = [
        ("logs", logs),
        ("error Display", error.to_string()),
        ("error Debug", format!("{error:?}")),
        ("adapter Debug", format!("{plane:?}")),
        ("config Debug", config_debug),
    ];
    for (what, text) in &outputs {
        for secret in [PASSWORD, TOKEN_1] {
            assert!(!text.contains(secret), "{what} contains {secret}: {text}");
        }
    }
}

#[tokio::test]
async fn api_client_secret_stays_out_of_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/oauth/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client", "error_description": format!("bad secret {CLIENT_SECRET}")
        })))
        .expect(1)
        .mount(&server)
        .await;
    let config: JamfConfig = serde_json::from_value(api_client_config(&server)).unwrap();
    let config_debug = format!("{config:?}");
    let plane = config.build(Arc::new(FakeClock::default())).unwrap();

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Unauthorized);
    for text in [
        error.to_string(),
        format!("{error:?}"),
        format!("{plane:?}"),
        config_debug,
    ] {
        assert!(!text.contains(CLIENT_SECRET), "{text}");
    }
}
