//! `ops drift`: a ring's approved intents against its inventories.

use std::collections::BTreeSet;
use std::io::IsTerminal;

use anyhow::Context as _;
use chrono::Utc;
use connectors::inventory::{InventorySource, read_inventory};
use drift::DriftReport;
use indicatif::{ProgressBar, ProgressStyle};
use ops_core::audit::{AuditEvent, AuditEventType, Outcome};
use ops_core::ports::ControlPlane;
use ops_core::ports::control_plane::IntentFilter;
use ops_core::{CorrelationId, DeploymentIntent, Inventory, Platform};
use serde::Serialize;
use tracing::Instrument;

use crate::cli::DriftArgs;
use crate::commands::evidence;
use crate::context::Context;
use crate::exit::{CommandError, Completion, bad_input, failed};
use crate::output::{self, OutputFormat, outln, plural};

/// Runs drift detection.
pub async fn run(context: &Context, arguments: DriftArgs) -> Result<Completion, CommandError> {
    let correlation_id = CorrelationId::generate("drift");
    let span =
        tracing::error_span!("drift", correlation_id = %correlation_id, ring = %arguments.ring);
    detect(context, arguments, &correlation_id)
        .instrument(span)
        .await
}

#[derive(Serialize)]
struct DriftOutput<'a> {
    correlation_id: &'a CorrelationId,
    #[serde(flatten)]
    report: &'a DriftReport,
    /// Approved intents of the ring for platforms that no inventory describes; they were not
    /// compared, so they appear in no list.
    not_compared: &'a NotCompared,
}

/// Intents left out because no inventory describes their platform.
#[derive(Debug, Default, Serialize)]
struct NotCompared {
    intents: usize,
    platforms: BTreeSet<Platform>,
}

async fn detect(
    context: &Context,
    arguments: DriftArgs,
    correlation_id: &CorrelationId,
) -> Result<Completion, CommandError> {
    let mut intents = load_intents(context, &arguments).await?;
    let trail = evidence::open(context)?;
    let (inventory, counts_only) = read_inventories(&arguments.inventories)?;

    let covered = covered_platforms(&arguments.inventories, &inventory);
    let mut not_compared = NotCompared::default();
    intents.retain(|intent| {
        let compared = covered.contains(&intent.platform);
        if !compared && intent.ring == arguments.ring && intent.status.is_approved() {
            not_compared.intents += 1;
            not_compared.platforms.insert(intent.platform);
        }
        compared
    });
    let report = drift::detect(arguments.ring, &intents, &inventory);
    if report.intents_compared == 0 && not_compared.intents > 0 {
        let platforms: Vec<&str> = not_compared.platforms.iter().map(|p| p.name()).collect();
        return Err(bad_input(anyhow::anyhow!(
            "ring {} has {}, all for platforms no inventory describes ({}), so nothing would be \
             compared: add an inventory of those platforms",
            arguments.ring,
            plural(not_compared.intents as u64, "approved intent"),
            platforms.join(", ")
        )));
    }

    let outcome_type = if report.has_drift() {
        AuditEventType::DriftDetected
    } else {
        AuditEventType::NoDrift
    };
    let sources: Vec<String> = arguments
        .inventories
        .iter()
        .map(ToString::to_string)
        .collect();
    let event = AuditEvent::new(
        outcome_type,
        correlation_id.clone(),
        &context.actor,
        Utc::now(),
        Outcome::Success,
    )
    .with_detail("ring", arguments.ring)
    .with_detail("inventories", &sources)
    .with_detail("unauthorized", report.unauthorized.len())
    .with_detail("missing", report.missing.len())
    .with_detail("version_drift", report.version_drift.len())
    .with_detail("unparsable", report.unparsable.len())
    .with_detail("devices", report.devices)
    .with_detail("inventory_rows", report.inventory_rows);
    evidence::record(&trail, &event)
        .context("the drift result was not reported")
        .map_err(failed)?;

    if report.has_drift() {
        tracing::warn!(
            unauthorized = report.unauthorized.len(),
            missing = report.missing.len(),
            version_drift = report.version_drift.len(),
            unparsable = report.unparsable.len(),
            "drift detected"
        );
    } else {
        tracing::info!(
            intents = report.intents_compared,
            entries = report.inventory_entries,
            "no drift"
        );
    }
    let summary = Summary {
        report: &report,
        not_compared: &not_compared,
        counts_only: &counts_only,
    };
    print(context, &summary, correlation_id, arguments.limit).map_err(failed)?;
    evidence::deliver(&trail).await;

    Ok(if report.has_drift() {
        Completion::Attention
    } else {
        Completion::Done
    })
}

