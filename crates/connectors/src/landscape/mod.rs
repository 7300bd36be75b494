//! The Canonical Landscape adapter of the [`ExecutionPlane`] port, for Debian and Ubuntu
//! computers.
//!
//! # Calls
//!
//! Landscape has a REST API under `/api/v2` (Landscape 24.04 LTS and later) and a legacy query
//! API at `/api/?action=...&version=2011-08-01`. Rings map to Landscape tags.
//!
//! - [`deployed_applications`](ExecutionPlane::deployed_applications):
//!   `GET /api/v2/packages?query=tag:<tag>&installed=true&limit=L&offset=O` lists each package
//!   with the tag's computers that report it. A computer counts when it reports a
//!   `current_version`, which is the version. Pages are read by `offset` until `next` is null.
//! - [`remove_application`](ExecutionPlane::remove_application): the package is the request's
//!   `app_name`, which must be a Debian package name. The same listing with `names.1=<name>`
//!   first checks that a computer of the tag has it installed, and gives
//!   [`RemovalOutcome::AlreadyAbsent`] when none has, without creating an activity. The REST
//!   API cannot remove .deb packages, so the legacy
//!   `GET /api/?action=RemovePackages&query=tag:<tag>&packages.1=<name>` does, for every
//!   installed version. A 404 there also gives `AlreadyAbsent`. The call returns an activity,
//!   polled with `GetActivities&query=id:<id>` every `poll_interval_seconds`. A succeeded
//!   activity gives `Removed`, and a failed or canceled one an error naming the activity and
//!   its result text. After `removal_timeout_seconds` the wait ends with a transient error,
//!   while the activity keeps running in Landscape.
//! - [`health`](ExecutionPlane::health): `GET /api/v2/computers?limit=1`.
//!
//! # Authentication
//!
//! REST calls carry `Authorization: Bearer <JWT>` from `POST /api/v2/login/access-key`
//! (`access_key`, `secret_key`, `expiry_minutes`; Landscape 24.10 and later) or
//! `POST /api/v2/login` (`email`, `password`, `account`). The token is replaced before the
//! JWT's `exp` claim (or the requested lifetime), and once after a 401. Legacy calls are
//! signed with the API key (HMAC-SHA256, signature version 2, timestamp from the clock) when
//! one is configured, and carry the JWT otherwise, which Landscape also accepts there.
//!
//! Transient failures, 429 and 503 with Retry-After are retried. A retried `RemovePackages`
//! whose first attempt reached the server creates a second activity, which removes nothing
//! more.
//!
//! # Configuration
//!
//! ```toml
//! [connectors.landscape]
//! url = "https://landscape.example.com"
//! # An API key (Landscape web UI > your account > API credentials) ...
//! access_key = "3AS5YX98J8QI9AZ8OS0V"
//! secret_key = "set through OPS_CONNECTORS__LANDSCAPE__SECRET_KEY"
//! token_expiry_minutes = 60      # lifetime requested for access-key tokens
//! # ... or an account login instead:
//! # email = "ops@example.com"
//! # password = "set through OPS_CONNECTORS__LANDSCAPE__PASSWORD"
//! # account = "acme"             # only when the person belongs to several accounts
//! page_size = 500                # results per package listing page, at most 1000
//! poll_interval_seconds = 15     # pause between reads of a removal activity
//! removal_timeout_seconds = 1800 # a removal still running after this is reported unfinished
//! timeout_seconds = 30
//! max_concurrency = 4
//!
//! [connectors.landscape.rings]   # ring = Landscape tag of its computers
//! Lab = "lab"
//! Canary = "canary"
//! Pilot = "pilot"
//! ```

mod activity;
mod auth;
mod config;
mod packages;
mod signature;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use ops_core::error::PortResult;
use ops_core::ports::{Clock, ExecutionPlane, HealthReport, RemovalOutcome, RemovalRequest};
use ops_core::{ConnectorKind, DeployedApp, ErrorKind, PortError, Ring};
use ops_http::{RestClient, Url};
use serde::Deserialize;

use activity::Polling;
use auth::Tokens;
pub use config::{ConfigError, LandscapeConfig};

/// The service name in errors and logs.
const SERVICE: &str = "Landscape";

