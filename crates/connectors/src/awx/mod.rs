//! The Ansible AWX / Automation Platform controller adapter of the [`ExecutionPlane`] port, for
//! Linux hosts (Debian and RPM packages).
//!
//! # Calls
//!
//! Paths are relative to `{url}{api_path}`: `/api/v2/` on AWX and AAP 2.4 or earlier,
//! `/api/controller/v2/` behind the AAP 2.5 platform gateway. Lists are read page by page
//! through their `next` link, a path relative to the host.
//!
//! - [`remove_application`](ExecutionPlane::remove_application): launches the job template
//!   `uninstall_job_template` on the ring's inventory group.
//!   1. `GET job_templates/{id}/launch/` reads what the template prompts for. The launch is
//!      rejected unless `ask_limit_on_launch` and `ask_variables_on_launch` are true, because
//!      the controller silently drops fields it does not prompt for, and a job without its
//!      limit runs on the whole inventory. It is also rejected when the template needs
//!      passwords at launch, or runs on another inventory than `inventory`
//!      (`defaults.inventory.id`).
//!   2. `POST job_templates/{id}/launch/` with `{"limit": "<group>", "extra_vars": {"app_name",
//!      "app_version", "application_id", "correlation_id"}}` returns 201 with the job id. If
//!      `ignored_fields` is not empty anyway, the job is cancelled (`POST jobs/{id}/cancel/`)
//!      and the call fails, naming the fields.
//!   3. `GET jobs/{id}/` is polled every `poll_interval_seconds` on the clock, for at most
//!      `job_timeout_seconds`, until the status is `successful`, `failed`, `error` or
//!      `canceled`. A job still running then is left running and reported as an error.
//!   4. A `successful` job gives [`RemovalOutcome::Removed`], unless `GET
//!      jobs/{id}/job_host_summaries/` shows no host with `changed` above 0: the playbook
//!      decides idempotence on the hosts, so a run that changed nothing found the application
//!      gone and gives [`RemovalOutcome::AlreadyAbsent`], as does a run that matched no host.
//!      `failed`, `error` and `canceled` are errors naming the job and its `job_explanation`.
//!      A 400 on launch (a required survey question without an answer or default) is an
//!      `InvalidInput` error, and a 401 or 403 an `Unauthorized` one that names the token
//!      scope and the Execute permission.
//!
//!   A launch that fails with a 5xx or a timeout is retried like any call, so a retry after a
//!   lost answer may start the uninstall job twice; the playbook must be idempotent anyway.
//! - [`deployed_applications`](ExecutionPlane::deployed_applications): `GET
//!   inventories/{inventory}/groups/?name=<group>` finds the ring's group, `GET
//!   groups/{id}/all_hosts/` lists its hosts (disabled hosts are left out), and `GET
//!   hosts/{id}/ansible_facts/` reads each host's cached facts. Their `packages` map is the
//!   output of `ansible.builtin.package_facts`: `apt` entries are Debian packages, `rpm`
//!   entries RPM packages versioned `[epoch:]version-release`, as the offline Ansible reader
//!   reads them. Each host counts once per package and version. Entries of other package
//!   managers, or without a version, are skipped and counted at DEBUG level. Hosts without
//!   cached package facts are left out, counted and logged once at WARN level. Facts are cached
//!   only by job templates with fact caching (`use_fact_cache`) enabled.
//! - [`health`](ExecutionPlane::health): `GET me/`, which needs a valid token (unlike `ping/`).
//!
//! # Authentication
//!
//! Every request carries `Authorization: Bearer <token>`: a personal access token or OAuth 2
//! token with `write` scope (a `read` token cannot launch jobs; the launch error says so). On
//! AAP 2.5 and later the platform gateway issues the tokens. The controller cannot refresh such
//! a token. With `token_file`, the file is read again after a 401 and the request retried
//! once, so a rotated token is picked up; a token given inline that expires fails with an
//! `Unauthorized` error.
//!
//! Errors are Django REST framework bodies (`{"detail": ...}` or a map of fields); messages
//! keep the status only. Throttling (429, or 503 with Retry-After, which proxies may add),
//! 5xx and timeouts are retried on the shared retry policy, and at most `max_concurrency`
//! requests are in flight.
//!
//! # Configuration
//!
//! ```toml
//! [connectors.ansible]
//! url = "https://awx.contoso.com"
//! api_path = "/api/v2/"              # "/api/controller/v2/" behind the AAP 2.5 gateway
//! token = "set through OPS_CONNECTORS__ANSIBLE__TOKEN"
//! # token_file = "/run/secrets/awx-token"   # instead of token; read again after a 401
//! inventory = 3                      # the inventory whose groups are the rings
//! uninstall_job_template = 42        # must prompt on launch for Limit and Variables
//! poll_interval_seconds = 10
//! job_timeout_seconds = 3600
//! page_size = 200                    # hosts per page, at most 200
//! timeout_seconds = 30
//! max_concurrency = 4
//!
//! [connectors.ansible.rings]         # ring = inventory group, also the job's limit
//! Lab = "ring_lab"
//! Canary = "ring_canary"
//! Pilot = "ring_pilot"
//! ```

