//! Removing an application's deployments (`SMS_ApplicationAssignment`) from a collection.

use ops_core::error::PortResult;
use ops_core::ports::{RemovalOutcome, RemovalRequest};
use ops_core::{ErrorKind, PortError};
use ops_http::{Method, decode_json};
use serde_json::Value;

use super::query::{Query, integer, literal, text};
use super::{SERVICE, SccmPlane};

const OPERATION: &str = "remove application";

/// An application as SCCM identifies it. Any of the ids may be unknown.
#[derive(Debug)]
struct Application {
    /// `CI_ID`: the id of one revision.
    ci_id: Option<u64>,
    /// `CI_UniqueID`: `ScopeId_<scope>/Application_<guid>`, followed by `/<revision>` on
    /// `SMS_Application` rows.
    unique_id: Option<String>,
    /// `LocalizedDisplayName`.
    name: Option<String>,
}

/// One deployment of an application to a collection.
#[derive(Debug)]
struct Assignment {
    id: u64,
    name: Option<String>,
    application_name: Option<String>,
    unique_id: Option<String>,
    ci_ids: Vec<u64>,
}

impl SccmPlane {
    /// Deletes every deployment of the requested application to `collection`.
    ///
    /// The application is the request's `application_id` when that is a `CI_ID` (digits) or a
    /// `CI_UniqueID` (`ScopeId_...`), or else the latest revision named `app_name`. An
    /// application that does not exist, or has no deployment to the collection, gives
    /// [`RemovalOutcome::AlreadyAbsent`], as does a deployment deleted meanwhile (404).
    pub(super) async fn remove_deployments(
        &self,
        request: &RemovalRequest,
        collection: &str,
    ) -> PortResult<RemovalOutcome> {
        let Some(application) = self.resolve_application(request).await? else {
            tracing::warn!(
                service = SERVICE,
                correlation_id = %request.correlation_id,
                application_id = %request.application_id,
                app = %request.app_name,
                "no application matches the request, so it has no deployment to remove"
            );
            return Ok(RemovalOutcome::AlreadyAbsent);
        };

        let assignments = self.collection_assignments(collection).await?;
        let matching: Vec<&Assignment> = assignments
            .iter()
            .filter(|assignment| application.is_deployed_by(assignment))
            .collect();
        if matching.is_empty() {
            tracing::info!(
                service = SERVICE,
                correlation_id = %request.correlation_id,
                collection,
                app = %request.app_name,
                "the application has no deployment to the collection"
            );
            return Ok(RemovalOutcome::AlreadyAbsent);
        }

        let mut deleted = 0;
        for assignment in matching {
            if self
                .delete_assignment(request, collection, assignment)
                .await?
            {
                deleted += 1;
            }
        }
        Ok(if deleted > 0 {
            RemovalOutcome::Removed
        } else {
            RemovalOutcome::AlreadyAbsent
        })
    }

    /// Deletes one deployment. Returns false when it was already gone.
    async fn delete_assignment(
        &self,
        request: &RemovalRequest,
        collection: &str,
        assignment: &Assignment,
    ) -> PortResult<bool> {
        // NOTE: DELETE on a WMI route instance follows the AdminService's OData conventions;
        // the documentation shows no example for SMS_ApplicationAssignment.
        let url = self
            .client
            .url(&format!("wmi/SMS_ApplicationAssignment({})", assignment.id))?;
        let deleted = match self
            .client
            .send("delete deployment", Method::DELETE, url)
            .await
        {
            Ok(_) => true,
            Err(error) if error.kind() == ErrorKind::NotFound => false,
            Err(error) => return Err(error),
        };
        let assignment_name = assignment.name.as_deref().unwrap_or_default();
        if deleted {
            tracing::info!(
                service = SERVICE,
                correlation_id = %request.correlation_id,
                collection,
                assignment_id = assignment.id,
                assignment = assignment_name,
                "deleted the application's deployment to the collection"
            );
        } else {
            tracing::info!(
                service = SERVICE,
                correlation_id = %request.correlation_id,
                collection,
                assignment_id = assignment.id,
                assignment = assignment_name,
                "the deployment was already deleted (HTTP 404)"
            );
        }
        Ok(deleted)
    }

