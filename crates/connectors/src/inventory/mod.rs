//! Offline inventory readers: what is installed, read from exports of other tools.
//!
//! Each reader turns one export file into rows of [`Inventory`]. The formats and the choices
//! each reader makes on ambiguous points are documented in its module:
//!
//! | Format | Module | Export |
//! | --- | --- | --- |
//! | `dpkg` | [`dpkg`] | `/var/lib/dpkg/status` of one Debian or Ubuntu machine |
//! | `osquery` | [`osquery`] | `osqueryi --json` output, or an `osqueryd` results log |
//! | `ansible` | [`ansible`] | `package_facts` module results |
//! | `intune` | [`intune`] | Intune "Discovered apps" CSV export |
//! | `jamf` | [`jamf`] | Jamf Pro API `computers-inventory` JSON with the applications section |
//! | `sccm` | [`sccm`] | Configuration Manager Add/Remove Programs CSV export |
//!
//! Readers reject malformed files with an [`InventoryError`] that names the file, the line or
//! record, and what was expected. Rows that are well formed but cannot be used (an Android app
//! in an Intune export, a `removed` osquery event) are left out and counted in
//! [`ReadSummary::skipped`]. A reader adds nothing to the inventory unless the whole file reads.

pub mod ansible;
pub mod dpkg;
mod error;
pub mod intune;
pub mod jamf;
mod json;
pub mod osquery;
pub mod sccm;
mod table;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ops_core::{Inventory, Platform};

pub use error::{InventoryError, JsonCause};

/// The export formats the offline readers understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InventoryFormat {
    /// The dpkg status database, `/var/lib/dpkg/status`.
    Dpkg,
    /// osquery results: `osqueryi --json` output or an `osqueryd` results log.
    Osquery,
    /// Ansible `package_facts` results.
    Ansible,
    /// The Intune "Discovered apps" CSV export.
    Intune,
    /// Jamf Pro computers inventory JSON.
    Jamf,
    /// A Configuration Manager Add/Remove Programs CSV export.
    Sccm,
}

impl InventoryFormat {
    /// All formats.
    pub const ALL: [InventoryFormat; 6] = [
        InventoryFormat::Dpkg,
        InventoryFormat::Osquery,
        InventoryFormat::Ansible,
        InventoryFormat::Intune,
        InventoryFormat::Jamf,
        InventoryFormat::Sccm,
    ];

    /// Returns the format's name as written in an inventory source, in lowercase.
    pub fn name(self) -> &'static str {
        match self {
            InventoryFormat::Dpkg => "dpkg",
            InventoryFormat::Osquery => "osquery",
            InventoryFormat::Ansible => "ansible",
            InventoryFormat::Intune => "intune",
            InventoryFormat::Jamf => "jamf",
            InventoryFormat::Sccm => "sccm",
        }
    }

    /// Returns the platforms a file of this format describes, or `None` for osquery, whose
    /// results describe whichever tables were queried. Drift compares only intents of the
    /// platforms the inventories describe, so a Windows export does not make every Debian intent
    /// look missing.
    pub fn platforms(self) -> Option<&'static [Platform]> {
        match self {
            InventoryFormat::Dpkg => Some(&[Platform::Debian]),
            InventoryFormat::Osquery => None,
            InventoryFormat::Ansible => Some(&[Platform::Debian, Platform::Rpm]),
            InventoryFormat::Intune => Some(&[Platform::Windows, Platform::Macos]),
            InventoryFormat::Jamf => Some(&[Platform::Macos]),
            InventoryFormat::Sccm => Some(&[Platform::Windows]),
        }
    }
}

impl fmt::Display for InventoryFormat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// The error returned when an inventory format name is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown inventory format {name:?}: expected one of dpkg, osquery, ansible, intune, jamf, sccm"
)]
pub struct UnknownFormat {
    /// The name as given.
    pub name: String,
}

impl FromStr for InventoryFormat {
    type Err = UnknownFormat;

    /// Parses a format name, ignoring ASCII case and surrounding whitespace.
    fn from_str(text: &str) -> Result<InventoryFormat, UnknownFormat> {
        let trimmed = text.trim();
        InventoryFormat::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| UnknownFormat {
                name: text.to_owned(),
            })
    }
}

