//! `ops siem flush`.

use anyhow::Context as _;
use ops_core::CorrelationId;
use serde::Serialize;
use tracing::Instrument;

use crate::cli::SiemCommand;
use crate::commands::evidence;
use crate::context::Context;
use crate::exit::{CommandError, Completion, failed};
use crate::output::{self, OutputFormat, outln};

/// Runs a SIEM action.
pub async fn run(context: &Context, command: SiemCommand) -> Result<Completion, CommandError> {
    let correlation_id = CorrelationId::generate("audit");
    let span = tracing::error_span!("siem", correlation_id = %correlation_id);
    match command {
        SiemCommand::Flush => flush(context).instrument(span).await,
    }
}

#[derive(Serialize)]
struct FlushOutput {
    sink: &'static str,
    delivered: usize,
    batches: usize,
    rejected: usize,
    pending: usize,
}

async fn flush(context: &Context) -> Result<Completion, CommandError> {
    let trail = evidence::open_with(context, evidence::Delivery::Patient)?;
    let Some(forwarder) = trail.forwarder() else {
        match context.output {
            OutputFormat::Json => {
                output::print_json(&serde_json::json!({"sink": "none"})).map_err(failed)?
            }
            OutputFormat::Table => {
                outln!("no SIEM is configured: events stay in the local audit log")
            }
        }
        return Ok(Completion::Done);
    };
    let sink = forwarder.sink_name();

    let report = trail
        .flush()
        .await
        .with_context(|| format!("delivery to {sink} stopped; the undelivered events stay spooled, rerun `ops siem flush`"))
        .map_err(failed)?
        .unwrap_or_default();
    let pending = forwarder
        .spool()
        .len()
        .context("cannot count the spooled events")
        .map_err(failed)?;
    tracing::info!(
        sink,
        delivered = report.delivered,
        pending,
        "flushed the SIEM spool"
    );

    let result = FlushOutput {
        sink,
        delivered: report.delivered,
        batches: report.batches,
        rejected: report.rejected.len(),
        pending,
    };
    match context.output {
        OutputFormat::Json => output::print_json(&result).map_err(failed)?,
        OutputFormat::Table => {
            outln!(
                "delivered {} events to {sink} in {} batches; {} rejected, {} still spooled",
                result.delivered,
                result.batches,
                result.rejected,
                result.pending
            );
            for rejected in &report.rejected {
                let event = rejected.event_id.map_or_else(
                    || "an unreadable spool file".to_owned(),
                    |id| format!("event {id}"),
                );
                outln!(
                    "rejected {event} ({}): {}",
                    rejected.path.display(),
                    rejected.reason
                );
            }
        }
    }
    if result.rejected > 0 {
        return Ok(Completion::Attention);
    }
    Ok(Completion::Done)
}
