//! `ops rollback`.

use std::sync::Arc;

use anyhow::anyhow;
use ops_store::SystemClock;
use rollback::{
    Rollback, RollbackConfig, RollbackError, RollbackPorts, RollbackReport, RunOptions, StepOutcome,
};
use tracing::Instrument;

use crate::cli::RollbackArgs;
use crate::commands::evidence;
use crate::context::Context;
use crate::exit::{CommandError, Completion, bad_input, failed};
use crate::notifier::TerminalNotifier;
use crate::output::{self, OutputFormat, outln};

/// Runs a rollback, or prints its plan.
pub async fn run(context: &Context, arguments: RollbackArgs) -> Result<Completion, CommandError> {
    // The rollback's own id is known once the plan reads it from the journal; until then the
    // lines carry the deployment's id.
    let span =
        tracing::error_span!("rollback_command", intent_correlation_id = %arguments.correlation_id);
    rollback(context, arguments).instrument(span).await
}

async fn rollback(context: &Context, arguments: RollbackArgs) -> Result<Completion, CommandError> {
    let store = Arc::new(context.open_existing_store()?);
    let trail = evidence::open(context)?;
    let execution_planes = context.execution_planes()?;
    let ports = RollbackPorts {
        control_plane: store.clone(),
        execution_planes,
        journal: store,
        audit: Arc::new(trail.clone()),
        notifier: Arc::new(TerminalNotifier::new(trail.clone(), context.actor.clone())),
        clock: Arc::new(SystemClock),
    };
    let config = RollbackConfig::from_settings(&context.config.rollback, context.actor.clone());
    let service = Rollback::new(ports, config).map_err(classify)?;

    let plan = service
        .plan(&arguments.correlation_id, arguments.ring)
        .await
        .map_err(classify)?;
    let options = RunOptions {
        dry_run: arguments.dry_run,
        resume_past_deadline: arguments.resume_past_deadline,
    };
    let report = service.run(&plan, options).await.map_err(classify)?;

    print(context, &report).map_err(failed)?;
    evidence::deliver(&trail).await;
    if report.dry_run || report.complete {
        return Ok(Completion::Done);
    }
    Err(failed(incomplete(&report)))
}

fn classify(error: RollbackError) -> CommandError {
    if error.is_bad_input() {
        bad_input(error)
    } else {
        failed(error)
    }
}

fn incomplete(report: &RollbackReport) -> anyhow::Error {
    if report.stopped_at_deadline {
        return anyhow!(
            "rollback {} stopped at its deadline {}; review it, then rerun with --resume-past-deadline",
            report.rollback_id,
            report.deadline.to_rfc3339()
        );
    }
    let failures: Vec<String> = report
        .failed_steps()
        .map(|step| match &step.outcome {
            StepOutcome::Failed { error } => {
                format!("{} in {}: {error}", step.connector, step.ring)
            }
            other => format!("{} in {}: {other:?}", step.connector, step.ring),
        })
        .collect();
    anyhow!(
        "rollback {} is incomplete; the intent keeps its status, and a rerun retries only what failed: {}",
        report.rollback_id,
        failures.join("; ")
    )
}

fn print(context: &Context, report: &RollbackReport) -> anyhow::Result<()> {
    if context.output == OutputFormat::Json {
        return output::print_json(report);
    }
    let verb = if report.dry_run {
        "would roll back"
    } else {
        "rollback of"
    };
    let rings: Vec<String> = report.rings.iter().map(ToString::to_string).collect();
    outln!(
        "{verb} {} {} ({}) in {} as {}; deadline {}",
        report.app_name,
        report.version,
        report.intent_id,
        rings.join(", "),
        report.rollback_id,
        report.deadline.to_rfc3339()
    );
    let mut table = output::table(&["ring", "connector", "outcome"]);
    for step in &report.steps {
        let outcome = match &step.outcome {
            StepOutcome::Planned => "planned: remove the application".to_owned(),
            StepOutcome::Removed => "removed".to_owned(),
            StepOutcome::AlreadyAbsent => "already absent".to_owned(),
            StepOutcome::Failed { error } => format!("failed: {error}"),
            StepOutcome::Skipped => "done by an earlier run".to_owned(),
            StepOutcome::NotStarted => "not started".to_owned(),
        };
        table.add_row(vec![
            step.ring.to_string(),
            step.connector.to_string(),
            outcome,
        ]);
    }
    output::print_table("steps", &table, "none");
    if report.complete && !report.dry_run {
        let ids: Vec<String> = report
            .rolled_back_intents
            .iter()
            .map(ToString::to_string)
            .collect();
        outln!("marked RolledBack: {}", ids.join(", "));
    }
    Ok(())
}
