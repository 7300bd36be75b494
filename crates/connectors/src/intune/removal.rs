//! Rollback: deleting an app's assignment to a ring's group.
//!
//! Intune deploys an app to a ring through an assignment whose target is the ring's group.
//! Deleting that assignment stops the deployment, while the app object and its other
//! assignments stay. Only include targets (`groupAssignmentTarget`) with an intent other than
//! `uninstall` are deleted. Deleting an exclusion would widen the deployment, and an
//! `uninstall` assignment is itself a way of rolling back.
//!
//! The Intune app is found in this order:
//!
//! 1. `RemovalRequest.application_id`, when it is a GUID and Intune has an app with that id.
//! 2. Otherwise the apps whose `displayName` equals `app_name`, keeping those packaged for the
//!    request's platform, then the one whose version equals the request's version.

use ops_core::error::PortResult;
use ops_core::ports::{RemovalOutcome, RemovalRequest};
use ops_core::{ErrorKind, Platform, PortError};
use serde::Deserialize;
use serde_json::Value;

use super::graph::{GraphId, is_guid};
use super::{IntunePlane, SERVICE};

const FIND_APP: &str = "find app";
const LIST_ASSIGNMENTS: &str = "list assignments";
const DELETE_ASSIGNMENT: &str = "delete assignment";

/// The target type of an assignment to a group. Exclusions have a type of their own.
const GROUP_TARGET: &str = "#microsoft.graph.groupAssignmentTarget";

/// An app assignment, with the fields used.
#[derive(Deserialize)]
struct Assignment {
    id: String,
    intent: Option<String>,
    target: Option<Target>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    #[serde(rename = "@odata.type")]
    odata_type: Option<String>,
    group_id: Option<String>,
}

/// An Intune app found by name. Its version sits in a field that depends on its type.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MobileApp {
    id: String,
    display_name: Option<String>,
    #[serde(rename = "@odata.type")]
    odata_type: Option<String>,
    #[serde(flatten)]
    fields: serde_json::Map<String, Value>,
}

/// Removes the app's deployment to the request's ring.
pub(super) async fn remove_application(
    plane: &IntunePlane,
    request: &RemovalRequest,
) -> PortResult<RemovalOutcome> {
    let group = plane.group(request.ring, "remove application")?;
    let Some((app, assignments)) = find_app_assignments(plane, request).await? else {
        tracing::info!(
            service = SERVICE,
            correlation_id = %request.correlation_id,
            app = %request.app_name,
            version = %request.version,
            "no Intune app matches the request, so there is nothing to remove"
        );
        return Ok(RemovalOutcome::AlreadyAbsent);
    };

    let targeted: Vec<&Assignment> = assignments
        .iter()
        .filter(|assignment| deploys_to(assignment, group))
        .collect();
    if targeted.is_empty() {
        tracing::info!(
            service = SERVICE,
            correlation_id = %request.correlation_id,
            app_id = %app,
            group = %group,
            "no assignment deploys the app to the ring's group, so there is nothing to remove"
        );
    }
    let mut removed = 0;
    for assignment in targeted {
        let assignment_id = GraphId::from_response(LIST_ASSIGNMENTS, &assignment.id)?;
        let url = plane.graph.assignment_url(&app, &assignment_id)?;
        let deleted = plane
            .graph
            .delete(DELETE_ASSIGNMENT, url, &request.correlation_id)
            .await;
        match deleted {
            Ok(()) => {
                removed += 1;
                tracing::info!(
                    service = SERVICE,
                    correlation_id = %request.correlation_id,
                    app_id = %app,
                    assignment_id = %assignment_id,
                    group = %group,
                    intent = assignment.intent.as_deref().unwrap_or_default(),
                    "deleted app assignment"
                );
            }
            // Deleted since it was listed, by an earlier run or a person.
            Err(error) if error.kind() == ErrorKind::NotFound => {
                tracing::info!(
                    service = SERVICE,
                    correlation_id = %request.correlation_id,
                    app_id = %app,
                    assignment_id = %assignment_id,
                    "app assignment was already deleted: {error}"
                );
            }
            Err(error) => return Err(error),
        }
    }

    Ok(if removed > 0 {
        RemovalOutcome::Removed
    } else {
        RemovalOutcome::AlreadyAbsent
    })
}

