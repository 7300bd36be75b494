//! The Intune execution plane: Microsoft Intune through Microsoft Graph.
//!
//! # Calls
//!
//! Every path is relative to `graph_url`. Beta is used only where a field or navigation
//! exists in beta alone.
//!
//! | Port method | Calls |
//! | --- | --- |
//! | [`remove_application`](ExecutionPlane::remove_application) | `GET /v1.0/deviceAppManagement/mobileApps/{appId}/assignments` with `application_id` as the app id when it is a GUID. When it is not, or Intune has no app with that id, `GET /beta/deviceAppManagement/mobileApps?$filter=displayName eq '{name}'` and the assignments of the app found. Then `DELETE /v1.0/deviceAppManagement/mobileApps/{appId}/assignments/{assignmentId}` for each assignment of the app to the ring's group |
//! | [`deployed_applications`](ExecutionPlane::deployed_applications) | `GET /v1.0/groups/{groupId}/transitiveMembers/graph.device?$select=id,deviceId`, `GET /v1.0/deviceManagement/managedDevices?$select=id,azureADDeviceId,operatingSystem,lastSyncDateTime`, then `GET /beta/deviceManagement/managedDevices/{id}/detectedApps` for each of the ring's managed devices |
//! | [`health`](ExecutionPlane::health) | `GET /v1.0/deviceAppManagement/mobileApps?$select=id&$top=1` |
//!
//! Collections are paged with `@odata.nextLink`: each next link is followed as given, on the
//! `graph_url` host only, until a page has none. The `graph` module explains why graph-rs-sdk
//! builds these URLs while `ops-http` sends them.
//!
//! # Authentication
//!
//! The OAuth 2.0 client-credentials grant against Entra ID, through `azure_identity`'s
//! `ClientSecretCredential`: `POST {authority_host}/{tenant_id}/oauth2/v2.0/token` with the scope
//! `https://{graph host}/.default`. azure_identity renews a token five minutes before it expires.
//! After a 401 from Graph the adapter builds a new credential, which fetches a new token, and
//! retries the call once. The permissions needed are listed on [`IntuneConfig`].
//!
//! # Configuration
//!
//! ```toml
//! [connectors.intune]
//! tenant_id = "contoso.onmicrosoft.com"
//! client_id = "4a1f7c2e-5b3d-4e8f-9a0b-1c2d3e4f5a6b"
//! # Or set OPS_CONNECTORS__INTUNE__CLIENT_SECRET instead.
//! client_secret = "the client secret value"
//! # The defaults. National clouds have their own hosts, such as https://graph.microsoft.us.
//! graph_url = "https://graph.microsoft.com"
//! authority_host = "https://login.microsoftonline.com"
//! timeout_seconds = 30
//! max_concurrency = 4
//!
//! # The object id of each ring's Entra ID group. Ring names ignore letter case.
//! [connectors.intune.rings]
//! Canary = "3b6f0d55-1111-4c1e-9d00-aaaaaaaaaaaa"
//! Pilot = "9c2e0d55-2222-4c1e-9d00-bbbbbbbbbbbb"
//! ```
//!
//! # Decisions
//!
//! - A ring is an Entra ID group: apps are deployed to it by assignments targeting the group,
//!   and its devices are the group's device members (nested groups included) that Intune
//!   manages. The `inventory` module describes the device join, the `removal` module which
//!   assignments a rollback deletes and how the Intune app is found.
//! - Removing returns [`RemovalOutcome::AlreadyAbsent`] when no Intune app matches the request,
//!   when no assignment deploys the app to the ring's group, or when Graph returns 404 for the
//!   app or for each assignment it deletes.
//! - Detected apps are reported as Windows or macOS, from `detectedApp.platform`, or from the
//!   device's `operatingSystem` when that is `unknown`. Apps of other platforms are left out.
//! - Throttling (429, or 503 with Retry-After) and transient failures are retried by the shared
//!   [`RetryPolicy`](ops_core::retry::RetryPolicy), which honours Retry-After. Microsoft
//!   documents a limit of 100 Intune app writes per 20 seconds for each calling app and tenant,
//!   so rolling back many apps at once may be throttled.

mod auth;
mod config;
mod graph;
mod inventory;
mod removal;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Instant;

use async_trait::async_trait;
use ops_core::error::PortResult;
use ops_core::ports::{ExecutionPlane, HealthReport, RemovalOutcome, RemovalRequest};
use ops_core::{ConnectorKind, DeployedApp, ErrorKind, PortError, Ring};
use ops_http::Url;

pub use config::{ConfigError, DEFAULT_AUTHORITY_HOST, DEFAULT_GRAPH_URL, IntuneConfig};

use graph::{Graph, GraphId};

/// The service name in errors and logs.
const SERVICE: &str = "Intune";

const HEALTH_CHECK: &str = "health check";

/// The Intune adapter of the [`ExecutionPlane`] port. Build it with [`IntuneConfig::build`].
pub struct IntunePlane {
    graph: Graph,
    graph_url: Url,
    rings: BTreeMap<Ring, GraphId>,
    max_concurrency: usize,
}

impl IntunePlane {
    /// Returns the Entra ID group of `ring`, or an error naming the configuration key to set.
    fn group(&self, ring: Ring, operation: &str) -> PortResult<&GraphId> {
        self.rings.get(&ring).ok_or_else(|| {
            PortError::new(
                ErrorKind::InvalidInput,
                SERVICE,
                operation,
                format!(
                    "ring {ring} has no Entra ID group: set connectors.intune.rings.{ring} to the object id of the group whose devices form the ring"
                ),
            )
        })
    }
}

#[async_trait]
impl ExecutionPlane for IntunePlane {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Intune
    }

    async fn remove_application(&self, request: &RemovalRequest) -> PortResult<RemovalOutcome> {
        removal::remove_application(self, request).await
    }

    async fn deployed_applications(&self, ring: Ring) -> PortResult<Vec<DeployedApp>> {
        inventory::deployed_applications(self, ring).await
    }

    /// Reports the service unhealthy, instead of failing, when the call fails. The detail
    /// then contains the error.
    async fn health(&self) -> PortResult<HealthReport> {
        let url = self.graph.health_url()?;
        let started = Instant::now();
        let result: PortResult<serde_json::Value> = self.graph.get(HEALTH_CHECK, url).await;
        let latency = started.elapsed();
        Ok(match result {
            Ok(_) => HealthReport {
                healthy: true,
                latency,
                detail: "Graph listed Intune apps".to_owned(),
            },
            Err(error) => HealthReport {
                healthy: false,
                latency,
                detail: error.to_string(),
            },
        })
    }
}

impl fmt::Debug for IntunePlane {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("IntunePlane")
            .field("graph_url", &self.graph_url.as_str())
            .field("rings", &self.rings)
            .field("max_concurrency", &self.max_concurrency)
            .finish_non_exhaustive()
    }
}
