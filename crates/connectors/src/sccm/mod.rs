//! The Configuration Manager (SCCM) adapter of the [`ExecutionPlane`] port, for Windows devices,
//! through the AdminService REST API of the SMS Provider.
//!
//! # Calls
//!
//! All calls use the WMI route, `{url}/wmi/<Class>` (OData v4, JSON), with `$filter`,
//! `$select`, `$orderby`, `$top` and `$skip`. That route documents no `@odata.nextLink`, so
//! lists are read `page_size` rows at a time with `$skip` until a page comes back short (a
//! `nextLink`, if one comes, is followed instead).
//!
//! - [`deployed_applications`](ExecutionPlane::deployed_applications): `GET
//!   wmi/SMS_FullCollectionMembership?$filter=CollectionID eq '<ring's collection>'` lists the
//!   members' ResourceIDs. Then, for `devices_per_query` members at a time (`$filter=ResourceID
//!   eq 1 or ResourceID eq 2 ...`), `GET wmi/SMS_G_System_INSTALLED_SOFTWARE` (`ProductName`,
//!   `ProductVersion`), or with `software_inventory = "add_remove_programs"` both
//!   `SMS_G_System_ADD_REMOVE_PROGRAMS` and `SMS_G_System_ADD_REMOVE_PROGRAMS_64`
//!   (`DisplayName`, `Version`). These are the fields the offline SCCM reader takes from CSV
//!   exports of the same views. Each device counts once per name and version, and every
//!   application is a Windows one. A collection without members is checked with `GET
//!   wmi/SMS_Collection('<id>')`, so a wrong collection id is an error, not an empty ring.
//! - [`remove_application`](ExecutionPlane::remove_application): deletes the application's
//!   deployments to the ring's collection.
//!   1. The application is the request's `application_id` when that is a `CI_ID` (digits,
//!      read with `GET wmi/SMS_Application(<CI_ID>)`) or a `CI_UniqueID` (`ScopeId_...`).
//!      Otherwise it is the latest revision with the request's name, found with `GET
//!      wmi/SMS_Application?$filter=LocalizedDisplayName eq '<name>' and IsLatest eq true`
//!      and narrowed by `SoftwareVersion` when several match.
//!   2. `GET wmi/SMS_ApplicationAssignment?$filter=TargetCollectionID eq '<collection>'`
//!      lists the collection's deployments. A deployment is the application's when it has
//!      the same `CI_UniqueID` in any revision, or the application's `CI_ID` in `AssignedCIs`.
//!   3. Each of them is deleted with `DELETE wmi/SMS_ApplicationAssignment(<AssignmentID>)`.
//!
//!   No such application, no such deployment, or a 404 on delete gives
//!   [`RemovalOutcome::AlreadyAbsent`]. Deleting a deployment stops further installs, but it
//!   does not uninstall the application from devices that have it.
//! - [`health`](ExecutionPlane::health): `GET wmi/SMS_Site?$select=SiteCode,SiteName,Version`.
//!
//! # Authentication
//!
//! The AdminService on the SMS Provider accepts Windows integrated authentication only. This
//! adapter signs in with NTLM (NTLMv2, computed by the `sspi` crate) inside the HTTP
//! `Negotiate` scheme. The request goes out with a NEGOTIATE message, the server responds 401
//! with a CHALLENGE, and the request goes out again on the same connection with the
//! AUTHENTICATE message. A server that offers NTLM only under its own scheme name gets the
//! messages under `NTLM` instead. NTLM authenticates the connection, so the adapter opens its
//! own HTTP/1.1 connections, one per request in flight, and keeps authenticated ones for later
//! requests. When the server responds 401 on an authenticated connection, the handshake is
//! repeated once. Over TLS the AUTHENTICATE message carries the `tls-server-end-point` channel
//! binding, which servers enforcing Extended Protection for Authentication require.
//!
//! Kerberos is not spoken, because it needs a ticket from a domain controller. Where a site
//! disables NTLM, put an authenticating proxy that speaks Kerberos next to `ops`. The cloud
//! management gateway route, which takes Entra ID tokens, is not supported either. Plain
//! `http` is accepted for loopback URLs only, so credentials and inventory never cross a
//! network in the clear.
//!
//! The SMS Provider's certificate is issued by the site itself unless a PKI certificate is
//! bound. Export the issuing certificate as Base-64 (PEM) and name it in `ca_certificate`;
//! only the certificates of that file are then trusted.
//!
//! Requests are retried on 429, 503 with Retry-After, other 5xx and timeouts, on the shared
//! retry policy. At most `max_concurrency` requests are in flight.
//!
//! # Configuration
//!
//! ```toml
//! [connectors.sccm]
//! url = "https://cm01.contoso.com/AdminService"
//! username = "svc-ops-rollback"      # a bare account name, with domain below
//! domain = "CONTOSO"                 # NetBIOS domain; leave it out for the other two forms:
//! # username = 'CONTOSO\svc-ops-rollback'     (a literal string keeps the backslash)
//! # username = "svc-ops-rollback@contoso.com"
//! password = "set through OPS_CONNECTORS__SCCM__PASSWORD"
//! ca_certificate = "/etc/ops/sccm-site-issuing.pem"   # optional; trusts only these certificates
//! software_inventory = "installed_software"           # or "add_remove_programs"
//! page_size = 1000                   # rows per page ($top), at most 5000
//! devices_per_query = 50             # ResourceIDs per installed-software query, at most 200
//! timeout_seconds = 60
//! max_concurrency = 4
//!
//! [connectors.sccm.rings]            # ring = device collection id
//! Lab = "PS100010"
//! Canary = "PS100012"
//! Pilot = "PS100013"
//! ```