/// Returns the platforms the inventories describe: each format's own, and for osquery those of
/// the rows it held.
fn covered_platforms(sources: &[InventorySource], inventory: &Inventory) -> BTreeSet<Platform> {
    let mut covered = BTreeSet::new();
    for source in sources {
        match source.format.platforms() {
            Some(platforms) => covered.extend(platforms.iter().copied()),
            None => covered.extend(inventory.platforms()),
        }
    }
    covered
}

async fn load_intents(
    context: &Context,
    arguments: &DriftArgs,
) -> Result<Vec<DeploymentIntent>, CommandError> {
    if let Some(file) = &arguments.intents {
        return ops_store::intents_file::read(file).map_err(bad_input);
    }

    let store = context.open_existing_store()?;
    let filter = IntentFilter {
        ring: Some(arguments.ring),
        approved_only: true,
    };
    let intents = store
        .intents(&filter)
        .await
        .context("cannot read approved intents from the state store")
        .map_err(failed)?;
    if intents.is_empty() {
        tracing::warn!(
            state_dir = %context.state_dir.display(),
            "the state store has no approved intents for this ring: everything installed will show as unauthorized; \
             load intents with `ops intents import FILE` or pass --intents FILE"
        );
    }
    Ok(intents)
}

/// Reads every inventory into one. Also returns the sources that carry device counts but name no
/// devices (aggregated exports), which the distinct device count of the report leaves out.
fn read_inventories(sources: &[InventorySource]) -> Result<(Inventory, Vec<String>), CommandError> {
    let total_bytes: u64 = sources
        .iter()
        .filter_map(|source| std::fs::metadata(&source.path).ok())
        .map(|metadata| metadata.len())
        .sum();
    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(total_bytes);
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar
    } else {
        ProgressBar::hidden()
    };

    let mut inventory = Inventory::new();
    let mut counts_only = Vec::new();
    let mut done_bytes = 0;
    for source in sources {
        progress.set_message(source.to_string());
        let offset = done_bytes;
        let report_progress = |bytes: u64| progress.set_position(offset + bytes);
        let summary =
            read_inventory(source, &mut inventory, &report_progress).map_err(bad_input)?;
        if summary.rows == 0 {
            // An empty export, such as the log of a stopped osqueryd, would otherwise hide every
            // missing application.
            let skipped: u64 = summary.skipped.iter().map(|skipped| skipped.rows).sum();
            return Err(bad_input(anyhow::anyhow!(
                "inventory {source} has no software rows ({skipped} skipped): check that the \
                 export is complete and lists installed software"
            )));
        }
        if summary.devices == 0 {
            counts_only.push(source.to_string());
        }
        done_bytes += summary.bytes;
        tracing::info!(inventory = %source, rows = summary.rows, bytes = summary.bytes, "read inventory");
    }
    progress.finish_and_clear();
    Ok((inventory, counts_only))
}

/// The parts of the report besides the three lists.
struct Summary<'a> {
    report: &'a DriftReport,
    not_compared: &'a NotCompared,
    /// Inventories that carry device counts but name no devices.
    counts_only: &'a [String],
}

