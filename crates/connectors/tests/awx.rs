//! Tests of the AWX / Automation Platform controller adapter against wiremock on 127.0.0.1,
//! responding with the controller's paths, fields, `next` links and status codes.
#![cfg(feature = "awx")]

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connectors::awx::{AwxConfig, AwxPlane};
use ops_core::ports::{ExecutionPlane, RemovalOutcome, RemovalRequest};
use ops_core::{ConnectorKind, CorrelationId, DeployedApp, ErrorKind, Platform, Ring};
use ops_testkit::FakeClock;
use serde_json::{Value, json};
use wiremock::matchers::{
    body_partial_json, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "tok-3f9a1c-do-not-log";
const BEARER: &str = "Bearer tok-3f9a1c-do-not-log";

// ---------------------------------------------------------------------------------------------
// Building the adapter

fn config_json(server: &MockServer) -> Value {
    json!({
        "url": server.uri(),
        "token": TOKEN,
        "inventory": 3,
        "uninstall_job_template": 42,
        "rings": {"canary": "ring_canary"},
        "poll_interval_seconds": 10,
        "job_timeout_seconds": 60,
        "page_size": 2,
        "timeout_seconds": 5,
        "max_concurrency": 2,
    })
}

fn build(config: Value) -> (AwxPlane, Arc<FakeClock>) {
    let clock = Arc::new(FakeClock::default());
    let config: AwxConfig = serde_json::from_value(config).unwrap();
    (config.build(clock.clone()).unwrap(), clock)
}

fn plane(server: &MockServer) -> (AwxPlane, Arc<FakeClock>) {
    build(config_json(server))
}

fn removal() -> RemovalRequest {
    RemovalRequest {
        correlation_id: CorrelationId::generate("rb"),
        application_id: "contoso-agent".to_owned(),
        app_name: "contoso-agent".to_owned(),
        version: "4.2.1-1".to_owned(),
        platform: Platform::Debian,
        ring: Ring::Canary,
    }
}

fn ok_json(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

// ---------------------------------------------------------------------------------------------
// remove_application

fn launch_info(ask_limit: bool, ask_variables: bool) -> Value {
    json!({
        "can_start_without_user_input": true,
        "passwords_needed_to_start": [],
        "ask_limit_on_launch": ask_limit,
        "ask_variables_on_launch": ask_variables,
        "survey_enabled": false,
        "variables_needed_to_start": [],
        "defaults": {"limit": "", "extra_vars": "", "inventory": {"name": "Linux fleet", "id": 3}},
        "job_template_data": {"name": "Uninstall package", "id": 42, "description": ""},
    })
}

async fn mount_launch_info(server: &MockServer, info: Value) {
    Mock::given(method("GET"))
        .and(path("/api/v2/job_templates/42/launch/"))
        .and(header("authorization", BEARER))
        .respond_with(ok_json(info))
        .expect(1)
        .mount(server)
        .await;
}

async fn mount_launch(server: &MockServer, response: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path("/api/v2/job_templates/42/launch/"))
        .and(header("authorization", BEARER))
        .and(body_partial_json(json!({
            "limit": "ring_canary",
            "extra_vars": {"app_name": "contoso-agent", "app_version": "4.2.1-1", "application_id": "contoso-agent"},
        })))
        .respond_with(response)
        .expect(times)
        .mount(server)
        .await;
}

fn launched(ignored_fields: Value) -> ResponseTemplate {
    ResponseTemplate::new(201)
        .insert_header("Location", "/api/v2/jobs/913/")
        .set_body_json(json!({
            "job": 913, "ignored_fields": ignored_fields, "id": 913, "type": "job",
            "url": "/api/v2/jobs/913/", "status": "pending", "job_template": 42, "inventory": 3,
        }))
}

/// Responds to `GET jobs/913/` with each status in turn, then with the last one for good.
async fn mount_job_statuses(server: &MockServer, statuses: &[&str], explanation: &str) {
    let (last, earlier) = statuses.split_last().unwrap();
    for status in earlier {
        Mock::given(method("GET"))
            .and(path("/api/v2/jobs/913/"))
            .respond_with(ok_json(
                json!({"id": 913, "status": status, "failed": false, "job_explanation": ""}),
            ))
            .up_to_n_times(1)
            .expect(1)
            .mount(server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/api/v2/jobs/913/"))
        .respond_with(ok_json(json!({"id": 913, "status": last, "failed": *last != "successful", "job_explanation": explanation})))
        .mount(server)
        .await;
}

async fn mount_host_summaries(server: &MockServer, changed: [u64; 3]) {
    Mock::given(method("GET"))
        .and(path("/api/v2/jobs/913/job_host_summaries/"))
        .and(query_param("page_size", "2"))
        .and(query_param_is_missing("page"))
        .respond_with(ok_json(json!({
            "count": 3, "next": "/api/v2/jobs/913/job_host_summaries/?page=2&page_size=2", "previous": null,
            "results": [
                {"host_name": "web01", "ok": 3, "changed": changed[0], "failures": 0, "dark": 0, "skipped": 0, "failed": false},
                {"host_name": "web02", "ok": 3, "changed": changed[1], "failures": 0, "dark": 0, "skipped": 0, "failed": false},
            ],
        })))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/jobs/913/job_host_summaries/"))
        .and(query_param("page", "2"))
        .respond_with(ok_json(json!({
            "count": 3, "next": null, "previous": "/api/v2/jobs/913/job_host_summaries/?page_size=2",
            "results": [{"host_name": "db01", "ok": 2, "changed": changed[2], "failures": 0, "dark": 0, "skipped": 1, "failed": false}],
        })))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn remove_launches_limited_job_and_waits_for_it() {
    let server = MockServer::start().await;
    mount_launch_info(&server, launch_info(true, true)).await;
    mount_launch(&server, launched(json!({})), 1).await;
    mount_job_statuses(&server, &["pending", "running", "successful"], "").await;
    mount_host_summaries(&server, [0, 0, 1]).await;
    let (plane, clock) = plane(&server);

    let outcome = plane.remove_application(&removal()).await.unwrap();

    assert_eq!(outcome, RemovalOutcome::Removed);
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(10), Duration::from_secs(10)]
    );
    assert_eq!(plane.kind(), ConnectorKind::Ansible);
    let launch = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|request| request.method.as_str() == "POST")
        .unwrap();
    let body: Value = serde_json::from_slice(&launch.body).unwrap();
    assert!(
        body["extra_vars"]["correlation_id"]
            .as_str()
            .unwrap()
            .starts_with("rb-"),
        "{body}"
    );
}

#[tokio::test]
async fn run_without_changes_is_already_absent() {
    let server = MockServer::start().await;
    mount_launch_info(&server, launch_info(true, true)).await;
    mount_launch(&server, launched(json!({})), 1).await;
    mount_job_statuses(&server, &["successful"], "").await;
    mount_host_summaries(&server, [0, 0, 0]).await;
    let (plane, clock) = plane(&server);

    let outcome = plane.remove_application(&removal()).await.unwrap();

    assert_eq!(outcome, RemovalOutcome::AlreadyAbsent);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn launch_refused_without_limit_prompt() {
    let server = MockServer::start().await;
    mount_launch_info(&server, launch_info(false, true)).await;
    mount_launch(&server, launched(json!({})), 0).await;
    let (plane, _clock) = plane(&server);

    let error = plane.remove_application(&removal()).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(
        error.to_string().contains("ask_limit_on_launch is false"),
        "{error}"
    );
    assert!(error.to_string().contains("whole inventory"), "{error}");
}

#[tokio::test]
async fn launch_refused_without_variables_prompt() {
    let server = MockServer::start().await;
    mount_launch_info(&server, launch_info(true, false)).await;
    mount_launch(&server, launched(json!({})), 0).await;
    let (plane, _clock) = plane(&server);

    let error = plane.remove_application(&removal()).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(
        error
            .to_string()
            .contains("ask_variables_on_launch is false"),
        "{error}"
    );
}

#[tokio::test]
async fn launch_refused_on_another_inventory() {
    let server = MockServer::start().await;
    let mut info = launch_info(true, true);
    info["defaults"]["inventory"]["id"] = json!(7);
    mount_launch_info(&server, info).await;
    mount_launch(&server, launched(json!({})), 0).await;
    let (plane, _clock) = plane(&server);

    let error = plane.remove_application(&removal()).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.to_string().contains("runs on inventory 7"), "{error}");
}

#[tokio::test]
async fn missing_survey_answer_is_invalid_input() {
    let server = MockServer::start().await;
    let mut info = launch_info(true, true);
    info["survey_enabled"] = json!(true);
    info["variables_needed_to_start"] = json!(["change_ticket"]);
    mount_launch_info(&server, info).await;
    mount_launch(
        &server,
        ResponseTemplate::new(400).set_body_json(json!({
            "variables_needed_to_start": ["'change_ticket' value missing"],
        })),
        1,
    )
    .await;
    let (plane, _clock) = plane(&server);

    let error = plane.remove_application(&removal()).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(
        error
            .to_string()
            .contains("other required questions have defaults"),
        "{error}"
    );
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert_eq!(cause, "Ansible launch job failed: HTTP 400");
}

#[tokio::test]
async fn ignored_fields_cancel_the_job() {
    let server = MockServer::start().await;
    mount_launch_info(&server, launch_info(true, true)).await;
    mount_launch(&server, launched(json!({"limit": "ring_canary"})), 1).await;
    Mock::given(method("POST"))
        .and(path("/api/v2/jobs/913/cancel/"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v2/jobs/913/"))
        .respond_with(ok_json(json!({})))
        .expect(0)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane.remove_application(&removal()).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        error.to_string(),
        "Ansible launch job failed: the controller ignored limit when launching job template \
         42; enable Prompt on launch for them in the template; job 913 was cancelled"
    );
}

#[tokio::test]
async fn failed_job_names_job_and_explanation() {
    let server = MockServer::start().await;
    mount_launch_info(&server, launch_info(true, true)).await;
    mount_launch(&server, launched(json!({})), 1).await;
    mount_job_statuses(
        &server,
        &["running", "failed"],
        "Previous Task Failed:\n {\"job_type\": \"project_update\"}",
    )
    .await;
    let (plane, _clock) = plane(&server);

    let error = plane.remove_application(&removal()).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert_eq!(
        error.to_string(),
        "Ansible wait for job failed: uninstall job 913 ended failed (Previous Task Failed: \
         {\"job_type\": \"project_update\"}): read its output in the controller"
    );
}

#[tokio::test]
async fn job_timeout_leaves_job_running() {
    let server = MockServer::start().await;
    mount_launch_info(&server, launch_info(true, true)).await;
    mount_launch(&server, launched(json!({})), 1).await;
    mount_job_statuses(&server, &["running"], "").await;
    Mock::given(path("/api/v2/jobs/913/cancel/"))
        .respond_with(ResponseTemplate::new(202))
        .expect(0)
        .mount(&server)
        .await;
    let (plane, clock) = plane(&server);

    let error = plane.remove_application(&removal()).await.unwrap_err();

    assert!(
        error
            .to_string()
            .contains("job 913 is still running after 60 s"),
        "{error}"
    );
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(10); 6]);
}

