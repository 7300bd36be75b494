//! osquery results: `osqueryi --json` output, or an `osqueryd` results log.
//!
//! Two shapes are accepted. The first byte that is not whitespace decides which:
//!
//! - `[`: the output of `osqueryi --json "SELECT ..."`, a JSON array of row objects from one
//!   host. The file is one device, named by its path.
//! - `{`: a results log as the filesystem logger writes it (`osqueryd.results.log` or
//!   `osqueryd.snapshots.log`), one JSON object per line with `name` (the query name),
//!   `hostIdentifier`, `calendarTime`, `unixTime`, `epoch`, `counter`, `numerics`,
//!   `decorations`, and the rows in one of three formats: event format (`columns` with
//!   `action` `added` or `removed`), snapshot format (`snapshot`, a list of rows, with `action`
//!   `snapshot`), or batch format (`diffResults` with `added` and `removed` lists). Older
//!   osquery versions write `hostname` instead of `hostIdentifier`. Devices are the distinct
//!   host identifiers of lines that carry software rows.
//!
//! Rows of `added`, `snapshot` and batch `added` count one device each. `removed` rows are
//! skipped and counted: the reader does not replay the log, so a host that upgraded an
//! application during the period of the log counts at both versions.
//!
//! Values may be strings (the default) or numbers (`--logger_numerics`).
//!
//! A row's table is not written in the row, so the reader infers it from the columns, in this
//! order (column lists from the osquery table specs):
//!
//! 1. `apps` (macOS) if the row has `bundle_short_version`, `bundle_identifier`,
//!    `bundle_executable` or `bundle_package_type`.
//! 2. No software table if the row has `base_uri` (`apt_sources`, `yum_sources`).
//! 3. `rpm_packages` if the row has `release` or `sha1`.
//! 4. `deb_packages` if the row has `maintainer`, `revision`, `admindir`, `section` or
//!    `priority`, or has `arch` without the `os_version` columns `major` and `codename`.
//! 5. `programs` (Windows) if the row has `identifying_number`, `uninstall_string`,
//!    `install_source`, `install_location` or `install_date`.
//! 6. Otherwise, in a results log, the table whose name appears in the query name
//!    (`pack_inventory_rpm_packages` is `rpm_packages`): `rpm_packages`, `deb_packages`,
//!    `programs`, then `apps`.
//!
//! Rows that match no software table, or lack a `name` or `version`, come from other queries
//! (a results log holds every scheduled query) and are skipped and counted.
//!
//! Names and versions per table:
//!
//! - `programs`: `name` and `version`, platform Windows.
//! - `deb_packages`: `name` and `version`, platform Debian. The architecture is not part of
//!   the name, unlike in the dpkg reader, because the table does not say which architecture
//!   is the host's native one. dpkg installs a package name in several architectures only
//!   when it is `Multi-Arch: same`, which requires equal versions, so dropping the
//!   architecture never merges two versions.
//! - `rpm_packages`: `name` and `[epoch:]version-release`, platform RPM, without an empty or
//!   zero epoch.
//! - `apps`: the bundle folder `name` without `.app` ("Slack"), as Finder and Jamf name the
//!   application, or `display_name`, then `bundle_name`, when `name` is empty. The version is
//!   `bundle_short_version` (`CFBundleShortVersionString`), or `bundle_version` when that is
//!   empty. Platform macOS.
//!
//! A results log is parsed on all available cores. The file is split into one byte range per
//! core, and each range is read through a small reused buffer. Rows are counted per distinct
//! application, so memory grows with distinct applications and hosts, not with rows or with the
//! size of the file.

mod aggregate;

use std::borrow::Cow;
use std::path::Path;

use ops_core::{Inventory, Platform};
use serde::Deserialize;

use super::json::Text;
use super::{
    Collector, InventoryError, Progress, ReadSummary, rpm_version, strip_app_suffix, strip_bom,
};

/// The expected content of the JSON-array shape, for error messages.
const EXPECTED_ARRAY: &str = "an array of osquery rows, as osqueryi --json prints";

/// The expected content of each line of a results log, for error messages.
const EXPECTED_LINE: &str = "an osquery result object";

/// Reads osquery results into `inventory`.
pub(crate) fn read(
    path: &Path,
    inventory: &mut Inventory,
    progress: &Progress<'_>,
) -> Result<ReadSummary, InventoryError> {
    let metadata = std::fs::metadata(path).map_err(|source| InventoryError::read(path, source))?;
    if metadata.is_file() && !aggregate::starts_with_array(path)? {
        return aggregate::read_log(path, inventory, progress);
    }
    // The array shape, and anything that is not a regular file: a pipe such as /dev/stdin can
    // be read only once, and not by byte ranges.
    let bytes = std::fs::read(path).map_err(|source| InventoryError::read(path, source))?;
    progress.advance(bytes.len() as u64);
    if aggregate::first_byte(&bytes) == Some(b'[') {
        read_array(path, strip_bom(&bytes), inventory, bytes.len() as u64)
    } else {
        aggregate::read_log_bytes(path, &bytes, inventory)
    }
}

