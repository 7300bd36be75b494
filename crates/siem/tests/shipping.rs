//! Shipping to SIEMs, against mock servers and sockets on 127.0.0.1.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ops_core::audit::{AuditEvent, AuditEventType, Outcome};
use ops_core::ports::{AuditSink, Clock, Secret};
use ops_core::retry::RetryPolicy;
use ops_core::{CorrelationId, PortError};
use siem::cef::{CefSyslogConfig, SyslogProtocol};
use siem::sentinel::{SentinelConfig, SentinelTransport};
use siem::{
    AuditLog, AuditTrail, ClientCredentials, Forwarder, SiemConfig, SiemError, Spool, TokenProvider,
};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const DCR_PATH: &str =
    "/dataCollectionRules/dcr-0123456789abcdef0123456789abcdef/streams/Custom-OpsAudit";
const TOKEN: &str = "eyJ0eXAi.test-access-token.sig";
const CLIENT_SECRET: &str = "client-secret-value-7f3a";

/// A clock that records every pause and advances by it instead of sleeping.
struct RecordingClock {
    now: Mutex<DateTime<Utc>>,
    pauses: Mutex<Vec<Duration>>,
}

impl RecordingClock {
    fn new() -> Arc<RecordingClock> {
        Arc::new(RecordingClock {
            now: Mutex::new(DateTime::UNIX_EPOCH),
            pauses: Mutex::new(Vec::new()),
        })
    }

    fn advance(&self, duration: Duration) {
        *self.now.lock().unwrap() += chrono::Duration::from_std(duration).unwrap();
    }

    fn pauses(&self) -> Vec<Duration> {
        self.pauses.lock().unwrap().clone()
    }
}

#[async_trait]
impl Clock for RecordingClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }

    async fn sleep(&self, duration: Duration) {
        self.pauses.lock().unwrap().push(duration);
        self.advance(duration);
    }
}

/// A token provider that always returns the same token.
struct FixedToken;

#[async_trait]
impl TokenProvider for FixedToken {
    async fn token(&self) -> Result<Secret, PortError> {
        Ok(Secret::new(TOKEN))
    }
}

fn event(index: usize) -> AuditEvent {
    AuditEvent::new(
        AuditEventType::PromotionSubmitted,
        CorrelationId::parse(&format!("promote-{index}")).unwrap(),
        "ops@host",
        DateTime::<Utc>::UNIX_EPOCH,
        Outcome::Success,
    )
    .with_detail("index", index)
    .with_detail("ring", "Pilot")
}

fn retry_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
        max_retry_after: Duration::from_secs(60),
    }
}

fn sentinel_config(endpoint: &str, max_batch_bytes: usize, gzip: bool) -> SentinelConfig {
    SentinelConfig {
        endpoint: endpoint.to_owned(),
        dcr_immutable_id: "dcr-0123456789abcdef0123456789abcdef".to_owned(),
        stream_name: "Custom-OpsAudit".to_owned(),
        tenant_id: "contoso.onmicrosoft.com".to_owned(),
        client_id: "00000000-0000-0000-0000-000000000001".to_owned(),
        client_secret_env: "OPS_SIEM_CLIENT_SECRET".to_owned(),
        authority_host: "https://login.microsoftonline.com".to_owned(),
        scope: "https://monitor.azure.com/.default".to_owned(),
        max_batch_bytes,
        gzip,
        timeout_secs: 5,
        event_vendor: "Contoso".to_owned(),
    }
}

fn forwarder(
    spool_dir: &std::path::Path,
    endpoint: &str,
    max_batch_bytes: usize,
    gzip: bool,
    clock: Arc<RecordingClock>,
) -> Forwarder {
    let config = sentinel_config(endpoint, max_batch_bytes, gzip);
    let transport =
        SentinelTransport::new(&config, Arc::new(FixedToken), clock, retry_policy()).unwrap();
    Forwarder::new(Spool::open(spool_dir).unwrap(), Arc::new(transport))
}

/// Returns the request body, decompressed when it was sent with gzip.
fn body_of(request: &Request) -> Vec<u8> {
    let gzipped = request
        .headers
        .get("content-encoding")
        .is_some_and(|value| value == "gzip");
    if !gzipped {
        return request.body.clone();
    }
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(request.body.as_slice())
        .read_to_end(&mut body)
        .unwrap();
    body
}

