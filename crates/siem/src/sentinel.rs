//! Microsoft Sentinel through the Azure Monitor Logs Ingestion API.
//!
//! Each request is `POST {endpoint}/dataCollectionRules/{immutable id}/streams/{stream}
//! ?api-version=2023-01-01` with a bearer token for `https://monitor.azure.com/.default` and a
//! JSON array of records. The service responds with 204. Records follow the ASIM Audit Event schema
//! (version 0.1), so the data collection rule can map them to `ASimAuditEventLogs` or a custom
//! table. The API takes at most 1 MB per request and answers 413 to larger ones; it does not
//! drop duplicates, so every record carries the event id as `EventUid`.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use ops_core::audit::{AuditEvent, AuditEventType, Outcome};
use ops_core::ports::Clock;
use ops_core::retry::RetryPolicy;
use ops_core::{CorrelationId, PortError};
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::error::SiemError;
use crate::forwarder::{BatchOutcome, SiemTransport};
use crate::http;
use crate::log::checkpoint::Checkpoint;
use ops_http::token::TokenProvider;

/// The sink name in logs and errors.
const SINK: &str = "Sentinel";

/// The Logs Ingestion API version.
const API_VERSION: &str = "2023-01-01";

/// The `[siem]` settings for `sink = "sentinel"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelConfig {
    /// The logs ingestion endpoint of the data collection rule or of a data collection endpoint,
    /// such as `https://my-dce.westeurope-1.ingest.monitor.azure.com`.
    pub endpoint: String,
    /// The immutable id of the data collection rule, such as
    /// `dcr-0123456789abcdef0123456789abcdef`.
    pub dcr_immutable_id: String,
    /// The stream declared in the rule, such as `Custom-OpsAudit`.
    pub stream_name: String,
    /// The Entra ID tenant of the service principal.
    pub tenant_id: String,
    /// The application (client) id of the service principal, which needs the Monitoring
    /// Metrics Publisher role on the rule.
    pub client_id: String,
    /// The environment variable from which `ops` reads the client secret.
    #[serde(default = "default_client_secret_env")]
    pub client_secret_env: String,
    /// The Entra ID authority.
    #[serde(default = "default_authority_host")]
    pub authority_host: String,
    /// The token scope: `https://monitor.azure.com/.default` in the public cloud,
    /// `https://monitor.azure.us/.default` or `https://monitor.azure.cn/.default` elsewhere.
    #[serde(default = "default_scope")]
    pub scope: String,
    /// The largest request body in bytes, before compression. The service limit is 1 MB.
    #[serde(default = "default_max_batch_bytes")]
    pub max_batch_bytes: usize,
    /// Whether request bodies are sent gzip-compressed.
    #[serde(default = "default_gzip")]
    pub gzip: bool,
    /// The timeout of one HTTP request, in seconds.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// The value of `EventVendor` in every record.
    #[serde(default = "default_event_vendor")]
    pub event_vendor: String,
}

fn default_client_secret_env() -> String {
    "OPS_SIEM_CLIENT_SECRET".to_owned()
}

fn default_authority_host() -> String {
    "https://login.microsoftonline.com".to_owned()
}

fn default_scope() -> String {
    "https://monitor.azure.com/.default".to_owned()
}

/// 1,000,000 bytes: the service's 1 MB per request, read as decimal megabytes to stay below it
/// under either reading.
fn default_max_batch_bytes() -> usize {
    1_000_000
}

fn default_gzip() -> bool {
    true
}

fn default_timeout_secs() -> u64 {
    30
}

pub(crate) fn default_event_vendor() -> String {
    "ops".to_owned()
}