/// Returns true when the assignment deploys the app to `group`.
fn deploys_to(assignment: &Assignment, group: &GraphId) -> bool {
    let Some(target) = &assignment.target else {
        return false;
    };
    let is_group_target = target.odata_type.as_deref() == Some(GROUP_TARGET);
    let is_ring_group = target
        .group_id
        .as_deref()
        .is_some_and(|id| id.trim().eq_ignore_ascii_case(group.as_str()));
    let is_uninstall = assignment
        .intent
        .as_deref()
        .is_some_and(|intent| intent.eq_ignore_ascii_case("uninstall"));
    is_group_target && is_ring_group && !is_uninstall
}

/// Finds the Intune app and lists its assignments, or returns `None` when Intune has no such
/// app.
async fn find_app_assignments(
    plane: &IntunePlane,
    request: &RemovalRequest,
) -> PortResult<Option<(GraphId, Vec<Assignment>)>> {
    let by_id = GraphId::parse(&request.application_id).filter(|id| is_guid(id.as_str()));
    if let Some(app) = by_id {
        if let Some(assignments) = assignments(plane, &app).await? {
            return Ok(Some((app, assignments)));
        }
        tracing::debug!(
            service = SERVICE,
            application_id = %app,
            "no Intune app has the catalogue id; looking the app up by name"
        );
    }

    let Some(app) = find_app_by_name(plane, request).await? else {
        return Ok(None);
    };
    Ok(assignments(plane, &app)
        .await?
        .map(|assignments| (app, assignments)))
}