#[tokio::test]
async fn read_scope_token_cannot_launch() {
    let server = MockServer::start().await;
    mount_launch_info(&server, launch_info(true, true)).await;
    mount_launch(
        &server,
        ResponseTemplate::new(403)
            .set_body_json(json!({"detail": "You do not have permission to perform this action."})),
        1,
    )
    .await;
    let (plane, _clock) = plane(&server);

    let error = plane.remove_application(&removal()).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Unauthorized);
    assert!(
        error
            .to_string()
            .contains("a read-scope token cannot launch jobs"),
        "{error}"
    );
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert_eq!(cause, "Ansible launch job failed: HTTP 403");
}

#[tokio::test]
async fn missing_job_template_names_config_key() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v2/job_templates/42/launch/"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"detail": "Not found."})))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane.remove_application(&removal()).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(
        error
            .to_string()
            .contains("connectors.ansible.uninstall_job_template"),
        "{error}"
    );
}

#[tokio::test]
async fn unmapped_ring_names_config_key() {
    let server = MockServer::start().await;
    let (plane, _clock) = plane(&server);

    let error = plane
        .remove_application(&RemovalRequest {
            ring: Ring::Pilot,
            ..removal()
        })
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(
        error.to_string().contains("connectors.ansible.rings.Pilot"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// deployed_applications

async fn mount_group(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/api/v2/inventories/3/groups/"))
        .and(query_param("name", "ring_canary"))
        .and(header("authorization", BEARER))
        .respond_with(ok_json(json!({
            "count": 1, "next": null, "previous": null,
            "results": [{"id": 5, "type": "group", "name": "ring_canary", "inventory": 3, "variables": ""}],
        })))
        .expect(1)
        .mount(server)
        .await;
}

fn host(id: u64, name: &str, enabled: bool) -> Value {
    json!({"id": id, "type": "host", "name": name, "inventory": 3, "enabled": enabled, "variables": "", "has_active_failures": false})
}

async fn mount_facts(server: &MockServer, host: u64, facts: Value, times: u64) {
    Mock::given(method("GET"))
        .and(path(format!("/api/v2/hosts/{host}/ansible_facts/")))
        .respond_with(ok_json(facts))
        .expect(times)
        .mount(server)
        .await;
}

fn apt(name: &str, version: &str) -> Value {
    json!([{"name": name, "version": version, "arch": "amd64", "category": "net", "origin": "Debian", "source": "apt"}])
}

#[tokio::test]
async fn deployed_applications_follow_next_and_count_hosts() {
    let server = MockServer::start().await;
    mount_group(&server).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/groups/5/all_hosts/"))
        .and(query_param("page_size", "2"))
        .and(query_param_is_missing("page"))
        .respond_with(ok_json(json!({
            "count": 4, "next": "/api/v2/groups/5/all_hosts/?page=2&page_size=2", "previous": null,
            "results": [host(11, "web01", true), host(12, "web02", true)],
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/groups/5/all_hosts/"))
        .and(query_param("page", "2"))
        .respond_with(ok_json(json!({
            "count": 4, "next": null, "previous": "/api/v2/groups/5/all_hosts/?page_size=2",
            "results": [host(13, "db01", true), host(14, "old01", false)],
        })))
        .expect(1)
        .mount(&server)
        .await;
    mount_facts(&server, 11, json!({"ansible_distribution": "Debian", "packages": {
        "contoso-agent": apt("contoso-agent", "4.2.1-1"), "curl": apt("curl", "7.88.1-10+deb12u5"),
    }}), 1).await;
    mount_facts(
        &server,
        12,
        json!({"packages": {"contoso-agent": apt("contoso-agent", "4.2.1-1")}}),
        1,
    )
    .await;
    mount_facts(&server, 13, json!({"packages": {"openssl": [
        {"name": "openssl", "version": "1.1.1k", "release": "9.el8", "epoch": 1, "arch": "x86_64", "source": "rpm"},
    ]}}), 1).await;
    mount_facts(&server, 14, json!({}), 0).await;
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
            app("contoso-agent", "4.2.1-1", Platform::Debian, 2),
            app("curl", "7.88.1-10+deb12u5", Platform::Debian, 1),
            app("openssl", "1:1.1.1k-9.el8", Platform::Rpm, 1),
        ]
    );
}

#[tokio::test]
async fn hosts_without_facts_are_counted_in_a_warning() {
    let logs = LogBuffer::default();
    let _guard = capture_logs(&logs, tracing::Level::WARN);
    let server = MockServer::start().await;
    mount_group(&server).await;
    Mock::given(path("/api/v2/groups/5/all_hosts/"))
        .respond_with(ok_json(json!({"count": 2, "next": null, "results": [host(11, "web01", true), host(12, "web02", true)]})))
        .expect(1)
        .mount(&server)
        .await;
    mount_facts(&server, 11, json!({}), 1).await;
    mount_facts(
        &server,
        12,
        json!({"packages": {"curl": apt("curl", "7.88.1")}}),
        1,
    )
    .await;
    let (plane, _clock) = plane(&server);

    let apps = plane.deployed_applications(Ring::Canary).await.unwrap();

    assert_eq!(apps.len(), 1);
    let logs = logs.text();
    assert_eq!(logs.matches("no cached package facts").count(), 1, "{logs}");
    assert!(logs.contains("hosts=1"), "{logs}");
    assert!(logs.contains("first=web01"), "{logs}");
}

#[tokio::test]
async fn unknown_group_names_config_key() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v2/inventories/3/groups/"))
        .respond_with(ok_json(json!({"count": 0, "next": null, "results": []})))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(
        error
            .to_string()
            .contains("connectors.ansible.rings.Canary"),
        "{error}"
    );
}

#[tokio::test]
async fn malformed_facts_name_connector_and_call() {
    let server = MockServer::start().await;
    mount_group(&server).await;
    Mock::given(path("/api/v2/groups/5/all_hosts/"))
        .respond_with(ok_json(
            json!({"count": 1, "next": null, "results": [host(11, "web01", true)]}),
        ))
        .mount(&server)
        .await;
    Mock::given(path("/api/v2/hosts/11/ansible_facts/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"packages\": {\"curl\": ["))
        .expect(1)
        .mount(&server)
        .await;
    let (plane, _clock) = plane(&server);

    let error = plane.deployed_applications(Ring::Canary).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert!(
        error
            .to_string()
            .starts_with("Ansible read host facts failed: the response is not the expected JSON"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// health, tokens and resilience

async fn mount_me(server: &MockServer, authorization: &str, times: u64) {
    Mock::given(method("GET"))
        .and(path("/api/v2/me/"))
        .and(header("authorization", authorization))
        .respond_with(ok_json(json!({"count": 1, "next": null, "results": [{"id": 4, "type": "user", "username": "ops-bot"}]})))
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn health_reports_the_signed_in_user() {
    let server = MockServer::start().await;
    mount_me(&server, BEARER, 1).await;
    let (plane, _clock) = plane(&server);

    let report = plane.health().await.unwrap();

    assert!(report.healthy);
    assert_eq!(report.detail, "signed in as ops-bot");
}

#[tokio::test]
async fn gateway_api_path_is_used() {
    let server = MockServer::start().await;
    Mock::given(path("/api/controller/v2/me/"))
        .respond_with(ok_json(
            json!({"count": 1, "next": null, "results": [{"username": "ops-bot"}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = config_json(&server);
    config["api_path"] = json!("/api/controller/v2/");
    let (plane, _clock) = build(config);

    assert!(plane.health().await.unwrap().healthy);
}

#[tokio::test]
async fn throttling_waits_for_retry_after() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v2/me/"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "5"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_me(&server, BEARER, 1).await;
    let (plane, clock) = plane(&server);

    assert!(plane.health().await.unwrap().healthy);
    assert_eq!(clock.sleeps(), [Duration::from_secs(5)]);
}

#[tokio::test]
async fn server_error_is_retried_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v2/me/"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_me(&server, BEARER, 1).await;
    let (plane, clock) = plane(&server);

    assert!(plane.health().await.unwrap().healthy);
    assert_eq!(clock.sleeps().len(), 1);
}

/// Writes a new token into the token file and responds 401, as when an operator rotates a
/// token that the controller has just revoked.
struct RotateToken {
    file: PathBuf,
}

impl Respond for RotateToken {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        std::fs::write(&self.file, "token-2\n").unwrap();
        ResponseTemplate::new(401)
            .set_body_json(json!({"detail": "Authentication credentials were not provided."}))
    }
}

#[tokio::test]
async fn token_file_is_read_again_after_401() {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("awx-token");
    std::fs::write(&file, "token-1\n").unwrap();
    let server = MockServer::start().await;
    Mock::given(header("authorization", "Bearer token-1"))
        .respond_with(RotateToken { file: file.clone() })
        .expect(1)
        .mount(&server)
        .await;
    mount_me(&server, "Bearer token-2", 2).await;
    let mut config = config_json(&server);
    config["token"] = Value::Null;
    config["token_file"] = json!(file);
    let (plane, _clock) = build(config);

    assert!(plane.health().await.unwrap().healthy);
    assert!(plane.health().await.unwrap().healthy);
}

#[tokio::test]
async fn rejected_inline_token_is_unauthorized() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v2/me/"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"detail": "Invalid token."})))
        .expect(2)
        .mount(&server)
        .await;
    let (plane, clock) = plane(&server);

    let report = plane.health().await.unwrap();

    assert!(!report.healthy);
    assert_eq!(report.detail, "Ansible health check failed: HTTP 401");
    assert!(clock.sleeps().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[test]
fn config_errors_name_the_key() {
    let server_uri = "https://awx.contoso.com";
    let base = json!({
        "url": server_uri, "token": TOKEN, "inventory": 3, "uninstall_job_template": 42,
        "rings": {"canary": "ring_canary"},
    });
    let cases = [
        (
            "url",
            json!("http://awx.contoso.com"),
            "connectors.ansible.url",
        ),
        (
            "api_path",
            json!("/api/v2/../x"),
            "connectors.ansible.api_path",
        ),
        (
            "rings",
            json!({"canary": "web*:&prod"}),
            "connectors.ansible.rings.canary",
        ),
        (
            "rings",
            json!({"qa": "ring_qa"}),
            "connectors.ansible.rings.qa",
        ),
        ("page_size", json!(500), "connectors.ansible.page_size"),
        (
            "poll_interval_seconds",
            json!(0),
            "connectors.ansible.poll_interval_seconds",
        ),
        (
            "job_timeout_seconds",
            json!(5),
            "connectors.ansible.job_timeout_seconds",
        ),
        ("token", Value::Null, "connectors.ansible.token"),
        (
            "token_file",
            json!("/run/secrets/awx-token"),
            "connectors.ansible.token",
        ),
    ];
    for (key, value, expected) in cases {
        let mut config = base.clone();
        config[key] = value;
        let config: AwxConfig = serde_json::from_value(config).unwrap();
        let error = config.build(Arc::new(FakeClock::default())).unwrap_err();
        assert_eq!(error.key, expected, "{key}: {error}");
    }
    let mut config = base.clone();
    config["tokn"] = json!("typo");
    let error = serde_json::from_value::<AwxConfig>(config).unwrap_err();
    assert!(
        error.to_string().contains("unknown field `tokn`"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// Secrets

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs(logs: &LogBuffer, level: tracing::Level) -> tracing::subscriber::DefaultGuard {
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_default(subscriber)
}