/// Reads the JSON-array shape of `osqueryi --json`.
fn read_array(
    path: &Path,
    json: &[u8],
    inventory: &mut Inventory,
    bytes: u64,
) -> Result<ReadSummary, InventoryError> {
    let rows: Vec<Row<'_>> = serde_json::from_slice(json)
        .map_err(|source| InventoryError::json(path, 1, EXPECTED_ARRAY, source))?;
    let mut collector = Collector::new();
    collector.add_device(&path.display().to_string());
    for row in &rows {
        match Software::from_row(row, None) {
            Ok(software) => {
                let version = software.version_text();
                collector.add(software.table.platform(), &software.name, &version, 1);
            }
            Err(reason) => collector.skip(reason.message()),
        }
    }
    Ok(collector.finish(inventory, bytes))
}

/// The columns of a row that the reader uses. Other columns are ignored.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Row<'a> {
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
    #[serde(borrow, default)]
    version: Option<Text<'a>>,
    #[serde(borrow, default)]
    release: Option<Text<'a>>,
    #[serde(borrow, default)]
    epoch: Option<Text<'a>>,
    #[serde(borrow, default)]
    bundle_short_version: Option<Text<'a>>,
    #[serde(borrow, default)]
    bundle_version: Option<Text<'a>>,
    #[serde(borrow, default)]
    display_name: Option<Text<'a>>,
    #[serde(borrow, default)]
    bundle_name: Option<Text<'a>>,
    // Marker columns: only their presence matters.
    #[serde(default, deserialize_with = "present")]
    bundle_identifier: bool,
    #[serde(default, deserialize_with = "present")]
    bundle_executable: bool,
    #[serde(default, deserialize_with = "present")]
    bundle_package_type: bool,
    #[serde(default, deserialize_with = "present")]
    base_uri: bool,
    #[serde(default, deserialize_with = "present")]
    sha1: bool,
    #[serde(default, deserialize_with = "present")]
    maintainer: bool,
    #[serde(default, deserialize_with = "present")]
    revision: bool,
    #[serde(default, deserialize_with = "present")]
    admindir: bool,
    #[serde(default, deserialize_with = "present")]
    section: bool,
    #[serde(default, deserialize_with = "present")]
    priority: bool,
    #[serde(default, deserialize_with = "present")]
    arch: bool,
    #[serde(default, deserialize_with = "present")]
    major: bool,
    #[serde(default, deserialize_with = "present")]
    codename: bool,
    #[serde(default, deserialize_with = "present")]
    identifying_number: bool,
    #[serde(default, deserialize_with = "present")]
    uninstall_string: bool,
    #[serde(default, deserialize_with = "present")]
    install_source: bool,
    #[serde(default, deserialize_with = "present")]
    install_location: bool,
    #[serde(default, deserialize_with = "present")]
    install_date: bool,
}

/// Records that a column is present, whatever its value.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer)?;
    Ok(true)
}

impl<'a> Row<'a> {
    /// Sets a column by name, as deserializing would; columns the reader does not use are
    /// ignored. Returns false when a used column was already set.
    pub(crate) fn set_column(&mut self, column: &str, value: Text<'a>) -> bool {
        let text = match column {
            "name" => &mut self.name,
            "version" => &mut self.version,
            "release" => &mut self.release,
            "epoch" => &mut self.epoch,
            "bundle_short_version" => &mut self.bundle_short_version,
            "bundle_version" => &mut self.bundle_version,
            "display_name" => &mut self.display_name,
            "bundle_name" => &mut self.bundle_name,
            _ => {
                let marker = match column {
                    "bundle_identifier" => &mut self.bundle_identifier,
                    "bundle_executable" => &mut self.bundle_executable,
                    "bundle_package_type" => &mut self.bundle_package_type,
                    "base_uri" => &mut self.base_uri,
                    "sha1" => &mut self.sha1,
                    "maintainer" => &mut self.maintainer,
                    "revision" => &mut self.revision,
                    "admindir" => &mut self.admindir,
                    "section" => &mut self.section,
                    "priority" => &mut self.priority,
                    "arch" => &mut self.arch,
                    "major" => &mut self.major,
                    "codename" => &mut self.codename,
                    "identifying_number" => &mut self.identifying_number,
                    "uninstall_string" => &mut self.uninstall_string,
                    "install_source" => &mut self.install_source,
                    "install_location" => &mut self.install_location,
                    "install_date" => &mut self.install_date,
                    _ => return true,
                };
                return !std::mem::replace(marker, true);
            }
        };
        text.replace(value).is_none()
    }
}