mod assignments;
mod config;
mod ntlm;
mod query;
mod software;
mod transport;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Instant;

use async_trait::async_trait;
use ops_core::error::PortResult;
use ops_core::ports::{ExecutionPlane, HealthReport, RemovalOutcome, RemovalRequest};
use ops_core::{ConnectorKind, DeployedApp, ErrorKind, PortError, Ring};
use serde_json::Value;

pub use config::{ConfigError, SccmConfig, SoftwareInventory};

use query::{Query, text};
use transport::NegotiateClient;

/// The service name in errors and logs.
const SERVICE: &str = "SCCM";

/// The Configuration Manager execution plane. Build it with [`SccmConfig::build`].
pub struct SccmPlane {
    client: NegotiateClient,
    rings: BTreeMap<Ring, String>,
    software_inventory: SoftwareInventory,
    page_size: u32,
    devices_per_query: usize,
    max_concurrency: usize,
}

impl fmt::Debug for SccmPlane {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SccmPlane")
            .field("rings", &self.rings)
            .field("software_inventory", &self.software_inventory)
            .field("page_size", &self.page_size)
            .field("devices_per_query", &self.devices_per_query)
            .field("max_concurrency", &self.max_concurrency)
            .finish_non_exhaustive()
    }
}

impl SccmPlane {
    /// Returns the device collection of `ring`, or an error naming the missing key.
    fn collection_for(&self, ring: Ring, operation: &str) -> PortResult<&str> {
        self.rings.get(&ring).map(String::as_str).ok_or_else(|| {
            PortError::new(
                ErrorKind::InvalidInput,
                SERVICE,
                operation,
                format!(
                    "ring {ring} has no device collection: add it as \
                     connectors.sccm.rings.{ring}, such as {ring} = \"PS100012\""
                ),
            )
        })
    }

    /// Rewords a failed collection lookup so that it names the ring's configuration key.
    fn collection_error(&self, ring: Ring, collection: &str, error: PortError) -> PortError {
        if error.kind() != ErrorKind::NotFound {
            return error;
        }
        PortError::not_found(
            SERVICE,
            "list collection members",
            format!(
                "collection {collection} of ring {ring} does not exist: check \
                 connectors.sccm.rings.{ring}"
            ),
        )
        .with_source(error)
    }
}

#[async_trait]
impl ExecutionPlane for SccmPlane {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Sccm
    }

    async fn remove_application(&self, request: &RemovalRequest) -> PortResult<RemovalOutcome> {
        let collection = self.collection_for(request.ring, "remove application")?;
        let outcome = self.remove_deployments(request, collection).await?;
        tracing::info!(
            service = SERVICE,
            correlation_id = %request.correlation_id,
            ring = %request.ring,
            collection,
            app = %request.app_name,
            version = %request.version,
            outcome = ?outcome,
            "finished removing the application's deployments from the ring's collection"
        );
        Ok(outcome)
    }

    async fn deployed_applications(&self, ring: Ring) -> PortResult<Vec<DeployedApp>> {
        let collection = self.collection_for(ring, "list applications")?;
        let members = self.collection_members(ring, collection).await?;
        if members.is_empty() {
            tracing::info!(service = SERVICE, %ring, collection, "the ring's collection has no members");
            return Ok(Vec::new());
        }
        self.installed_software(ring, &members).await
    }

    async fn health(&self) -> PortResult<HealthReport> {
        let operation = "health check";
        let started = Instant::now();
        let query = Query {
            class: "SMS_Site",
            filter: None,
            select: &["SiteCode", "SiteName", "Version"],
            order_by: None,
        };
        let result = query.rows(&self.client, operation, 100).await;
        let latency = started.elapsed();
        Ok(match result {
            Ok(sites) => HealthReport {
                healthy: true,
                latency,
                detail: describe_sites(&sites),
            },
            Err(error) => HealthReport {
                healthy: false,
                latency,
                detail: error.to_string(),
            },
        })
    }
}

/// Describes the sites the account can see, such as `site PS1 (Contoso Primary) 5.00.9128.1000`.
fn describe_sites(sites: &[Value]) -> String {
    if sites.is_empty() {
        return "AdminService answered; the account sees no site".to_owned();
    }
    let descriptions: Vec<String> = sites
        .iter()
        .map(|site| {
            let code = text(site, "SiteCode").unwrap_or("?");
            let version = text(site, "Version").unwrap_or("unknown version");
            match text(site, "SiteName") {
                Some(name) => format!("site {code} ({name}) {version}"),
                None => format!("site {code} {version}"),
            }
        })
        .collect();
    descriptions.join(", ")
}