/// The Canonical Landscape execution plane. Build it with [`LandscapeConfig::build`].
pub struct LandscapePlane {
    client: RestClient,
    tokens: Arc<Tokens>,
    clock: Arc<dyn Clock>,
    base: Url,
    rings: BTreeMap<Ring, String>,
    page_size: u32,
    polling: Polling,
}

impl LandscapePlane {
    /// Returns the tag of `ring`, or an error naming the missing key.
    fn tag_for(&self, ring: Ring, operation: &str) -> PortResult<&str> {
        self.rings.get(&ring).map(String::as_str).ok_or_else(|| {
            PortError::new(
                ErrorKind::InvalidInput,
                SERVICE,
                operation,
                format!(
                    "ring {ring} has no tag: add it as connectors.landscape.rings.{ring}, such as \
                     {ring} = \"{}\"",
                    ring.name().to_ascii_lowercase()
                ),
            )
        })
    }
}

#[async_trait]
impl ExecutionPlane for LandscapePlane {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Landscape
    }

    async fn remove_application(&self, request: &RemovalRequest) -> PortResult<RemovalOutcome> {
        let operation = "remove application";
        let tag = self.tag_for(request.ring, operation)?;
        let package = request.app_name.trim();
        if !packages::is_package_name(package) {
            return Err(PortError::new(
                ErrorKind::InvalidInput,
                SERVICE,
                operation,
                format!(
                    "{package:?} is not a Debian package name: expected lowercase letters, \
                     digits, '+', '-' and '.', such as \"curl\""
                ),
            ));
        }

        let installed =
            packages::installed(&self.client, tag, Some(package), self.page_size).await?;
        if installed.is_empty() {
            tracing::info!(
                service = SERVICE,
                correlation_id = %request.correlation_id,
                ring = %request.ring,
                tag,
                package,
                "no computer of the tag has the package, nothing to remove"
            );
            return Ok(RemovalOutcome::AlreadyAbsent);
        }
        let requested_version = request.version.trim();
        let at_requested_version = installed
            .iter()
            .filter(|package| package.version == requested_version)
            .count();
        if at_requested_version < installed.len() {
            tracing::warn!(
                service = SERVICE,
                correlation_id = %request.correlation_id,
                package,
                version = requested_version,
                computers = installed.len(),
                computers_at_version = at_requested_version,
                "removing every installed version of the package, not only the requested one"
            );
        }

        let Some(activity_id) = activity::remove_package(&self.client, tag, package).await? else {
            tracing::info!(
                service = SERVICE,
                correlation_id = %request.correlation_id,
                package,
                "Landscape does not know the package, nothing to remove"
            );
            return Ok(RemovalOutcome::AlreadyAbsent);
        };
        tracing::info!(
            service = SERVICE,
            correlation_id = %request.correlation_id,
            ring = %request.ring,
            tag,
            package,
            activity_id,
            "requested the package's removal"
        );
        activity::wait_for(&self.client, &self.clock, activity_id, self.polling).await?;
        tracing::info!(
            service = SERVICE,
            correlation_id = %request.correlation_id,
            activity_id,
            "package removal succeeded"
        );
        Ok(RemovalOutcome::Removed)
    }

    async fn deployed_applications(&self, ring: Ring) -> PortResult<Vec<DeployedApp>> {
        let tag = self.tag_for(ring, "list applications")?;
        let installed = packages::installed(&self.client, tag, None, self.page_size).await?;
        Ok(packages::aggregate(&installed))
    }

    async fn health(&self) -> PortResult<HealthReport> {
        #[derive(Deserialize)]
        struct Computers {
            count: u64,
        }

        let operation = "health check";
        let started = Instant::now();
        let result = async {
            let mut url = self.client.url("api/v2/computers")?;
            url.query_pairs_mut().append_pair("limit", "1");
            self.client.get_json::<Computers>(operation, url).await
        }
        .await;
        let latency = started.elapsed();
        Ok(match result {
            Ok(computers) => HealthReport {
                healthy: true,
                latency,
                detail: format!("Landscape answered, {} computers", computers.count),
            },
            Err(error) => HealthReport {
                healthy: false,
                latency,
                detail: error.to_string(),
            },
        })
    }
}

impl fmt::Debug for LandscapePlane {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("LandscapePlane")
            .field("url", &self.base.as_str())
            .field("tokens", &self.tokens)
            .field("rings", &self.rings)
            .field("page_size", &self.page_size)
            .field("polling", &self.polling)
            .finish_non_exhaustive()
    }
}