/// Returns the `EventUid`s of a request body.
fn event_uids(request: &Request) -> Vec<String> {
    let records: Vec<serde_json::Value> = serde_json::from_slice(&body_of(request)).unwrap();
    records
        .iter()
        .map(|record| record["EventUid"].as_str().unwrap().to_owned())
        .collect()
}

/// Responds with 413 to bodies larger than `max` bytes and with 204 to the others.
struct RejectLargeBodies {
    max: usize,
}

impl wiremock::Respond for RejectLargeBodies {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if body_of(request).len() > self.max {
            ResponseTemplate::new(413)
        } else {
            ResponseTemplate::new(204)
        }
    }
}

async fn accepting_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(DCR_PATH))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn batches_stay_under_size_limit() {
    let server = accepting_server().await;
    let spool_dir = tempfile::tempdir().unwrap();
    let forwarder = forwarder(
        spool_dir.path(),
        &server.uri(),
        4096,
        true,
        RecordingClock::new(),
    );
    let events: Vec<AuditEvent> = (0..60).map(event).collect();
    for event in &events {
        forwarder.spool().push(event).unwrap();
    }

    let report = forwarder.flush(None).await.unwrap();
    assert_eq!(report.delivered, 60);
    assert!(forwarder.spool().is_empty().unwrap());

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), report.batches);
    assert!(requests.len() > 5, "{} requests", requests.len());
    let mut received = Vec::new();
    for request in &requests {
        assert!(
            body_of(request).len() <= 4096,
            "body of {} bytes",
            body_of(request).len()
        );
        assert_eq!(request.headers["content-encoding"], "gzip");
        assert_eq!(
            request.headers["authorization"],
            format!("Bearer {TOKEN}").as_str()
        );
        assert_eq!(request.url.query(), Some("api-version=2023-01-01"));
        received.extend(event_uids(request));
    }
    let expected: Vec<String> = events
        .iter()
        .map(|event| event.event_id.to_string())
        .collect();
    assert_eq!(received, expected, "all events, oldest first, each once");
}

#[tokio::test]
async fn too_large_batch_is_split() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(DCR_PATH))
        .respond_with(RejectLargeBodies { max: 1500 })
        .mount(&server)
        .await;
    let spool_dir = tempfile::tempdir().unwrap();
    let forwarder = forwarder(
        spool_dir.path(),
        &server.uri(),
        8192,
        false,
        RecordingClock::new(),
    );
    let events: Vec<AuditEvent> = (0..20).map(event).collect();
    for event in &events {
        forwarder.spool().push(event).unwrap();
    }

    let report = forwarder.flush(None).await.unwrap();
    assert_eq!(report.delivered, 20);
    assert!(report.rejected.is_empty());

    let requests = server.received_requests().await.unwrap();
    let rejected = requests
        .iter()
        .filter(|request| body_of(request).len() > 1500)
        .count();
    assert!(rejected > 0, "the mock never answered 413");
    let accepted: Vec<String> = requests
        .iter()
        .filter(|request| body_of(request).len() <= 1500)
        .flat_map(event_uids)
        .collect();
    let expected: Vec<String> = events
        .iter()
        .map(|event| event.event_id.to_string())
        .collect();
    assert_eq!(accepted, expected);
}

#[tokio::test]
async fn event_over_limit_is_rejected_by_id() {
    let server = accepting_server().await;
    let spool_dir = tempfile::tempdir().unwrap();
    let forwarder = forwarder(
        spool_dir.path(),
        &server.uri(),
        2048,
        true,
        RecordingClock::new(),
    );
    let huge = event(1).with_detail("blob", "x".repeat(4000));
    forwarder.spool().push(&event(0)).unwrap();
    forwarder.spool().push(&huge).unwrap();
    forwarder.spool().push(&event(2)).unwrap();

    let report = forwarder.flush(None).await.unwrap();
    assert_eq!(report.delivered, 2);
    assert_eq!(report.rejected.len(), 1);
    let rejected = &report.rejected[0];
    assert_eq!(rejected.event_id, Some(huge.event_id));
    assert!(
        rejected.reason.contains(&huge.event_id.to_string()),
        "{}",
        rejected.reason
    );
    assert!(rejected.path.exists());
    assert!(forwarder.spool().is_empty().unwrap());
}

