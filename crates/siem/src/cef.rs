//! CEF over syslog, for SIEMs fed by a syslog forwarder (Sentinel's CommonSecurityLog through the
//! Azure Monitor Agent, ArcSight, QRadar).
//!
//! Each event is one RFC 5424 message whose text is a CEF version 0 record, sent as one UDP
//! datagram or as one newline-terminated line over TCP. Neither transport acknowledges messages,
//! so "delivered" means handed to the network without error.

use std::sync::Arc;

use async_trait::async_trait;
use ops_core::audit::{AuditEvent, Outcome};
use ops_core::ports::Clock;
use ops_core::retry::RetryPolicy;
use ops_core::{ErrorKind, PortError};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket, lookup_host};

use crate::error::SiemError;
use crate::forwarder::{BatchOutcome, SiemTransport};
use crate::log::checkpoint::Checkpoint;
use crate::sentinel::{asim_event_type, default_event_vendor, outcome_name};

/// The sink name in logs and errors.
const SINK: &str = "CEF syslog";

/// Syslog facility 13, "log audit".
const FACILITY: u8 = 13;

/// The `[siem]` settings for `sink = "cef_syslog"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CefSyslogConfig {
    /// The collector as `HOST:PORT`, such as `syslog.example.com:514`.
    pub address: String,
    /// `udp` or `tcp`.
    #[serde(default)]
    pub protocol: SyslogProtocol,
    /// The syslog HOSTNAME field; `-` (unknown) when unset.
    #[serde(default)]
    pub hostname: Option<String>,
    /// The CEF Device Vendor.
    #[serde(default = "default_event_vendor")]
    pub event_vendor: String,
    /// The largest message in bytes. Longer details are cut to fit. RFC 5426 recommends that
    /// UDP receivers accept at least 2048 bytes.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
}

/// The syslog transport protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogProtocol {
    /// One datagram per message.
    #[default]
    Udp,
    /// Newline-terminated messages on one connection per batch.
    Tcp,
}

fn default_max_message_bytes() -> usize {
    2048
}

/// Sends CEF records over syslog.
pub struct CefSyslogTransport {
    config: CefSyslogConfig,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
}

impl CefSyslogTransport {
    /// Creates the transport. The address is resolved on each send.
    pub fn new(
        config: &CefSyslogConfig,
        clock: Arc<dyn Clock>,
        retry: RetryPolicy,
    ) -> Result<CefSyslogTransport, SiemError> {
        if !config.address.contains(':') {
            return Err(SiemError::InvalidConfig {
                field: "address",
                reason: format!("{:?} lacks a port: expected HOST:PORT", config.address),
            });
        }
        if config.max_message_bytes < 480 {
            return Err(SiemError::InvalidConfig {
                field: "max_message_bytes",
                reason: format!(
                    "{} is too small: use at least 480",
                    config.max_message_bytes
                ),
            });
        }
        Ok(CefSyslogTransport {
            config: config.clone(),
            clock,
            retry,
        })
    }

