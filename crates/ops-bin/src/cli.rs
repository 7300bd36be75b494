//! The command line: global options and one subcommand per domain.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use ops_core::{ConnectorKind, CorrelationId, Ring};

use crate::exit;
use crate::output::{LogFormat, OutputFormat};

/// Operations tooling for the endpoint-deployment control plane.
///
/// Runs on an embedded state directory with no setup; configuration points the same commands at
/// real services. Every operation gets a correlation id that appears on every log line and in
/// the audit log.
#[derive(Debug, Parser)]
#[command(name = "ops", version, after_help = exit::HELP, max_term_width = 100)]
pub struct Cli {
    /// Global options.
    #[command(flatten)]
    pub global: GlobalOptions,

    /// The domain and action to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalOptions {
    /// State directory holding the embedded database (ops.db), the audit log and the SIEM spool
    /// [default: ./.ops, or state_dir in the configuration file]
    #[arg(long, global = true, env = "OPS_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Configuration file (TOML); OPS_* environment variables override its keys
    #[arg(long, global = true, env = "OPS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Format of results on stdout [default: table]
    #[arg(long, global = true, env = "OPS_OUTPUT", value_enum)]
    pub output: Option<OutputFormat>,

    /// Format of log lines on stderr [default: text]
    #[arg(long, global = true, env = "OPS_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

/// The domains.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load and list deployment intents in the embedded control plane
    #[command(subcommand)]
    Intents(IntentsCommand),

    /// Compare a ring's approved intents with what its inventories say is installed
    ///
    /// Reports unauthorized applications (installed, not approved), missing ones (approved, not
    /// installed) and version drift (installed at another version). Exits with 3 when anything
    /// needs attention, 0 when the ring is as approved.
    Drift(DriftArgs),

    /// Remove a deployment through every execution plane it used, within the 4-hour SLA
    ///
    /// Marks the intents RolledBack only when every plane succeeded. A rerun retries only the
    /// planes that failed and resumes after a crash. Exits with 1 when a plane failed or the
    /// deadline stopped the run.
    Rollback(RollbackArgs),

    /// Evaluate promotion gates and promote deployments to the next ring
    #[command(subcommand)]
    Rings(RingsCommand),

    /// Check and query the configured execution planes
    #[command(subcommand)]
    Connectors(ConnectorsCommand),

    /// Verify and read the tamper-evident local audit log
    #[command(subcommand)]
    Audit(AuditCommand),

    /// Deliver audit events to the configured SIEM
    #[command(subcommand)]
    Siem(SiemCommand),
}

/// Actions on intents.
#[derive(Debug, Subcommand)]
pub enum IntentsCommand {
    /// Import intents from a JSON file (an array of intent objects)
    ///
    /// The file is accepted whole or not at all. Importing the same file again changes nothing;
    /// an intent stored as RolledBack is never revived by an import.
    Import {
        /// The intents file
        file: PathBuf,

        /// Validate the file and show what would change, without writing
        #[arg(long)]
        dry_run: bool,
    },

    /// List stored intents
    List {
        /// Only intents for this ring (Lab, Canary, Pilot, Department, Global)
        #[arg(long, value_parser = parse_ring)]
        ring: Option<Ring>,
    },
}

/// Arguments of `ops drift`.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The ring to check (Lab, Canary, Pilot, Department, Global)
    #[arg(long, value_parser = parse_ring)]
    pub ring: Ring,

    /// Read approved intents from this JSON file instead of the state store
    #[arg(long, value_name = "FILE")]
    pub intents: Option<PathBuf>,

    /// An inventory to read, as FORMAT:PATH; repeat for several. Formats: dpkg, osquery,
    /// ansible, intune, jamf, sccm. Example: dpkg:/var/lib/dpkg/status
    #[arg(long = "inventory", value_name = "FORMAT:PATH", required = true, value_parser = parse_inventory)]
    pub inventories: Vec<connectors::inventory::InventorySource>,

    /// Rows shown per list in table output; 0 shows all. JSON output always has every row
    #[arg(long, default_value_t = 20, value_name = "ROWS")]
    pub limit: usize,
}