mod config;
mod facts;
mod jobs;
mod token;

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ops_core::error::PortResult;
use ops_core::ports::{Clock, ExecutionPlane, HealthReport, RemovalOutcome, RemovalRequest};
use ops_core::{ConnectorKind, DeployedApp, ErrorKind, PortError, Ring};
use ops_http::{PageGuard, RestClient, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

pub use config::{AwxConfig, ConfigError};

/// The service name in errors and logs.
const SERVICE: &str = "Ansible";

/// The AWX / Automation Platform controller execution plane. Build it with
/// [`AwxConfig::build`].
pub struct AwxPlane {
    client: RestClient,
    clock: Arc<dyn Clock>,
    inventory: u64,
    job_template: u64,
    rings: BTreeMap<Ring, String>,
    poll_interval: Duration,
    job_timeout: Duration,
    page_size: u32,
    max_concurrency: usize,
}

impl fmt::Debug for AwxPlane {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("AwxPlane")
            .field("inventory", &self.inventory)
            .field("job_template", &self.job_template)
            .field("rings", &self.rings)
            .field("poll_interval", &self.poll_interval)
            .field("job_timeout", &self.job_timeout)
            .field("page_size", &self.page_size)
            .field("max_concurrency", &self.max_concurrency)
            .finish_non_exhaustive()
    }
}

/// One page of a list: `{"count": N, "next": "/api/v2/...?page=2", "results": [...]}`.
#[derive(Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    results: Vec<T>,
    next: Option<String>,
}

impl AwxPlane {
    /// Returns the inventory group of `ring`, or an error naming the missing key.
    fn group_for(&self, ring: Ring, operation: &str) -> PortResult<&str> {
        self.rings.get(&ring).map(String::as_str).ok_or_else(|| {
            PortError::new(
                ErrorKind::InvalidInput,
                SERVICE,
                operation,
                format!(
                    "ring {ring} has no inventory group: add it as \
                     connectors.ansible.rings.{ring}, such as {ring} = \"ring_{}\"",
                    ring.name().to_ascii_lowercase()
                ),
            )
        })
    }

    /// Reads every page of a list, following `next`, and fails when a link leads back to a page
    /// already read.
    async fn list_all<T: DeserializeOwned>(&self, operation: &str, url: Url) -> PortResult<Vec<T>> {
        let mut items = Vec::new();
        let mut pages = PageGuard::new(SERVICE, operation);
        let mut url = url;
        loop {
            pages.visit(&url)?;
            let page: Page<T> = self.client.get_json(operation, url).await?;
            items.extend(page.results);
            let Some(next) = page.next else {
                return Ok(items);
            };
            url = self.client.url(&next)?;
        }
    }
}

#[async_trait]
impl ExecutionPlane for AwxPlane {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Ansible
    }

    async fn remove_application(&self, request: &RemovalRequest) -> PortResult<RemovalOutcome> {
        let group = self.group_for(request.ring, "remove application")?;
        self.uninstall(request, group).await
    }

    async fn deployed_applications(&self, ring: Ring) -> PortResult<Vec<DeployedApp>> {
        let group = self.group_for(ring, "list applications")?;
        let hosts = self.ring_hosts(ring, group).await?;
        if hosts.is_empty() {
            tracing::info!(service = SERVICE, %ring, group, "the ring's inventory group has no enabled host");
            return Ok(Vec::new());
        }
        self.installed_packages(ring, hosts).await
    }

    async fn health(&self) -> PortResult<HealthReport> {
        #[derive(Deserialize)]
        struct Me {
            username: String,
        }

        let operation = "health check";
        let started = Instant::now();
        let result = match self.client.url("me/") {
            Ok(url) => self.client.get_json::<Page<Me>>(operation, url).await,
            Err(error) => Err(error),
        };
        let latency = started.elapsed();
        Ok(match result {
            Ok(page) => HealthReport {
                healthy: true,
                latency,
                detail: match page.results.first() {
                    Some(me) => format!("signed in as {}", me.username),
                    None => "the controller answered without a user".to_owned(),
                },
            },
            Err(error) => HealthReport {
                healthy: false,
                latency,
                detail: error.to_string(),
            },
        })
    }
}