/// One record of the ASIM Audit Event schema, as sent in the request body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsimAuditRecord<'a> {
    /// When the event happened.
    pub time_generated: DateTime<Utc>,
    /// Same as `TimeGenerated`: audit events are instants.
    pub event_start_time: DateTime<Utc>,
    /// Same as `TimeGenerated`.
    pub event_end_time: DateTime<Utc>,
    /// Always 1: a record is one event.
    pub event_count: u32,
    /// The normalized operation, from [`asim_event_type`].
    pub event_type: &'static str,
    /// `Success`, `Partial` or `Failure`.
    pub event_result: &'static str,
    /// `Informational`, `Low` or `Medium`, from the outcome.
    pub event_severity: &'static str,
    /// Always `AuditEvent`.
    pub event_schema: &'static str,
    /// The schema version the record follows: `0.1`.
    pub event_schema_version: &'static str,
    /// Always `ops`.
    pub event_product: &'static str,
    /// The version of this crate.
    pub event_product_version: &'static str,
    /// From the configuration.
    pub event_vendor: &'a str,
    /// The event id, for de-duplication.
    pub event_uid: uuid::Uuid,
    /// Who acted.
    pub actor_username: &'a str,
    /// The event type name, such as `RollbackStarted`.
    pub operation: &'static str,
    /// The operation the event belongs to: its correlation id.
    pub object: &'a str,
    /// Always `Other`: the object is an `ops` operation.
    pub object_type: &'static str,
    /// Correlation ids, details and the audit log head.
    pub additional_fields: AdditionalFields<'a>,
}

/// The `AdditionalFields` of a record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AdditionalFields<'a> {
    /// The event's correlation id.
    pub correlation_id: &'a CorrelationId,
    /// The operation this one acts on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related_correlation_id: Option<&'a CorrelationId>,
    /// The event's details.
    pub details: &'a std::collections::BTreeMap<String, serde_json::Value>,
    /// The local audit log's checkpoint when the batch was built, as `HASH@COUNT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_log_head: Option<String>,
}

impl<'a> AsimAuditRecord<'a> {
    /// Builds the record of an event.
    pub fn new(
        event: &'a AuditEvent,
        head: Option<&Checkpoint>,
        event_vendor: &'a str,
    ) -> AsimAuditRecord<'a> {
        AsimAuditRecord {
            time_generated: event.time,
            event_start_time: event.time,
            event_end_time: event.time,
            event_count: 1,
            event_type: asim_event_type(event.event_type),
            event_result: outcome_name(event.outcome),
            event_severity: match event.outcome {
                Outcome::Success => "Informational",
                Outcome::Partial => "Low",
                Outcome::Failure => "Medium",
            },
            event_schema: "AuditEvent",
            event_schema_version: "0.1",
            event_product: "ops",
            event_product_version: env!("CARGO_PKG_VERSION"),
            event_vendor,
            event_uid: event.event_id,
            actor_username: &event.actor,
            operation: event.event_type.name(),
            object: event.correlation_id.as_str(),
            object_type: "Other",
            additional_fields: AdditionalFields {
                correlation_id: &event.correlation_id,
                related_correlation_id: event.related_correlation_id.as_ref(),
                details: &event.details,
                audit_log_head: head.map(Checkpoint::to_string),
            },
        }
    }
}

/// Maps an event type to the ASIM Audit Event `EventType` values (`Set`, `Read`, `Create`,
/// `Delete`, `Execute`, `Install`, `Other`).
pub fn asim_event_type(event_type: AuditEventType) -> &'static str {
    match event_type {
        AuditEventType::IntentsImported | AuditEventType::IncidentRaised => "Create",
        AuditEventType::DriftDetected
        | AuditEventType::NoDrift
        | AuditEventType::TelemetryCollected => "Read",
        AuditEventType::RollbackStarted
        | AuditEventType::RollbackStepCompleted
        | AuditEventType::RollbackCompleted
        | AuditEventType::RollbackFailed => "Delete",
        AuditEventType::PromotionSubmitted | AuditEventType::PromotionBlocked => "Install",
        AuditEventType::PlaybookStepExecuted => "Execute",
        AuditEventType::FailoverCompleted
        | AuditEventType::SecretRotated
        | AuditEventType::RbacConfigured => "Set",
        AuditEventType::AuditCheckpointed | AuditEventType::AuditLogRepaired => "Other",
    }
}

