//! A fake directory.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use ops_core::PortError;
use ops_core::error::PortResult;
use ops_core::ports::Directory;
use ops_core::ports::directory::{CredentialInfo, Group, NewCredential, PimPolicy, Principal};
use ops_core::ports::secrets::Secret;

use crate::failures::{Failures, lock};

/// A directory of groups, members, application credentials and PIM settings.
#[derive(Debug, Default)]
pub struct FakeDirectory {
    groups: Mutex<Vec<Group>>,
    members: Mutex<BTreeMap<String, BTreeSet<Principal>>>,
    credentials: Mutex<BTreeMap<String, Vec<CredentialInfo>>>,
    pim_policies: Mutex<BTreeMap<String, PimPolicy>>,
    eligible: Mutex<BTreeSet<(String, String)>>,
    /// Key ids issued so far, so that a key id is never reused after a removal.
    keys_issued: AtomicU64,
    /// Failures the next calls return.
    pub failures: Failures,
}

impl FakeDirectory {
    /// Adds a member to a group, creating neither.
    pub fn add_member(&self, group_id: &str, principal: Principal) {
        lock(&self.members)
            .entry(group_id.to_owned())
            .or_default()
            .insert(principal);
    }

    /// Returns the groups created so far.
    pub fn groups(&self) -> Vec<Group> {
        lock(&self.groups).clone()
    }

    /// Returns the PIM policy applied to a group.
    pub fn pim_policy(&self, group_id: &str) -> Option<PimPolicy> {
        lock(&self.pim_policies).get(group_id).cloned()
    }

    /// Returns true when the principal is eligible for the group.
    pub fn is_eligible(&self, group_id: &str, principal_id: &str) -> bool {
        lock(&self.eligible).contains(&(group_id.to_owned(), principal_id.to_owned()))
    }
}

#[async_trait]
impl Directory for FakeDirectory {
    async fn find_groups(&self, display_name: &str) -> PortResult<Vec<Group>> {
        self.failures.next("directory", "find groups")?;
        Ok(lock(&self.groups)
            .iter()
            .filter(|group| group.display_name == display_name)
            .cloned()
            .collect())
    }

    async fn create_group(&self, display_name: &str, _description: &str) -> PortResult<Group> {
        self.failures.next("directory", "create group")?;
        let mut groups = lock(&self.groups);
        let group = Group {
            id: format!("group-{}", groups.len() + 1),
            display_name: display_name.to_owned(),
        };
        groups.push(group.clone());
        Ok(group)
    }

    async fn members(&self, group_id: &str) -> PortResult<Vec<Principal>> {
        self.failures.next("directory", "list members")?;
        Ok(lock(&self.members)
            .get(group_id)
            .map(|members| members.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn credentials(&self, application_id: &str) -> PortResult<Vec<CredentialInfo>> {
        self.failures.next("directory", "list credentials")?;
        Ok(lock(&self.credentials)
            .get(application_id)
            .cloned()
            .unwrap_or_default())
    }

    async fn add_credential(
        &self,
        application_id: &str,
        display_name: &str,
        lifetime: Duration,
    ) -> PortResult<NewCredential> {
        self.failures.next("directory", "add credential")?;
        let mut credentials = lock(&self.credentials);
        let list = credentials.entry(application_id.to_owned()).or_default();
        let start = Utc::now();
        let info = CredentialInfo {
            key_id: format!(
                "key-{}",
                self.keys_issued.fetch_add(1, Ordering::Relaxed) + 1
            ),
            display_name: Some(display_name.to_owned()),
            start: Some(start),
            end: chrono::Duration::from_std(lifetime)
                .ok()
                .map(|lifetime| start + lifetime),
        };
        list.push(info.clone());
        Ok(NewCredential {
            secret: Secret::new(format!("fake-secret-{}-{}", application_id, info.key_id)),
            info,
        })
    }

    async fn remove_credential(&self, application_id: &str, key_id: &str) -> PortResult<()> {
        self.failures.next("directory", "remove credential")?;
        if let Some(list) = lock(&self.credentials).get_mut(application_id) {
            list.retain(|credential| credential.key_id != key_id);
        }
        Ok(())
    }

    async fn set_pim_policy(&self, group_id: &str, policy: &PimPolicy) -> PortResult<()> {
        self.failures.next("directory", "set PIM policy")?;
        if !lock(&self.groups).iter().any(|group| group.id == group_id) {
            return Err(PortError::not_found(
                "directory",
                "set PIM policy",
                format!("no group has id {group_id}"),
            ));
        }
        lock(&self.pim_policies).insert(group_id.to_owned(), policy.clone());
        Ok(())
    }

    async fn add_eligible_member(&self, group_id: &str, principal_id: &str) -> PortResult<()> {
        self.failures.next("directory", "add eligible member")?;
        lock(&self.eligible).insert((group_id.to_owned(), principal_id.to_owned()));
        Ok(())
    }
}
