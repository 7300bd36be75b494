//! `ops audit verify`, `ops audit tail` and `ops audit checkpoint`.

use anyhow::Context as _;
use ops_core::CorrelationId;
use siem::{Checkpoint, FindingKind, VerifyReport};
use tracing::Instrument;

use crate::cli::AuditCommand;
use crate::commands::evidence;
use crate::context::Context;
use crate::exit::{CommandError, Completion, bad_input, failed};
use crate::output::{self, OutputFormat, outln, plural};

/// Runs an audit action.
pub async fn run(context: &Context, command: AuditCommand) -> Result<Completion, CommandError> {
    let correlation_id = CorrelationId::generate("audit");
    let span = tracing::error_span!("audit", correlation_id = %correlation_id);
    async {
        match command {
            AuditCommand::Verify { checkpoint } => verify(context, checkpoint.as_deref()),
            AuditCommand::Tail {
                count,
                correlation_id,
            } => tail(context, count, correlation_id.as_ref()),
            AuditCommand::Checkpoint { write } => {
                checkpoint(context, write.as_deref(), correlation_id.clone()).await
            }
        }
    }
    .instrument(span)
    .await
}

fn verify(context: &Context, checkpoint: Option<&str>) -> Result<Completion, CommandError> {
    let checkpoint = checkpoint
        .map(Checkpoint::from_arg)
        .transpose()
        .context("invalid --checkpoint: pass HASH@COUNT as `ops audit checkpoint` prints it, or a file holding it")
        .map_err(bad_input)?;
    let directory = context.audit_dir();
    if !directory.is_dir() {
        return Err(bad_input(anyhow::anyhow!(
            "no audit log in {directory:?}: check --state-dir and OPS_STATE_DIR (if this is the \
             right directory, the whole log was deleted)"
        )));
    }
    let report = siem::verify(&directory, checkpoint.as_ref())
        .with_context(|| format!("cannot verify the audit log in {directory:?}"))
        .map_err(failed)?;

    match context.output {
        OutputFormat::Json => output::print_json(&report).map_err(failed)?,
        OutputFormat::Table => print_verify(&report),
    }

    match &report.finding {
        None => {
            tracing::info!(entries = report.entries, head = %report.head, "audit log verified");
            Ok(Completion::Done)
        }
        Some(finding) if finding.kind == FindingKind::IncompleteLastEntry => {
            tracing::warn!(segment = %finding.position.segment, line = finding.position.line,
                "audit log ends with an incomplete entry left by a crash; the next command seals it");
            Ok(Completion::Attention)
        }
        Some(finding) => Err(failed(anyhow::anyhow!(
            "audit log verification failed at {} line {}: {}; see runbooks/audit-and-siem.md",
            finding.position.segment,
            finding.position.line,
            finding.kind
        ))),
    }
}

fn print_verify(report: &VerifyReport) {
    outln!(
        "verified {} in {} ({}); head {}",
        plural(report.entries, "entry"),
        plural(report.segments as u64, "segment"),
        plural(report.bytes, "byte"),
        report.head
    );
    if report.repaired_lines > 0 {
        let sealed = if report.repaired_lines == 1 {
            "1 torn line was sealed by a repair entry".to_owned()
        } else {
            format!(
                "{} torn lines were sealed by repair entries",
                report.repaired_lines
            )
        };
        outln!("{sealed}");
    }
    match &report.finding {
        None => outln!("the audit log is intact"),
        Some(finding) => {
            let seq = finding
                .position
                .seq
                .map(|seq| format!(", entry {seq}"))
                .unwrap_or_default();
            let cause = if finding.kind.is_tampering() {
                "tampering"
            } else {
                "a crash"
            };
            outln!(
                "first problem, a sign of {cause}: {} at {} line {} (byte {}{seq})",
                finding.kind,
                finding.position.segment,
                finding.position.line,
                finding.position.byte_offset
            );
        }
    }
}

fn tail(
    context: &Context,
    count: usize,
    correlation_id: Option<&CorrelationId>,
) -> Result<Completion, CommandError> {
    let directory = context.audit_dir();
    let entries = siem::tail(&directory, count, correlation_id)
        .with_context(|| format!("cannot read the audit log in {directory:?}"))
        .map_err(failed)?;

    match context.output {
        OutputFormat::Json => output::print_json(&entries).map_err(failed)?,
        OutputFormat::Table => {
            let mut table =
                output::table(&["seq", "time", "event", "outcome", "correlation id", "actor"]);
            for entry in &entries {
                table.add_row(vec![
                    entry.seq.to_string(),
                    entry.event.time.to_rfc3339(),
                    entry.event.event_type.to_string(),
                    format!("{:?}", entry.event.outcome),
                    entry.event.correlation_id.to_string(),
                    entry.event.actor.clone(),
                ]);
            }
            output::print_table("audit log", &table, "no entries");
        }
    }
    Ok(Completion::Done)
}

async fn checkpoint(
    context: &Context,
    write: Option<&std::path::Path>,
    correlation_id: CorrelationId,
) -> Result<Completion, CommandError> {
    let trail = evidence::open(context)?;
    let checkpoint = trail
        .log()
        .checkpoint(&context.actor, correlation_id.clone())
        .context("cannot checkpoint the audit log")
        .map_err(failed)?;
    // The log wrote the AuditCheckpointed entry itself; spool that same event for the SIEM.
    if let Some(forwarder) = trail.forwarder() {
        let entries = siem::tail(trail.log().dir(), 1, Some(&correlation_id))
            .context("cannot read back the checkpoint entry")
            .map_err(failed)?;
        for entry in entries {
            forwarder
                .spool()
                .push(&entry.event)
                .context("cannot spool the checkpoint entry for the SIEM")
                .map_err(failed)?;
        }
    }
    if let Some(path) = write {
        checkpoint
            .save(path)
            .with_context(|| format!("cannot write the checkpoint to {path:?}"))
            .map_err(failed)?;
    }

    match context.output {
        OutputFormat::Json => output::print_json(&checkpoint).map_err(failed)?,
        OutputFormat::Table => outln!("{checkpoint}"),
    }
    // The checkpoint travels with every SIEM batch, which publishes it off this machine.
    evidence::deliver(&trail).await;
    Ok(Completion::Done)
}