pub(crate) fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "Success",
        Outcome::Partial => "Partial",
        Outcome::Failure => "Failure",
    }
}

/// Sends batches to the Logs Ingestion API.
pub struct SentinelTransport {
    http: reqwest::Client,
    url: Url,
    tokens: Arc<dyn TokenProvider>,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    gzip: bool,
    max_batch_bytes: usize,
    event_vendor: String,
}

impl SentinelTransport {
    /// Creates the transport. Retries pause on `clock`, which tests replace with a fake.
    pub fn new(
        config: &SentinelConfig,
        tokens: Arc<dyn TokenProvider>,
        clock: Arc<dyn Clock>,
        retry: RetryPolicy,
    ) -> Result<SentinelTransport, SiemError> {
        let url = ingestion_url(config)?;
        if config.max_batch_bytes < 1024 {
            return Err(SiemError::InvalidConfig {
                field: "max_batch_bytes",
                reason: format!("{} is too small: use at least 1024", config.max_batch_bytes),
            });
        }
        Ok(SentinelTransport {
            http: http::client(SINK, Duration::from_secs(config.timeout_secs))?,
            url,
            tokens,
            clock,
            retry,
            gzip: config.gzip,
            max_batch_bytes: config.max_batch_bytes,
            event_vendor: config.event_vendor.clone(),
        })
    }

    /// Sends the body once. Returns the outcome, or a port error whose kind decides whether to
    /// retry.
    async fn attempt(&self, body: Vec<u8>, attempt: u32) -> Result<BatchOutcome, PortError> {
        let token = self.tokens.token().await?;
        let mut authorization = HeaderValue::try_from(format!("Bearer {}", token.expose()))
            .map_err(|_| {
                PortError::permanent(SINK, "send batch", "token is not a valid header value")
            })?;
        authorization.set_sensitive(true);

        let mut request = self
            .http
            .post(self.url.clone())
            .header(AUTHORIZATION, authorization)
            .header(CONTENT_TYPE, "application/json")
            .header("x-ms-client-request-id", uuid::Uuid::new_v4().to_string());
        if self.gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        let response = request
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
        let error = http::response_error(SINK, "send batch", response).await;
        tracing::debug!(
            attempt,
            status = status.as_u16(),
            "sentinel rejected a batch"
        );
        Err(error)
    }
}

#[async_trait]
impl SiemTransport for SentinelTransport {
    fn name(&self) -> &'static str {
        SINK
    }

    fn max_batch_bytes(&self) -> usize {
        self.max_batch_bytes
    }

    fn encode(&self, event: &AuditEvent, head: Option<&Checkpoint>) -> Result<Vec<u8>, SiemError> {
        let record = AsimAuditRecord::new(event, head, &self.event_vendor);
        serde_json::to_vec(&record).map_err(|source| SiemError::Encode {
            event_id: event.event_id,
            source,
        })
    }

    async fn send_batch(&self, records: &[&[u8]]) -> Result<BatchOutcome, SiemError> {
        let json = records.join(&b","[..]);
        let mut body = Vec::with_capacity(json.len() + 2);
        body.push(b'[');
        body.extend_from_slice(&json);
        body.push(b']');
        let body = if self.gzip {
            gzip(&body).map_err(|error| SiemError::Delivery {
                sink: SINK,
                source: Box::new(
                    PortError::permanent(SINK, "send batch", "failed to compress the batch")
                        .with_source(error),
                ),
            })?
        } else {
            body
        };

        tracing::debug!(
            records = records.len(),
            bytes = body.len(),
            "sending a batch to sentinel"
        );
        self.retry
            .run(self.clock.as_ref(), |attempt| {
                self.attempt(body.clone(), attempt)
            })
            .await
            .map_err(|source| SiemError::Delivery {
                sink: SINK,
                source: Box::new(source),
            })
    }
}