/// One export file to read, with its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventorySource {
    /// The file's format.
    pub format: InventoryFormat,
    /// The file.
    pub path: PathBuf,
}

/// The error returned when an inventory source is not written `FORMAT:PATH`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSource {
    /// The text has no format prefix or no path.
    #[error(
        "invalid inventory source {text:?}: expected FORMAT:PATH, as in dpkg:/var/lib/dpkg/status"
    )]
    Syntax {
        /// The text as given.
        text: String,
    },
    /// The format prefix is not a known format.
    #[error("invalid inventory source {text:?}")]
    Format {
        /// The text as given.
        text: String,
        /// The error about the format name.
        #[source]
        source: UnknownFormat,
    },
}

impl FromStr for InventorySource {
    type Err = InvalidSource;

    /// Parses `FORMAT:PATH`. The path is everything after the first colon, kept as written.
    fn from_str(text: &str) -> Result<InventorySource, InvalidSource> {
        let syntax_error = || InvalidSource::Syntax {
            text: text.to_owned(),
        };
        let (format, path) = text.split_once(':').ok_or_else(syntax_error)?;
        if format.trim().is_empty() || path.is_empty() {
            return Err(syntax_error());
        }
        let format = format.parse().map_err(|source| InvalidSource::Format {
            text: text.to_owned(),
            source,
        })?;
        Ok(InventorySource {
            format,
            path: PathBuf::from(path),
        })
    }
}

impl fmt::Display for InventorySource {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}", self.format, self.path.display())
    }
}

/// Counts from reading one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// Rows added to the inventory: one per application reported by a device, or one per
    /// aggregated row of an export that already counts devices (Intune).
    pub rows: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// Distinct devices the source names. Zero when the export carries only device counts, as
    /// the Intune aggregate export does.
    pub devices: u64,
    /// Rows that were read but left out of the inventory, by reason, sorted by reason.
    pub skipped: Vec<SkippedRows>,
}

impl ReadSummary {
    /// Returns the number of rows left out, over all reasons.
    pub fn skipped_rows(&self) -> u64 {
        self.skipped.iter().map(|skipped| skipped.rows).sum()
    }
}

/// Rows left out of the inventory for one reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRows {
    /// The reason the rows were left out, as in `platform "Android" is not Windows or macOS`.
    pub reason: String,
    /// How many rows.
    pub rows: u64,
}

/// Reads one source into `inventory`.
///
/// `progress` is called with the number of bytes read so far, at most about ten times a
/// second, and once more with the total when the file has been read. It may be called from
/// worker threads. Nothing is added to `inventory` when an error is returned.
pub fn read_inventory(
    source: &InventorySource,
    inventory: &mut Inventory,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ReadSummary, InventoryError> {
    let progress = Progress::new(progress);
    let path = source.path.as_path();
    let summary = match source.format {
        InventoryFormat::Dpkg => dpkg::read(path, inventory, &progress),
        InventoryFormat::Osquery => osquery::read(path, inventory, &progress),
        InventoryFormat::Ansible => ansible::read(path, inventory, &progress),
        InventoryFormat::Intune => intune::read(path, inventory, &progress),
        InventoryFormat::Jamf => jamf::read(path, inventory, &progress),
        InventoryFormat::Sccm => sccm::read(path, inventory, &progress),
    }?;
    progress.finish(summary.bytes);
    for skipped in &summary.skipped {
        tracing::warn!(
            source = %source,
            rows = skipped.rows,
            reason = %skipped.reason,
            "skipped inventory rows"
        );
    }
    Ok(summary)
}

/// Rate-limited progress reporting shared by the threads of one read.
pub(crate) struct Progress<'a> {
    callback: &'a (dyn Fn(u64) + Sync),
    done: AtomicU64,
    started: Instant,
    last_report_millis: AtomicU64,
}

impl<'a> Progress<'a> {
    /// Minimum time between two reports, in milliseconds.
    const INTERVAL_MILLIS: u64 = 100;

