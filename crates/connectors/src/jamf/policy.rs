//! Policies, which exist only in the Classic API: finding the one that deploys an application
//! and excluding a ring's computer group from its scope.
//!
//! The Classic API returns JSON for GET requests that send `Accept: application/json`, but takes
//! only XML on PUT, and reports errors as HTML or XML pages, which are never parsed here.

use ops_core::error::PortResult;
use ops_core::ports::{RemovalOutcome, RemovalRequest};
use ops_core::{ErrorKind, PortError};
use ops_http::{Method, RestClient, decode_json};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Deserialize;

use super::SERVICE;
use super::ids::IdValue;

/// `GET /JSSResource/policies` in JSON.
#[derive(Deserialize)]
struct PolicyList {
    #[serde(default)]
    policies: Vec<PolicySummary>,
}

#[derive(Deserialize)]
struct PolicySummary {
    id: IdValue,
    #[serde(default)]
    name: String,
}

/// `GET /JSSResource/policies/id/{id}` in JSON; only the scope's excluded groups are read.
#[derive(Deserialize)]
struct PolicyResponse {
    policy: Policy,
}

#[derive(Deserialize)]
struct Policy {
    #[serde(default)]
    scope: Scope,
}

#[derive(Default, Deserialize)]
struct Scope {
    #[serde(default)]
    exclusions: Exclusions,
}

#[derive(Default, Deserialize)]
struct Exclusions {
    #[serde(default)]
    computer_groups: Vec<GroupReference>,
}

#[derive(Deserialize)]
struct GroupReference {
    id: IdValue,
}

/// Renders the policy-name pattern for a request.
pub(super) fn policy_name(pattern: &str, request: &RemovalRequest) -> String {
    pattern
        .replace("{name}", request.app_name.trim())
        .replace("{version}", request.version.trim())
        .trim()
        .to_owned()
}

/// Returns the id of the policy named exactly `name`.
///
/// No match is an error, not an absent deployment, because a mistyped pattern would otherwise
/// report every removal as done.
pub(super) async fn find_by_name(client: &RestClient, name: &str) -> PortResult<u64> {
    let operation = "list policies";
    let url = client.url("JSSResource/policies")?;
    let response = client
        .send(operation, Method::GET, url, |request| {
            request.header(ACCEPT, "application/json")
        })
        .await?;
    let list: PolicyList = decode_json(SERVICE, operation, &response.body)?;
    let matches: Vec<u64> = list
        .policies
        .iter()
        .filter(|policy| policy.name.trim() == name)
        .filter_map(|policy| policy.id.to_positive_integer())
        .collect();
    match matches.as_slice() {
        [id] => Ok(*id),
        [] => Err(PortError::not_found(
            SERVICE,
            operation,
            format!(
                "no policy is named {name:?}: pass the policy id as the application id, or fix \
                 connectors.jamf.policy_name"
            ),
        )),
        ids => Err(PortError::new(
            ErrorKind::Conflict,
            SERVICE,
            operation,
            format!(
                "{} policies are named {name:?} (ids {ids:?}): pass the policy id as the \
                 application id",
                ids.len()
            ),
        )),
    }
}

/// Adds `group_id` to the excluded computer groups of policy `policy_id`.
///
/// Returns `AlreadyAbsent` when the policy no longer exists or already excludes the group.
pub(super) async fn exclude_group(
    client: &RestClient,
    policy_id: u64,
    group_id: u64,
) -> PortResult<RemovalOutcome> {
    let path = format!("JSSResource/policies/id/{policy_id}");

    let operation = "get policy";
    let url = client.url(&path)?;
    let response = client
        .send(operation, Method::GET, url, |request| {
            request.header(ACCEPT, "application/json")
        })
        .await;
    let response = match response {
        Ok(response) => response,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            tracing::info!(
                service = SERVICE,
                policy_id,
                "policy not found, nothing to remove"
            );
            return Ok(RemovalOutcome::AlreadyAbsent);
        }
        Err(error) => return Err(error),
    };
    let policy: PolicyResponse = decode_json(SERVICE, operation, &response.body)?;
    let mut excluded: Vec<u64> = policy
        .policy
        .scope
        .exclusions
        .computer_groups
        .iter()
        .filter_map(|group| group.id.to_positive_integer())
        .collect();
    if excluded.contains(&group_id) {
        tracing::info!(
            service = SERVICE,
            policy_id,
            group_id,
            "policy already excludes the ring's group"
        );
        return Ok(RemovalOutcome::AlreadyAbsent);
    }
    excluded.push(group_id);

    // NOTE: the Classic API is expected to replace only the lists that a PUT body contains and
    // to keep the rest of the policy. No live server has confirmed it. A change made to the
    // excluded groups between the GET and the PUT is overwritten.
    let operation = "update policy scope";
    let body = exclusions_xml(&excluded);
    let url = client.url(&path)?;
    let result = client
        .send(operation, Method::PUT, url, |request| {
            request
                .header(CONTENT_TYPE, "application/xml")
                .body(body.clone())
        })
        .await;
    match result {
        Ok(_) => Ok(RemovalOutcome::Removed),
        Err(error) if error.kind() == ErrorKind::NotFound => {
            tracing::info!(
                service = SERVICE,
                policy_id,
                "policy deleted before the update"
            );
            Ok(RemovalOutcome::AlreadyAbsent)
        }
        Err(error) => Err(error),
    }
}

/// Builds the PUT body that sets the excluded computer groups. The body carries only decimal
/// ids, so no text needs XML escaping.
pub(super) fn exclusions_xml(group_ids: &[u64]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <policy><scope><exclusions><computer_groups>",
    );
    for id in group_ids {
        xml.push_str(&format!("<computer_group><id>{id}</id></computer_group>"));
    }
    xml.push_str("</computer_groups></exclusions></scope></policy>");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_xml_lists_every_group() {
        assert_eq!(
            exclusions_xml(&[7, 42]),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><policy><scope><exclusions>\
             <computer_groups><computer_group><id>7</id></computer_group><computer_group>\
             <id>42</id></computer_group></computer_groups></exclusions></scope></policy>"
        );
    }
}
