//! The directory port: groups, memberships, service-principal credentials and PIM, as Microsoft
//! Entra ID provides them.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::secrets::Secret;
use crate::error::PortResult;

/// A security group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The directory's object id.
    pub id: String,
    /// The display name, such as `Publishers`.
    pub display_name: String,
}

/// A member of a group: a user or a service principal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Principal {
    /// The directory's object id.
    pub id: String,
    /// The user principal name or application name, for reports.
    pub display_name: String,
}

/// A password credential of an application, without its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialInfo {
    /// The credential's key id, which removing it takes.
    pub key_id: String,
    /// The display name given when it was added.
    pub display_name: Option<String>,
    /// When it became valid.
    pub start: Option<DateTime<Utc>>,
    /// When it expires.
    pub end: Option<DateTime<Utc>>,
}

/// A credential just added; the directory returns its value this once only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredential {
    /// Facts about the credential.
    pub info: CredentialInfo,
    /// Its value.
    pub secret: Secret,
}

/// Rules for activating an eligible membership through Privileged Identity Management.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PimPolicy {
    /// The longest activation allowed.
    pub max_activation: Duration,
    /// Whether activation requires multi-factor authentication.
    pub require_mfa: bool,
    /// Whether activation requires a justification.
    pub require_justification: bool,
}

/// Users, groups and application credentials.
///
/// `create_group` is not idempotent on its own because display names are not unique in Entra
/// ID: callers look the group up with `find_groups` first. Removing a credential that is
/// already gone succeeds.
#[async_trait]
pub trait Directory: Send + Sync {
    /// Returns the groups with this exact display name; there may be several.
    async fn find_groups(&self, display_name: &str) -> PortResult<Vec<Group>>;

    /// Creates a security group.
    async fn create_group(&self, display_name: &str, description: &str) -> PortResult<Group>;

    /// Returns the direct and transitive members of a group.
    async fn members(&self, group_id: &str) -> PortResult<Vec<Principal>>;

    /// Lists an application's password credentials.
    async fn credentials(&self, application_id: &str) -> PortResult<Vec<CredentialInfo>>;

    /// Adds a password credential valid for `lifetime` and returns it with its value.
    async fn add_credential(
        &self,
        application_id: &str,
        display_name: &str,
        lifetime: Duration,
    ) -> PortResult<NewCredential>;

    /// Removes a password credential by key id.
    async fn remove_credential(&self, application_id: &str, key_id: &str) -> PortResult<()>;

    /// Applies a PIM activation policy to a group's member role.
    async fn set_pim_policy(&self, group_id: &str, policy: &PimPolicy) -> PortResult<()>;

    /// Makes a principal eligible (not active) for a group's membership.
    async fn add_eligible_member(&self, group_id: &str, principal_id: &str) -> PortResult<()>;
}