/// Lists an app's assignments, or returns `None` when the app does not exist.
async fn assignments(plane: &IntunePlane, app: &GraphId) -> PortResult<Option<Vec<Assignment>>> {
    let url = plane.graph.assignments_url(app)?;
    match plane.graph.list(LIST_ASSIGNMENTS, url).await {
        Ok(assignments) => Ok(Some(assignments)),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Finds the one app named `app_name` for the request's platform and version.
///
/// Returns `None` when no app has the name. When apps have the name but none the version, or
/// several match, returns an error instead of guessing, because removing the wrong app's
/// assignment would stop a deployment that should stay.
async fn find_app_by_name(
    plane: &IntunePlane,
    request: &RemovalRequest,
) -> PortResult<Option<GraphId>> {
    let name = request.app_name.trim();
    let url = plane.graph.apps_named_url(name)?;
    let apps: Vec<MobileApp> = plane.graph.list(FIND_APP, url).await?;
    let candidates: Vec<MobileApp> = apps
        .into_iter()
        .filter(|app| {
            let display_name = app.display_name.as_deref().unwrap_or_default().trim();
            display_name.eq_ignore_ascii_case(name) && app.suits(request.platform)
        })
        .collect();
    if candidates.is_empty() {
        return Ok(None);
    }

    let version = request.version.trim();
    let matching: Vec<&MobileApp> = candidates
        .iter()
        .filter(|app| app.version() == Some(version))
        .collect();
    let chosen = match (matching.as_slice(), candidates.as_slice()) {
        ([app], _) => *app,
        // An app type without a version field (a Store or web app) cannot be distinguished by
        // version, so a single such app is taken.
        ([], [app]) if app.version().is_none() => app,
        ([], _) => {
            let found: Vec<String> = candidates
                .iter()
                .map(|app| format!("{} in {}", app.version().unwrap_or("no version"), app.id))
                .collect();
            return Err(PortError::new(
                ErrorKind::NotFound,
                SERVICE,
                FIND_APP,
                format!(
                    "no Intune app named {name:?} has version {version:?} (found {}): check the version, or pass the Intune app id as application_id",
                    found.join(", ")
                ),
            ));
        }
        (several, _) => {
            let ids: Vec<&str> = several.iter().map(|app| app.id.as_str()).collect();
            return Err(PortError::new(
                ErrorKind::InvalidInput,
                SERVICE,
                FIND_APP,
                format!(
                    "{} Intune apps are named {name:?} at version {version:?} ({}): pass the Intune app id as application_id",
                    several.len(),
                    ids.join(", ")
                ),
            ));
        }
    };
    GraphId::from_response(FIND_APP, &chosen.id).map(Some)
}

impl MobileApp {
    /// Returns the version Intune shows for the app, from the field its type keeps it in.
    ///
    /// `win32LobApp` keeps it in `displayVersion`, a beta-only field, and a Win32 app wrapping an
    /// MSI also in `msiInformation.productVersion`. The macOS types use `primaryBundleVersion`
    /// or `versionNumber`, and MSI-based apps `productVersion`.
    fn version(&self) -> Option<&str> {
        let top_level = [
            "displayVersion",
            "primaryBundleVersion",
            "versionNumber",
            "productVersion",
            "identityVersion",
        ];
        let nested = self
            .fields
            .get("msiInformation")
            .and_then(|msi| msi.get("productVersion"));
        top_level
            .iter()
            .filter_map(|field| self.fields.get(*field))
            .chain(nested)
            .filter_map(Value::as_str)
            .map(str::trim)
            .find(|version| !version.is_empty())
    }

    /// Returns false when the app's type is packaged for a platform other than `platform`.
    /// Types that name no platform (web links, for example) suit any.
    fn suits(&self, platform: Platform) -> bool {
        let type_name = self
            .odata_type
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches("#microsoft.graph.")
            .to_ascii_lowercase();
        let app_platform = if type_name.starts_with("macos") {
            Some(Platform::Macos)
        } else if type_name.starts_with("win") || type_name == "officesuiteapp" {
            Some(Platform::Windows)
        } else if ["ios", "android", "managedios", "managedandroid"]
            .iter()
            .any(|prefix| type_name.starts_with(prefix))
        {
            return false;
        } else {
            None
        };
        app_platform.is_none_or(|app_platform| app_platform == platform)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn app(value: Value) -> MobileApp {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn version_comes_from_the_type_field() {
        let win32 = app(
            json!({"id": "1", "@odata.type": "#microsoft.graph.win32LobApp",
            "displayVersion": "4.2.1", "msiInformation": {"productVersion": "4.2.1.0"}}),
        );
        assert_eq!(win32.version(), Some("4.2.1"));
        let msi_only = app(
            json!({"id": "2", "@odata.type": "#microsoft.graph.win32LobApp",
            "displayVersion": "", "msiInformation": {"productVersion": "4.2.1.0"}}),
        );
        assert_eq!(msi_only.version(), Some("4.2.1.0"));
        let pkg = app(
            json!({"id": "3", "@odata.type": "#microsoft.graph.macOSPkgApp",
            "primaryBundleVersion": "4.2.1"}),
        );
        assert_eq!(pkg.version(), Some("4.2.1"));
        let web = app(json!({"id": "4", "@odata.type": "#microsoft.graph.webApp"}));
        assert_eq!(web.version(), None);
    }

    #[test]
    fn app_types_suit_their_platform() {
        let suits = |odata_type: &str, platform| {
            app(json!({"id": "1", "@odata.type": odata_type})).suits(platform)
        };
        assert!(suits("#microsoft.graph.win32LobApp", Platform::Windows));
        assert!(suits("#microsoft.graph.winGetApp", Platform::Windows));
        assert!(suits(
            "#microsoft.graph.windowsMobileMSI",
            Platform::Windows
        ));
        assert!(!suits("#microsoft.graph.win32LobApp", Platform::Macos));
        assert!(suits("#microsoft.graph.macOSDmgApp", Platform::Macos));
        assert!(!suits("#microsoft.graph.macOSPkgApp", Platform::Windows));
        assert!(!suits("#microsoft.graph.iosLobApp", Platform::Windows));
        assert!(!suits(
            "#microsoft.graph.androidManagedStoreApp",
            Platform::Windows
        ));
        assert!(suits("#microsoft.graph.webApp", Platform::Macos));
    }

    #[test]
    fn only_ring_group_includes_are_deleted() {
        let group = GraphId::parse("3b6f0d55-1111-4c1e-9d00-aaaaaaaaaaaa").unwrap();
        let assignment = |odata_type: &str, group_id: &str, intent: &str| Assignment {
            id: "a".into(),
            intent: Some(intent.into()),
            target: Some(Target {
                odata_type: Some(odata_type.into()),
                group_id: Some(group_id.into()),
            }),
        };
        let ring = "3B6F0D55-1111-4C1E-9D00-AAAAAAAAAAAA";
        let other = "9c2e0d55-1111-4c1e-9d00-bbbbbbbbbbbb";
        let exclusion = "#microsoft.graph.exclusionGroupAssignmentTarget";
        assert!(deploys_to(
            &assignment(GROUP_TARGET, ring, "required"),
            &group
        ));
        assert!(deploys_to(
            &assignment(GROUP_TARGET, ring, "available"),
            &group
        ));
        assert!(!deploys_to(
            &assignment(GROUP_TARGET, ring, "uninstall"),
            &group
        ));
        assert!(!deploys_to(
            &assignment(exclusion, ring, "required"),
            &group
        ));
        assert!(!deploys_to(
            &assignment(GROUP_TARGET, other, "required"),
            &group
        ));
    }
}