#[tokio::test]
async fn throttling_honours_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(DCR_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(DCR_PATH))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let clock = RecordingClock::new();
    let spool_dir = tempfile::tempdir().unwrap();
    let forwarder = forwarder(
        spool_dir.path(),
        &server.uri(),
        1_000_000,
        true,
        clock.clone(),
    );
    forwarder.spool().push(&event(0)).unwrap();

    let report = forwarder.flush(None).await.unwrap();
    assert_eq!(report.delivered, 1);
    assert_eq!(clock.pauses(), [Duration::from_secs(7)]);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn outage_spools_then_flush_delivers_all() {
    // A port that was just free: connections to it are refused.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let state = tempfile::tempdir().unwrap();
    let log = AuditLog::open(state.path().join("audit")).unwrap();
    let clock = RecordingClock::new();
    let unreachable = forwarder(
        &state.path().join("spool"),
        &format!("http://127.0.0.1:{closed_port}"),
        1_000_000,
        true,
        clock.clone(),
    );
    let trail = AuditTrail::new(log.clone(), Some(unreachable));
    let events: Vec<AuditEvent> = (0..10).map(event).collect();
    for event in &events {
        trail.record(event).await.unwrap();
    }
    // The same event recorded twice, as a caller retrying `record` would.
    trail.record(&events[3]).await.unwrap();

    let error = trail.flush().await.unwrap_err();
    let SiemError::FlushIncomplete {
        delivered,
        remaining,
        ..
    } = &error
    else {
        panic!("unexpected error: {error}");
    };
    assert_eq!((*delivered, *remaining), (0, 10));
    assert_eq!(
        clock.pauses().len(),
        3,
        "three retries after the first attempt"
    );
    assert_eq!(trail.forwarder().unwrap().spool().len().unwrap(), 11);

    let server = accepting_server().await;
    let recovered = forwarder(
        &state.path().join("spool"),
        &server.uri(),
        1_000_000,
        true,
        clock,
    );
    let trail = AuditTrail::new(log.clone(), Some(recovered));
    let report = trail.flush().await.unwrap().unwrap();
    assert_eq!(report.delivered, 10);
    assert_eq!(report.duplicates, 1);
    assert!(trail.forwarder().unwrap().spool().is_empty().unwrap());

    let requests = server.received_requests().await.unwrap();
    let received: Vec<String> = requests.iter().flat_map(event_uids).collect();
    let expected: Vec<String> = events
        .iter()
        .map(|event| event.event_id.to_string())
        .collect();
    assert_eq!(received, expected, "oldest first, none lost, none twice");

    let record: Vec<serde_json::Value> = serde_json::from_slice(&body_of(&requests[0])).unwrap();
    let head = log.head().unwrap().to_string();
    assert_eq!(record[0]["AdditionalFields"]["AuditLogHead"], head.as_str());
    assert!(siem::verify(log.dir(), None).unwrap().is_intact());
}

#[tokio::test]
async fn failed_flush_keeps_only_unacknowledged_events() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(DCR_PATH))
        .respond_with(ResponseTemplate::new(204))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(DCR_PATH))
        .respond_with(
            ResponseTemplate::new(400).set_body_string(r#"{"error":{"code":"InvalidStream"}}"#),
        )
        .mount(&server)
        .await;
    let spool_dir = tempfile::tempdir().unwrap();
    let forwarder = forwarder(
        spool_dir.path(),
        &server.uri(),
        3000,
        false,
        RecordingClock::new(),
    );
    let events: Vec<AuditEvent> = (0..12).map(event).collect();
    for event in &events {
        forwarder.spool().push(event).unwrap();
    }

    let error = forwarder.flush(None).await.unwrap_err();
    assert!(error.to_string().contains("remain spooled"), "{error}");
    let first_batch = event_uids(&server.received_requests().await.unwrap()[0]);
    let left = forwarder.spool().len().unwrap();
    assert_eq!(left, 12 - first_batch.len());

    server.reset().await;
    Mock::given(method("POST"))
        .and(path(DCR_PATH))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    forwarder.flush(None).await.unwrap();
    let resent: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .flat_map(event_uids)
        .collect();
    assert!(
        resent.iter().all(|uid| !first_batch.contains(uid)),
        "acknowledged events resent"
    );
    assert_eq!(resent.len(), left);
}

