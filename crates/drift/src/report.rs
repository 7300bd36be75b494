//! The drift report and its entries.

use std::collections::HashMap;

use ops_core::{Inventory, Platform, Ring, Version, VersionScheme};
use serde::Serialize;

/// The result of comparing a ring's approved intents with its inventory.
///
/// Every list is sorted by name, then version and platform, so two runs over the same input
/// give byte-identical output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftReport {
    /// The ring compared.
    pub ring: Ring,
    /// Applications deployed but approved by no intent of the ring.
    pub unauthorized: Vec<Unauthorized>,
    /// Approved applications deployed on no device.
    pub missing: Vec<Missing>,
    /// Approved applications deployed at a version the intents do not approve.
    pub version_drift: Vec<VersionDrift>,
    /// Versions that do not parse under the scheme they must be compared by.
    pub unparsable: Vec<Unparsable>,
    /// Approved intents of the ring that were compared.
    pub intents_compared: usize,
    /// Distinct (platform, name, version) entries in the inventory.
    pub inventory_entries: usize,
    /// Rows read from the inventories.
    pub inventory_rows: u64,
    /// Distinct devices the inventories named.
    pub devices: usize,
    #[serde(skip)]
    drift_index: HashMap<(Platform, String, Version), usize>,
}

/// An application deployed without an approved intent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Unauthorized {
    /// The name as the inventory reports it.
    pub name: String,
    /// The version as the inventory reports it.
    pub version: String,
    /// The platform it was found on.
    pub platform: Platform,
    /// Devices that have it.
    pub devices: u64,
}

/// An approved application that no device has.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Missing {
    /// The name as the intent gives it.
    pub name: String,
    /// The approved version.
    pub version: String,
    /// The platform the intent targets.
    pub platform: Platform,
    /// The intent's correlation id.
    pub correlation_id: String,
}

/// An approved application deployed at another version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct VersionDrift {
    /// The name as the intent gives it.
    pub name: String,
    /// The platform.
    pub platform: Platform,
    /// The approved version.
    pub expected: String,
    /// The version found, as the inventory first spelled it.
    pub actual: String,
    /// True when the version found is newer than the approved one.
    pub newer: bool,
    /// Devices at this version.
    pub devices: u64,
    /// The correlation id of the intent that approves the expected version.
    pub correlation_id: String,
}

/// A version that could not be compared.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Unparsable {
    /// The application's name.
    pub name: String,
    /// The version text that failed to parse.
    pub version: String,
    /// The platform.
    pub platform: Platform,
    /// The scheme it was parsed under.
    pub scheme: VersionScheme,
    /// Where the version came from: `intent` or `inventory`.
    pub source: &'static str,
    /// Why it failed.
    pub error: String,
}

impl DriftReport {
    pub(crate) fn new(ring: Ring, inventory: &Inventory) -> DriftReport {
        DriftReport {
            ring,
            unauthorized: Vec::new(),
            missing: Vec::new(),
            version_drift: Vec::new(),
            unparsable: Vec::new(),
            intents_compared: 0,
            inventory_entries: inventory.len(),
            inventory_rows: inventory.rows(),
            devices: inventory.device_count(),
            drift_index: HashMap::new(),
        }
    }

    /// Adds a version-drift entry, merging it with an earlier one whose version is equal
    /// under the scheme (such as `1.2-3` and `0:1.2-3`), so each drifted version appears once.
    pub(crate) fn add_version_drift(&mut self, drift: VersionDrift, actual: Version) {
        let key = (drift.platform, drift.name.clone(), actual);
        match self.drift_index.get(&key) {
            Some(&index) => {
                let merged = &mut self.version_drift[index].devices;
                *merged = merged.saturating_add(drift.devices);
            }
            None => {
                self.drift_index.insert(key, self.version_drift.len());
                self.version_drift.push(drift);
            }
        }
    }

    pub(crate) fn finish(&mut self) {
        self.drift_index.clear();
        self.unauthorized.sort();
        self.missing.sort();
        self.version_drift.sort();
        self.unparsable.sort();
    }

    /// Returns true when anything needs an operator's attention: unauthorized, missing or
    /// drifted applications, or versions that could not be compared.
    pub fn has_drift(&self) -> bool {
        !(self.unauthorized.is_empty()
            && self.missing.is_empty()
            && self.version_drift.is_empty()
            && self.unparsable.is_empty())
    }
}
