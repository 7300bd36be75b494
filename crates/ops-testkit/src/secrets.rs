//! A fake secret store.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ops_core::PortError;
use ops_core::error::PortResult;
use ops_core::ports::SecretStore;
use ops_core::ports::secrets::{Secret, SecretVersion, SecretVersionInfo};

use crate::failures::{Failures, lock};

/// A secret store keeping every version of every secret, oldest first.
#[derive(Debug, Default)]
pub struct FakeSecretStore {
    secrets: Mutex<BTreeMap<String, Vec<SecretVersion>>>,
    /// Failures the next calls return.
    pub failures: Failures,
}

impl FakeSecretStore {
    fn add_version(&self, name: &str, value: Secret, expires: Option<DateTime<Utc>>) -> String {
        let mut secrets = lock(&self.secrets);
        let versions = secrets.entry(name.to_owned()).or_default();
        let version = format!("v{}", versions.len() + 1);
        versions.push(SecretVersion {
            version: version.clone(),
            value,
            created: Some(Utc::now()),
            expires,
        });
        version
    }
}

#[async_trait]
impl SecretStore for FakeSecretStore {
    async fn get(&self, name: &str) -> PortResult<Option<SecretVersion>> {
        self.failures.next("secret store", "get secret")?;
        Ok(lock(&self.secrets)
            .get(name)
            .and_then(|versions| versions.last().cloned()))
    }

    async fn set(
        &self,
        name: &str,
        value: &Secret,
        expires: Option<DateTime<Utc>>,
    ) -> PortResult<String> {
        self.failures.next("secret store", "set secret")?;
        Ok(self.add_version(name, value.clone(), expires))
    }

    async fn versions(&self, name: &str) -> PortResult<Vec<SecretVersionInfo>> {
        self.failures.next("secret store", "list versions")?;
        Ok(lock(&self.secrets)
            .get(name)
            .map(|versions| {
                versions
                    .iter()
                    .rev()
                    .map(|version| SecretVersionInfo {
                        version: version.version.clone(),
                        enabled: true,
                        created: version.created,
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn restore_version(&self, name: &str, version: &str) -> PortResult<String> {
        self.failures.next("secret store", "restore version")?;
        let earlier = lock(&self.secrets)
            .get(name)
            .and_then(|versions| {
                versions
                    .iter()
                    .find(|candidate| candidate.version == version)
                    .cloned()
            })
            .ok_or_else(|| {
                PortError::not_found(
                    "secret store",
                    "restore version",
                    format!("secret {name:?} has no version {version:?}"),
                )
            })?;
        Ok(self.add_version(name, earlier.value, earlier.expires))
    }
}
