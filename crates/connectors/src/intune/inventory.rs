//! The applications Intune detected on a ring's devices.
//!
//! A ring is an Entra ID group. Its device members are Entra device objects, whose `deviceId`
//! is the `azureADDeviceId` of the matching Intune managed device, and only managed devices
//! have detected apps. So the listing takes three steps:
//!
//! 1. the group's transitive device members (nested groups included);
//! 2. every managed device of the tenant, joined on `azureADDeviceId`;
//! 3. each matched device's detected apps (beta), with at most `max_concurrency` devices read
//!    at once.
//!
//! Step 2 reads the whole tenant instead of filtering once per ring device, because a ring of
//! a few hundred devices would need as many calls, while the tenant list takes one call per
//! page. The per-device calls of step 3 dominate either way. The tenant-wide
//! `deviceManagement/detectedApps` list was not used: it needs one more call per application to
//! learn which devices report it, and tenants hold far more applications than rings hold
//! devices.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};
use ops_core::error::PortResult;
use ops_core::{DeployedApp, ErrorKind, Inventory, Platform, Ring};
use serde::Deserialize;

use super::graph::{Graph, GraphId};
use super::{IntunePlane, SERVICE};

const LIST_GROUP_DEVICES: &str = "list group devices";
const LIST_MANAGED_DEVICES: &str = "list managed devices";
const LIST_DETECTED_APPS: &str = "list detected apps";

/// An Entra ID device object, as a member of a group.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DirectoryDevice {
    device_id: Option<String>,
}

/// An Intune managed device, with the fields that `$select` requests.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManagedDevice {
    id: String,
    #[serde(rename = "azureADDeviceId")]
    azure_ad_device_id: Option<String>,
    operating_system: Option<String>,
    last_sync_date_time: Option<DateTime<Utc>>,
}

/// One application Intune detected on a device.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetectedApp {
    display_name: Option<String>,
    version: Option<String>,
    platform: Option<String>,
}

/// A managed device of the ring.
struct RingDevice {
    id: GraphId,
    /// The platform from the device's `operatingSystem`, used for apps whose own platform is
    /// `unknown`.
    platform: Option<Platform>,
    last_sync: Option<DateTime<Utc>>,
}

/// Counts of what the listing left out, logged once at the end.
#[derive(Default)]
struct Skipped {
    not_enrolled: usize,
    left_intune: usize,
    other_platform: usize,
    unnamed: usize,
}

/// Lists the distinct applications detected on the ring's managed devices.
pub(super) async fn deployed_applications(
    plane: &IntunePlane,
    ring: Ring,
) -> PortResult<Vec<DeployedApp>> {
    let group = plane.group(ring, "list deployed applications")?;
    let graph = &plane.graph;
    let mut skipped = Skipped::default();

    let members: Vec<DirectoryDevice> = graph
        .list(LIST_GROUP_DEVICES, graph.group_devices_url(group)?)
        .await?;
    let entra_ids: HashSet<String> = members
        .into_iter()
        .filter_map(|member| member.device_id)
        .map(|id| id.trim().to_ascii_lowercase())
        .collect();
    let managed: Vec<ManagedDevice> = graph
        .list(LIST_MANAGED_DEVICES, graph.managed_devices_url()?)
        .await?;
    let devices = ring_devices(&entra_ids, managed, &mut skipped)?;

    let mut inventory = Inventory::new();
    // Collected first: a closure inside the stream's type trips a known rustc limit on
    // lifetimes in `Send` futures ("implementation of FnOnce is not general enough").
    let reads: Vec<_> = devices
        .iter()
        .map(|device| device_apps(graph, device))
        .collect();
    let mut reads = stream::iter(reads).buffer_unordered(plane.max_concurrency);
    let mut not_found = None;
    while let Some((device, apps)) = reads.next().await {
        let apps = match apps {
            Ok(apps) => apps,
            // The device left Intune between the two listings.
            Err(error) if error.kind() == ErrorKind::NotFound => {
                skipped.left_intune += 1;
                not_found = Some(error);
                continue;
            }
            Err(error) => return Err(error),
        };
        inventory.add_device(device.id.as_str());
        for (platform, name, version) in distinct_apps(device, apps, &mut skipped) {
            inventory.add(platform, &name, &version, 1);
        }
    }
    drop(reads);
    // When every device is missing, the endpoint is more likely gone than the devices, and an
    // empty list would read as "nothing installed".
    if let Some(error) = not_found.filter(|_| skipped.left_intune == devices.len()) {
        return Err(error);
    }

    let apps = inventory.apps();
    tracing::info!(
        service = SERVICE,
        ring = %ring,
        group = %group,
        group_devices = entra_ids.len(),
        managed_devices = devices.len(),
        not_enrolled = skipped.not_enrolled,
        left_intune = skipped.left_intune,
        other_platform_apps = skipped.other_platform,
        unnamed_apps = skipped.unnamed,
        apps = apps.len(),
        "listed deployed applications"
    );
    Ok(apps)
}