/// Builds the request URL, escaping the rule id and stream name as path segments.
fn ingestion_url(config: &SentinelConfig) -> Result<Url, SiemError> {
    for (field, value) in [
        ("dcr_immutable_id", &config.dcr_immutable_id),
        ("stream_name", &config.stream_name),
    ] {
        if value.trim().is_empty() {
            return Err(SiemError::InvalidConfig {
                field,
                reason: "must not be empty".to_owned(),
            });
        }
    }
    let mut url = http::parse_base_url("endpoint", &config.endpoint)?;
    url.path_segments_mut()
        .map_err(|()| SiemError::InvalidConfig {
            field: "endpoint",
            reason: format!("{:?} cannot take a path", config.endpoint),
        })?
        .pop_if_empty()
        .extend([
            "dataCollectionRules",
            config.dcr_immutable_id.trim(),
            "streams",
            config.stream_name.trim(),
        ]);
    url.query_pairs_mut()
        .append_pair("api-version", API_VERSION);
    Ok(url)
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::fast());
    encoder.write_all(bytes)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SentinelConfig {
        toml::from_str(
            r#"
            endpoint = "https://my-dce.westeurope-1.ingest.monitor.azure.com/"
            dcr_immutable_id = "dcr-0123456789abcdef0123456789abcdef"
            stream_name = "Custom-OpsAudit"
            tenant_id = "contoso.onmicrosoft.com"
            client_id = "00000000-0000-0000-0000-000000000001"
            "#,
        )
        .unwrap()
    }

    #[test]
    fn url_has_rule_stream_and_api_version() {
        let url = ingestion_url(&config()).unwrap();
        assert_eq!(
            url.as_str(),
            "https://my-dce.westeurope-1.ingest.monitor.azure.com/dataCollectionRules/\
             dcr-0123456789abcdef0123456789abcdef/streams/Custom-OpsAudit?api-version=2023-01-01"
        );
    }

    #[test]
    fn defaults_fill_optional_settings() {
        let config = config();
        assert_eq!(config.scope, "https://monitor.azure.com/.default");
        assert_eq!(config.max_batch_bytes, 1_000_000);
        assert!(config.gzip);
        assert_eq!(config.client_secret_env, "OPS_SIEM_CLIENT_SECRET");
    }

    #[test]
    fn record_follows_asim_audit_schema() {
        let event = AuditEvent::new(
            AuditEventType::RollbackStarted,
            CorrelationId::parse("rollback-7").unwrap(),
            "alice@contoso.com",
            DateTime::UNIX_EPOCH,
            Outcome::Failure,
        )
        .with_related(CorrelationId::parse("deploy-3").unwrap())
        .with_detail("ring", "Pilot");
        let head = Checkpoint {
            count: 3,
            head_hash: crate::ChainHash::of(b"x"),
        };
        let record =
            serde_json::to_value(AsimAuditRecord::new(&event, Some(&head), "Contoso")).unwrap();

        assert_eq!(record["TimeGenerated"], "1970-01-01T00:00:00Z");
        assert_eq!(record["EventSchema"], "AuditEvent");
        assert_eq!(record["EventSchemaVersion"], "0.1");
        assert_eq!(record["EventType"], "Delete");
        assert_eq!(record["EventResult"], "Failure");
        assert_eq!(record["EventProduct"], "ops");
        assert_eq!(record["EventVendor"], "Contoso");
        assert_eq!(record["EventUid"], event.event_id.to_string());
        assert_eq!(record["ActorUsername"], "alice@contoso.com");
        assert_eq!(record["Operation"], "RollbackStarted");
        assert_eq!(record["Object"], "rollback-7");
        let additional = &record["AdditionalFields"];
        assert_eq!(additional["CorrelationId"], "rollback-7");
        assert_eq!(additional["RelatedCorrelationId"], "deploy-3");
        assert_eq!(additional["Details"]["ring"], "Pilot");
        assert_eq!(additional["AuditLogHead"], head.to_string());
    }
}