impl Row<'_> {
    /// Returns the software table the row comes from, by the rules in the module docs.
    fn table(&self, query: Option<&str>) -> Option<Table> {
        if self.bundle_short_version.is_some()
            || self.bundle_identifier
            || self.bundle_executable
            || self.bundle_package_type
        {
            return Some(Table::Apps);
        }

        if self.base_uri {
            return None;
        }

        if self.release.is_some() || self.sha1 {
            return Some(Table::RpmPackages);
        }

        if self.maintainer
            || self.revision
            || self.admindir
            || self.section
            || self.priority
            || (self.arch && !self.major && !self.codename)
        {
            return Some(Table::DebPackages);
        }

        if self.identifying_number
            || self.uninstall_string
            || self.install_source
            || self.install_location
            || self.install_date
        {
            return Some(Table::Programs);
        }

        // Rows with only `name` and `version` fall back to the query name.
        let query = query?;
        [
            Table::RpmPackages,
            Table::DebPackages,
            Table::Programs,
            Table::Apps,
        ]
        .into_iter()
        .find(|table| query.contains(table.name()))
    }
}

/// The osquery tables that list installed software.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Table {
    Programs,
    DebPackages,
    RpmPackages,
    Apps,
}

impl Table {
    /// Every table, in declaration order, so `ALL[table as usize] == table`.
    pub(crate) const ALL: [Table; 4] = [
        Table::Programs,
        Table::DebPackages,
        Table::RpmPackages,
        Table::Apps,
    ];

    fn name(self) -> &'static str {
        match self {
            Table::Programs => "programs",
            Table::DebPackages => "deb_packages",
            Table::RpmPackages => "rpm_packages",
            Table::Apps => "apps",
        }
    }

    pub(crate) fn platform(self) -> Platform {
        match self {
            Table::Programs => Platform::Windows,
            Table::DebPackages => Platform::Debian,
            Table::RpmPackages => Platform::Rpm,
            Table::Apps => Platform::Macos,
        }
    }
}

/// An installed application read from one row, with text borrowed from the input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Software<'a> {
    pub(crate) table: Table,
    pub(crate) name: Cow<'a, str>,
    /// The version, or for `rpm_packages` the `version` column.
    pub(crate) version: Cow<'a, str>,
    /// The `epoch` column of `rpm_packages`, empty for other tables.
    pub(crate) epoch: Cow<'a, str>,
    /// The `release` column of `rpm_packages`, empty for other tables.
    pub(crate) release: Cow<'a, str>,
}

/// The reason a row is not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum SkipReason {
    OtherTable,
    EmptyName,
    EmptyVersion,
    Removed,
}

impl SkipReason {
    pub(crate) fn message(self) -> &'static str {
        match self {
            SkipReason::OtherTable => {
                "the row's columns match no software table (programs, deb_packages, \
                 rpm_packages, apps)"
            }
            SkipReason::EmptyName => "the application name is empty",
            SkipReason::EmptyVersion => "the version is empty",
            SkipReason::Removed => "the row is a removed event",
        }
    }
}

impl<'a> Software<'a> {
    /// Reads the application in `row`, using the query name to tell ambiguous rows apart.
    pub(crate) fn from_row(
        row: &'a Row<'_>,
        query: Option<&str>,
    ) -> Result<Software<'a>, SkipReason> {
        let table = row.table(query).ok_or(SkipReason::OtherTable)?;
        let text = |text: &'a Option<Text<'_>>| text.as_ref().map_or("", Text::as_str);
        let non_empty =
            |field: &'a Option<Text<'_>>| Some(text(field)).filter(|text| !text.trim().is_empty());
        let (name, version) = match table {
            Table::Apps => {
                let name = non_empty(&row.name)
                    .map(strip_app_suffix)
                    .or_else(|| non_empty(&row.display_name))
                    .or_else(|| non_empty(&row.bundle_name))
                    .unwrap_or_default();
                let version = non_empty(&row.bundle_short_version)
                    .unwrap_or_else(|| text(&row.bundle_version));
                (name, version)
            }
            Table::Programs | Table::DebPackages | Table::RpmPackages => {
                (text(&row.name), text(&row.version))
            }
        };
        if name.trim().is_empty() {
            return Err(SkipReason::EmptyName);
        }
        if version.trim().is_empty() {
            return Err(SkipReason::EmptyVersion);
        }
        let (epoch, release) = match table {
            Table::RpmPackages => (text(&row.epoch), text(&row.release)),
            Table::Programs | Table::DebPackages | Table::Apps => ("", ""),
        };
        Ok(Software {
            table,
            name: Cow::Borrowed(name),
            version: Cow::Borrowed(version),
            epoch: Cow::Borrowed(epoch),
            release: Cow::Borrowed(release),
        })
    }

    /// Returns the version as the inventory records it.
    pub(crate) fn version_text(&self) -> Cow<'_, str> {
        match self.table {
            Table::RpmPackages => {
                Cow::Owned(rpm_version(&self.epoch, &self.version, &self.release))
            }
            Table::Programs | Table::DebPackages | Table::Apps => Cow::Borrowed(&self.version),
        }
    }
}
