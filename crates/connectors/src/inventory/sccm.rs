//! Configuration Manager (SCCM) installed software as a CSV export.
//!
//! Such exports come from the `v_GS_ADD_REMOVE_PROGRAMS` and `v_GS_ADD_REMOVE_PROGRAMS_64`
//! views (columns `ResourceID`, `DisplayName0`, `Version0`, `Publisher0`, `ProdID0`,
//! `InstallDate0`), from `v_GS_INSTALLED_SOFTWARE` (`ProductName0`, `ProductVersion0`), often
//! joined with `v_R_System` for the machine name (`Netbios_Name0` or `Name0`), or from a
//! report that counts devices per program. Header names match ignoring case, spaces,
//! underscores, a table alias prefix (`arp.`) and the `0` suffix.
//!
//! Decisions:
//!
//! - The application name is the first column found among `DisplayName`, `ProductName`,
//!   `ARPDisplayName`, `SoftwareName`, and `Name` otherwise.
//! - The device is the first column found among `ResourceID`, `Netbios_Name`, `MachineName`,
//!   `ComputerName`, `DeviceName`, and `Name` when `Name` is not the application name (as in
//!   `v_R_System.Name0` joined to the software view). Each row is then one device.
//! - Without a device column, a `Count`, `Device Count` or `Computer Count` column gives each
//!   row's devices. Without either, each row counts one device and no device is named.
//! - The version is the first column found among `Version`, `DisplayVersion` and
//!   `ProductVersion`.
//! - Every row is a Windows application.

use std::path::Path;

use ops_core::{Inventory, Platform};

use super::table::{Column, Header, Row, parse_count, read_csv};
use super::{Collector, InventoryError, Progress, ReadSummary, read_file};

const DISPLAY_NAME: Column = Column {
    label: "DisplayName0",
    aliases: &[
        "displayname",
        "productname",
        "arpdisplayname",
        "softwarename",
    ],
};
const PLAIN_NAME: Column = Column {
    label: "Name0",
    aliases: &["name"],
};
const VERSION: Column = Column {
    label: "Version0",
    aliases: &["version", "displayversion", "productversion"],
};
const DEVICE: Column = Column {
    label: "ResourceID",
    aliases: &[
        "resourceid",
        "netbiosname",
        "machinename",
        "computername",
        "devicename",
    ],
};
const COUNT: Column = Column {
    label: "Count",
    aliases: &["count", "devicecount", "computercount"],
};

/// Column positions found in the header.
struct Columns {
    name: usize,
    version: usize,
    device: Option<usize>,
    count: Option<usize>,
}

/// Reads a Configuration Manager installed software export into `inventory`.
pub(crate) fn read(
    path: &Path,
    inventory: &mut Inventory,
    progress: &Progress<'_>,
) -> Result<ReadSummary, InventoryError> {
    let bytes = read_file(path, progress)?;
    let mut collector = Collector::new();
    read_csv(
        path,
        &bytes,
        |header| find_columns(path, header),
        |columns, row| read_row(path, columns, row, &mut collector),
    )?;
    Ok(collector.finish(inventory, bytes.len() as u64))
}

fn find_columns(path: &Path, header: &Header) -> Result<Columns, InventoryError> {
    let display_name = header.find(&DISPLAY_NAME);
    let plain_name = header.find(&PLAIN_NAME);
    let name = display_name
        .or(plain_name)
        .ok_or_else(|| header.missing(path, &DISPLAY_NAME))?;
    let version = header
        .find(&VERSION)
        .ok_or_else(|| header.missing(path, &VERSION))?;
    let device = header.find(&DEVICE).or(if display_name.is_some() {
        plain_name
    } else {
        None
    });
    let count = if device.is_some() {
        None
    } else {
        header.find(&COUNT)
    };
    Ok(Columns {
        name,
        version,
        device,
        count,
    })
}

fn read_row(
    path: &Path,
    columns: &Columns,
    row: &Row<'_>,
    collector: &mut Collector,
) -> Result<(), InventoryError> {
    let name = row.get(Some(columns.name))?;
    let version = row.get(Some(columns.version))?;
    let devices = match columns.count {
        Some(index) => parse_count(row, path, COUNT.label, row.get(Some(index))?)?,
        None => 1,
    };
    if let Some(index) = columns.device {
        let device = row.get(Some(index))?;
        if !device.is_empty() {
            collector.add_device(device);
        }
    }
    if devices == 0 {
        collector.skip("the device count is 0");
    } else {
        collector.add(Platform::Windows, name, version, devices);
    }
    Ok(())
}
