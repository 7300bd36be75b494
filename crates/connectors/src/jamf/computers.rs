//! The computers of a ring's group, and the applications their inventory reports.

use std::collections::HashSet;

use ops_core::error::PortResult;
use ops_core::{DeployedApp, ErrorKind, Inventory, Platform, PortError, Ring};
use ops_http::{Method, PageGuard, RestClient, decode_json};
use reqwest::header::ACCEPT;
use serde::Deserialize;

use super::SERVICE;
use super::ids::IdValue;
use crate::inventory::strip_app_suffix;

/// Computer ids per RSQL `id=in=(...)` filter, which keeps each URL well under common 8 KiB
/// request-line limits.
// NOTE: Jamf's reference lists `id` among the sort fields of computers-inventory; that the
// filter accepts it too is assumed, and results are also checked against the ids requested.
const IDS_PER_FILTER: usize = 100;

/// `GET /JSSResource/computergroups/id/{id}` in JSON.
#[derive(Deserialize)]
struct GroupResponse {
    computer_group: Group,
}

#[derive(Deserialize)]
struct Group {
    #[serde(default)]
    computers: Vec<GroupMember>,
}

#[derive(Deserialize)]
struct GroupMember {
    id: IdValue,
}

/// One page of `GET /api/v{N}/computers-inventory`.
#[derive(Deserialize)]
struct InventoryPage {
    #[serde(rename = "totalCount")]
    total_count: u64,
    #[serde(default)]
    results: Vec<Computer>,
}

#[derive(Deserialize)]
struct Computer {
    id: IdValue,
    #[serde(default)]
    applications: Option<Vec<Application>>,
}

#[derive(Deserialize)]
struct Application {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

/// Returns the Jamf Pro API ids (decimal strings) of the computers in a Classic API group.
pub(super) async fn group_members(
    client: &RestClient,
    ring: Ring,
    group_id: u64,
) -> PortResult<Vec<String>> {
    let operation = "list ring group members";
    let url = client.url(&format!("JSSResource/computergroups/id/{group_id}"))?;
    let response = client
        .send(operation, Method::GET, url, |request| {
            request.header(ACCEPT, "application/json")
        })
        .await
        .map_err(|error| match error.kind() {
            ErrorKind::NotFound => PortError::not_found(
                SERVICE,
                operation,
                format!(
                    "computer group {group_id} of ring {ring} does not exist: fix \
                     connectors.jamf.rings.{ring}"
                ),
            )
            .with_source(error),
            _ => error,
        })?;
    let group: GroupResponse = decode_json(SERVICE, operation, &response.body)?;
    let members = group
        .computer_group
        .computers
        .iter()
        .filter_map(|member| member.id.to_positive_integer())
        .map(|id| id.to_string())
        .collect();
    Ok(members)
}

/// Reads the inventory of `computer_ids` and returns the distinct applications, each counted
/// once per computer that reports it.
pub(super) async fn applications(
    client: &RestClient,
    api_version: u32,
    page_size: u32,
    computer_ids: &[String],
) -> PortResult<Vec<DeployedApp>> {
    let mut inventory = Inventory::new();
    let mut computers_seen = 0_u64;
    let mut computers_without_section = 0_u64;
    for chunk in computer_ids.chunks(IDS_PER_FILTER) {
        let chunk_ids: HashSet<&str> = chunk.iter().map(String::as_str).collect();
        let filter = format!("id=in=({})", chunk.join(","));
        let mut page = 0_u64;
        let mut pages = PageGuard::new(SERVICE, "list computers inventory");
        loop {
            let result =
                inventory_page(client, &mut pages, api_version, page_size, &filter, page).await?;
            let returned = result.results.len();
            for computer in result.results {
                let id = match &computer.id {
                    IdValue::Text(text) => text.trim().to_owned(),
                    IdValue::Integer(value) => value.to_string(),
                };
                // A server that ignored the filter must not add computers of other rings.
                if !chunk_ids.contains(id.as_str()) {
                    continue;
                }
                computers_seen += 1;
                let Some(applications) = computer.applications else {
                    computers_without_section += 1;
                    continue;
                };
                let mut reported = HashSet::new();
                for application in &applications {
                    let name = strip_app_suffix(application.name.as_deref().unwrap_or(""));
                    let version = application.version.as_deref().unwrap_or("").trim();
                    if name.is_empty() || !reported.insert((name, version)) {
                        continue;
                    }
                    inventory.add(Platform::Macos, name, version, 1);
                }
            }
            let fetched = (page + 1) * u64::from(page_size);
            if returned == 0 || fetched >= result.total_count {
                break;
            }
            page += 1;
        }
    }
    if computers_seen > 0 && computers_without_section == computers_seen {
        return Err(PortError::permanent(
            SERVICE,
            "list computers inventory",
            format!(
                "none of the {computers_seen} computers has an applications section: check that \
                 connectors.jamf.inventory_api_version ({api_version}) matches the server"
            ),
        ));
    }
    if computers_without_section > 0 {
        tracing::debug!(
            service = SERVICE,
            computers = computers_without_section,
            "computers without an applications section counted as having none"
        );
    }
    Ok(inventory.apps())
}

async fn inventory_page(
    client: &RestClient,
    pages: &mut PageGuard,
    api_version: u32,
    page_size: u32,
    filter: &str,
    page: u64,
) -> PortResult<InventoryPage> {
    let operation = "list computers inventory";
    let mut url = client.url(&format!("api/v{api_version}/computers-inventory"))?;
    url.query_pairs_mut()
        .append_pair("section", "GENERAL")
        .append_pair("section", "APPLICATIONS")
        .append_pair("page", &page.to_string())
        .append_pair("page-size", &page_size.to_string())
        .append_pair("sort", "id:asc")
        .append_pair("filter", filter);
    pages.visit(&url)?;
    let response = client
        .send(operation, Method::GET, url, |request| {
            request.header(ACCEPT, "application/json")
        })
        .await?;
    decode_json(SERVICE, operation, &response.body)
}
