//! Microsoft Graph requests: graph-rs-sdk builds each URL, `ops-http` sends it.
//!
//! graph-rs-sdk 3.0.1 generates the v1.0 and beta paths and encodes the OData query options.
//! Its own transport (reqwest 0.12 behind tower layers) is not used, for reasons checked in its
//! source. It reaches a non-Microsoft host only with its `test-util` feature. Its Retry-After
//! layer waits on a new OS thread instead of the injected [`Clock`](ops_core::ports::Clock),
//! honours any delay however long, and retries without limit. It never requests a new token
//! after a 401, and its paging helper sends the bearer token to whatever host a next link
//! names. [`RestClient`] handles all of that as for every adapter of `ops`, so each URL is
//! re-based onto the configured `graph_url` and sent through it.
//!
//! Generated methods put ids into the path without percent-encoding them (an id containing
//! `/` would add a segment), so every id goes through [`GraphId`] first.

use std::fmt;

use graph_rs_sdk::{GraphClient, ODataQuery};
use ops_core::error::PortResult;
use ops_core::{CorrelationId, PortError};
use ops_http::{Method, PageGuard, RestClient, Url};
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::SERVICE;

/// The header Graph records with each request and echoes back, so its logs can be joined with
/// ours. Graph expects a GUID.
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

/// An id that is safe to place in a Graph URL path: ASCII letters, digits, `-` and `_`.
///
/// Object ids are GUIDs, and assignment ids join GUIDs and numbers with underscores. Dots are
/// left out, because a `..` segment would move the URL up a level.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct GraphId(String);

impl GraphId {
    /// Accepts `text` as an id, or returns `None` when it has other characters or is empty.
    pub(super) fn parse(text: &str) -> Option<GraphId> {
        let text = text.trim();
        let is_safe = !text.is_empty()
            && text.len() <= 200
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        is_safe.then(|| GraphId(text.to_owned()))
    }

    /// Accepts an id that the service returned, or returns an error naming the call.
    pub(super) fn from_response(operation: &str, text: &str) -> PortResult<GraphId> {
        GraphId::parse(text).ok_or_else(|| {
            PortError::permanent(
                SERVICE,
                operation,
                format!("the service returned the id {text:?}, which is not a Graph object id"),
            )
        })
    }

    pub(super) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GraphId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Returns true when `text` is a GUID in its usual 8-4-4-4-12 hexadecimal form.
pub(super) fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.trim().split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    groups.len() == lengths.len()
        && groups.iter().zip(lengths).all(|(group, length)| {
            group.len() == length && group.chars().all(|c| c.is_ascii_hexdigit())
        })
}

/// One page of a Graph collection.
#[derive(Deserialize)]
struct Page<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// The Graph calls of the adapter.
pub(super) struct Graph {
    rest: RestClient,
    /// The URL builder for v1.0. `GraphClient::beta` switches a client for good, so each version
    /// has a builder of its own.
    v1: GraphClient,
    beta: GraphClient,
}

impl Graph {
    /// Wraps a client whose base URL is the Graph root, such as `https://graph.microsoft.com`.
    pub(super) fn new(rest: RestClient) -> Graph {
        // The SDK's clients only build URLs here, so they hold no token.
        let v1 = GraphClient::new("");
        let mut beta = GraphClient::new("");
        beta.use_beta();
        Graph { rest, v1, beta }
    }

    // ---- URLs -----------------------------------------------------------------------------

    /// Returns the URL of `GET /v1.0/groups/{id}/transitiveMembers/graph.device`, which lists
    /// the Entra device objects in a group, nested groups included.
    pub(super) fn group_devices_url(&self, group: &GraphId) -> PortResult<Url> {
        let request = self
            .v1
            .group(group.as_str())
            .transitive_members()
            .get_directory_object_items_as_device_type()
            .select(&["id", "deviceId"]);
        self.rebase(request.url())
    }

    /// Returns the URL of `GET /v1.0/deviceManagement/managedDevices`, which lists every device
    /// enrolled in Intune, with the fields that join it to its Entra device.
    pub(super) fn managed_devices_url(&self) -> PortResult<Url> {
        let request = self
            .v1
            .device_management()
            .managed_devices()
            .list_managed_devices()
            .select(&[
                "id",
                "azureADDeviceId",
                "operatingSystem",
                "lastSyncDateTime",
            ]);
        self.rebase(request.url())
    }

    /// Returns the URL of `GET /beta/deviceManagement/managedDevices/{id}/detectedApps`. The SDK
    /// does not generate this path because the navigation exists only in the beta schema.
    pub(super) fn detected_apps_url(&self, managed_device: &GraphId) -> PortResult<Url> {
        let request = self.beta.custom(Method::GET, None).extend_path(&[
            "deviceManagement",
            "managedDevices",
            managed_device.as_str(),
            "detectedApps",
        ]);
        self.rebase(request.url())
    }

