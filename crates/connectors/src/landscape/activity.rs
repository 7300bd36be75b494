//! Package removal through the legacy API, which returns an activity to follow.
//!
//! The REST API has no endpoint that removes .deb packages, so removal is
//! `GET /api/?action=RemovePackages&version=2011-08-01&query=tag:<tag>&packages.1=<name>`. The
//! response is the parent activity (an `ActivityGroup`), polled with
//! `GET /api/?action=GetActivities&version=2011-08-01&query=id:<id>` until its status is
//! `succeeded`, `failed` or `canceled`. Other statuses (`undelivered`, `delivered`,
//! `scheduled`, `unapproved`) mean the computers have not finished yet.

use std::sync::Arc;
use std::time::Duration;

use ops_core::error::PortResult;
use ops_core::ports::Clock;
use ops_core::{ErrorKind, PortError};
use ops_http::{Method, RestClient, Url, decode_json};
use serde::Deserialize;
use serde_json::Value;

use super::SERVICE;
use super::packages::id_number;

/// The legacy API version every call names.
const LEGACY_VERSION: &str = "2011-08-01";

/// The maximum number of characters of an activity's `result_text` copied into an error.
const MAX_RESULT_TEXT: usize = 200;

#[derive(Deserialize)]
struct Activity {
    id: Value,
    #[serde(default)]
    activity_status: Option<String>,
    #[serde(default)]
    result_text: Option<String>,
}

/// How long and how often to wait for an activity.
#[derive(Debug, Clone, Copy)]
pub(super) struct Polling {
    /// The pause between two status reads.
    pub interval: Duration,
    /// The time after which the wait ends with an error.
    pub timeout: Duration,
}

/// Returns the URL of a legacy action.
fn legacy_url(client: &RestClient, action: &str, parameters: &[(&str, &str)]) -> PortResult<Url> {
    let mut url = client.url("api/")?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("action", action)
            .append_pair("version", LEGACY_VERSION);
        for (name, value) in parameters {
            query.append_pair(name, value);
        }
    }
    Ok(url)
}

/// Returns the path of the legacy endpoint under `base`, as `RestClient::url("api/")` resolves
/// it.
pub(super) fn legacy_path(base: &Url) -> PortResult<String> {
    let mut url = base.clone();
    if !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    let url = url.join("api/").map_err(|error| {
        PortError::permanent(
            SERVICE,
            "build URL",
            "cannot append \"api/\" to the base URL",
        )
        .with_source(error)
    })?;
    Ok(url.path().to_owned())
}

/// Asks Landscape to remove `package` from the computers tagged `tag` and returns the id of
/// the activity it created, or `None` when Landscape responds with 404.
pub(super) async fn remove_package(
    client: &RestClient,
    tag: &str,
    package: &str,
) -> PortResult<Option<u64>> {
    let operation = "remove package";
    let url = legacy_url(
        client,
        "RemovePackages",
        &[("query", &format!("tag:{tag}")), ("packages.1", package)],
    )?;
    let response = match client
        .send(operation, Method::GET, url, |request| request)
        .await
    {
        Ok(response) => response,
        // NOTE: Landscape does not document its response for a package it has never seen. A
        // 404 is taken to mean that, so there is nothing to remove.
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let activity: Activity = decode_json(SERVICE, operation, &response.body)?;
    let id = id_number(&activity.id).ok_or_else(|| {
        PortError::permanent(
            SERVICE,
            operation,
            format!("the answer has activity id {}, not a number", activity.id),
        )
    })?;
    Ok(Some(id))
}

/// Waits until activity `id` succeeds. Returns an error naming the activity when it fails,
/// is canceled, or is still running after `polling.timeout`.
pub(super) async fn wait_for(
    client: &RestClient,
    clock: &Arc<dyn Clock>,
    id: u64,
    polling: Polling,
) -> PortResult<()> {
    let operation = "wait for activity";
    let deadline = clock.now() + chrono::Duration::from_std(polling.timeout).unwrap_or_default();
    let query = format!("id:{id}");
    loop {
        clock.sleep(polling.interval).await;
        let url = legacy_url(client, "GetActivities", &[("query", &query)])?;
        let activities: Vec<Activity> = client.get_json(operation, url).await?;
        let activity = activities
            .into_iter()
            .find(|activity| id_number(&activity.id) == Some(id))
            .ok_or_else(|| {
                PortError::not_found(
                    SERVICE,
                    operation,
                    format!("activity {id} is not in the activity list"),
                )
            })?;
        let status = activity.activity_status.as_deref().unwrap_or("unknown");
        match status {
            "succeeded" => return Ok(()),
            "failed" | "canceled" => {
                return Err(PortError::permanent(
                    SERVICE,
                    operation,
                    format!(
                        "activity {id} ended {status}: {}",
                        result_text(activity.result_text.as_deref())
                    ),
                ));
            }
            _ => {}
        }
        if clock.now() + chrono::Duration::from_std(polling.interval).unwrap_or_default() > deadline
        {
            return Err(PortError::new(
                ErrorKind::Transient,
                SERVICE,
                operation,
                format!(
                    "activity {id} is still {status} after {} s: follow it in Landscape, or raise \
                     connectors.landscape.removal_timeout_seconds",
                    polling.timeout.as_secs()
                ),
            ));
        }
        tracing::debug!(
            service = SERVICE,
            activity_id = id,
            status,
            "activity not finished"
        );
    }
}

/// Returns the activity's result text on one line, shortened, or a placeholder.
fn result_text(text: Option<&str>) -> String {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return "no result text".to_owned();
    }
    let mut line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_RESULT_TEXT)
        .collect();
    if text.chars().count() > MAX_RESULT_TEXT {
        line.push_str("...");
    }
    line
}
