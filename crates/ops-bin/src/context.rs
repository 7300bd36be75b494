//! What every command needs: resolved options, configuration and the adapters they open.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use connectors::config::ConnectorsConfig;
use ops_core::ConnectorKind;
use ops_core::ports::{ExecutionPlane, Secret};
use ops_store::{DATABASE_FILE, SqliteStore, SystemClock};

use crate::cli::GlobalOptions;
use crate::config::{Config, DEFAULT_STATE_DIR};
use crate::exit::{CommandError, bad_input, failed};
use crate::output::OutputFormat;

/// Resolved global options and configuration.
pub struct Context {
    /// The state directory.
    pub state_dir: PathBuf,
    /// The output format.
    pub output: OutputFormat,
    /// Who acts, as recorded in audit events.
    pub actor: String,
    /// The configuration.
    pub config: Config,
    /// The process environment, read once at start-up.
    pub environment: BTreeMap<String, String>,
    /// The `[connectors]` section, taken out of `config` because building the adapters
    /// consumes it, and at most one command runs per process.
    connectors: Mutex<ConnectorsConfig>,
}

impl Context {
    /// Resolves options: a flag wins over its `OPS_*` variable (clap reads both), which wins
    /// over the configuration file, which wins over the default.
    pub fn new(
        options: &GlobalOptions,
        mut config: Config,
        environment: &BTreeMap<String, String>,
    ) -> Context {
        let connectors = Mutex::new(std::mem::take(&mut config.connectors));
        let state_dir = options
            .state_dir
            .clone()
            .or_else(|| config.state_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
        let output = options.output.or(config.output).unwrap_or_default();
        let actor = config
            .actor
            .clone()
            .unwrap_or_else(|| default_actor(environment));
        Context {
            state_dir,
            output,
            actor,
            config,
            environment: environment.clone(),
            connectors,
        }
    }

    /// Opens the embedded store in the state directory.
    pub fn open_store(&self) -> Result<SqliteStore, CommandError> {
        SqliteStore::open(&self.state_dir)
            .with_context(|| format!("cannot open the state store in {:?}", self.state_dir))
            .map_err(failed)
    }

    /// Opens the state store to read the intents in it. A state directory without a store is
    /// bad input: it is most often a mistyped `--state-dir` or `OPS_STATE_DIR`, and an empty
    /// store would make every installed application look unauthorized.
    pub fn open_existing_store(&self) -> Result<SqliteStore, CommandError> {
        if !self.state_dir.join(DATABASE_FILE).is_file() {
            return Err(bad_input(anyhow::anyhow!(
                "no state store in {:?}: check --state-dir and OPS_STATE_DIR, or load intents \
                 with `ops intents import FILE` first",
                self.state_dir
            )));
        }
        self.open_store()
    }

    /// Returns the audit log's directory.
    pub fn audit_dir(&self) -> PathBuf {
        self.state_dir.join("audit")
    }

    /// Builds an adapter for every execution plane configured in `[connectors]`.
    pub fn execution_planes(
        &self,
    ) -> Result<BTreeMap<ConnectorKind, Arc<dyn ExecutionPlane>>, CommandError> {
        let config = std::mem::take(
            &mut *self
                .connectors
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        config.build(Arc::new(SystemClock)).map_err(bad_input)
    }

    /// Returns the SIEM spool's directory.
    pub fn spool_dir(&self) -> PathBuf {
        self.state_dir.join("spool")
    }

    /// Returns the SIEM sink's secret, read from the environment variable the configuration
    /// names, if any.
    pub fn siem_secret(&self) -> Option<Secret> {
        let variable = self.config.siem.secret_env()?;
        self.environment
            .get(variable)
            .map(|value| Secret::new(value.clone()))
    }
}

fn default_actor(environment: &BTreeMap<String, String>) -> String {
    let user = environment
        .get("USER")
        .or_else(|| environment.get("LOGNAME"))
        .filter(|name| !name.is_empty())
        .cloned()
        .or_else(process_user)
        .unwrap_or_else(|| "unknown".to_owned());
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| environment.get("HOSTNAME").cloned())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{user}@{host}")
}

/// Returns the name of the user the process runs as, for jobs that run without `USER`, such
/// as cron and systemd units: the owner of `/proc/self`, named through `/etc/passwd`, or
/// `uid:N` when the file has no entry for it.
fn process_user() -> Option<String> {
    use std::os::unix::fs::MetadataExt;

    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = user_name(&passwd, uid).unwrap_or_else(|| format!("uid:{uid}"));
    Some(name)
}

/// Returns the name of `uid` in the text of an `/etc/passwd` file
/// (`name:password:uid:gid:gecos:home:shell` per line).
fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let listed = fields.nth(1)?.parse::<u32>().ok()?;
        (listed == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_name_reads_passwd_lines() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      # a comment\n\
                      ops:x:1001:1001:Ops,,,:/home/ops:/bin/sh\n";
        assert_eq!(user_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_name(passwd, 1001).as_deref(), Some("ops"));
        assert_eq!(user_name(passwd, 42), None);
    }

    #[test]
    fn actor_falls_back_to_process_user() {
        let actor = default_actor(&BTreeMap::new());
        let (user, host) = actor.split_once('@').unwrap();
        assert!(!user.is_empty());
        assert_ne!(user, "unknown");
        assert!(!host.is_empty());
    }
}
