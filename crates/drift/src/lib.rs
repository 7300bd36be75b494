//! Drift detection: what is deployed in a ring against what was approved for it.
//!
//! [`detect`] takes the intents of the control plane and an [`Inventory`] of the ring's
//! devices, and returns a [`DriftReport`] of three lists: applications deployed but not
//! approved (`unauthorized`), approved but deployed nowhere (`missing`), and approved but
//! deployed at another version (`version_drift`). A fourth list holds deployed versions that
//! do not parse under the intent's version scheme: they are reported, never compared as text.
//!
//! Names match the way each platform matches them ([`Platform::match_key`]): trimmed and
//! NFC-normalized, case-insensitive on Windows and macOS, exact for Debian and RPM packages.
//! Versions compare by the intent's scheme ([`ops_core::version`]), so `0:1.2-3` equals
//! `1.2-3` on Debian and `1.10` is newer than `1.9` on Windows.
//!
//! The comparison is a hash join: one pass builds a map of the approved intents, one pass
//! over the inventory's distinct entries probes it. Cost is linear in the inventory's size,
//! and the inventory is already aggregated, so a fleet of millions of rows costs as many
//! probes as it has distinct (platform, name, version) entries.

mod report;

pub use report::{DriftReport, Missing, Unauthorized, Unparsable, VersionDrift};

use std::collections::HashMap;

use ops_core::{DeploymentIntent, Inventory, Platform, Ring, Version};

/// An approved intent with its version parsed once.
struct Expected<'a> {
    intent: &'a DeploymentIntent,
    version: Version,
}

/// Everything approved for one platform and name key.
struct Approved<'a> {
    expected: Vec<Expected<'a>>,
    deployed: bool,
}

/// Compares the approved intents for `ring` with the applications in `inventory`.
///
/// Intents of other rings and intents that are not approved (see
/// [`IntentStatus::is_approved`](ops_core::IntentStatus::is_approved)) are ignored. An intent
/// whose own version does not parse under its scheme is reported in `unparsable` and compared
/// with nothing. When several intents approve versions of the same application, a deployed
/// version equal to any of them is as approved, and drift reports the highest as expected.
pub fn detect(ring: Ring, intents: &[DeploymentIntent], inventory: &Inventory) -> DriftReport {
    let mut report = DriftReport::new(ring, inventory);
    let mut approved = approved_by_key(ring, intents, &mut report);

    for app in inventory.apps() {
        let key = (app.platform, app.platform.match_key(&app.name).into_owned());
        let Some(entry) = approved.get_mut(&key) else {
            report.unauthorized.push(Unauthorized {
                name: app.name,
                version: app.version,
                platform: app.platform,
                devices: app.devices,
            });
            continue;
        };
        entry.deployed = true;

        let highest = entry
            .expected
            .iter()
            .max_by(|left, right| left.version.cmp(&right.version))
            .expect("an approved entry contains at least one intent");
        let scheme = highest.version.scheme();
        let actual = match Version::parse(scheme, &app.version) {
            Ok(actual) => actual,
            Err(error) => {
                report.unparsable.push(Unparsable {
                    name: app.name,
                    version: app.version,
                    platform: app.platform,
                    scheme,
                    source: "inventory",
                    error: error.to_string(),
                });
                continue;
            }
        };
        if entry
            .expected
            .iter()
            .any(|expected| expected.version == actual)
        {
            continue;
        }
        report.add_version_drift(
            VersionDrift {
                name: highest.intent.app_name.clone(),
                platform: app.platform,
                expected: highest.intent.version.clone(),
                actual: app.version,
                newer: actual > highest.version,
                devices: app.devices,
                correlation_id: highest.intent.correlation_id.to_string(),
            },
            actual,
        );
    }

    for entry in approved.into_values().filter(|entry| !entry.deployed) {
        for expected in entry.expected {
            report.missing.push(Missing {
                name: expected.intent.app_name.clone(),
                version: expected.intent.version.clone(),
                platform: expected.intent.platform,
                correlation_id: expected.intent.correlation_id.to_string(),
            });
        }
    }

    report.finish();
    report
}

fn approved_by_key<'a>(
    ring: Ring,
    intents: &'a [DeploymentIntent],
    report: &mut DriftReport,
) -> HashMap<(Platform, String), Approved<'a>> {
    let mut approved: HashMap<(Platform, String), Approved<'a>> = HashMap::new();
    for intent in intents {
        if intent.ring != ring || !intent.status.is_approved() {
            continue;
        }
        report.intents_compared += 1;
        let scheme = intent.version_scheme();
        let version = match Version::parse(scheme, &intent.version) {
            Ok(version) => version,
            Err(error) => {
                report.unparsable.push(Unparsable {
                    name: intent.app_name.clone(),
                    version: intent.version.clone(),
                    platform: intent.platform,
                    scheme,
                    source: "intent",
                    error: error.to_string(),
                });
                continue;
            }
        };
        let key = (
            intent.platform,
            intent.platform.match_key(&intent.app_name).into_owned(),
        );
        approved
            .entry(key)
            .or_insert_with(|| Approved {
                expected: Vec::new(),
                deployed: false,
            })
            .expected
            .push(Expected { intent, version });
    }
    approved
}
