//! `ops rings promote` and `ops rings gates`.

use std::sync::Arc;

use ops_core::{CorrelationId, Ring};
use ops_store::SystemClock;
use rings::{
    GateReport, GateStatus, Promoter, PromotionOutcome, PromotionPorts, PromotionReport, RingsError,
};
use tracing::Instrument;

use crate::cli::RingsCommand;
use crate::commands::evidence;
use crate::context::Context;
use crate::exit::{CommandError, Completion, bad_input, failed};
use crate::output::{self, OutputFormat, outln};

/// Runs a rings action.
pub async fn run(context: &Context, command: RingsCommand) -> Result<Completion, CommandError> {
    let store = Arc::new(context.open_store()?);
    let trail = evidence::open(context)?;
    let ports = PromotionPorts {
        control_plane: store.clone(),
        incidents: store.clone(),
        journal: store,
        audit: Arc::new(trail.clone()),
        clock: Arc::new(SystemClock),
    };
    let promoter = Promoter::new(
        ports,
        context.config.rings.gates.clone(),
        context.actor.clone(),
    );

    let completion = match command {
        RingsCommand::Promote {
            correlation_id,
            ring,
            dry_run,
        } => promote(context, &promoter, &correlation_id, ring, dry_run).await?,
        RingsCommand::Gates { ring: Some(ring) } => {
            let span = tracing::error_span!("gates", correlation_id = %CorrelationId::generate("promote"), ring = %ring);
            gates(context, &promoter, ring).instrument(span).await?
        }
        RingsCommand::Gates { ring: None } => thresholds(context, &promoter)?,
    };
    evidence::deliver(&trail).await;
    Ok(completion)
}

fn classify(error: RingsError) -> CommandError {
    if error.is_bad_input() {
        bad_input(error)
    } else {
        failed(error)
    }
}

async fn promote(
    context: &Context,
    promoter: &Promoter,
    id: &CorrelationId,
    ring: Ring,
    dry_run: bool,
) -> Result<Completion, CommandError> {
    let report = promoter
        .promote(id, ring, dry_run)
        .await
        .map_err(classify)?;
    print_promotion(context, &report).map_err(failed)?;
    Ok(if report.is_blocked() {
        Completion::Attention
    } else {
        Completion::Done
    })
}

fn print_promotion(context: &Context, report: &PromotionReport) -> anyhow::Result<()> {
    if context.output == OutputFormat::Json {
        return output::print_json(report);
    }
    let summary = match &report.outcome {
        PromotionOutcome::Submitted { intent_id } => {
            format!("submitted {intent_id} for {}", report.to_ring)
        }
        PromotionOutcome::WouldSubmit { intent_id } => {
            format!("would submit {intent_id} for {} (dry run)", report.to_ring)
        }
        PromotionOutcome::AlreadyPromoted { intent_id } => {
            format!(
                "already promoted to {} as {intent_id}; nothing submitted",
                report.to_ring
            )
        }
        PromotionOutcome::Blocked => {
            format!("not promoted to {}: a gate is not met", report.to_ring)
        }
    };
    outln!(
        "{} from {}: {summary} ({})",
        report.intent_id,
        report.from_ring,
        report.promote_id
    );
    if let Some(gates) = &report.gates {
        print_gates(gates);
    }
    Ok(())
}

fn print_gates(report: &GateReport) {
    let mut table = output::table(&["gate", "status", "threshold", "measured"]);
    for gate in &report.gates {
        let status = match gate.status {
            GateStatus::Met => "met",
            GateStatus::NotMet => "NOT MET",
            GateStatus::NoData => "NO DATA (not met)",
        };
        table.add_row(vec![
            gate.gate.name().to_owned(),
            status.to_owned(),
            gate.threshold.clone(),
            gate.measured.clone(),
        ]);
    }
    output::print_table(
        &format!(
            "gates of {} for {} to {}",
            report.intent_id, report.ring, report.next_ring
        ),
        &table,
        "none",
    );
}

async fn gates(
    context: &Context,
    promoter: &Promoter,
    ring: Ring,
) -> Result<Completion, CommandError> {
    let reports = promoter.evaluate_ring(ring).await.map_err(classify)?;
    let all_met = reports.iter().all(GateReport::all_met);
    if context.output == OutputFormat::Json {
        output::print_json(&reports).map_err(failed)?;
    } else if reports.is_empty() {
        outln!("ring {ring} has no approved intents to evaluate");
    } else {
        for report in &reports {
            print_gates(report);
        }
    }
    Ok(if all_met {
        Completion::Done
    } else {
        Completion::Attention
    })
}

fn thresholds(context: &Context, promoter: &Promoter) -> Result<Completion, CommandError> {
    if context.output == OutputFormat::Json {
        output::print_json(promoter.gates()).map_err(failed)?;
        return Ok(Completion::Done);
    }
    let mut table = output::table(&[
        "ring",
        "min success rate",
        "min devices reporting",
        "min bake hours",
        "CAB for high risk",
    ]);
    for (ring, gates) in promoter.gates().iter() {
        table.add_row(vec![
            ring.to_string(),
            format!("{:.1}%", gates.min_success_rate * 100.0),
            gates.min_devices_reporting.to_string(),
            format!("{}", gates.min_bake.as_secs_f64() / 3600.0),
            if gates.require_cab_for_high_risk {
                "required".to_owned()
            } else {
                "not required".to_owned()
            },
        ]);
    }
    output::print_table(
        "gate thresholds (override with [rings.gates.<Ring>])",
        &table,
        "none",
    );
    Ok(Completion::Done)
}