    pub(crate) fn new(callback: &'a (dyn Fn(u64) + Sync)) -> Progress<'a> {
        Progress {
            callback,
            done: AtomicU64::new(0),
            started: Instant::now(),
            last_report_millis: AtomicU64::new(0),
        }
    }

    /// Records `bytes` more bytes read, and reports the total if the last report is old enough.
    pub(crate) fn advance(&self, bytes: u64) {
        let total = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.last_report_millis.load(Ordering::Relaxed);
        if now >= last + Self::INTERVAL_MILLIS
            && self
                .last_report_millis
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            (self.callback)(total);
        }
    }

    fn finish(&self, total: u64) {
        (self.callback)(total);
    }
}

/// Rows collected from one file before they join the caller's inventory.
///
/// Collecting into a separate inventory first keeps the caller's inventory unchanged when the
/// file turns out to be malformed halfway through.
#[derive(Default)]
pub(crate) struct Collector {
    inventory: Inventory,
    rows: u64,
    skipped: BTreeMap<String, u64>,
}

impl Collector {
    pub(crate) fn new() -> Collector {
        Collector::default()
    }

    /// Adds one row, or counts it as skipped when its name or version is empty.
    pub(crate) fn add(&mut self, platform: Platform, name: &str, version: &str, devices: u64) {
        if name.trim().is_empty() {
            self.skip("the application name is empty");
        } else if version.trim().is_empty() {
            self.skip("the version is empty");
        } else {
            self.inventory.add(platform, name, version, devices);
            self.rows += 1;
        }
    }

    pub(crate) fn add_device(&mut self, host_identifier: &str) {
        self.inventory.add_device(host_identifier);
    }

    /// Counts one row left out for `reason`.
    pub(crate) fn skip(&mut self, reason: impl AsRef<str>) {
        self.skip_many(reason, 1);
    }

    pub(crate) fn skip_many(&mut self, reason: impl AsRef<str>, rows: u64) {
        let reason = reason.as_ref();
        match self.skipped.get_mut(reason) {
            Some(count) => *count = count.saturating_add(rows),
            None => {
                self.skipped.insert(reason.to_owned(), rows);
            }
        }
    }

    /// Moves the collected rows into `target` and summarizes them.
    pub(crate) fn finish(self, target: &mut Inventory, bytes: u64) -> ReadSummary {
        let summary = ReadSummary {
            rows: self.rows,
            bytes,
            devices: self.inventory.device_count() as u64,
            skipped: self
                .skipped
                .into_iter()
                .map(|(reason, rows)| SkippedRows { reason, rows })
                .collect(),
        };
        target.merge(self.inventory);
        summary
    }
}

/// Reads a whole file, reporting its size to `progress`.
pub(crate) fn read_file(path: &Path, progress: &Progress<'_>) -> Result<Vec<u8>, InventoryError> {
    let bytes = std::fs::read(path).map_err(|source| InventoryError::read(path, source))?;
    progress.advance(bytes.len() as u64);
    Ok(bytes)
}

/// The UTF-8 encoding of U+FEFF, which Windows tools write at the start of UTF-8 files.
pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Returns `bytes` without a leading UTF-8 byte order mark.
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes)
}

/// Decodes a whole file as UTF-8 after removing a byte order mark, or names the bad line.
pub(crate) fn decode_utf8<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, InventoryError> {
    let bytes = strip_bom(bytes);
    std::str::from_utf8(bytes).map_err(|source| InventoryError::Utf8 {
        path: path.to_owned(),
        line: line_at(bytes, source.valid_up_to()),
        source,
    })
}

/// Returns the 1-based line that contains byte `offset` of `bytes`.
pub(crate) fn line_at(bytes: &[u8], offset: usize) -> u64 {
    let end = offset.min(bytes.len());
    memchr::memchr_iter(b'\n', &bytes[..end]).count() as u64 + 1
}

