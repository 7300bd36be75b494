//! `ops connectors health` and `ops connectors apps`.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::anyhow;
use ops_core::ports::{ExecutionPlane, HealthReport};
use ops_core::{ConnectorKind, CorrelationId, DeployedApp, Ring};
use serde::Serialize;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::cli::ConnectorsCommand;
use crate::context::Context;
use crate::exit::{CommandError, Completion, bad_input, failed};
use crate::output::{self, OutputFormat};

/// Runs a connectors action.
pub async fn run(
    context: &Context,
    command: ConnectorsCommand,
) -> Result<Completion, CommandError> {
    let span =
        tracing::error_span!("connectors", correlation_id = %CorrelationId::generate("telemetry"));
    connectors(context, command).instrument(span).await
}

async fn connectors(
    context: &Context,
    command: ConnectorsCommand,
) -> Result<Completion, CommandError> {
    match command {
        ConnectorsCommand::Health { connector } => {
            let planes = selected(context, connector)?;
            health(context, planes).await
        }
        ConnectorsCommand::Apps { ring, connector } => {
            let planes = selected(context, connector)?;
            apps(context, planes, ring).await
        }
    }
}

fn selected(
    context: &Context,
    connector: Option<ConnectorKind>,
) -> Result<BTreeMap<ConnectorKind, Arc<dyn ExecutionPlane>>, CommandError> {
    let mut planes = context.execution_planes()?;
    if planes.is_empty() {
        return Err(bad_input(anyhow!(
            "no execution plane is configured: add a [connectors.<name>] section to the configuration file (see docs/configuration.md)"
        )));
    }
    if let Some(kind) = connector {
        let plane = planes.remove(&kind).ok_or_else(|| {
            bad_input(anyhow!(
                "connector {kind} is not configured: add a [connectors.{}] section",
                section_name(kind)
            ))
        })?;
        planes = BTreeMap::from([(kind, plane)]);
    }
    Ok(planes)
}

fn section_name(kind: ConnectorKind) -> &'static str {
    match kind {
        ConnectorKind::Intune => "intune",
        ConnectorKind::Jamf => "jamf",
        ConnectorKind::Sccm => "sccm",
        ConnectorKind::Landscape => "landscape",
        ConnectorKind::Ansible => "ansible",
    }
}

#[derive(Serialize)]
struct HealthLine {
    connector: ConnectorKind,
    #[serde(flatten)]
    report: Option<HealthReport>,
    error: Option<String>,
}

async fn health(
    context: &Context,
    planes: BTreeMap<ConnectorKind, Arc<dyn ExecutionPlane>>,
) -> Result<Completion, CommandError> {
    let mut checks = JoinSet::new();
    for (kind, plane) in planes {
        let span = tracing::info_span!("health", connector = %kind);
        checks.spawn(async move { (kind, plane.health().await) }.instrument(span));
    }
    let mut lines = Vec::new();
    while let Some(joined) = checks.join_next().await {
        let (connector, result) = joined.map_err(failed)?;
        let line = match result {
            Ok(report) => HealthLine {
                connector,
                report: Some(report),
                error: None,
            },
            Err(error) => HealthLine {
                connector,
                report: None,
                error: Some(format!("{:#}", anyhow::Error::from(error))),
            },
        };
        lines.push(line);
    }
    lines.sort_by_key(|line| line.connector);
    let all_healthy = lines
        .iter()
        .all(|line| line.report.as_ref().is_some_and(|report| report.healthy));

    match context.output {
        OutputFormat::Json => output::print_json(&lines).map_err(failed)?,
        OutputFormat::Table => {
            let mut table = output::table(&["connector", "healthy", "latency", "detail"]);
            for line in &lines {
                let (healthy, latency, detail) = match (&line.report, &line.error) {
                    (Some(report), _) => (
                        report.healthy,
                        format!("{} ms", report.latency.as_millis()),
                        report.detail.clone(),
                    ),
                    (None, error) => (false, "-".to_owned(), error.clone().unwrap_or_default()),
                };
                table.add_row(vec![
                    line.connector.to_string(),
                    healthy.to_string(),
                    latency,
                    detail,
                ]);
            }
            output::print_table("execution planes", &table, "none");
        }
    }
    if all_healthy {
        Ok(Completion::Done)
    } else {
        Err(failed(anyhow!("at least one execution plane is unhealthy")))
    }
}

async fn apps(
    context: &Context,
    planes: BTreeMap<ConnectorKind, Arc<dyn ExecutionPlane>>,
    ring: Ring,
) -> Result<Completion, CommandError> {
    let mut listings = JoinSet::new();
    for (kind, plane) in planes {
        listings.spawn(async move { (kind, plane.deployed_applications(ring).await) });
    }
    let mut by_connector: BTreeMap<ConnectorKind, Vec<DeployedApp>> = BTreeMap::new();
    let mut failures = Vec::new();
    while let Some(joined) = listings.join_next().await {
        let (connector, result) = joined.map_err(failed)?;
        match result {
            Ok(apps) => {
                by_connector.insert(connector, apps);
            }
            Err(error) => failures.push(format!("{connector}: {:#}", anyhow::Error::from(error))),
        }
    }

    match context.output {
        OutputFormat::Json => output::print_json(&by_connector).map_err(failed)?,
        OutputFormat::Table => {
            for (connector, apps) in &by_connector {
                let mut table = output::table(&["application", "version", "platform", "devices"]);
                for app in apps {
                    table.add_row(vec![
                        app.name.clone(),
                        app.version.clone(),
                        app.platform.to_string(),
                        app.devices.to_string(),
                    ]);
                }
                output::print_table(&format!("{connector} in {ring}"), &table, "no applications");
            }
        }
    }
    if failures.is_empty() {
        Ok(Completion::Done)
    } else {
        Err(failed(anyhow!(
            "listing failed for {}",
            failures.join("; ")
        )))
    }
}