    /// Returns the URL of `GET /beta/deviceAppManagement/mobileApps?$filter=displayName eq
    /// '{name}'`, on beta because `win32LobApp.displayVersion` exists only there.
    pub(super) fn apps_named_url(&self, name: &str) -> PortResult<Url> {
        let filter = format!("displayName eq '{}'", name.replace('\'', "''"));
        let request = self
            .beta
            .device_app_management()
            .mobile_apps()
            .list_mobile_apps()
            .filter(&[filter.as_str()]);
        self.rebase(request.url())
    }

    /// Returns the URL of `GET /v1.0/deviceAppManagement/mobileApps/{id}/assignments`.
    pub(super) fn assignments_url(&self, app: &GraphId) -> PortResult<Url> {
        let request = self
            .v1
            .device_app_management()
            .mobile_app(app.as_str())
            .list_assignments();
        self.rebase(request.url())
    }

    /// Returns the URL of `DELETE /v1.0/deviceAppManagement/mobileApps/{id}/assignments/{assignmentId}`.
    pub(super) fn assignment_url(&self, app: &GraphId, assignment: &GraphId) -> PortResult<Url> {
        let request = self
            .v1
            .device_app_management()
            .mobile_app(app.as_str())
            .delete_assignments(assignment.as_str());
        self.rebase(request.url())
    }

    /// Returns the URL of `GET /v1.0/deviceAppManagement/mobileApps?$select=id&$top=1`, a
    /// one-item listing that needs the same permission and Intune licence as the other calls.
    pub(super) fn health_url(&self) -> PortResult<Url> {
        let request = self
            .v1
            .device_app_management()
            .mobile_apps()
            .list_mobile_apps()
            .select(&["id"])
            .top("1");
        self.rebase(request.url())
    }

    /// Re-bases a URL the SDK built for `https://graph.microsoft.com` onto the configured Graph
    /// root, keeping its path (version included) and query.
    fn rebase(&self, sdk_url: Url) -> PortResult<Url> {
        let path = sdk_url.path().trim_start_matches('/');
        let relative = match sdk_url.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        self.rest.url(&relative)
    }

    // ---- Sending --------------------------------------------------------------------------

    /// Sends a GET and decodes the JSON body.
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        operation: &str,
        url: Url,
    ) -> PortResult<T> {
        self.rest.get_json(operation, url).await
    }

    /// Reads every page of a collection, following each `@odata.nextLink` as given, and fails
    /// when a link leads back to a page already read.
    ///
    /// Next links are absolute URLs. [`RestClient::url`] rejects one on another host, so the
    /// token never leaves the configured Graph root.
    pub(super) async fn list<T: DeserializeOwned>(
        &self,
        operation: &str,
        first: Url,
    ) -> PortResult<Vec<T>> {
        let mut items = Vec::new();
        let mut pages = PageGuard::new(SERVICE, operation);
        let mut url = first;
        loop {
            pages.visit(&url)?;
            let page: Page<T> = self.rest.get_json(operation, url).await?;
            items.extend(page.value);
            let Some(next_link) = page.next_link else {
                return Ok(items);
            };
            url = self.rest.url(&next_link)?;
        }
    }

    /// Sends a DELETE, with the operation's correlation id as `client-request-id` when its unique
    /// part is a GUID.
    pub(super) async fn delete(
        &self,
        operation: &str,
        url: Url,
        correlation_id: &CorrelationId,
    ) -> PortResult<()> {
        let request_id = client_request_id(correlation_id);
        self.rest
            .send(
                operation,
                Method::DELETE,
                url,
                |request| match &request_id {
                    Some(value) => request.header(CLIENT_REQUEST_ID, value.clone()),
                    None => request,
                },
            )
            .await?;
        Ok(())
    }
}

/// Returns the `client-request-id` for an operation: its correlation id's unique part, when that
/// is a GUID (ids made by `CorrelationId::generate` end in a UUIDv7).
fn client_request_id(correlation_id: &CorrelationId) -> Option<HeaderValue> {
    let unique = correlation_id.unique_part();
    if !is_guid(unique) {
        return None;
    }
    HeaderValue::from_str(unique).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_ids_reject_path_characters() {
        assert!(GraphId::parse("3b6f0d55-1111-4c1e-9d00-aaaaaaaaaaaa").is_some());
        assert!(GraphId::parse("0f3c1e7a-2b4d-4c6e-8f10-1234567890ab_0_0").is_some());
        for hostile in ["", "a/b", "a?b", "a b", "..", "a.b", "..%2F", "a#b", "ü"] {
            assert_eq!(GraphId::parse(hostile), None, "{hostile:?}");
        }
    }

    #[test]
    fn guids_need_five_hex_groups() {
        assert!(is_guid("3B6F0D55-1111-4c1e-9d00-aaaaaaaaaaaa"));
        assert!(!is_guid("3b6f0d55-1111-4c1e-9d00-aaaaaaaaaaa"));
        assert!(!is_guid("3b6f0d5511114c1e9d00aaaaaaaaaaaa"));
        assert!(!is_guid("contoso-agent"));
        assert!(!is_guid("3b6f0d55-1111-4c1e-9d00-aaaaaaaaaaag"));
    }
}
