//! The metrics-exporter port: Application Insights, OpenTelemetry or Prometheus.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::CorrelationId;
use crate::error::PortResult;

/// One measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSample {
    /// The metric's name, such as `ops_connector_latency_ms`.
    pub name: String,
    /// The measured value.
    pub value: f64,
    /// Dimensions, such as `connector=Jamf`.
    pub labels: BTreeMap<String, String>,
    /// When it was measured.
    pub time: DateTime<Utc>,
    /// The telemetry run that measured it.
    pub correlation_id: CorrelationId,
}

/// Sends measurements to a metrics backend.
///
/// Exporting the same samples twice is harmless: backends keep the latest value per series and
/// time.
#[async_trait]
pub trait MetricsExporter: Send + Sync {
    /// Exports a batch of samples.
    async fn export(&self, samples: &[MetricSample]) -> PortResult<()>;
}