    async fn attempt(&self, records: &[&[u8]]) -> Result<(), PortError> {
        let io_error = |message: &str, error: std::io::Error| {
            PortError::new(ErrorKind::Transient, SINK, "send batch", message).with_source(error)
        };
        let target = lookup_host(&self.config.address)
            .await
            .map_err(|error| io_error("address did not resolve", error))?
            .next()
            .ok_or_else(|| PortError::permanent(SINK, "send batch", "address did not resolve"))?;

        match self.config.protocol {
            SyslogProtocol::Udp => {
                let local = if target.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let socket = UdpSocket::bind(local)
                    .await
                    .map_err(|error| io_error("failed to open a UDP socket", error))?;
                for record in records {
                    socket
                        .send_to(record, target)
                        .await
                        .map_err(|error| io_error("failed to send a datagram", error))?;
                }
            }
            SyslogProtocol::Tcp => {
                let mut stream = TcpStream::connect(target)
                    .await
                    .map_err(|error| io_error("connection failed", error))?;
                let mut bytes = records.join(&b"\n"[..]);
                bytes.push(b'\n');
                stream
                    .write_all(&bytes)
                    .await
                    .and(stream.shutdown().await)
                    .map_err(|error| io_error("failed to write", error))?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl SiemTransport for CefSyslogTransport {
    fn name(&self) -> &'static str {
        SINK
    }

    /// 64 KiB: a batch is a group of messages, each far smaller, sent in one burst.
    fn max_batch_bytes(&self) -> usize {
        64 * 1024
    }

    fn encode(&self, event: &AuditEvent, head: Option<&Checkpoint>) -> Result<Vec<u8>, SiemError> {
        let details =
            serde_json::to_string(&event.details).map_err(|source| SiemError::Encode {
                event_id: event.event_id,
                source,
            })?;
        let without_details = cef_message(&self.config, event, head, "");
        let budget = self
            .config
            .max_message_bytes
            .saturating_sub(without_details.len());
        Ok(cef_message(&self.config, event, head, &fit_details(&details, budget)).into_bytes())
    }

    async fn send_batch(&self, records: &[&[u8]]) -> Result<BatchOutcome, SiemError> {
        self.retry
            .run(self.clock.as_ref(), |_| self.attempt(records))
            .await
            .map(|()| BatchOutcome::Accepted)
            .map_err(|source| SiemError::Delivery {
                sink: SINK,
                source: Box::new(source),
            })
    }
}

/// Builds one syslog message with the CEF record of `event`, with `details` already cut to size.
fn cef_message(
    config: &CefSyslogConfig,
    event: &AuditEvent,
    head: Option<&Checkpoint>,
    details: &str,
) -> String {
    let (syslog_severity, cef_severity) = match event.outcome {
        Outcome::Success => (6, 3),
        Outcome::Partial => (4, 5),
        Outcome::Failure => (3, 7),
    };
    let priority = FACILITY * 8 + syslog_severity;
    let timestamp = event
        .time
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let hostname = config.hostname.as_deref().unwrap_or("-");
    let name = event.event_type.name();

    let mut extension = vec![
        ("rt", event.time.timestamp_millis().to_string()),
        ("act", asim_event_type(event.event_type).to_owned()),
        ("suser", event.actor.clone()),
        ("outcome", outcome_name(event.outcome).to_owned()),
        ("externalId", event.event_id.to_string()),
        ("cs1Label", "correlationId".to_owned()),
        ("cs1", event.correlation_id.to_string()),
    ];
    if let Some(related) = &event.related_correlation_id {
        extension.push(("cs2Label", "relatedCorrelationId".to_owned()));
        extension.push(("cs2", related.to_string()));
    }
    if let Some(head) = head {
        extension.push(("cs4Label", "auditLogHead".to_owned()));
        extension.push(("cs4", head.to_string()));
    }
    extension.push(("cs3Label", "details".to_owned()));
    extension.push(("cs3", details.to_owned()));
    let extension: Vec<String> = extension
        .into_iter()
        .map(|(key, value)| format!("{key}={}", escape_extension(&value)))
        .collect();

    format!(
        "<{priority}>1 {timestamp} {hostname} ops - {name} - CEF:0|{}|ops|{}|{name}|{name}|{cef_severity}|{}",
        escape_header(&config.event_vendor),
        env!("CARGO_PKG_VERSION"),
        extension.join(" ")
    )
}

/// Cuts `details` so that its escaped form fits in `budget` bytes, marking the cut.
fn fit_details(details: &str, budget: usize) -> String {
    if escape_extension(details).len() <= budget {
        return details.to_owned();
    }
    const MARK: &str = "...(truncated)";
    let mut keep = budget.saturating_sub(MARK.len()) / 2;
    loop {
        while !details.is_char_boundary(keep) {
            keep -= 1;
        }
        let cut = format!("{}{MARK}", &details[..keep]);
        if escape_extension(&cut).len() <= budget || keep == 0 {
            return cut;
        }
        keep -= 1;
    }
}

/// Escapes a CEF header field: backslash and pipe.
fn escape_header(text: &str) -> String {
    text.replace('\\', "\\\\").replace('|', "\\|")
}

/// Escapes a CEF extension value: backslash, equals sign and line breaks.
fn escape_extension(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use ops_core::CorrelationId;
    use ops_core::audit::AuditEventType;

    use super::*;

    fn config() -> CefSyslogConfig {
        CefSyslogConfig {
            address: "127.0.0.1:514".to_owned(),
            protocol: SyslogProtocol::Udp,
            hostname: Some("ops-host".to_owned()),
            event_vendor: "Con|toso".to_owned(),
            max_message_bytes: 600,
        }
    }

    fn event() -> AuditEvent {
        AuditEvent::new(
            AuditEventType::SecretRotated,
            CorrelationId::parse("rotation-1").unwrap(),
            "alice@contoso.com",
            DateTime::UNIX_EPOCH,
            Outcome::Partial,
        )
        .with_detail("note", "a=b\\c\nd")
    }

    #[test]
    fn message_has_syslog_header_and_escaped_cef() {
        let message = cef_message(&config(), &event(), None, "{\"note\":\"a=b\"}");
        assert!(message.starts_with("<108>1 1970-01-01T00:00:00.000Z ops-host ops - SecretRotated - CEF:0|Con\\|toso|ops|"), "{message}");
        assert!(
            message.contains("|SecretRotated|SecretRotated|5|"),
            "{message}"
        );
        assert!(
            message.contains("suser=alice@contoso.com outcome=Partial"),
            "{message}"
        );
        assert!(message.contains("cs3={\"note\":\"a\\=b\"}"), "{message}");
    }

    #[test]
    fn long_details_are_cut_to_fit() {
        let transport =
            CefSyslogTransport::new(&config(), Arc::new(NoClock), RetryPolicy::default()).unwrap();
        let event = event().with_detail("big", "x=y\n".repeat(500));
        let record = transport.encode(&event, None).unwrap();
        assert!(record.len() <= 600, "{} bytes", record.len());
        let text = String::from_utf8(record).unwrap();
        assert!(text.ends_with("...(truncated)"), "{text}");
        assert!(!text.contains('\n'));
    }

    struct NoClock;

    #[async_trait]
    impl Clock for NoClock {
        fn now(&self) -> DateTime<chrono::Utc> {
            DateTime::UNIX_EPOCH
        }

        async fn sleep(&self, _duration: std::time::Duration) {}
    }
}