async fn token_server(expected_calls: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/contoso.onmicrosoft.com/oauth2/v2.0/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains(
            "scope=https%3A%2F%2Fmonitor.azure.com%2F.default",
        ))
        .and(body_string_contains(format!(
            "client_secret={CLIENT_SECRET}"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer",
            "expires_in": 3600,
            "access_token": TOKEN,
        })))
        .expect(expected_calls)
        .mount(&server)
        .await;
    server
}

fn token_provider(server: &MockServer, clock: Arc<RecordingClock>) -> ClientCredentials {
    let token_url =
        ClientCredentials::entra_token_url(&server.uri(), "contoso.onmicrosoft.com").unwrap();
    ClientCredentials::new(
        "Entra ID",
        token_url,
        "00000000-0000-0000-0000-000000000001",
        Secret::new(CLIENT_SECRET),
        Some("https://monitor.azure.com/.default".to_owned()),
        clock,
        Duration::from_secs(5),
    )
    .unwrap()
}

#[tokio::test]
async fn token_is_cached_until_near_expiry() {
    let server = token_server(2).await;
    let clock = RecordingClock::new();
    let provider = token_provider(&server, clock.clone());

    assert_eq!(provider.token().await.unwrap().expose(), TOKEN);
    clock.advance(Duration::from_secs(3000));
    assert_eq!(provider.token().await.unwrap().expose(), TOKEN);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "cached token reused"
    );

    clock.advance(Duration::from_secs(400));
    provider.token().await.unwrap();
    server.verify().await;
}

/// A writer that collects log output for one test.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn secrets_stay_out_of_output() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // A token endpoint that rejects the secret, and an ingestion endpoint that rejects the token.
    let server = MockServer::start().await;
    Mock::given(path("/contoso.onmicrosoft.com/oauth2/v2.0/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.",
        })))
        .mount(&server)
        .await;
    Mock::given(path(DCR_PATH))
        .respond_with(
            ResponseTemplate::new(403).set_body_string(r#"{"error":{"code":"Forbidden"}}"#),
        )
        .mount(&server)
        .await;
    let clock = RecordingClock::new();
    let provider = token_provider(&server, clock.clone());
    let token_error = provider.token().await.unwrap_err();

    let spool_dir = tempfile::tempdir().unwrap();
    let forwarder = forwarder(
        spool_dir.path(),
        &server.uri(),
        1_000_000,
        true,
        clock.clone(),
    );
    forwarder.spool().push(&event(0)).unwrap();
    let flush_error = forwarder.flush(None).await.unwrap_err();

    let config: SiemConfig = toml::from_str(&format!(
        "sink = \"sentinel\"\nendpoint = \"{}\"\ndcr_immutable_id = \"dcr-1\"\nstream_name = \"Custom-OpsAudit\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"app\"\nauthority_host = \"{}\"",
        server.uri(),
        server.uri()
    ))
    .unwrap();
    let transport = config
        .build_transport(Some(Secret::new(CLIENT_SECRET)), clock, retry_policy())
        .unwrap();
    assert!(transport.is_some());

    let outputs = [
        format!("{provider:?}"),
        format!("{provider:#?}"),
        format!("{token_error} / {token_error:?}"),
        format!("{flush_error} / {flush_error:?}"),
        siem_error_chain(&flush_error),
        format!("{config:?}"),
        String::from_utf8(logs.0.lock().unwrap().clone()).unwrap(),
    ];
    for output in &outputs {
        assert!(
            !output.contains(CLIENT_SECRET),
            "client secret in: {output}"
        );
        assert!(!output.contains("test-access-token"), "token in: {output}");
    }
    assert!(outputs[0].contains("REDACTED"), "{}", outputs[0]);
    assert!(outputs[2].contains("invalid_client"), "{}", outputs[2]);
    assert!(
        outputs[4].contains("HTTP 403 (Forbidden)"),
        "{}",
        outputs[4]
    );
    assert!(
        outputs[6].contains("siem flush stopped"),
        "logs were not captured: {}",
        outputs[6]
    );
}

