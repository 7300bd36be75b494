//! The packages installed on a ring's hosts, from the controller's fact cache.

use std::collections::HashSet;

use futures_util::{StreamExt, TryStreamExt, stream};
use ops_core::error::PortResult;
use ops_core::{DeployedApp, Inventory, Platform, PortError, Ring};
use ops_http::RestClient;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{AwxPlane, SERVICE};
use crate::inventory::rpm_version;

/// An inventory group, as `GET inventories/{id}/groups/` lists it.
#[derive(Debug, Deserialize)]
struct Group {
    id: u64,
    name: String,
}

/// A host, as `GET groups/{id}/all_hosts/` lists it.
#[derive(Debug, Deserialize)]
pub(super) struct Host {
    id: u64,
    name: String,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// The packages of one host, or `None` when the fact cache contains no package facts for it.
struct HostPackages {
    name: String,
    packages: Option<HashSet<(Platform, String, String)>>,
    skipped_entries: usize,
}

impl AwxPlane {
    /// Returns the enabled hosts of the ring's inventory group, with the hosts of its child
    /// groups.
    pub(super) async fn ring_hosts(&self, ring: Ring, group: &str) -> PortResult<Vec<Host>> {
        let mut url = self
            .client
            .url(&format!("inventories/{}/groups/", self.inventory))?;
        url.query_pairs_mut().append_pair("name", group);
        let groups: Vec<Group> = self.list_all("find inventory group", url).await?;
        let Some(found) = groups.into_iter().find(|candidate| candidate.name == group) else {
            return Err(PortError::not_found(
                SERVICE,
                "find inventory group",
                format!(
                    "inventory {} has no group {group:?} for ring {ring}: check \
                     connectors.ansible.rings.{ring} and connectors.ansible.inventory",
                    self.inventory
                ),
            ));
        };

        let mut url = self
            .client
            .url(&format!("groups/{}/all_hosts/", found.id))?;
        url.query_pairs_mut()
            .append_pair("page_size", &self.page_size.to_string());
        let hosts: Vec<Host> = self.list_all("list group hosts", url).await?;
        let total = hosts.len();
        let enabled: Vec<Host> = hosts.into_iter().filter(|host| host.enabled).collect();
        if enabled.len() < total {
            tracing::debug!(
                service = SERVICE,
                %ring,
                group,
                disabled = total - enabled.len(),
                "left out disabled hosts"
            );
        }
        Ok(enabled)
    }

    /// Returns the packages installed on `hosts`, with host counts, reading up to
    /// `max_concurrency` hosts' facts at once.
    pub(super) async fn installed_packages(
        &self,
        ring: Ring,
        hosts: Vec<Host>,
    ) -> PortResult<Vec<DeployedApp>> {
        let host_count = hosts.len();
        let client = &self.client;
        let results: Vec<HostPackages> = stream::iter(hosts)
            .map(|host| host_packages(client, host))
            .buffer_unordered(self.max_concurrency)
            .try_collect()
            .await?;

        let mut inventory = Inventory::new();
        let mut without_facts = Vec::new();
        let mut skipped_entries = 0;
        for host in results {
            skipped_entries += host.skipped_entries;
            let Some(packages) = host.packages else {
                without_facts.push(host.name);
                continue;
            };
            inventory.add_device(&host.name);
            for (platform, name, version) in &packages {
                inventory.add(*platform, name, version, 1);
            }
        }
        if !without_facts.is_empty() {
            without_facts.sort();
            tracing::warn!(
                service = SERVICE,
                %ring,
                hosts = without_facts.len(),
                of = host_count,
                first = %without_facts.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                "hosts have no cached package facts and are not counted; run package_facts \
                 from a job template with fact caching enabled"
            );
        }
        if skipped_entries > 0 {
            tracing::debug!(
                service = SERVICE,
                %ring,
                entries = skipped_entries,
                "skipped package entries that are not apt or rpm, or have no version"
            );
        }
        Ok(inventory.apps())
    }
}

/// Reads one host's cached facts.
async fn host_packages(client: &RestClient, host: Host) -> PortResult<HostPackages> {
    let url = client.url(&format!("hosts/{}/ansible_facts/", host.id))?;
    let facts: Value = client.get_json("read host facts", url).await?;
    let packages = facts
        .get("packages")
        .or_else(|| facts.get("ansible_facts")?.get("packages"));
    let Some(Value::Object(packages)) = packages else {
        return Ok(HostPackages {
            name: host.name,
            packages: None,
            skipped_entries: 0,
        });
    };
    let (packages, skipped_entries) = read_packages(packages);
    Ok(HostPackages {
        name: host.name,
        packages: Some(packages),
        skipped_entries,
    })
}

/// Reads a `package_facts` map into (platform, name, version) triples, and counts the entries
/// left out.
fn read_packages(packages: &Map<String, Value>) -> (HashSet<(Platform, String, String)>, usize) {
    let mut found = HashSet::new();
    let mut skipped = 0;
    for (key, entries) in packages {
        let Value::Array(entries) = entries else {
            skipped += 1;
            continue;
        };
        for entry in entries {
            let field = |name: &str| scalar(entry.get(name));
            let name = field("name").unwrap_or_else(|| key.clone());
            let Some(version) = field("version") else {
                skipped += 1;
                continue;
            };
            let package = match field("source").as_deref() {
                Some("apt") => (Platform::Debian, name, version),
                Some("rpm") => {
                    let epoch = field("epoch").unwrap_or_default();
                    let release = field("release").unwrap_or_default();
                    (Platform::Rpm, name, rpm_version(&epoch, &version, &release))
                }
                _ => {
                    skipped += 1;
                    continue;
                }
            };
            found.insert(package);
        }
    }
    (found, skipped)
}

/// Returns a string or number as trimmed text, or `None` for null, absent or empty values.
fn scalar(value: Option<&Value>) -> Option<String> {
    let text = match value? {
        Value::String(text) => text.trim().to_owned(),
        Value::Number(number) => number.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn packages_follow_offline_reader_rules() {
        let packages = json!({
            "curl": [{"name": "curl", "version": "7.88.1-10+deb12u5", "arch": "amd64", "source": "apt"}],
            "openssl": [{"name": "openssl", "version": "1.1.1k", "release": "9.el8", "epoch": 1, "arch": "x86_64", "source": "rpm"}],
            "bash": [{"version": "5.1.8", "release": "6.el9", "epoch": null, "source": "rpm"}],
            "kernel": [
                {"version": "5.14.0", "release": "70.el9", "epoch": 0, "source": "rpm"},
                {"version": "5.14.0", "release": "162.el9", "source": "rpm"},
            ],
            "snapd-thing": [{"version": "1", "source": "snap"}],
            "noversion": [{"source": "apt"}],
            "odd": "not a list",
        });
        let (found, skipped) = read_packages(packages.as_object().unwrap());
        let expected: HashSet<(Platform, String, String)> = [
            (Platform::Debian, "curl", "7.88.1-10+deb12u5"),
            (Platform::Rpm, "openssl", "1:1.1.1k-9.el8"),
            (Platform::Rpm, "bash", "5.1.8-6.el9"),
            (Platform::Rpm, "kernel", "5.14.0-70.el9"),
            (Platform::Rpm, "kernel", "5.14.0-162.el9"),
        ]
        .into_iter()
        .map(|(platform, name, version)| (platform, name.to_owned(), version.to_owned()))
        .collect();
        assert_eq!(found, expected);
        assert_eq!(skipped, 3);
    }
}
