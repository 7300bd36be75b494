//! The applications installed on a ring's devices, from hardware inventory.

use std::collections::{HashMap, HashSet};

use futures_util::{StreamExt, TryStreamExt, stream};
use ops_core::error::PortResult;
use ops_core::{DeployedApp, Inventory, Platform, Ring};
use ops_http::Method;

use super::config::SoftwareInventory;
use super::query::{Query, integer, literal, text};
use super::transport::NegotiateClient;
use super::{SERVICE, SccmPlane};

/// A hardware inventory class that lists installed software, and its fields.
struct SoftwareClass {
    name: &'static str,
    name_field: &'static str,
    version_field: &'static str,
}

const INSTALLED_SOFTWARE: [SoftwareClass; 1] = [SoftwareClass {
    name: "SMS_G_System_INSTALLED_SOFTWARE",
    name_field: "ProductName",
    version_field: "ProductVersion",
}];

const ADD_REMOVE_PROGRAMS: [SoftwareClass; 2] = [
    SoftwareClass {
        name: "SMS_G_System_ADD_REMOVE_PROGRAMS",
        name_field: "DisplayName",
        version_field: "Version",
    },
    SoftwareClass {
        name: "SMS_G_System_ADD_REMOVE_PROGRAMS_64",
        name_field: "DisplayName",
        version_field: "Version",
    },
];

impl SoftwareInventory {
    fn classes(self) -> &'static [SoftwareClass] {
        match self {
            SoftwareInventory::InstalledSoftware => &INSTALLED_SOFTWARE,
            SoftwareInventory::AddRemovePrograms => &ADD_REMOVE_PROGRAMS,
        }
    }
}

/// The installed software reported by one group of devices.
struct GroupSoftware {
    inventory: Inventory,
    devices_without_software: usize,
    rows_without_name: usize,
}

impl SccmPlane {
    /// Returns the ResourceIDs of the collection's members, sorted.
    pub(super) async fn collection_members(
        &self,
        ring: Ring,
        collection: &str,
    ) -> PortResult<Vec<u64>> {
        let operation = "list collection members";
        let query = Query {
            class: "SMS_FullCollectionMembership",
            filter: Some(format!("CollectionID eq {}", literal(collection))),
            select: &["ResourceID", "Name"],
            order_by: Some("ResourceID"),
        };
        let rows = query.rows(&self.client, operation, self.page_size).await?;
        let mut members: Vec<u64> = rows
            .iter()
            .filter_map(|row| integer(row, "ResourceID"))
            .collect();
        let without_id = rows.len() - members.len();
        if without_id > 0 {
            tracing::warn!(
                service = SERVICE,
                %ring,
                collection,
                rows = without_id,
                "skipped collection members without a ResourceID"
            );
        }
        members.sort_unstable();
        members.dedup();

        if members.is_empty() {
            // An unknown collection id also filters to nothing: tell the two apart.
            let url = self
                .client
                .url(&format!("wmi/SMS_Collection({})", literal(collection)))?;
            self.client
                .send("read collection", Method::GET, url)
                .await
                .map_err(|error| self.collection_error(ring, collection, error))?;
        }
        Ok(members)
    }

    /// Returns the applications installed on `members`, with device counts.
    ///
    /// Devices are queried in groups of `devices_per_query`, up to `max_concurrency` groups at
    /// once. A device counts once per name and version, even when several inventory rows or
    /// both uninstall registry views list it.
    pub(super) async fn installed_software(
        &self,
        ring: Ring,
        members: &[u64],
    ) -> PortResult<Vec<DeployedApp>> {
        // Owned groups keep the stream's closure free of borrowed arguments, which the Send
        // check of `async_trait` futures cannot prove general enough.
        let groups = members.chunks(self.devices_per_query).map(<[u64]>::to_vec);
        let client = &self.client;
        let (software_inventory, page_size) = (self.software_inventory, self.page_size);
        let groups: Vec<GroupSoftware> = stream::iter(groups)
            .map(|group| group_software(client, software_inventory, group, page_size))
            .buffer_unordered(self.max_concurrency)
            .try_collect()
            .await?;

        let mut inventory = Inventory::new();
        let mut devices_without_software = 0;
        let mut rows_without_name = 0;
        for group in groups {
            inventory.merge(group.inventory);
            devices_without_software += group.devices_without_software;
            rows_without_name += group.rows_without_name;
        }
        if devices_without_software > 0 {
            tracing::warn!(
                service = SERVICE,
                %ring,
                devices = devices_without_software,
                members = members.len(),
                "devices without installed software in hardware inventory; their inventory may \
                 not have run yet"
            );
        }
        if rows_without_name > 0 {
            tracing::debug!(
                service = SERVICE,
                %ring,
                rows = rows_without_name,
                "skipped installed software rows without a name"
            );
        }
        Ok(inventory.apps())
    }
}

/// Reads the installed software of one group of devices from every configured class.
async fn group_software(
    client: &NegotiateClient,
    software_inventory: SoftwareInventory,
    group: Vec<u64>,
    page_size: u32,
) -> PortResult<GroupSoftware> {
    let filter = group
        .iter()
        .map(|id| format!("ResourceID eq {id}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let mut devices: HashMap<u64, HashSet<(String, String)>> = HashMap::new();
    let mut rows_without_name = 0;
    for class in software_inventory.classes() {
        let query = Query {
            class: class.name,
            filter: Some(filter.clone()),
            select: &["ResourceID", class.name_field, class.version_field],
            // NOTE: ResourceID and GroupID are taken to be the key of inventory classes, which
            // keeps `$skip` pages from overlapping; not confirmed for the AdminService.
            order_by: Some("ResourceID,GroupID"),
        };
        let rows = query
            .rows(client, "list installed software", page_size)
            .await?;
        for row in &rows {
            let (Some(device), Some(name)) =
                (integer(row, "ResourceID"), text(row, class.name_field))
            else {
                rows_without_name += 1;
                continue;
            };
            let version = text(row, class.version_field).unwrap_or_default();
            devices
                .entry(device)
                .or_default()
                .insert((name.to_owned(), version.to_owned()));
        }
    }

    let mut inventory = Inventory::new();
    for (device, applications) in &devices {
        inventory.add_device(&device.to_string());
        for (name, version) in applications {
            inventory.add(Platform::Windows, name, version, 1);
        }
    }
    Ok(GroupSoftware {
        inventory,
        devices_without_software: group.len().saturating_sub(devices.len()),
        rows_without_name,
    })
}