    /// Resolves the request to an application, or `None` when none exists.
    async fn resolve_application(
        &self,
        request: &RemovalRequest,
    ) -> PortResult<Option<Application>> {
        let id = request.application_id.trim();
        let is_ci_id = !id.is_empty() && id.bytes().all(|byte| byte.is_ascii_digit());
        if is_ci_id && let Ok(ci_id) = id.parse::<u64>() {
            return self.application_by_ci_id(ci_id).await;
        }
        if id.starts_with("ScopeId_") {
            return Ok(Some(Application {
                ci_id: None,
                unique_id: Some(id.to_owned()),
                name: None,
            }));
        }
        self.application_by_name(request).await
    }

    async fn application_by_ci_id(&self, ci_id: u64) -> PortResult<Option<Application>> {
        let operation = "read application";
        let mut url = self.client.url(&format!("wmi/SMS_Application({ci_id})"))?;
        url.set_query(Some("$select=CI_ID,CI_UniqueID,LocalizedDisplayName"));
        let response = match self.client.send(operation, Method::GET, url).await {
            Ok(response) => response,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let body: Value = decode_json(SERVICE, operation, &response.body)?;
        // A key lookup may come back as the instance or as a one-element `value` list.
        let row = match body.get("value") {
            Some(Value::Array(rows)) => rows.first().cloned(),
            _ => Some(body),
        };
        Ok(row
            .map(|row| Application::from_row(&row))
            .map(|mut application| {
                application.ci_id.get_or_insert(ci_id);
                application
            }))
    }

    async fn application_by_name(
        &self,
        request: &RemovalRequest,
    ) -> PortResult<Option<Application>> {
        let name = request.app_name.trim();
        let query = Query {
            class: "SMS_Application",
            filter: Some(format!(
                "LocalizedDisplayName eq {} and IsLatest eq true",
                literal(name)
            )),
            select: &[
                "CI_ID",
                "CI_UniqueID",
                "LocalizedDisplayName",
                "SoftwareVersion",
            ],
            order_by: Some("CI_ID"),
        };
        let rows = query
            .rows(&self.client, "find application", self.page_size)
            .await?;
        let chosen: Vec<&Value> = if rows.len() > 1 {
            let version = request.version.trim();
            rows.iter()
                .filter(|row| text(row, "SoftwareVersion") == Some(version))
                .collect()
        } else {
            rows.iter().collect()
        };
        match chosen.as_slice() {
            [] if rows.is_empty() => Ok(None),
            [row] => Ok(Some(Application::from_row(row))),
            _ => {
                let ids: Vec<String> = rows
                    .iter()
                    .filter_map(|row| integer(row, "CI_ID"))
                    .map(|id| id.to_string())
                    .collect();
                Err(PortError::new(
                    ErrorKind::Conflict,
                    SERVICE,
                    OPERATION,
                    format!(
                        "{} applications are named {name:?} and none or several have \
                         SoftwareVersion {:?} (CI_IDs {}): give the CI_ID or CI_UniqueID of \
                         the one to remove as the application id",
                        rows.len(),
                        request.version,
                        ids.join(", ")
                    ),
                ))
            }
        }
    }

    /// Lists the application deployments targeting `collection`.
    async fn collection_assignments(&self, collection: &str) -> PortResult<Vec<Assignment>> {
        let query = Query {
            class: "SMS_ApplicationAssignment",
            filter: Some(format!("TargetCollectionID eq {}", literal(collection))),
            select: &[
                "AssignmentID",
                "AssignmentName",
                "ApplicationName",
                "AssignedCI_UniqueID",
                "AssignedCIs",
            ],
            order_by: Some("AssignmentID"),
        };
        let rows = query
            .rows(&self.client, "list deployments", self.page_size)
            .await?;
        Ok(rows.iter().filter_map(Assignment::from_row).collect())
    }
}

impl Application {
    fn from_row(row: &Value) -> Application {
        Application {
            ci_id: integer(row, "CI_ID"),
            unique_id: text(row, "CI_UniqueID").map(str::to_owned),
            name: text(row, "LocalizedDisplayName").map(str::to_owned),
        }
    }

