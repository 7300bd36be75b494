//! The Jamf Pro adapter of the [`ExecutionPlane`] port, for macOS computers.
//!
//! # Calls
//!
//! Jamf Pro serves two APIs on one host: the Jamf Pro API under `/api` (JSON) and the Classic
//! API under `/JSSResource` (JSON on GET with `Accept: application/json`, XML only on writes).
//!
//! - [`deployed_applications`](ExecutionPlane::deployed_applications):
//!   `GET /JSSResource/computergroups/id/{group}` lists the ring's computers (Classic ids are
//!   integers). Then `GET /api/v{N}/computers-inventory?section=GENERAL&section=APPLICATIONS
//!   &page=P&page-size=S&sort=id:asc&filter=id=in=(...)` reads their inventory, 100 computer ids
//!   per RSQL filter. `N` is `inventory_api_version` (3 by default; Jamf Pro 11.30 added 4 and
//!   deprecated 3). Pages are numbered from 0 and read until `(P + 1) * S >= totalCount`.
//!   Names lose their `.app` suffix, as the offline Jamf inventory reader names them, and each
//!   computer counts once per name and version.
//! - [`remove_application`](ExecutionPlane::remove_application): the policy that deploys the
//!   application is the request's `application_id` when that is a decimal number, or else the
//!   one policy named by `policy_name` (`GET /JSSResource/policies`). `GET
//!   /JSSResource/policies/id/{id}` reads its scope, and `PUT /JSSResource/policies/id/{id}`
//!   with an XML body adds the ring's group to the policy's excluded computer groups.
//!   Exclusion is used instead of removing the group from the targets, because an exclusion
//!   also holds when the policy targets all computers or another group that overlaps the ring.
//!   A policy that is gone (404) or already excludes the group gives
//!   [`RemovalOutcome::AlreadyAbsent`]. Scoping a policy out stops further installs but does
//!   not uninstall the application from computers that have it.
//! - [`health`](ExecutionPlane::health): `GET /api/v1/jamf-pro-version`.
//!
//! # Authentication
//!
//! With `client_id` and `client_secret` (an API client, Jamf Pro 10.49 or later), tokens come
//! from `POST /api/oauth/token` (client-credentials grant) and are replaced before they expire,
//! because API-client tokens cannot be kept alive. With `username` and `password`, tokens come
//! from `POST /api/v1/auth/token` with HTTP Basic and are renewed through `POST
//! /api/v1/auth/keep-alive` before they expire. Both kinds go out as `Authorization: Bearer`,
//! on the Classic API too, and a 401 fetches a new token once.
//!
//! Jamf Pro has no rate limiter and sends no 429, and Jamf recommends at most five concurrent
//! connections per client, so `max_concurrency` is capped at 5. Transient failures (5xx, timeouts) are retried.
//!
//! # Configuration
//!
//! ```toml
//! [connectors.jamf]
//! url = "https://contoso.jamfcloud.com"
//! # An API client (Settings > API roles and clients) ...
//! client_id = "0b2d6c1e-3f4a-4e5b-8c7d-9e0f1a2b3c4d"
//! client_secret = "set through OPS_CONNECTORS__JAMF__CLIENT_SECRET"
//! # ... or a user account instead:
//! # username = "ops-rollback"
//! # password = "set through OPS_CONNECTORS__JAMF__PASSWORD"
//! inventory_api_version = 3      # 4 on Jamf Pro 11.30 and later
//! page_size = 100                # computers per inventory page
//! policy_name = "{name}"         # the policy that deploys an app; {name} and {version} are replaced
//! timeout_seconds = 30
//! max_concurrency = 4            # 1 to 5
//!
//! [connectors.jamf.rings]        # ring = Classic API id of its computer group
//! Lab = 40
//! Canary = 42
//! Pilot = 43
//! ```

mod auth;
mod computers;
mod config;
mod ids;
mod policy;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Instant;

use async_trait::async_trait;
use ops_core::error::PortResult;
use ops_core::ports::{ExecutionPlane, HealthReport, RemovalOutcome, RemovalRequest};
use ops_core::{ConnectorKind, DeployedApp, ErrorKind, PortError, Ring};
use ops_http::{Method, RestClient, Url, decode_json};
use reqwest::header::ACCEPT;
use serde::Deserialize;