/// Joins the group's Entra device ids to managed devices. A device enrolled twice keeps only
/// its most recently synced record, because the stale one still lists its old applications.
fn ring_devices(
    entra_ids: &HashSet<String>,
    managed: Vec<ManagedDevice>,
    skipped: &mut Skipped,
) -> PortResult<Vec<RingDevice>> {
    let mut by_entra_id: HashMap<String, RingDevice> = HashMap::new();
    for device in managed {
        let Some(entra_id) = device.azure_ad_device_id.as_deref() else {
            continue;
        };
        let entra_id = entra_id.trim().to_ascii_lowercase();
        if !entra_ids.contains(&entra_id) {
            continue;
        }
        let candidate = RingDevice {
            id: GraphId::from_response(LIST_MANAGED_DEVICES, &device.id)?,
            platform: device.operating_system.as_deref().and_then(platform),
            last_sync: device.last_sync_date_time,
        };
        let is_newer = by_entra_id
            .get(&entra_id)
            .is_none_or(|kept| candidate.last_sync > kept.last_sync);
        if is_newer {
            by_entra_id.insert(entra_id, candidate);
        }
    }
    skipped.not_enrolled = entra_ids.len() - by_entra_id.len();

    let mut devices: Vec<RingDevice> = by_entra_id.into_values().collect();
    devices.sort_by(|left, right| left.id.cmp(&right.id));
    Ok(devices)
}

/// Lists a device's detected apps, returning the device beside them.
async fn device_apps<'a>(
    graph: &Graph,
    device: &'a RingDevice,
) -> (&'a RingDevice, PortResult<Vec<DetectedApp>>) {
    let apps = match graph.detected_apps_url(&device.id) {
        Ok(url) => graph.list(LIST_DETECTED_APPS, url).await,
        Err(error) => Err(error),
    };
    (device, apps)
}

/// Returns each (platform, name, version) once per device, so a device reporting an
/// application twice counts once.
fn distinct_apps(
    device: &RingDevice,
    apps: Vec<DetectedApp>,
    skipped: &mut Skipped,
) -> BTreeSet<(Platform, String, String)> {
    let mut distinct = BTreeSet::new();
    for app in apps {
        let name = app.display_name.as_deref().unwrap_or_default().trim();
        if name.is_empty() {
            skipped.unnamed += 1;
            continue;
        }
        let app_platform = match app.platform.as_deref() {
            None | Some("unknown") => device.platform,
            Some(text) => platform(text),
        };
        let Some(app_platform) = app_platform else {
            skipped.other_platform += 1;
            continue;
        };
        let version = app.version.as_deref().unwrap_or_default().trim();
        distinct.insert((app_platform, name.to_owned(), version.to_owned()));
    }
    distinct
}

/// Maps a `detectedApp.platform` or `managedDevice.operatingSystem` value to a platform `ops`
/// deploys to, or `None` for the others (iOS, Android, Windows Mobile and Holographic, ...).
fn platform(text: &str) -> Option<Platform> {
    match text.trim().to_ascii_lowercase().as_str() {
        "windows" => Some(Platform::Windows),
        "macos" => Some(Platform::Macos),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn managed(id: &str, entra_id: &str, synced: &str) -> ManagedDevice {
        ManagedDevice {
            id: id.to_owned(),
            azure_ad_device_id: Some(entra_id.to_owned()),
            operating_system: Some("Windows".to_owned()),
            last_sync_date_time: Some(synced.parse().unwrap()),
        }
    }

    #[test]
    fn reenrolled_device_keeps_latest_record() {
        let entra_ids: HashSet<String> = ["aa".to_owned(), "bb".to_owned()].into();
        let mut skipped = Skipped::default();
        let devices = ring_devices(
            &entra_ids,
            vec![
                managed("old", "AA", "2026-01-01T00:00:00Z"),
                managed("new", "aa", "2026-02-01T00:00:00Z"),
                managed("other", "cc", "2026-02-01T00:00:00Z"),
            ],
            &mut skipped,
        )
        .unwrap();
        let ids: Vec<&str> = devices.iter().map(|device| device.id.as_str()).collect();
        assert_eq!(ids, ["new"]);
        assert_eq!(skipped.not_enrolled, 1);
    }

    #[test]
    fn platforms_map_desktops_only() {
        assert_eq!(platform("windows"), Some(Platform::Windows));
        assert_eq!(platform("macOS"), Some(Platform::Macos));
        assert_eq!(platform("Windows"), Some(Platform::Windows));
        assert_eq!(platform("windowsHolographic"), None);
        assert_eq!(platform("ios"), None);
        assert_eq!(platform("androidWorkProfile"), None);
    }
}