    /// Returns true when `assignment` deploys this application: the same application in its
    /// unique id (any revision), its CI_ID among the assigned CIs, or, for an assignment that
    /// carries neither id, the same name.
    fn is_deployed_by(&self, assignment: &Assignment) -> bool {
        if let (Some(ours), Some(theirs)) = (&self.unique_id, &assignment.unique_id)
            && without_revision(ours).eq_ignore_ascii_case(without_revision(theirs))
        {
            return true;
        }
        if self
            .ci_id
            .is_some_and(|ci_id| assignment.ci_ids.contains(&ci_id))
        {
            return true;
        }
        let carries_no_id = assignment.unique_id.is_none() && assignment.ci_ids.is_empty();
        match (&self.name, &assignment.application_name) {
            (Some(ours), Some(theirs)) => carries_no_id && ours.eq_ignore_ascii_case(theirs),
            _ => false,
        }
    }
}

impl Assignment {
    fn from_row(row: &Value) -> Option<Assignment> {
        let ci_ids = match row.get("AssignedCIs") {
            Some(Value::Array(ids)) => ids
                .iter()
                .filter_map(|id| match id {
                    Value::Number(number) => number.as_u64(),
                    Value::String(text) => text.trim().parse().ok(),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Some(Assignment {
            id: integer(row, "AssignmentID")?,
            name: text(row, "AssignmentName").map(str::to_owned),
            application_name: text(row, "ApplicationName").map(str::to_owned),
            unique_id: text(row, "AssignedCI_UniqueID").map(str::to_owned),
            ci_ids,
        })
    }
}

/// Strips the `/<revision>` suffix from a CI_UniqueID, which names the application across
/// revisions.
fn without_revision(unique_id: &str) -> &str {
    match unique_id.rsplit_once('/') {
        Some((model, revision))
            if !revision.is_empty() && revision.bytes().all(|byte| byte.is_ascii_digit()) =>
        {
            model
        }
        _ => unique_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = "ScopeId_6C4B2D6B-1D1B-4C5A-9D1F-1B2C3D4E5F60/Application_0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9";

    fn assignment(unique_id: Option<&str>, ci_ids: &[u64], name: Option<&str>) -> Assignment {
        Assignment {
            id: 1,
            name: None,
            application_name: name.map(str::to_owned),
            unique_id: unique_id.map(str::to_owned),
            ci_ids: ci_ids.to_vec(),
        }
    }

    #[test]
    fn revision_suffix_is_stripped() {
        assert_eq!(without_revision(&format!("{MODEL}/7")), MODEL);
        assert_eq!(without_revision(MODEL), MODEL);
        assert_eq!(
            without_revision("ScopeId_X/Application_Y/"),
            "ScopeId_X/Application_Y/"
        );
    }

    #[test]
    fn deployment_matches_by_model_ci_or_name() {
        let application = Application {
            ci_id: Some(16777500),
            unique_id: Some(format!("{MODEL}/3")),
            name: Some("Contoso Agent".into()),
        };
        assert!(application.is_deployed_by(&assignment(Some(MODEL), &[], None)));
        assert!(application.is_deployed_by(&assignment(None, &[16777500], None)));
        assert!(application.is_deployed_by(&assignment(None, &[], Some("contoso agent"))));
        let other = "ScopeId_6C4B2D6B-1D1B-4C5A-9D1F-1B2C3D4E5F60/Application_ffffffff-4e5f-6071-8293-a4b5c6d7e8f9";
        assert!(!application.is_deployed_by(&assignment(Some(other), &[1], Some("Contoso Agent"))));
    }
}
