//! Installed packages of a tag's computers, from `GET /api/v2/packages`.
//!
//! One listing covers every computer of the tag: each result is a package name with the
//! computers that report it and their `status` and `current_version`. Reading
//! `/api/v2/computers/{id}/packages` per computer would cost one paginated listing per
//! computer instead.

use std::collections::{HashMap, HashSet};

use ops_core::error::PortResult;
use ops_core::{DeployedApp, Inventory, Platform, PortError};
use ops_http::{PageGuard, RestClient};
use serde::Deserialize;
use serde_json::Value;

use super::SERVICE;

/// One page of the listing.
#[derive(Deserialize)]
struct PackagePage {
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    results: Vec<Package>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    #[serde(default)]
    computers: Vec<PackageOnComputer>,
}

#[derive(Deserialize)]
struct PackageOnComputer {
    id: Value,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    current_version: Option<String>,
}

/// A package installed on one computer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Installed {
    /// The dpkg package name.
    pub name: String,
    /// The installed version.
    pub version: String,
    /// The Landscape computer id.
    pub computer_id: u64,
}

/// Lists the packages installed on the computers tagged `tag`, restricted to `name` when given.
///
/// A computer counts as having a package installed when it reports a `current_version`.
/// Landscape documents the statuses `installed` and `available`, the latter with a null
/// current version.
pub(super) async fn installed(
    client: &RestClient,
    tag: &str,
    name: Option<&str>,
    page_size: u32,
) -> PortResult<Vec<Installed>> {
    let operation = "list installed packages";
    let mut installed = Vec::new();
    let mut offset = 0_u64;
    let mut pages = PageGuard::new(SERVICE, operation);
    loop {
        let mut url = client.url("api/v2/packages")?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("query", &format!("tag:{tag}"))
                .append_pair("installed", "true")
                .append_pair("limit", &page_size.to_string())
                .append_pair("offset", &offset.to_string());
            if let Some(name) = name {
                query.append_pair("names.1", name);
            }
        }
        pages.visit(&url)?;
        let page: PackagePage = client.get_json(operation, url).await?;
        let returned = page.results.len() as u64;
        for package in page.results {
            if name.is_some_and(|wanted| wanted != package.name) {
                continue;
            }
            for computer in package.computers {
                // NOTE: statuses other than installed and available (held packages, pending
                // upgrades) are not documented; they count through their current version.
                let Some(version) = computer
                    .current_version
                    .as_deref()
                    .map(str::trim)
                    .filter(|version| !version.is_empty())
                else {
                    continue;
                };
                let computer_id = id_number(&computer.id).ok_or_else(|| {
                    PortError::permanent(
                        SERVICE,
                        operation,
                        format!(
                            "package {:?} lists a computer whose id {} is not a number (status \
                             {:?})",
                            package.name, computer.id, computer.status
                        ),
                    )
                })?;
                installed.push(Installed {
                    name: package.name.clone(),
                    version: version.to_owned(),
                    computer_id,
                });
            }
        }
        offset += returned;
        // Paging continues by offset, so a `next` link never decides which host is called.
        let more = page.next.is_some() && page.count.is_none_or(|count| offset < count);
        if returned == 0 || !more {
            break;
        }
    }
    Ok(installed)
}

/// Counts each (name, version) once per computer.
pub(super) fn aggregate(installed: &[Installed]) -> Vec<DeployedApp> {
    let mut computers: HashMap<(&str, &str), HashSet<u64>> = HashMap::new();
    for package in installed {
        computers
            .entry((package.name.as_str(), package.version.as_str()))
            .or_default()
            .insert(package.computer_id);
    }
    let mut inventory = Inventory::new();
    for ((name, version), ids) in computers {
        inventory.add(Platform::Debian, name, version, ids.len() as u64);
    }
    inventory.apps()
}

/// Reads an id that Landscape sends as a JSON number, or as a string in some legacy responses.
pub(super) fn id_number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// Returns whether `name` is a valid Debian package name (Debian Policy 5.6.1): lowercase
/// letters, digits, `+`, `-` and `.`, at least two characters, starting with a letter or digit.
pub(super) fn is_package_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= 2
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes.iter().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'+' | b'-' | b'.')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_follow_debian_policy() {
        for valid in ["curl", "libc6", "g++", "python3.12", "0ad"] {
            assert!(is_package_name(valid), "{valid}");
        }
        for invalid in [
            "",
            "a",
            "Curl",
            "-x",
            "curl tag:all",
            "curl;rm",
            "libc6:i386",
        ] {
            assert!(!is_package_name(invalid), "{invalid}");
        }
    }
}
