//! The dpkg status database, `/var/lib/dpkg/status`, of one Debian or Ubuntu machine.
//!
//! The file is a sequence of stanzas separated by blank lines. Each stanza has `Field: value`
//! lines, and a line that starts with a space or a tab continues the previous field (see
//! deb-status(5) and deb822(5)). Field names are case-insensitive.
//!
//! Decisions:
//!
//! - A package counts when the third word of its `Status:` field, the package state, is
//!   `installed`. The first word is what the operator asked for (`install`, `hold`,
//!   `deinstall`, ...) and is ignored, so held packages count. Packages in any other state
//!   (`config-files`, `half-installed`, `unpacked`, ...) are not installed and are skipped.
//! - The version is the `Version:` field as written, epoch included (`1:2.3-4`).
//! - Packages of the machine's native architecture, and `Architecture: all` packages, are
//!   named as written (`libc6`). Packages of a foreign architecture are named `name:arch`
//!   (`libc6:i386`), the syntax apt and dpkg use for them, so they stay distinct from the
//!   native package of the same name. The status file does not record the native architecture,
//!   so the reader takes the most common architecture other than `all` among installed
//!   packages.
//! - The file is one device, identified by its path.

use std::collections::HashMap;
use std::path::Path;

use ops_core::{Inventory, Platform};

use super::{Collector, InventoryError, Progress, ReadSummary, read_file, strip_bom};

/// Reads a dpkg status file into `inventory`.
pub(crate) fn read(
    path: &Path,
    inventory: &mut Inventory,
    progress: &Progress<'_>,
) -> Result<ReadSummary, InventoryError> {
    let bytes = read_file(path, progress)?;
    let stanzas = parse(path, &bytes)?;

    let mut collector = Collector::new();
    collector.add_device(&path.display().to_string());
    let installed: Vec<&Stanza<'_>> = stanzas
        .iter()
        .filter(|stanza| {
            let is_installed = stanza.is_installed();
            if !is_installed {
                collector.skip(format!(
                    "the package state is {}, not installed",
                    stanza.state
                ));
            }
            is_installed
        })
        .collect();
    let native = native_architecture(&installed);
    for stanza in installed {
        let architecture = stanza.architecture.unwrap_or("");
        let is_foreign = !architecture.is_empty()
            && architecture != "all"
            && Some(architecture) != native.as_deref();
        let version = stanza.version.unwrap_or("");
        if is_foreign {
            let name = format!("{}:{architecture}", stanza.package);
            collector.add(Platform::Debian, &name, version, 1);
        } else {
            collector.add(Platform::Debian, stanza.package, version, 1);
        }
    }
    Ok(collector.finish(inventory, bytes.len() as u64))
}

/// The fields of one stanza that the reader uses.
#[derive(Debug)]
struct Stanza<'a> {
    package: &'a str,
    /// The third word of `Status:`.
    state: &'a str,
    version: Option<&'a str>,
    architecture: Option<&'a str>,
}

impl Stanza<'_> {
    fn is_installed(&self) -> bool {
        self.state == "installed"
    }
}

/// Fields of the stanza being read, before it is checked.
#[derive(Default)]
struct Fields<'a> {
    /// The line of the stanza's first field.
    line: u64,
    package: Option<&'a str>,
    status: Option<&'a str>,
    version: Option<&'a str>,
    architecture: Option<&'a str>,
    has_fields: bool,
}

fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<Vec<Stanza<'a>>, InventoryError> {
    let mut stanzas = Vec::new();
    let mut fields = Fields::default();
    let mut line_number = 0u64;
    // dpkg writes no byte order mark, but a copy saved by a Windows editor can start with one.
    let bytes = strip_bom(bytes);
    for raw_line in bytes.split(|&byte| byte == b'\n') {
        line_number += 1;
        let line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);

        if line.iter().all(|byte| *byte == b' ' || *byte == b'\t') {
            if fields.has_fields {
                stanzas.push(finish_stanza(path, std::mem::take(&mut fields))?);
            }
            continue;
        }

        if line[0] == b' ' || line[0] == b'\t' {
            if !fields.has_fields {
                return Err(InventoryError::line(
                    path,
                    line_number,
                    "expected a \"Field: value\" line at the start of a stanza, found a \
                     continuation line",
                ));
            }
            continue;
        }

        let Some(colon) = memchr::memchr(b':', line) else {
            return Err(InventoryError::line(
                path,
                line_number,
                format!(
                    "expected a \"Field: value\" line, found {:?}",
                    shorten(line)
                ),
            ));
        };
        if !fields.has_fields {
            fields.line = line_number;
            fields.has_fields = true;
        }
        let name = &line[..colon];
        let slot = if name.eq_ignore_ascii_case(b"Package") {
            &mut fields.package
        } else if name.eq_ignore_ascii_case(b"Status") {
            &mut fields.status
        } else if name.eq_ignore_ascii_case(b"Version") {
            &mut fields.version
        } else if name.eq_ignore_ascii_case(b"Architecture") {
            &mut fields.architecture
        } else {
            continue;
        };
        let value = std::str::from_utf8(&line[colon + 1..])
            .map_err(|source| InventoryError::Utf8 {
                path: path.to_owned(),
                line: line_number,
                source,
            })?
            .trim();
        if slot.is_some() {
            return Err(InventoryError::line(
                path,
                line_number,
                format!(
                    "expected one {} field per stanza, found a second one",
                    String::from_utf8_lossy(name)
                ),
            ));
        }
        *slot = Some(value);
    }
    if fields.has_fields {
        stanzas.push(finish_stanza(path, fields)?);
    }
    Ok(stanzas)
}

fn finish_stanza<'a>(path: &Path, fields: Fields<'a>) -> Result<Stanza<'a>, InventoryError> {
    let line = fields.line;
    let package = match fields.package {
        Some(package) if !package.is_empty() => package,
        _ => {
            return Err(InventoryError::line(
                path,
                line,
                "expected a Package field in the stanza that starts here, found none",
            ));
        }
    };
    let Some(status) = fields.status else {
        return Err(InventoryError::line(
            path,
            line,
            format!(
                "package {package}: expected a Status field, found none (is this a Packages \
                 index rather than the dpkg status database?)"
            ),
        ));
    };
    let words: Vec<&str> = status.split_ascii_whitespace().collect();
    let [_want, _flag, state] = words[..] else {
        return Err(InventoryError::line(
            path,
            line,
            format!(
                "package {package}: expected \"Status: WANT FLAG STATE\", as in \"install ok \
                 installed\", found {status:?}"
            ),
        ));
    };
    let stanza = Stanza {
        package,
        state,
        version: fields.version,
        architecture: fields.architecture,
    };
    if stanza.is_installed() && stanza.version.is_none_or(str::is_empty) {
        return Err(InventoryError::line(
            path,
            line,
            format!("installed package {package}: expected a Version field, found none"),
        ));
    }
    Ok(stanza)
}

/// Returns the most common architecture other than `all`, the first in byte order on a tie.
fn native_architecture(installed: &[&Stanza<'_>]) -> Option<String> {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for stanza in installed {
        match stanza.architecture {
            Some(architecture) if !architecture.is_empty() && architecture != "all" => {
                *counts.entry(architecture).or_default() += 1;
            }
            _ => {}
        }
    }
    counts
        .into_iter()
        .max_by(|(left_name, left_count), (right_name, right_count)| {
            left_count
                .cmp(right_count)
                .then_with(|| right_name.cmp(left_name))
        })
        .map(|(name, _)| name.to_owned())
}

/// Returns the start of a line for an error message.
fn shorten(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stanza<'a>(package: &'a str, architecture: &'a str) -> Stanza<'a> {
        Stanza {
            package,
            state: "installed",
            version: Some("1"),
            architecture: Some(architecture),
        }
    }

    #[test]
    fn native_is_most_common_non_all() {
        let stanzas = [
            stanza("a", "all"),
            stanza("b", "all"),
            stanza("c", "all"),
            stanza("d", "arm64"),
            stanza("e", "arm64"),
            stanza("f", "i386"),
        ];
        let refs: Vec<&Stanza<'_>> = stanzas.iter().collect();
        assert_eq!(native_architecture(&refs).as_deref(), Some("arm64"));
    }

    #[test]
    fn native_tie_takes_first_name() {
        let stanzas = [stanza("a", "i386"), stanza("b", "amd64")];
        let refs: Vec<&Stanza<'_>> = stanzas.iter().collect();
        assert_eq!(native_architecture(&refs).as_deref(), Some("amd64"));
    }

    #[test]
    fn shorten_cuts_long_lines() {
        let long = "x".repeat(100);
        assert_eq!(shorten(long.as_bytes()).len(), 63);
        assert_eq!(shorten(b"short"), "short");
    }
}