pub use config::{ConfigError, JamfConfig, MAX_CONCURRENCY_LIMIT};
pub use ids::IdValue;

/// The service name in errors and logs.
const SERVICE: &str = "Jamf";

/// The kind of credentials the adapter authenticates with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthMethod {
    /// An API client and the client-credentials grant.
    ApiClient,
    /// A user account and Basic credentials.
    User,
}

/// The Jamf Pro execution plane. Build it with [`JamfConfig::build`].
pub struct JamfPlane {
    client: RestClient,
    base: Url,
    auth_method: AuthMethod,
    rings: BTreeMap<Ring, u64>,
    inventory_api_version: u32,
    page_size: u32,
    policy_name: String,
}

impl JamfPlane {
    /// Returns the computer group of `ring`, or an error naming the missing key.
    fn group_for(&self, ring: Ring, operation: &str) -> PortResult<u64> {
        self.rings.get(&ring).copied().ok_or_else(|| {
            PortError::new(
                ErrorKind::InvalidInput,
                SERVICE,
                operation,
                format!(
                    "ring {ring} has no computer group: add it as connectors.jamf.rings.{ring}, \
                     such as {ring} = 42"
                ),
            )
        })
    }

    /// Returns the id of the policy that deploys the requested application.
    async fn resolve_policy(&self, request: &RemovalRequest) -> PortResult<u64> {
        let id = request.application_id.trim();
        if !id.is_empty()
            && id.bytes().all(|byte| byte.is_ascii_digit())
            && let Ok(policy_id) = id.parse::<u64>()
        {
            return Ok(policy_id);
        }
        let name = policy::policy_name(&self.policy_name, request);
        policy::find_by_name(&self.client, &name).await
    }
}

#[async_trait]
impl ExecutionPlane for JamfPlane {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Jamf
    }

    async fn remove_application(&self, request: &RemovalRequest) -> PortResult<RemovalOutcome> {
        let group_id = self.group_for(request.ring, "remove application")?;
        let policy_id = self.resolve_policy(request).await?;
        let outcome = policy::exclude_group(&self.client, policy_id, group_id).await?;
        tracing::info!(
            service = SERVICE,
            correlation_id = %request.correlation_id,
            ring = %request.ring,
            app = %request.app_name,
            policy_id,
            group_id,
            outcome = ?outcome,
            "scoped the ring out of the application's policy"
        );
        Ok(outcome)
    }

    async fn deployed_applications(&self, ring: Ring) -> PortResult<Vec<DeployedApp>> {
        let group_id = self.group_for(ring, "list applications")?;
        let members = computers::group_members(&self.client, ring, group_id).await?;
        if members.is_empty() {
            return Ok(Vec::new());
        }
        computers::applications(
            &self.client,
            self.inventory_api_version,
            self.page_size,
            &members,
        )
        .await
    }

    async fn health(&self) -> PortResult<HealthReport> {
        #[derive(Deserialize)]
        struct Version {
            version: String,
        }

        let operation = "health check";
        let started = Instant::now();
        let url = self.client.url("api/v1/jamf-pro-version")?;
        let result = self
            .client
            .send(operation, Method::GET, url, |request| {
                request.header(ACCEPT, "application/json")
            })
            .await
            .and_then(|response| decode_json::<Version>(SERVICE, operation, &response.body));
        let latency = started.elapsed();
        Ok(match result {
            Ok(version) => HealthReport {
                healthy: true,
                latency,
                detail: format!("Jamf Pro {}", version.version),
            },
            Err(error) => HealthReport {
                healthy: false,
                latency,
                detail: error.to_string(),
            },
        })
    }
}

impl fmt::Debug for JamfPlane {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("JamfPlane")
            .field("url", &self.base.as_str())
            .field("auth_method", &self.auth_method)
            .field("rings", &self.rings)
            .field("inventory_api_version", &self.inventory_api_version)
            .field("page_size", &self.page_size)
            .field("policy_name", &self.policy_name)
            .finish_non_exhaustive()
    }
}