/// Arguments of `ops rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The correlation id of the deployment intent to roll back
    #[arg(long, value_parser = parse_correlation_id)]
    pub correlation_id: CorrelationId,

    /// Roll back only this ring [default: every ring the deployment reached]
    #[arg(long, value_parser = parse_ring)]
    pub ring: Option<Ring>,

    /// Print the plan (rings, planes, calls) and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Continue a rollback that stopped at its deadline, after a person reviewed it
    #[arg(long)]
    pub resume_past_deadline: bool,
}

/// Actions on rings.
#[derive(Debug, Subcommand)]
pub enum RingsCommand {
    /// Promote a deployment from its ring to the next one when every gate is met
    ///
    /// Exits with 3 and lists each unmet gate, with its threshold and measured value, when a
    /// gate blocks the promotion; nothing is submitted then. A rerun never submits twice.
    Promote {
        /// The correlation id of the deployment intent to promote
        #[arg(long, value_parser = parse_correlation_id)]
        correlation_id: CorrelationId,

        /// The ring the deployment is in now
        #[arg(long, value_parser = parse_ring)]
        ring: Ring,

        /// Evaluate the gates and show what would be submitted, without submitting
        #[arg(long)]
        dry_run: bool,
    },

    /// Show the gates of every approved intent in a ring, or the configured thresholds
    Gates {
        /// Evaluate the approved intents of this ring [default: print the thresholds per ring]
        #[arg(long, value_parser = parse_ring)]
        ring: Option<Ring>,
    },
}

/// Actions on execution planes.
#[derive(Debug, Subcommand)]
pub enum ConnectorsCommand {
    /// Check that each configured execution plane answers an authenticated call, concurrently
    Health {
        /// Only this connector (Intune, Jamf, SCCM, Landscape, Ansible)
        #[arg(long, value_parser = parse_connector)]
        connector: Option<ConnectorKind>,
    },

    /// List the applications deployed in a ring, as each configured execution plane reports them
    Apps {
        /// The ring (Lab, Canary, Pilot, Department, Global)
        #[arg(long, value_parser = parse_ring)]
        ring: Ring,

        /// Only this connector
        #[arg(long, value_parser = parse_connector)]
        connector: Option<ConnectorKind>,
    },
}

/// Actions on the audit log.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain and report the first entry that was edited, deleted, inserted,
    /// reordered or truncated
    Verify {
        /// A checkpoint the log must still contain: HASH@COUNT, or a file holding HASH@COUNT or
        /// the JSON that `ops audit checkpoint --output json` prints
        #[arg(long, value_name = "FILE|HASH@COUNT")]
        checkpoint: Option<String>,
    },

    /// Show the newest entries
    Tail {
        /// How many entries to show
        #[arg(short = 'n', long, default_value_t = 20)]
        count: usize,

        /// Only entries of this operation
        #[arg(long, value_parser = parse_correlation_id)]
        correlation_id: Option<CorrelationId>,
    },

    /// Record and print a checkpoint (entry count and head hash) to keep off this machine
    Checkpoint {
        /// Also write the checkpoint to this file
        #[arg(long, value_name = "FILE")]
        write: Option<PathBuf>,
    },
}

/// Actions on SIEM delivery.
#[derive(Debug, Subcommand)]
pub enum SiemCommand {
    /// Deliver spooled events to the configured SIEM, oldest first
    Flush,
}

fn parse_ring(text: &str) -> Result<Ring, String> {
    text.parse()
        .map_err(|error: ops_core::ring::UnknownRing| error.to_string())
}

fn parse_inventory(text: &str) -> Result<connectors::inventory::InventorySource, String> {
    text.parse::<connectors::inventory::InventorySource>()
        .map_err(|error| {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            message
        })
}

fn parse_connector(text: &str) -> Result<ConnectorKind, String> {
    text.parse()
        .map_err(|error: ops_core::connector::UnknownConnector| error.to_string())
}

fn parse_correlation_id(text: &str) -> Result<CorrelationId, String> {
    CorrelationId::parse(text).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
