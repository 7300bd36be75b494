//! `ops intents import` and `ops intents list`.

use std::path::Path;

use anyhow::Context as _;
use chrono::Utc;
use ops_core::audit::{AuditEvent, AuditEventType, Outcome};
use ops_core::ports::ControlPlane;
use ops_core::ports::control_plane::IntentFilter;
use ops_core::{CorrelationId, Ring};
use ops_store::{ImportMode, ImportSummary};
use serde::Serialize;
use tracing::Instrument;

use crate::cli::IntentsCommand;
use crate::commands::evidence;
use crate::context::Context;
use crate::exit::{CommandError, Completion, bad_input, failed};
use crate::output::{self, OutputFormat, outln, plural};

/// Runs an intents action.
pub async fn run(context: &Context, command: IntentsCommand) -> Result<Completion, CommandError> {
    match command {
        IntentsCommand::Import { file, dry_run } => {
            let correlation_id = CorrelationId::generate("import");
            let span = tracing::error_span!("intents_import", correlation_id = %correlation_id);
            import(context, &file, dry_run, &correlation_id)
                .instrument(span)
                .await
        }
        IntentsCommand::List { ring } => {
            let span = tracing::error_span!("intents_list", correlation_id = %CorrelationId::generate("import"));
            list(context, ring).instrument(span).await
        }
    }
}

#[derive(Serialize)]
struct ImportReport<'a> {
    correlation_id: &'a CorrelationId,
    file: &'a Path,
    dry_run: bool,
    #[serde(flatten)]
    summary: &'a ImportSummary,
}

async fn import(
    context: &Context,
    file: &Path,
    dry_run: bool,
    correlation_id: &CorrelationId,
) -> Result<Completion, CommandError> {
    let intents = ops_store::intents_file::read(file).map_err(bad_input)?;
    let store = context.open_store()?;
    let trail = evidence::open(context)?;

    let mode = if dry_run {
        ImportMode::DryRun
    } else {
        ImportMode::Apply
    };
    let now = Utc::now();
    let summary = store
        .import(&intents, now, mode, |summary| -> anyhow::Result<()> {
            let event = AuditEvent::new(
                AuditEventType::IntentsImported,
                correlation_id.clone(),
                &context.actor,
                now,
                Outcome::Success,
            )
            .with_detail("file", file.display().to_string())
            .with_detail("records", intents.len())
            .with_detail("summary", summary);
            evidence::record(&trail, &event).context("the import was not applied")
        })
        .map_err(failed)?;

    tracing::info!(
        records = intents.len(),
        created = summary.created,
        updated = summary.updated,
        unchanged = summary.unchanged,
        kept_rolled_back = summary.kept_rolled_back.len(),
        dry_run,
        "imported intents"
    );
    for id in &summary.approves_rolled_back_version {
        tracing::warn!(
            intent = %id,
            "new intent approves a version that was rolled back in the same ring; check that the fix is in it"
        );
    }
    for id in &summary.kept_rolled_back {
        tracing::warn!(intent = %id, "intent is rolled back in the state store; the import did not revive it");
    }

    let report = ImportReport {
        correlation_id,
        file,
        dry_run,
        summary: &summary,
    };
    match context.output {
        OutputFormat::Json => output::print_json(&report).map_err(failed)?,
        OutputFormat::Table => {
            let verb = if dry_run { "would import" } else { "imported" };
            outln!(
                "{verb} {} from {}: {} created, {} updated, {} unchanged, {} kept rolled back ({correlation_id})",
                plural(intents.len() as u64, "intent"),
                file.display(),
                summary.created,
                summary.updated,
                summary.unchanged,
                summary.kept_rolled_back.len()
            );
        }
    }
    evidence::deliver(&trail).await;
    Ok(Completion::Done)
}

async fn list(context: &Context, ring: Option<Ring>) -> Result<Completion, CommandError> {
    let store = context.open_existing_store()?;
    let filter = IntentFilter {
        ring,
        approved_only: false,
    };
    let intents = store
        .intents(&filter)
        .await
        .context("cannot list intents")
        .map_err(failed)?;

    match context.output {
        OutputFormat::Json => output::print_json(&intents).map_err(failed)?,
        OutputFormat::Table => {
            let mut table = output::table(&[
                "correlation id",
                "application",
                "version",
                "ring",
                "platform",
                "connectors",
                "status",
            ]);
            for intent in &intents {
                let connectors: Vec<&str> = intent
                    .connectors
                    .iter()
                    .map(|connector| connector.name())
                    .collect();
                table.add_row(vec![
                    intent.correlation_id.to_string(),
                    intent.app_name.clone(),
                    intent.version.clone(),
                    intent.ring.to_string(),
                    intent.platform.to_string(),
                    connectors.join(", "),
                    intent.status.to_string(),
                ]);
            }
            output::print_table(
                "intents",
                &table,
                "none stored; load some with `ops intents import FILE`",
            );
        }
    }
    Ok(Completion::Done)
}