fn print(
    context: &Context,
    summary: &Summary<'_>,
    correlation_id: &CorrelationId,
    limit: usize,
) -> anyhow::Result<()> {
    let Summary {
        report,
        not_compared,
        counts_only,
    } = *summary;
    if context.output == OutputFormat::Json {
        return output::print_json(&DriftOutput {
            correlation_id,
            report,
            not_compared,
        });
    }

    // Aggregated exports (an Intune discovered-apps CSV) carry counts, not device ids, so the
    // distinct device count leaves them out.
    let sources = counts_only.join(", ");
    let name = if counts_only.len() == 1 {
        "names"
    } else {
        "name"
    };
    let devices = match (report.devices, counts_only.is_empty()) {
        (0, true) => String::new(),
        (count, true) => format!(" on {}", plural(count as u64, "device")),
        (0, false) => format!(" (device counts only: {sources} {name} no devices)"),
        (count, false) => format!(
            " on {} plus the devices counted in {sources}, which {name} none",
            plural(count as u64, "device")
        ),
    };
    outln!(
        "drift in ring {} ({correlation_id}): {} compared with {} from {}{devices}",
        report.ring,
        plural(report.intents_compared as u64, "approved intent"),
        plural(report.inventory_entries as u64, "inventory entry"),
        plural(report.inventory_rows, "row"),
    );
    if not_compared.intents > 0 {
        let platforms: Vec<&str> = not_compared
            .platforms
            .iter()
            .map(|platform| platform.name())
            .collect();
        outln!(
            "not compared: {} for {}, which no inventory describes",
            plural(not_compared.intents as u64, "approved intent"),
            platforms.join(", ")
        );
    }

    let shown = |total: usize| if limit == 0 { total } else { total.min(limit) };
    let mut unauthorized = output::table(&["application", "version", "platform", "devices"]);
    for app in &report.unauthorized[..shown(report.unauthorized.len())] {
        unauthorized.add_row(vec![
            app.name.clone(),
            app.version.clone(),
            app.platform.to_string(),
            app.devices.to_string(),
        ]);
    }
    output::print_table(
        "unauthorized (installed, not approved)",
        &unauthorized,
        "none",
    );
    print_hidden(report.unauthorized.len(), shown(report.unauthorized.len()));

    let mut missing = output::table(&["application", "version", "platform", "intent"]);
    for app in &report.missing[..shown(report.missing.len())] {
        missing.add_row(vec![
            app.name.clone(),
            app.version.clone(),
            app.platform.to_string(),
            app.correlation_id.clone(),
        ]);
    }
    output::print_table("missing (approved, not installed)", &missing, "none");
    print_hidden(report.missing.len(), shown(report.missing.len()));

    let mut drifted = output::table(&[
        "application",
        "expected",
        "actual",
        "direction",
        "platform",
        "devices",
    ]);
    for app in &report.version_drift[..shown(report.version_drift.len())] {
        let direction = if app.newer { "newer" } else { "older" };
        drifted.add_row(vec![
            app.name.clone(),
            app.expected.clone(),
            app.actual.clone(),
            direction.to_owned(),
            app.platform.to_string(),
            app.devices.to_string(),
        ]);
    }
    output::print_table("version drift", &drifted, "none");
    print_hidden(
        report.version_drift.len(),
        shown(report.version_drift.len()),
    );

    if !report.unparsable.is_empty() {
        let mut unparsable = output::table(&["application", "version", "from", "scheme", "error"]);
        for entry in &report.unparsable {
            unparsable.add_row(vec![
                entry.name.clone(),
                entry.version.clone(),
                entry.source.to_owned(),
                entry.scheme.to_string(),
                entry.error.clone(),
            ]);
        }
        output::print_table("versions that could not be compared", &unparsable, "none");
    }
    Ok(())
}

fn print_hidden(total: usize, shown: usize) {
    if total > shown {
        outln!(
            "... and {} more: pass --limit 0 to show all, or --output json",
            total - shown
        );
    }
}
