//! The Intune "Discovered apps" CSV export.
//!
//! The export of Apps > Monitor > Discovered apps in the Intune admin center is the
//! `AppInvAggregate` report of the Graph `deviceManagement/reports/exportJobs` API, with the
//! columns `ApplicationKey`, `ApplicationId`, `ApplicationName`, `ApplicationPublisher`,
//! `ApplicationShortVersion`, `ApplicationVersion`, `DeviceCount` and `Platform`. The admin
//! center may write them as `Application Name` and so on: header names match ignoring case,
//! spaces and underscores.
//! One row is one application at one version on one platform, with the number of devices.
//!
//! Decisions:
//!
//! - Names of the Graph `detectedApp` resource (`displayName`, `version`, `deviceCount`,
//!   `platform`) are accepted too.
//! - The version is `ApplicationVersion`, or `ApplicationShortVersion` when the former is
//!   empty.
//! - `Platform` values `Windows` and `macOS` (any case, with or without the space in `Mac OS`)
//!   map to the Windows and macOS platforms. Rows of other platforms (iOS, Android, ...) are
//!   skipped and counted, because `ops` deploys to desktops only.
//! - The per-device `AppInvRawData` export is accepted as well: when the file has a `DeviceId`
//!   or `DeviceName` column and no `DeviceCount` column, each row is one device.
//! - The aggregate export names no devices, so [`super::ReadSummary::devices`] is zero for it.

use std::path::Path;

use ops_core::{Inventory, Platform};

use super::table::{Column, Header, Row, parse_count, read_csv};
use super::{Collector, InventoryError, Progress, ReadSummary, read_file};

const NAME: Column = Column {
    label: "Application Name",
    aliases: &["applicationname", "displayname", "appname", "name"],
};
const VERSION: Column = Column {
    label: "Application Version",
    aliases: &["applicationversion", "version", "appversion"],
};
const SHORT_VERSION: Column = Column {
    label: "Application Short Version",
    aliases: &["applicationshortversion"],
};
const DEVICE_COUNT: Column = Column {
    label: "Device Count",
    aliases: &["devicecount", "devices"],
};
const PLATFORM: Column = Column {
    label: "Platform",
    aliases: &["platform"],
};
const DEVICE: Column = Column {
    label: "Device Id",
    aliases: &["deviceid", "devicename"],
};

/// Column positions found in the header.
struct Columns {
    name: usize,
    version: Option<usize>,
    short_version: Option<usize>,
    platform: usize,
    /// The source of each row's devices.
    devices: Devices,
}

enum Devices {
    /// An aggregate export: the column contains a device count.
    Count(usize),
    /// A per-device export: the column names the device.
    Identifier(usize),
}

/// Reads an Intune discovered apps export into `inventory`.
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
    let name = header
        .find(&NAME)
        .ok_or_else(|| header.missing(path, &NAME))?;
    let version = header.find(&VERSION);
    let short_version = header.find(&SHORT_VERSION);
    if version.is_none() && short_version.is_none() {
        return Err(header.missing(path, &VERSION));
    }
    let platform = header
        .find(&PLATFORM)
        .ok_or_else(|| header.missing(path, &PLATFORM))?;
    let devices = match (header.find(&DEVICE_COUNT), header.find(&DEVICE)) {
        (Some(count), _) => Devices::Count(count),
        (None, Some(device)) => Devices::Identifier(device),
        (None, None) => return Err(header.missing(path, &DEVICE_COUNT)),
    };
    Ok(Columns {
        name,
        version,
        short_version,
        platform,
        devices,
    })
}

fn read_row(
    path: &Path,
    columns: &Columns,
    row: &Row<'_>,
    collector: &mut Collector,
) -> Result<(), InventoryError> {
    let platform_text = row.get(Some(columns.platform))?;
    let Some(platform) = platform(platform_text) else {
        collector.skip(format!(
            "platform {platform_text:?} is not Windows or macOS"
        ));
        return Ok(());
    };
    let name = row.get(Some(columns.name))?;
    // NOTE: Microsoft does not document which of the two version columns macOS rows fill, so
    // the short version is only a fallback; checked against no real macOS export.
    let mut version = row.get(columns.version)?;
    if version.is_empty() {
        version = row.get(columns.short_version)?;
    }
    match columns.devices {
        Devices::Count(index) => {
            let devices = parse_count(row, path, DEVICE_COUNT.label, row.get(Some(index))?)?;
            if devices == 0 {
                collector.skip("the device count is 0");
            } else {
                collector.add(platform, name, version, devices);
            }
        }
        Devices::Identifier(index) => {
            let device = row.get(Some(index))?;
            if !device.is_empty() {
                collector.add_device(device);
            }
            collector.add(platform, name, version, 1);
        }
    }
    Ok(())
}

/// Maps an Intune platform value to a platform, or `None` for platforms `ops` does not manage.
fn platform(text: &str) -> Option<Platform> {
    let compact: String = text
        .chars()
        .filter(|character| !character.is_whitespace())
        .collect();
    if compact.eq_ignore_ascii_case("windows") {
        Some(Platform::Windows)
    } else if compact.eq_ignore_ascii_case("macos") {
        Some(Platform::Macos)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_values_map() {
        assert_eq!(platform("Windows"), Some(Platform::Windows));
        assert_eq!(platform("windows"), Some(Platform::Windows));
        assert_eq!(platform("macOS"), Some(Platform::Macos));
        assert_eq!(platform("Mac OS"), Some(Platform::Macos));
        assert_eq!(platform("MacOS"), Some(Platform::Macos));
        assert_eq!(platform("iOS"), None);
        assert_eq!(platform("AndroidWorkProfile"), None);
        assert_eq!(platform("WindowsMobile"), None);
        assert_eq!(platform(""), None);
    }
}
