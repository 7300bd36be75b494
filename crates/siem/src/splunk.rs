//! Splunk through the HTTP Event Collector.
//!
//! Each request is `POST {url}/services/collector/event` with `Authorization: Splunk <token>`
//! and event objects separated by newlines (not a JSON array). Splunk responds with 200.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ops_core::PortError;
use ops_core::audit::AuditEvent;
use ops_core::ports::{Clock, Secret};
use ops_core::retry::RetryPolicy;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::error::SiemError;
use crate::forwarder::{BatchOutcome, SiemTransport};
use crate::http;
use crate::log::checkpoint::Checkpoint;
use crate::sentinel::outcome_name;

/// The sink name in logs and errors.
const SINK: &str = "Splunk HEC";

/// The `[siem]` settings for `sink = "splunk_hec"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplunkHecConfig {
    /// The collector's base URL, such as `https://splunk.example.com:8088`.
    pub url: String,
    /// The environment variable from which `ops` reads the HEC token.
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// The index events go to; the token's default index when unset.
    #[serde(default)]
    pub index: Option<String>,
    /// The `source` of every event.
    #[serde(default = "default_source")]
    pub source: String,
    /// The `sourcetype` of every event.
    #[serde(default = "default_sourcetype")]
    pub sourcetype: String,
    /// The `host` of every event; Splunk fills in the sender's when unset.
    #[serde(default)]
    pub host: Option<String>,
    /// The largest request body in bytes.
    #[serde(default = "default_max_batch_bytes")]
    pub max_batch_bytes: usize,
    /// The timeout of one HTTP request, in seconds.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_token_env() -> String {
    "OPS_SIEM_HEC_TOKEN".to_owned()
}

fn default_source() -> String {
    "ops".to_owned()
}

fn default_sourcetype() -> String {
    "_json".to_owned()
}

/// 1,000,000 bytes, below Splunk's default `max_content_length` of 800 MB by far, and a size at
/// which one failed request costs little to resend.
fn default_max_batch_bytes() -> usize {
    1_000_000
}

fn default_timeout_secs() -> u64 {
    30
}

/// One HEC event object.
#[derive(Serialize)]
struct HecEvent<'a> {
    /// Seconds since the Unix epoch, with milliseconds.
    time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    source: &'a str,
    sourcetype: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<&'a str>,
    event: HecPayload<'a>,
    /// Indexed fields: flat strings.
    fields: HecFields<'a>,
}

#[derive(Serialize)]
struct HecPayload<'a> {
    #[serde(flatten)]
    event: &'a AuditEvent,
    #[serde(skip_serializing_if = "Option::is_none")]
    audit_log_head: Option<String>,
}

#[derive(Serialize)]
struct HecFields<'a> {
    event_id: String,
    event_type: &'static str,
    correlation_id: &'a str,
    outcome: &'static str,
}

/// Sends batches to a Splunk HTTP Event Collector.
pub struct SplunkHecTransport {
    http: reqwest::Client,
    url: Url,
    token: Secret,
    config: SplunkHecConfig,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
}

impl SplunkHecTransport {
    /// Creates the transport. Retries pause on `clock`.
    pub fn new(
        config: &SplunkHecConfig,
        token: Secret,
        clock: Arc<dyn Clock>,
        retry: RetryPolicy,
    ) -> Result<SplunkHecTransport, SiemError> {
        let mut url = http::parse_base_url("url", &config.url)?;
        url.path_segments_mut()
            .map_err(|()| SiemError::InvalidConfig {
                field: "url",
                reason: format!("{:?} cannot take a path", config.url),
            })?
            .pop_if_empty()
            .extend(["services", "collector", "event"]);
        Ok(SplunkHecTransport {
            http: http::client(SINK, Duration::from_secs(config.timeout_secs))?,
            url,
            token,
            config: config.clone(),
            clock,
            retry,
        })
    }

    async fn attempt(&self, body: Vec<u8>) -> Result<BatchOutcome, PortError> {
        let mut authorization = HeaderValue::try_from(format!("Splunk {}", self.token.expose()))
            .map_err(|_| {
                PortError::permanent(SINK, "send batch", "HEC token is not a valid header value")
            })?;
        authorization.set_sensitive(true);
        let response = self
            .http
            .post(self.url.clone())
            .header(AUTHORIZATION, authorization)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|error| http::request_error(SINK, "send batch", error))?;

        let status = response.status();
        if status.is_success() {
            return Ok(BatchOutcome::Accepted);
        }
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Ok(BatchOutcome::TooLarge);
        }
        Err(http::response_error(SINK, "send batch", response).await)
    }
}

#[async_trait]
impl SiemTransport for SplunkHecTransport {
    fn name(&self) -> &'static str {
        SINK
    }

    fn max_batch_bytes(&self) -> usize {
        self.config.max_batch_bytes
    }

    fn encode(&self, event: &AuditEvent, head: Option<&Checkpoint>) -> Result<Vec<u8>, SiemError> {
        let record = HecEvent {
            time: event.time.timestamp_millis() as f64 / 1000.0,
            host: self.config.host.as_deref(),
            source: &self.config.source,
            sourcetype: &self.config.sourcetype,
            index: self.config.index.as_deref(),
            event: HecPayload {
                event,
                audit_log_head: head.map(Checkpoint::to_string),
            },
            fields: HecFields {
                event_id: event.event_id.to_string(),
                event_type: event.event_type.name(),
                correlation_id: event.correlation_id.as_str(),
                outcome: outcome_name(event.outcome),
            },
        };
        serde_json::to_vec(&record).map_err(|source| SiemError::Encode {
            event_id: event.event_id,
            source,
        })
    }

    async fn send_batch(&self, records: &[&[u8]]) -> Result<BatchOutcome, SiemError> {
        let body = records.join(&b"\n"[..]);
        self.retry
            .run(self.clock.as_ref(), |_| self.attempt(body.clone()))
            .await
            .map_err(|source| SiemError::Delivery {
                sink: SINK,
                source: Box::new(source),
            })
    }
}