/// Returns `name` without a trailing `.app`, the suffix of macOS application bundle folders.
///
/// Finder, Jamf and Intune show macOS applications without it ("Safari", not "Safari.app"),
/// and deployment intents name them the same way.
pub(crate) fn strip_app_suffix(name: &str) -> &str {
    let trimmed = name.trim();
    let cut = trimmed.len().saturating_sub(4);
    match trimmed.get(cut..) {
        Some(suffix) if cut > 0 && suffix.eq_ignore_ascii_case(".app") => &trimmed[..cut],
        _ => trimmed,
    }
}

/// Builds the version RPM compares, `[epoch:]version[-release]`.
///
/// An empty or zero epoch is left out because rpm treats a missing epoch as zero, and `rpm -q`
/// prints versions without it.
pub(crate) fn rpm_version(epoch: &str, version: &str, release: &str) -> String {
    let epoch = epoch.trim();
    let version = version.trim();
    let release = release.trim();
    let mut text = String::with_capacity(epoch.len() + version.len() + release.len() + 2);
    if !epoch.is_empty() && epoch.bytes().any(|byte| byte != b'0') {
        text.push_str(epoch);
        text.push(':');
    }
    text.push_str(version);
    if !release.is_empty() {
        text.push('-');
        text.push_str(release);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for format in InventoryFormat::ALL {
            assert_eq!(format.name().parse::<InventoryFormat>(), Ok(format));
            assert_eq!(format.to_string(), format.name());
        }
        assert_eq!(
            " OSQuery ".parse::<InventoryFormat>(),
            Ok(InventoryFormat::Osquery)
        );
    }

    #[test]
    fn unknown_format_lists_names() {
        let error = "rpmdb".parse::<InventoryFormat>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown inventory format \"rpmdb\": expected one of dpkg, osquery, ansible, intune, \
             jamf, sccm"
        );
    }

    #[test]
    fn source_splits_at_first_colon() {
        let source: InventorySource = "SCCM:C:\\exports\\arp.csv".parse().unwrap();
        assert_eq!(source.format, InventoryFormat::Sccm);
        assert_eq!(source.path, PathBuf::from("C:\\exports\\arp.csv"));
        assert_eq!(source.to_string(), "sccm:C:\\exports\\arp.csv");
    }

    #[test]
    fn source_without_colon_shows_form() {
        for text in ["/var/lib/dpkg/status", "dpkg:", ":/tmp/x"] {
            let error = text.parse::<InventorySource>().unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "invalid inventory source {text:?}: expected FORMAT:PATH, as in \
                     dpkg:/var/lib/dpkg/status"
                )
            );
        }
    }

    #[test]
    fn source_with_unknown_format_keeps_cause() {
        let error = "yum:/tmp/x".parse::<InventorySource>().unwrap_err();
        assert_eq!(error.to_string(), "invalid inventory source \"yum:/tmp/x\"");
        let cause = std::error::Error::source(&error).unwrap().to_string();
        assert!(
            cause.starts_with("unknown inventory format \"yum\""),
            "{cause}"
        );
    }

    #[test]
    fn rpm_version_leaves_out_zero_epoch() {
        assert_eq!(rpm_version("", "3.10.0", "514.el7"), "3.10.0-514.el7");
        assert_eq!(rpm_version("0", "3.10.0", "514.el7"), "3.10.0-514.el7");
        assert_eq!(rpm_version("2", "1.1.1k", "9.el8"), "2:1.1.1k-9.el8");
        assert_eq!(rpm_version("", "1.0", ""), "1.0");
    }

    #[test]
    fn app_suffix_is_stripped_once() {
        assert_eq!(strip_app_suffix("Safari.app"), "Safari");
        assert_eq!(
            strip_app_suffix("Visual Studio Code.APP "),
            "Visual Studio Code"
        );
        assert_eq!(strip_app_suffix(".app"), ".app");
        assert_eq!(strip_app_suffix("Slack"), "Slack");
        assert_eq!(strip_app_suffix("Café.app"), "Café");
    }

    #[test]
    fn line_at_counts_newlines_before_offset() {
        let text = b"a\nbb\nccc";
        assert_eq!(line_at(text, 0), 1);
        assert_eq!(line_at(text, 2), 2);
        assert_eq!(line_at(text, 7), 3);
        assert_eq!(line_at(text, 100), 3);
    }
}