fn siem_error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn splunk_hec_gets_newline_separated_events() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/collector/event"))
        .and(header("authorization", "Splunk hec-token-1234"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"text":"Success","code":0}"#))
        .expect(1)
        .mount(&server)
        .await;
    let config: SiemConfig = toml::from_str(&format!(
        "sink = \"splunk_hec\"\nurl = \"{}\"\nindex = \"endpoint_ops\"",
        server.uri()
    ))
    .unwrap();
    assert_eq!(config.secret_env(), Some("OPS_SIEM_HEC_TOKEN"));
    let transport = config
        .build_transport(
            Some(Secret::new("hec-token-1234")),
            RecordingClock::new(),
            retry_policy(),
        )
        .unwrap()
        .unwrap();
    let spool_dir = tempfile::tempdir().unwrap();
    let forwarder = Forwarder::new(Spool::open(spool_dir.path()).unwrap(), transport);
    for index in 0..3 {
        forwarder.spool().push(&event(index)).unwrap();
    }

    assert_eq!(forwarder.flush(None).await.unwrap().delivered, 3);
    let request = &server.received_requests().await.unwrap()[0];
    let body = String::from_utf8(request.body.clone()).unwrap();
    let lines: Vec<serde_json::Value> = body
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["index"], "endpoint_ops");
    assert_eq!(lines[0]["event"]["event_type"], "PromotionSubmitted");
    assert_eq!(lines[2]["event"]["details"]["index"], 2);
    server.verify().await;
}

#[tokio::test]
async fn cef_syslog_sends_one_datagram_per_event() {
    let receiver = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (forwarder, _spool_dir) = cef_forwarder(CefSyslogConfig {
        hostname: None,
        ..cef_config(
            receiver.local_addr().unwrap().to_string(),
            SyslogProtocol::Udp,
        )
    });
    let events: Vec<AuditEvent> = (0..3).map(event).collect();
    for event in &events {
        forwarder.spool().push(event).unwrap();
    }

    assert_eq!(forwarder.flush(None).await.unwrap().delivered, 3);
    let mut buffer = vec![0u8; 4096];
    for event in &events {
        let received = tokio::time::timeout(Duration::from_secs(5), receiver.recv(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        let message = std::str::from_utf8(&buffer[..received]).unwrap();
        assert!(
            message.starts_with(
                "<110>1 1970-01-01T00:00:00.000Z - ops - PromotionSubmitted - CEF:0|Contoso|ops|"
            ),
            "{message}"
        );
        assert!(
            message.contains(&format!("externalId={}", event.event_id)),
            "{message}"
        );
    }
}

fn cef_config(address: String, protocol: SyslogProtocol) -> CefSyslogConfig {
    CefSyslogConfig {
        address,
        protocol,
        hostname: Some("ops-host-1".to_owned()),
        event_vendor: "Contoso".to_owned(),
        max_message_bytes: 2048,
    }
}

/// Builds a forwarder to a CEF syslog sink over a fresh spool. Keep the directory alive while
/// the forwarder is in use.
fn cef_forwarder(config: CefSyslogConfig) -> (Forwarder, tempfile::TempDir) {
    let transport = SiemConfig::CefSyslog(config)
        .build_transport(None, RecordingClock::new(), retry_policy())
        .unwrap()
        .unwrap();
    let spool_dir = tempfile::tempdir().unwrap();
    let forwarder = Forwarder::new(Spool::open(spool_dir.path()).unwrap(), transport);
    (forwarder, spool_dir)
}

#[tokio::test]
async fn cef_tcp_sends_line_per_event() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (forwarder, _spool_dir) = cef_forwarder(cef_config(
        listener.local_addr().unwrap().to_string(),
        SyslogProtocol::Tcp,
    ));
    for index in 0..3 {
        forwarder.spool().push(&event(index)).unwrap();
    }
    let receiver = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut text)
            .await
            .unwrap();
        text
    });

    assert_eq!(forwarder.flush(None).await.unwrap().delivered, 3);
    let text = tokio::time::timeout(Duration::from_secs(5), receiver)
        .await
        .unwrap()
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for line in lines {
        assert!(
            line.starts_with(
                "<110>1 1970-01-01T00:00:00.000Z ops-host-1 ops - PromotionSubmitted - CEF:0|Contoso|ops|"
            ),
            "{line}"
        );
    }
}

#[tokio::test]
async fn cef_syslog_refused_connection_keeps_the_spool() {
    // Bind and drop a listener so that nothing listens on its port.
    let address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let (forwarder, _spool_dir) = cef_forwarder(cef_config(address, SyslogProtocol::Tcp));
    forwarder.spool().push(&event(0)).unwrap();

    let error = forwarder.flush(None).await.unwrap_err();

    let mut chain = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        chain.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert!(chain.contains("1 remain spooled"), "{chain}");
    assert!(chain.contains("connection failed"), "{chain}");
    assert_eq!(forwarder.spool().len().unwrap(), 1);
}

