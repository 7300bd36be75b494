//! The Canonical Landscape adapter against a mock Landscape server on 127.0.0.1.

#![cfg(feature = "landscape")]

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use connectors::landscape::{LandscapeConfig, LandscapePlane};
use hmac::{KeyInit, Mac};
use ops_core::ports::{ExecutionPlane, RemovalOutcome, RemovalRequest};
use ops_core::{ConnectorKind, CorrelationId, DeployedApp, ErrorKind, Platform, Ring};
use ops_testkit::FakeClock;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const ACCESS_KEY: &str = "3AS5YX98J8QI9AZ8OS0V";
const SECRET_KEY: &str = "landscape-secret-key-9d0c1/+=";
const PASSWORD: &str = "landscape-password-e71aa";
/// 2026-01-01T00:00:00Z, where `FakeClock::default()` starts.
const START: i64 = 1_767_225_600;

/// Builds a JWT whose payload carries `exp`; the signature part is a placeholder, because
/// only the server checks it.
fn jwt(subject: &str, exp: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(json!({"sub": subject, "exp": exp}).to_string());
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

fn access_key_config(server: &MockServer) -> Value {
    json!({
        "url": server.uri(),
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "rings": {"canary": "canary", "Pilot": "pilot"},
    })
}

fn password_config(server: &MockServer) -> Value {
    json!({
        "url": server.uri(),
        "email": "ops@example.com",
        "password": PASSWORD,
        "account": "acme",
        "rings": {"Canary": "canary"},
    })
}

fn build(config: Value, clock: Arc<FakeClock>) -> LandscapePlane {
    let config: LandscapeConfig = serde_json::from_value(config).unwrap();
    config.build(clock).unwrap()
}

fn plane(server: &MockServer) -> (LandscapePlane, Arc<FakeClock>) {
    let clock = Arc::new(FakeClock::default());
    (build(access_key_config(server), clock.clone()), clock)
}

fn build_error(config: Value) -> String {
    let config: LandscapeConfig = serde_json::from_value(config).unwrap();
    config
        .build(Arc::new(FakeClock::default()))
        .unwrap_err()
        .to_string()
}

/// Mounts an access-key login response with `token`, served once.
async fn mount_login(server: &MockServer, token: &str) {
    Mock::given(method("POST"))
        .and(path("/api/v2/login/access-key"))
        .and(body_json(json!({
            "access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "expiry_minutes": 60
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token": token, "email": "ops@example.com", "name": "Ops",
            "accounts": [{"name": "acme", "title": "Acme", "default": true}],
            "current_account": "acme"
        })))
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn on_computer(id: u64, status: &str, version: Option<&str>) -> Value {
    json!({"id": id, "status": status, "current_version": version,
           "available_version": version.unwrap_or("9.9-1")})
}

fn package(name: &str, computers: Vec<Value>) -> Value {
    json!({"id": name.len(), "name": name, "summary": format!("{name} package"), "computers": computers})
}

fn packages_page(count: u64, results: Vec<Value>, next: Option<&str>) -> Value {
    json!({"count": count, "results": results, "next": next, "previous": null})
}

fn request(app_name: &str, version: &str, ring: Ring) -> RemovalRequest {
    RemovalRequest {
        correlation_id: CorrelationId::generate("rollback"),
        application_id: format!("deb:{app_name}"),
        app_name: app_name.to_owned(),
        version: version.to_owned(),
        platform: Platform::Debian,
        ring,
    }
}

fn app(name: &str, version: &str, devices: u64) -> DeployedApp {
    DeployedApp {
        name: name.to_owned(),
        version: version.to_owned(),
        platform: Platform::Debian,
        devices,
    }
}

fn activity(id: u64, status: &str, result_text: Option<&str>) -> Value {
    json!({
        "id": id, "type": "ActivityGroup", "summary": "Remove package contoso-agent",
        "activity_status": status, "result_text": result_text, "result_code": null,
        "computer_id": null, "parent_id": null, "creation_time": "2026-01-01T00:00:00Z",
        "creator": {"email": "ops@example.com", "id": 1, "name": "Ops"},
        "deliver_delay_window": 0
    })
}

/// Percent-encodes as the Landscape legacy API documents: RFC 3986 unreserved characters as
/// they are, every other byte as `%XY`.
fn rfc3986(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Matches legacy requests whose signature is valid for `SECRET_KEY`, recomputed from the
/// received request as Landscape's server would.
struct ValidSignature;

impl Match for ValidSignature {
    fn matches(&self, request: &Request) -> bool {
        let mut parameters: Vec<(String, String)> = request
            .url
            .query_pairs()
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        let Some(position) = parameters.iter().position(|(name, _)| name == "signature") else {
            return false;
        };
        let (_, signature) = parameters.remove(position);
        parameters.sort();
        let canonical: Vec<String> = parameters
            .iter()
            .map(|(name, value)| format!("{}={}", rfc3986(name), rfc3986(value)))
            .collect();
        let host = request.headers["host"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        let string_to_sign = format!(
            "{}\n{host}\n{}\n{}",
            request.method,
            request.url.path(),
            canonical.join("&")
        );
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET_KEY.as_bytes()).unwrap();
        mac.update(string_to_sign.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes()) == signature
    }
}

/// Matches legacy requests signed at the fake clock's current minute with the test key.
fn signed_now() -> impl Fn(&Request) -> bool + Send + Sync {
    |request: &Request| {
        let pairs: Vec<(String, String)> = request
            .url
            .query_pairs()
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        let has =
            |name: &str, value: &str| pairs.iter().any(|pair| pair.0 == name && pair.1 == value);
        has("access_key_id", ACCESS_KEY)
            && has("signature_method", "HmacSHA256")
            && has("signature_version", "2")
            && has("version", "2011-08-01")
            && pairs
                .iter()
                .any(|(name, value)| name == "timestamp" && value.starts_with("2026-01-01T00:"))
            && request.headers.get("authorization").is_none()
    }
}

async fn mount_installed(server: &MockServer, package_name: &str, computers: Vec<Value>) {
    Mock::given(method("GET"))
        .and(path("/api/v2/packages"))
        .and(query_param("query", "tag:canary"))
        .and(query_param("installed", "true"))
        .and(query_param("names.1", package_name))
        .respond_with(ResponseTemplate::new(200).set_body_json(packages_page(
            1,
            vec![package(package_name, computers)],
            None,
        )))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn installed_packages_are_aggregated_over_pages() {
    let server = MockServer::start().await;
    let token = jwt("ops", START + 3600);
    mount_login(&server, &token).await;
    let next = format!(
        "{}/api/v2/packages?query=tag%3Acanary&limit=2&offset=2",
        server.uri()
    );
    let pages = [
        (
            "0",
            packages_page(
                3,
                vec![
                    package(
                        "curl",
                        vec![
                            on_computer(1, "installed", Some("8.5.0-2ubuntu10.6")),
                            on_computer(2, "installed", Some("8.5.0-2ubuntu10.6")),
                            on_computer(3, "available", None),
                        ],
                    ),
                    package(
                        "jq",
                        vec![on_computer(1, "installed", Some("1.7.1-3build1"))],
                    ),
                ],
                Some(&next),
            ),
        ),
        (
            "2",
            packages_page(
                3,
                vec![package(
                    "openssl",
                    vec![
                        on_computer(2, "installed", Some("3.0.13-0ubuntu3.5")),
                        on_computer(3, "installed", Some("3.0.13-0ubuntu3.4")),
                    ],
                )],
                None,
            ),
        ),
    ];
    for (offset, body) in pages {
        Mock::given(method("GET"))
            .and(path("/api/v2/packages"))
            .and(query_param("query", "tag:canary"))
            .and(query_param("installed", "true"))
            .and(query_param("limit", "2"))
            .and(query_param("offset", offset))
            .and(query_param_is_missing("names.1"))
            .and(header("authorization", bearer(&token).as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
            .mount(&server)
            .await;
    }
    let mut config = access_key_config(&server);
    config["page_size"] = json!(2);
    let plane = build(config, Arc::new(FakeClock::default()));

    let apps = plane.deployed_applications(Ring::Canary).await.unwrap();

    assert_eq!(plane.kind(), ConnectorKind::Landscape);
    assert_eq!(
        apps,
        [
            app("curl", "8.5.0-2ubuntu10.6", 2),
            app("jq", "1.7.1-3build1", 1),
            app("openssl", "3.0.13-0ubuntu3.4", 1),
            app("openssl", "3.0.13-0ubuntu3.5", 1),
        ]
    );
}

#[tokio::test]
async fn remove_signs_legacy_call_and_waits_for_activity() {
    let server = MockServer::start().await;
    mount_login(&server, &jwt("ops", START + 3600)).await;
    mount_installed(
        &server,
        "contoso-agent",
        vec![
            on_computer(1, "installed", Some("4.2.1-1")),
            on_computer(2, "available", None),
        ],
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/api/"))
        .and(query_param("action", "RemovePackages"))
        .and(query_param("query", "tag:canary"))
        .and(query_param("packages.1", "contoso-agent"))
        .and(signed_now())
        .and(ValidSignature)
        .respond_with(ResponseTemplate::new(200).set_body_json(activity(4107, "undelivered", None)))
        .expect(1)
        .mount(&server)
        .await;
    for (status, times) in [("delivered", 1), ("succeeded", 1)] {
        Mock::given(method("GET"))
            .and(path("/api/"))
            .and(query_param("action", "GetActivities"))
            .and(query_param("query", "id:4107"))
            .and(signed_now())
            .and(ValidSignature)
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!([activity(4107, status, None)])),
            )
            .up_to_n_times(times)
            .expect(1)
            .mount(&server)
            .await;
    }
    let (plane, clock) = plane(&server);

    let outcome = plane
        .remove_application(&request("contoso-agent", "4.2.1-1", Ring::Canary))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::Removed);
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(15), Duration::from_secs(15)]
    );
}

#[tokio::test]
async fn remove_when_nothing_installed_is_already_absent() {
    let server = MockServer::start().await;
    mount_login(&server, &jwt("ops", START + 3600)).await;
    mount_installed(
        &server,
        "contoso-agent",
        vec![on_computer(1, "available", None)],
    )
    .await;
    Mock::given(path("/api/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(activity(1, "succeeded", None)))
        .expect(0)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let outcome = plane
        .remove_application(&request("contoso-agent", "4.2.1-1", Ring::Canary))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::AlreadyAbsent);
}

#[tokio::test]
async fn remove_of_unknown_package_is_already_absent() {
    let server = MockServer::start().await;
    mount_login(&server, &jwt("ops", START + 3600)).await;
    mount_installed(
        &server,
        "contoso-agent",
        vec![on_computer(1, "installed", Some("4.2.1-1"))],
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/api/"))
        .and(query_param("action", "RemovePackages"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "error": "UnknownPackages", "message": "Unknown packages: contoso-agent"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let outcome = plane
        .remove_application(&request("contoso-agent", "4.2.1-1", Ring::Canary))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::AlreadyAbsent);
}

async fn mount_removal(server: &MockServer, activity_id: u64) {
    Mock::given(method("GET"))
        .and(path("/api/"))
        .and(query_param("action", "RemovePackages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(activity(
            activity_id,
            "undelivered",
            None,
        )))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn failed_activity_names_id_and_result() {
    let server = MockServer::start().await;
    mount_login(&server, &jwt("ops", START + 3600)).await;
    mount_installed(
        &server,
        "contoso-agent",
        vec![on_computer(1, "installed", Some("4.2.1-1"))],
    )
    .await;
    mount_removal(&server, 4108).await;
    Mock::given(method("GET"))
        .and(path("/api/"))
        .and(query_param("action", "GetActivities"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([activity(
            4108,
            "failed",
            Some("E: Unable to locate package\ncontoso-agent")
        )])))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane
        .remove_application(&request("contoso-agent", "4.2.1-1", Ring::Canary))
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert_eq!(
        error.to_string(),
        "Landscape wait for activity failed: activity 4108 ended failed: E: Unable to locate \
         package contoso-agent"
    );
}

#[tokio::test]
async fn unfinished_activity_times_out() {
    let server = MockServer::start().await;
    mount_login(&server, &jwt("ops", START + 3600)).await;
    mount_installed(
        &server,
        "contoso-agent",
        vec![on_computer(1, "installed", Some("4.2.1-1"))],
    )
    .await;
    mount_removal(&server, 4109).await;
    Mock::given(method("GET"))
        .and(path("/api/"))
        .and(query_param("action", "GetActivities"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([activity(
            4109,
            "delivered",
            None
        )])))
        .expect(4)
        .mount(&server)
        .await;
    let mut config = access_key_config(&server);
    config["poll_interval_seconds"] = json!(30);
    config["removal_timeout_seconds"] = json!(120);
    let clock = Arc::new(FakeClock::default());
    let plane = build(config, clock.clone());

    let error = plane
        .remove_application(&request("contoso-agent", "4.2.1-1", Ring::Canary))
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Transient);
    assert!(
        error
            .to_string()
            .contains("activity 4109 is still delivered after 120 s"),
        "{error}"
    );
    assert_eq!(clock.sleeps(), [Duration::from_secs(30); 4]);
}

#[tokio::test]
async fn password_login_sends_token_to_legacy_api() {
    let server = MockServer::start().await;
    let token = jwt("ops", START + 3600);
    Mock::given(method("POST"))
        .and(path("/api/v2/login"))
        .and(body_json(json!({
            "email": "ops@example.com", "password": PASSWORD, "account": "acme"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"token": token})))
        .expect(1)
        .mount(&server)
        .await;
    mount_installed(
        &server,
        "contoso-agent",
        vec![on_computer(1, "installed", Some("4.2.1-1"))],
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/api/"))
        .and(query_param("action", "RemovePackages"))
        .and(query_param("version", "2011-08-01"))
        .and(query_param_is_missing("signature"))
        .and(query_param_is_missing("access_key_id"))
        .and(header("authorization", bearer(&token).as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(activity(4110, "undelivered", None)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/"))
        .and(query_param("action", "GetActivities"))
        .and(header("authorization", bearer(&token).as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([activity(
            4110,
            "succeeded",
            None
        )])))
        .expect(1)
        .mount(&server)
        .await;
    let plane = build(password_config(&server), Arc::new(FakeClock::default()));

    let outcome = plane
        .remove_application(&request("contoso-agent", "4.2.1-1", Ring::Canary))
        .await
        .unwrap();

    assert_eq!(outcome, RemovalOutcome::Removed);
}

#[tokio::test]
async fn expired_token_is_replaced_once() {
    let server = MockServer::start().await;
    let first = jwt("first", START + 3600);
    let second = jwt("second", START + 3600);
    mount_login(&server, &first).await;
    mount_login(&server, &second).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/packages"))
        .and(header("authorization", bearer(&first).as_str()))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "Unauthorized", "message": "Token expired"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/packages"))
        .and(header("authorization", bearer(&second).as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(packages_page(0, vec![], None)))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let apps = plane.deployed_applications(Ring::Canary).await.unwrap();

    assert!(apps.is_empty());
}

#[tokio::test]
async fn token_is_renewed_before_jwt_expiry() {
    let server = MockServer::start().await;
    // The first token expires after 20 minutes, sooner than the 60 requested.
    let first = jwt("first", START + 1200);
    let second = jwt("second", START + 4800);
    mount_login(&server, &first).await;
    mount_login(&server, &second).await;
    for token in [&first, &second] {
        Mock::given(method("GET"))
            .and(path("/api/v2/computers"))
            .and(query_param("limit", "1"))
            .and(header("authorization", bearer(token).as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "count": 13, "results": [], "next": null, "previous": null
            })))
            .expect(1)
            .mount(&server)
            .await;
    }
    let (plane, clock) = plane(&server);

    let first_report = plane.health().await.unwrap();
    clock.advance(Duration::from_secs(16 * 60));
    let second_report = plane.health().await.unwrap();

    assert!(first_report.healthy, "{}", first_report.detail);
    assert_eq!(second_report.detail, "Landscape answered, 13 computers");
}

#[tokio::test]
async fn throttling_waits_for_retry_after() {
    let server = MockServer::start().await;
    mount_login(&server, &jwt("ops", START + 3600)).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/packages"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "9"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/packages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(packages_page(0, vec![], None)))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, clock) = plane(&server);

    plane.deployed_applications(Ring::Canary).await.unwrap();

    assert_eq!(clock.sleeps(), [Duration::from_secs(9)]);
}

#[tokio::test]
async fn server_error_is_retried() {
    let server = MockServer::start().await;
    mount_login(&server, &jwt("ops", START + 3600)).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/packages"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/packages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(packages_page(0, vec![], None)))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, clock) = plane(&server);

    plane.deployed_applications(Ring::Canary).await.unwrap();

    assert_eq!(clock.sleeps().len(), 2);
}

#[tokio::test]
async fn malformed_json_names_connector_and_call() {
    let server = MockServer::start().await;
    mount_login(&server, &jwt("ops", START + 3600)).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/packages"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"count\": 3, \"results\": [{"))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert!(
        error.to_string().starts_with(
            "Landscape list installed packages failed: the response is not the expected JSON"
        ),
        "{error}"
    );
}

#[tokio::test]
async fn access_key_login_on_old_server_explains_fix() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/login/access-key"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let report = plane.health().await.unwrap();

    assert!(!report.healthy);
    assert!(
        report.detail.contains("Landscape 24.10 or later"),
        "{}",
        report.detail
    );
}

#[tokio::test]
async fn rejected_credentials_are_unauthorized() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/login/access-key"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "InvalidCredentials", "message": format!("bad key {SECRET_KEY}")
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Unauthorized);
    assert_eq!(
        error.to_string(),
        "Landscape log in failed: HTTP 401 (InvalidCredentials): check \
         connectors.landscape.access_key and secret_key"
    );
}

#[tokio::test]
async fn invalid_package_name_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane
        .remove_application(&request("curl tag:all", "8.5.0", Ring::Canary))
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(
        error
            .to_string()
            .contains("\"curl tag:all\" is not a Debian package name"),
        "{error}"
    );
}

#[tokio::test]
async fn unmapped_ring_names_config_key() {
    let server = MockServer::start().await;
    let (plane, _clock) = plane(&server);

    let error = plane
        .deployed_applications(Ring::Department)
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(
        error
            .to_string()
            .contains("connectors.landscape.rings.Department"),
        "{error}"
    );
}

#[test]
fn config_errors_name_key_and_fix() {
    let url = "http://127.0.0.1:9";
    let key = |extra: Value| {
        let mut config = json!({"url": url, "access_key": "a", "secret_key": "b"});
        for (name, value) in extra.as_object().unwrap() {
            config[name] = value.clone();
        }
        config
    };
    let cases = [
        (
            json!({"url": url}),
            "connectors.landscape.access_key: no credentials",
        ),
        (
            key(json!({"email": "e", "password": "p"})),
            "connectors.landscape.access_key: both an API key and an email login",
        ),
        (
            json!({"url": url, "email": "e"}),
            "connectors.landscape.password: email is set without password",
        ),
        (
            key(json!({"account": "acme"})),
            "connectors.landscape.account: account applies to the email and password login only",
        ),
        (
            json!({"url": "http://landscape.example.com", "access_key": "a", "secret_key": "b"}),
            "connectors.landscape.url: \"http://landscape.example.com\" must use https",
        ),
        (
            key(json!({"rings": {"prod": "prod"}})),
            "connectors.landscape.rings.prod: unknown ring \"prod\"",
        ),
        (
            key(json!({"rings": {"Canary": "canary ring"}})),
            "connectors.landscape.rings.Canary: \"canary ring\" is not a Landscape tag",
        ),
        (
            key(json!({"page_size": 5000})),
            "connectors.landscape.page_size: 5000 is above 1000",
        ),
        (
            key(json!({"max_concurrency": 0})),
            "connectors.landscape.max_concurrency: 0 is not allowed",
        ),
        (
            key(json!({"poll_interval_seconds": 60, "removal_timeout_seconds": 30})),
            "connectors.landscape.poll_interval_seconds: 60 s is longer than removal_timeout_seconds",
        ),
    ];
    for (config, expected) in cases {
        let message = build_error(config.clone());
        assert!(message.contains(expected), "{config}: {message}");
    }
}

#[test]
fn config_rejects_unknown_keys() {
    let error = serde_json::from_value::<LandscapeConfig>(json!({
        "url": "https://landscape.example.com", "secret": "x"
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
    for config_of in [access_key_config, password_config] {
        let server = MockServer::start().await;
        let token = jwt("leak-check-token", START + 3600);
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"token": token})))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v2/packages"))
            .respond_with(ResponseTemplate::new(200).set_body_json(packages_page(
                1,
                vec![package(
                    "curl",
                    vec![on_computer(1, "installed", Some("8.5.0"))],
                )],
                None,
            )))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/"))
            .respond_with(ResponseTemplate::new(500).set_body_string(format!(
                "internal error for token {token} key {SECRET_KEY} password {PASSWORD}"
            )))
            .mount(&server)
            .await;
        let config: LandscapeConfig = serde_json::from_value(config_of(&server)).unwrap();
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
            plane.deployed_applications(Ring::Canary).await.unwrap();
            plane
                .remove_application(&request("curl", "8.5.0", Ring::Canary))
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
            for secret in [SECRET_KEY, PASSWORD, token.as_str()] {
                assert!(!text.contains(secret), "{what} contains {secret}: {text}");
            }
        }
    }
}
