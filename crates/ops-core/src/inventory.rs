//! What is actually installed: applications as execution planes and inventory exports report them.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::Platform;

/// One application at one version on one platform, with the number of devices reporting it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeployedApp {
    /// The name as the platform reports it, trimmed.
    pub name: String,
    /// The version as the platform reports it, trimmed.
    pub version: String,
    /// The platform the application was found on.
    pub platform: Platform,
    /// Devices that reported this application at this version.
    pub devices: u64,
}

/// The distinct applications found in one or more inventories, with device counts.
///
/// Memory grows with the number of distinct (platform, name, version) triples and of distinct
/// devices, never with the number of rows read: a fleet of 20,000 devices reporting the same
/// 100 applications costs 100 entries and 20,000 device ids.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Device counts by platform, then name, then version. Nesting lets a lookup borrow the
    /// name and version, so recording an application already seen allocates nothing.
    apps: HashMap<Platform, HashMap<String, HashMap<String, u64>>>,
    distinct: usize,
    devices: HashSet<String>,
    rows: u64,
}

impl Inventory {
    /// Creates an empty inventory.
    pub fn new() -> Inventory {
        Inventory::default()
    }

    /// Records one row saying that `devices` devices reported `name` at `version` on
    /// `platform`.
    pub fn add(&mut self, platform: Platform, name: &str, version: &str, devices: u64) {
        self.add_aggregated(platform, name, version, devices, 1);
    }

    /// Records `rows` rows, already aggregated by the reader, that together say `devices`
    /// devices reported `name` at `version` on `platform`.
    pub fn add_aggregated(
        &mut self,
        platform: Platform,
        name: &str,
        version: &str,
        devices: u64,
        rows: u64,
    ) {
        // Counts come from files, so a sum saturates instead of wrapping around.
        self.rows = self.rows.saturating_add(rows);
        let name = name.trim();
        let version = version.trim();
        let names = self.apps.entry(platform).or_default();
        let versions = match names.get_mut(name) {
            Some(versions) => versions,
            None => names.entry(name.to_owned()).or_default(),
        };
        match versions.get_mut(version) {
            Some(count) => *count = count.saturating_add(devices),
            None => {
                versions.insert(version.to_owned(), devices);
                self.distinct += 1;
            }
        }
    }

    /// Records a device by its host identifier, so the report can say how many devices it covers.
    pub fn add_device(&mut self, host_identifier: &str) {
        if !self.devices.contains(host_identifier) {
            self.devices.insert(host_identifier.to_owned());
        }
    }

    /// Adds every entry and device of `other` to this inventory.
    pub fn merge(&mut self, other: Inventory) {
        for app in other.apps() {
            self.add_aggregated(app.platform, &app.name, &app.version, app.devices, 0);
        }
        self.rows = self.rows.saturating_add(other.rows);
        self.devices.extend(other.devices);
    }

    /// Returns the distinct applications, sorted by platform, name and version.
    pub fn apps(&self) -> Vec<DeployedApp> {
        let mut apps = Vec::with_capacity(self.distinct);
        for (platform, names) in &self.apps {
            for (name, versions) in names {
                for (version, devices) in versions {
                    apps.push(DeployedApp {
                        name: name.clone(),
                        version: version.clone(),
                        platform: *platform,
                        devices: *devices,
                    });
                }
            }
        }
        apps.sort_by(|left, right| {
            (left.platform, &left.name, &left.version).cmp(&(
                right.platform,
                &right.name,
                &right.version,
            ))
        });
        apps
    }

    /// Returns the number of distinct (platform, name, version) entries.
    pub fn len(&self) -> usize {
        self.distinct
    }

    /// Returns true when no application was recorded.
    pub fn is_empty(&self) -> bool {
        self.distinct == 0
    }

    /// Returns the number of rows recorded through [`Inventory::add`] and merged inventories.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Returns the number of distinct devices recorded through [`Inventory::add_device`].
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    /// Returns the platforms with at least one application, without copying the entries.
    pub fn platforms(&self) -> impl Iterator<Item = Platform> + '_ {
        self.apps
            .iter()
            .filter(|(_, names)| !names.is_empty())
            .map(|(platform, _)| *platform)
    }
}

impl FromIterator<DeployedApp> for Inventory {
    fn from_iter<I: IntoIterator<Item = DeployedApp>>(apps: I) -> Inventory {
        let mut inventory = Inventory::new();
        for app in apps {
            inventory.add(app.platform, &app.name, &app.version, app.devices);
        }
        inventory
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_rows_collapse_into_counts() {
        let mut inventory = Inventory::new();
        for host in ["a", "b", "c"] {
            inventory.add_device(host);
            inventory.add(Platform::Debian, "curl", "7.88.1-10", 1);
        }
        inventory.add(Platform::Debian, " curl ", "7.88.1-10 ", 1);
        assert_eq!(inventory.len(), 1);
        assert_eq!(inventory.rows(), 4);
        assert_eq!(inventory.device_count(), 3);
        assert_eq!(inventory.apps()[0].devices, 4);
    }

    #[test]
    fn aggregated_rows_count_as_given() {
        let mut inventory = Inventory::new();
        inventory.add_aggregated(Platform::Debian, "curl", "7.88.1-10", 20_000, 20_000);
        inventory.add(Platform::Debian, "curl", "7.88.1-10", 1);
        assert_eq!(inventory.rows(), 20_001);
        assert_eq!(inventory.apps()[0].devices, 20_001);
    }

    #[test]
    fn merge_adds_counts_and_devices() {
        let mut left = Inventory::new();
        left.add(Platform::Windows, "7-Zip", "23.01", 2);
        left.add_device("pc1");
        let mut right = Inventory::new();
        right.add(Platform::Windows, "7-Zip", "23.01", 3);
        right.add(Platform::Windows, "Notepad++", "8.6", 1);
        right.add_device("pc1");
        right.add_device("pc2");
        left.merge(right);
        let apps = left.apps();
        assert_eq!(apps.len(), 2);
        assert_eq!(apps[0].name, "7-Zip");
        assert_eq!(apps[0].devices, 5);
        assert_eq!(left.device_count(), 2);
        assert_eq!(left.rows(), 3);
        assert_eq!(left.platforms().collect::<Vec<_>>(), [Platform::Windows]);
    }
}