#[test]
fn cef_config_needs_port_and_room() {
    let no_port = SiemConfig::CefSyslog(cef_config(
        "syslog.example.com".to_owned(),
        SyslogProtocol::Udp,
    ))
    .build_transport(None, RecordingClock::new(), retry_policy());
    let Err(error) = no_port else {
        panic!("an address without a port was accepted");
    };
    assert!(
        error
            .to_string()
            .contains("lacks a port: expected HOST:PORT"),
        "{error}"
    );

    let mut small = cef_config("127.0.0.1:514".to_owned(), SyslogProtocol::Udp);
    small.max_message_bytes = 100;
    let Err(error) =
        SiemConfig::CefSyslog(small).build_transport(None, RecordingClock::new(), retry_policy())
    else {
        panic!("a 100-byte message limit was accepted");
    };
    assert!(error.to_string().contains("use at least 480"), "{error}");
}

#[test]
fn config_parses_each_sink_and_rejects_unknown_keys() {
    let none: SiemConfig = toml::from_str("sink = \"none\"").unwrap();
    assert_eq!(none, SiemConfig::None);
    assert_eq!(SiemConfig::default(), SiemConfig::None);

    let cef: SiemConfig =
        toml::from_str("sink = \"cef_syslog\"\naddress = \"127.0.0.1:514\"\nprotocol = \"tcp\"")
            .unwrap();
    let SiemConfig::CefSyslog(cef) = cef else {
        panic!("expected cef_syslog");
    };
    assert_eq!(cef.protocol, SyslogProtocol::Tcp);
    assert_eq!(cef.max_message_bytes, 2048);

    let typo = toml::from_str::<SiemConfig>(
        "sink = \"cef_syslog\"\naddress = \"127.0.0.1:514\"\nprotocl = \"tcp\"",
    );
    assert!(typo.is_err());
    let unknown_sink = toml::from_str::<SiemConfig>("sink = \"elastic\"");
    assert!(unknown_sink.is_err());

    let missing_secret = toml::from_str::<SiemConfig>(
        "sink = \"sentinel\"\nendpoint = \"https://dce.example.com\"\ndcr_immutable_id = \"dcr-1\"\nstream_name = \"Custom-X\"\ntenant_id = \"t\"\nclient_id = \"c\"",
    )
    .unwrap()
    .build_transport(None, RecordingClock::new(), retry_policy());
    let Err(error) = missing_secret else {
        panic!("a sentinel sink without a secret was built");
    };
    assert!(error.to_string().contains("client_secret_env"), "{error}");
}

#[tokio::test]
async fn trail_fails_closed_when_spool_is_unwritable() {
    let state = tempfile::tempdir().unwrap();
    let log = AuditLog::open(state.path().join("audit")).unwrap();
    let spool_dir = state.path().join("spool");
    let server = accepting_server().await;
    let trail = AuditTrail::new(
        log,
        Some(forwarder(
            &spool_dir,
            &server.uri(),
            1_000_000,
            true,
            RecordingClock::new(),
        )),
    );
    std::fs::remove_dir(&spool_dir).unwrap();
    std::fs::write(&spool_dir, b"a file, not a directory").unwrap();

    let error = trail.record(&event(0)).await.unwrap_err();
    assert_eq!(error.kind(), ops_core::ErrorKind::Permanent);
    assert_eq!(error.service(), "SIEM spool");
}

#[tokio::test]
async fn flush_counts_uids_once_per_flush() {
    // Pushing the same event into the spool three times sends it once.
    let server = accepting_server().await;
    let spool_dir = tempfile::tempdir().unwrap();
    let forwarder = forwarder(
        spool_dir.path(),
        &server.uri(),
        1_000_000,
        true,
        RecordingClock::new(),
    );
    let repeated = event(0);
    for _ in 0..3 {
        forwarder.spool().push(&repeated).unwrap();
    }
    forwarder.spool().push(&event(1)).unwrap();

    let report = forwarder.flush(None).await.unwrap();
    assert_eq!((report.delivered, report.duplicates), (2, 2));
    let mut counts: HashMap<String, usize> = HashMap::new();
    for uid in server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .flat_map(event_uids)
    {
        *counts.entry(uid).or_default() += 1;
    }
    assert!(counts.values().all(|count| *count == 1), "{counts:?}");
    assert!(forwarder.spool().is_empty().unwrap());
}
