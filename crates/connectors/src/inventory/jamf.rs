//! Jamf Pro computers inventory with the applications section, as JSON.
//!
//! This is the response of the Jamf Pro API `GET /api/v1/computers-inventory?section=GENERAL&
//! section=APPLICATIONS` (also `v2` and `v3`): `{"totalCount": N, "results": [computer, ...]}`.
//! Each computer has `id`, `udid`, `general.name` and an `applications` list. Each application
//! has `name` (`"Safari.app"`), `path`, `version`, `bundleId`, `macAppStore`, and more fields
//! the reader ignores. A bare list of computers, as written by tools that merge the pages of
//! the response, is accepted too.
//!
//! Decisions:
//!
//! - Every application is a macOS application. Its name loses the `.app` suffix ("Safari"),
//!   as Finder shows it and as the osquery reader names `apps` rows.
//! - The version is the `version` field, which Jamf fills from `CFBundleShortVersionString`.
//! - Each computer is one device, identified by its `udid`, or by its Jamf `id` when the
//!   response has no `udid`.
//! - A computer without an `applications` list is an error, because it means the request did
//!   not ask for the APPLICATIONS section and every application would be missing.

use std::path::Path;

use ops_core::{Inventory, Platform};
use serde::Deserialize;

use super::json::{Text, text_or_empty};
use super::{
    Collector, InventoryError, Progress, ReadSummary, read_file, strip_app_suffix, strip_bom,
};

/// The expected document, for JSON error messages.
const EXPECTED: &str = "a Jamf Pro computers-inventory response";

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow, default)]
    results: Option<Vec<Computer<'a>>>,
}

#[derive(Deserialize)]
struct Computer<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default)]
    udid: Option<Text<'a>>,
    #[serde(borrow, default)]
    general: Option<General<'a>>,
    #[serde(borrow, default)]
    applications: Option<Vec<Application<'a>>>,
}

#[derive(Deserialize)]
struct General<'a> {
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Application<'a> {
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
    #[serde(borrow, default)]
    version: Option<Text<'a>>,
}

/// Reads a Jamf Pro computers inventory response into `inventory`.
pub(crate) fn read(
    path: &Path,
    inventory: &mut Inventory,
    progress: &Progress<'_>,
) -> Result<ReadSummary, InventoryError> {
    let bytes = read_file(path, progress)?;
    let json = strip_bom(&bytes);
    let is_list = json.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[');
    let computers: Vec<Computer<'_>> = if is_list {
        serde_json::from_slice(json)
            .map_err(|source| InventoryError::json(path, 1, EXPECTED, source))?
    } else {
        let page: Page<'_> = serde_json::from_slice(json)
            .map_err(|source| InventoryError::json(path, 1, EXPECTED, source))?;
        page.results.ok_or_else(|| {
            InventoryError::line(
                path,
                1,
                "expected a Jamf Pro computers-inventory response with a \"results\" list, found \
                 an object without one",
            )
        })?
    };

    let mut collector = Collector::new();
    for (index, computer) in computers.iter().enumerate() {
        let record = index as u64 + 1;
        let device = [&computer.udid, &computer.id]
            .into_iter()
            .map(text_or_empty)
            .find(|text| !text.trim().is_empty())
            .ok_or_else(|| {
                InventoryError::record(
                    path,
                    record,
                    format!(
                        "results[{index}]: expected a computer with an id or udid, found neither"
                    ),
                )
            })?;
        let Some(applications) = &computer.applications else {
            let name = computer
                .general
                .as_ref()
                .map_or("", |general| text_or_empty(&general.name));
            return Err(InventoryError::record(
                path,
                record,
                format!(
                    "results[{index}] (computer {device}, {name:?}): expected an \"applications\" \
                     list, found none (request the APPLICATIONS section)"
                ),
            ));
        };
        collector.add_device(device.trim());
        for application in applications {
            let name = strip_app_suffix(text_or_empty(&application.name));
            collector.add(
                Platform::Macos,
                name,
                text_or_empty(&application.version),
                1,
            );
        }
    }
    Ok(collector.finish(inventory, bytes.len() as u64))
}
