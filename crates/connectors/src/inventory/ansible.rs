//! Ansible `package_facts` results.
//!
//! The `ansible.builtin.package_facts` module sets `ansible_facts.packages`: a map from package
//! name to a list of installed versions, each an object with `name`, `version` and `source`
//! (`apt`, `rpm`, ...). RPM entries add `release`, `epoch` (a number or `null`) and `arch`, apt
//! entries add `arch`. A package installed at several versions (kernels) has several entries.
//!
//! The reader accepts:
//!
//! - the output of an ad-hoc command, `ansible HOSTS -m package_facts`, where each host's
//!   result follows a `HOST | SUCCESS => ` line;
//! - the output of the `json` stdout callback (`{"plays": [{"tasks": [{"hosts": {...}}]}]}`),
//!   where every host result with `ansible_facts.packages` counts and other tasks are ignored;
//! - one module result, `{"ansible_facts": {"packages": {...}}, ...}`;
//! - the facts alone, `{"packages": {...}}`;
//! - the bare packages map, `{"curl": [{...}], ...}`.
//!
//! Decisions:
//!
//! - `apt` entries are Debian packages and their version is used as written, since apt reports
//!   the full Debian version. `rpm` entries are RPM packages with the version
//!   `[epoch:]version-release`, leaving out an empty or zero epoch. Entries of other package
//!   managers are skipped and counted.
//! - The package name is the entry's `name`, or the map key when the entry has none. The
//!   architecture is not part of the name, unlike in the dpkg reader, because the facts do not
//!   say which architecture is the host's native one.
//! - Each host is one device, named by its inventory host name. A document without host names
//!   (a single result, the facts, or the bare map) is one device named by the file path.
//! - Hosts reported as `FAILED!` or `UNREACHABLE!` are skipped and counted.

use std::path::Path;

use ops_core::{Inventory, Platform};
use serde_json::{Map, Value};

use super::{
    Collector, InventoryError, Progress, ReadSummary, decode_utf8, line_at, read_file, rpm_version,
};

/// The expected document, for JSON error messages.
const EXPECTED: &str = "Ansible package_facts results";

/// Reads Ansible `package_facts` results into `inventory`.
pub(crate) fn read(
    path: &Path,
    inventory: &mut Inventory,
    progress: &Progress<'_>,
) -> Result<ReadSummary, InventoryError> {
    let bytes = read_file(path, progress)?;
    let text = decode_utf8(path, &bytes)?;
    let mut collector = Collector::new();
    if text.trim_start().starts_with('{') {
        let document: Value = serde_json::from_str(text)
            .map_err(|source| InventoryError::json(path, 1, EXPECTED, source))?;
        read_document(path, &document, &mut collector)?;
    } else {
        read_ad_hoc(path, text, &mut collector)?;
    }
    Ok(collector.finish(inventory, bytes.len() as u64))
}

fn read_document(
    path: &Path,
    document: &Value,
    collector: &mut Collector,
) -> Result<(), InventoryError> {
    let Value::Object(object) = document else {
        return Err(InventoryError::line(path, 1, "expected a JSON object"));
    };
    let file_device = path.display().to_string();

    if let Some(plays) = object.get("plays") {
        return read_callback_output(path, plays, collector);
    }
    if object.contains_key("ansible_facts") {
        return read_result(path, 1, &file_device, document, collector);
    }
    if let Some(Value::Object(packages)) = object.get("packages") {
        return read_packages(path, 1, &file_device, packages, collector);
    }
    read_packages(path, 1, &file_device, object, collector)
}

/// Reads the output of the `json` stdout callback.
fn read_callback_output(
    path: &Path,
    plays: &Value,
    collector: &mut Collector,
) -> Result<(), InventoryError> {
    let mut record = 0u64;
    let mut found = false;
    let tasks = plays
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|play| play.get("tasks")?.as_array())
        .flatten();
    for task in tasks {
        let Some(Value::Object(hosts)) = task.get("hosts") else {
            continue;
        };
        for (host, result) in hosts {
            record += 1;
            if packages_of(result).is_some() {
                found = true;
                read_result(path, record, host, result, collector)?;
            } else if is_package_facts(result) {
                // The callback records every host of the task, those without facts included.
                found = true;
                let flag = |key: &str| result.get(key).and_then(Value::as_bool) == Some(true);
                if flag("unreachable") {
                    collector.skip("the host is reported unreachable");
                } else if flag("failed") {
                    collector.skip("the host result is failed");
                } else {
                    collector.skip("the host result has no ansible_facts.packages");
                }
            }
        }
    }
    if found {
        Ok(())
    } else {
        Err(InventoryError::line(
            path,
            1,
            "expected a task result with ansible_facts.packages in the plays, found none",
        ))
    }
}

/// Reads the output of `ansible HOSTS -m package_facts`: `HOST | STATUS => {...}` per host.
fn read_ad_hoc(path: &Path, text: &str, collector: &mut Collector) -> Result<(), InventoryError> {
    let mut position = 0;
    let mut record = 0u64;
    while position < text.len() {
        let line_end = text[position..]
            .find('\n')
            .map_or(text.len(), |offset| position + offset);
        let line = &text[position..line_end];
        let trimmed = line.trim();
        if trimmed.is_empty()
            || trimmed.starts_with("[WARNING]")
            || trimmed.starts_with("[DEPRECATION WARNING]")
        {
            position = line_end + 1;
            continue;
        }
        let line_number = line_at(text.as_bytes(), position);
        let Some((host, status, json_offset)) = parse_host_line(line) else {
            return Err(InventoryError::line(
                path,
                line_number,
                format!(
                    "expected \"HOST | SUCCESS => {{\" as ansible prints package_facts results, \
                     found {:?}",
                    shorten(trimmed)
                ),
            ));
        };
        record += 1;
        let json_start = position + json_offset;
        let mut stream =
            serde_json::Deserializer::from_str(&text[json_start..]).into_iter::<Value>();
        let result = match stream.next() {
            Some(Ok(result)) => result,
            Some(Err(source)) => {
                return Err(InventoryError::json(path, line_number, EXPECTED, source));
            }
            None => {
                return Err(InventoryError::line(
                    path,
                    line_number,
                    format!(
                        "host {host}: expected a JSON object after \"=>\", found the end of the file"
                    ),
                ));
            }
        };
        position = json_start + stream.byte_offset();
        match status {
            "FAILED!" => collector.skip("the host is reported FAILED!"),
            "UNREACHABLE!" => collector.skip("the host is reported UNREACHABLE!"),
            _ => read_result(path, record, host, &result, collector)?,
        }
    }
    if record == 0 {
        return Err(InventoryError::line(
            path,
            1,
            "expected \"HOST | SUCCESS => {\" lines, found none",
        ));
    }
    Ok(())
}

/// Splits `HOST | STATUS => {` into the host, the status and the offset of the JSON text.
fn parse_host_line(line: &str) -> Option<(&str, &str, usize)> {
    let (host, rest) = line.split_once(" | ")?;
    let host = host.trim();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    let status = ["SUCCESS", "CHANGED", "FAILED!", "UNREACHABLE!"]
        .into_iter()
        .find(|status| rest.starts_with(status))?;
    let after_status = rest[status.len()..].trim_start();
    let after_arrow = after_status.strip_prefix("=>")?.trim_start();
    if !after_arrow.starts_with('{') {
        return None;
    }
    Some((host, status, line.len() - after_arrow.len()))
}

/// Returns true when a `json` callback host result comes from the `package_facts` module,
/// which the callback names in the result's `action`.
fn is_package_facts(result: &Value) -> bool {
    result
        .get("action")
        .and_then(Value::as_str)
        .is_some_and(|action| action == "package_facts" || action.ends_with(".package_facts"))
}

fn packages_of(result: &Value) -> Option<&Map<String, Value>> {
    result.get("ansible_facts")?.get("packages")?.as_object()
}

/// Reads one host's module result.
fn read_result(
    path: &Path,
    record: u64,
    host: &str,
    result: &Value,
    collector: &mut Collector,
) -> Result<(), InventoryError> {
    if result.get("failed").and_then(Value::as_bool) == Some(true) {
        collector.skip("the host result is failed");
        return Ok(());
    }
    let Some(packages) = packages_of(result) else {
        return Err(InventoryError::record(
            path,
            record,
            format!("host {host}: expected ansible_facts.packages, found none"),
        ));
    };
    read_packages(path, record, host, packages, collector)
}

/// Reads one host's packages map.
fn read_packages(
    path: &Path,
    record: u64,
    host: &str,
    packages: &Map<String, Value>,
    collector: &mut Collector,
) -> Result<(), InventoryError> {
    collector.add_device(host);
    for (key, entries) in packages {
        let Value::Array(entries) = entries else {
            return Err(InventoryError::record(
                path,
                record,
                format!(
                    "host {host}, packages[{key:?}]: expected a list of installed versions, found \
                     {}",
                    kind(entries)
                ),
            ));
        };
        for (index, entry) in entries.iter().enumerate() {
            let location = || format!("host {host}, packages[{key:?}][{index}]");
            let Value::Object(entry) = entry else {
                return Err(InventoryError::record(
                    path,
                    record,
                    format!("{}: expected an object, found {}", location(), kind(entry)),
                ));
            };
            let field = |name: &str| scalar(entry.get(name));
            let name = field("name").unwrap_or_else(|| key.clone());
            let Some(version) = field("version") else {
                return Err(InventoryError::record(
                    path,
                    record,
                    format!("{}: expected a version, found none", location()),
                ));
            };
            match field("source").as_deref() {
                Some("apt") => collector.add(Platform::Debian, &name, &version, 1),
                Some("rpm") => {
                    let epoch = field("epoch").unwrap_or_default();
                    let release = field("release").unwrap_or_default();
                    collector.add(
                        Platform::Rpm,
                        &name,
                        &rpm_version(&epoch, &version, &release),
                        1,
                    );
                }
                Some(other) => {
                    collector.skip(format!("package source {other:?} is not apt or rpm"))
                }
                None => {
                    return Err(InventoryError::record(
                        path,
                        record,
                        format!("{}: expected a source (apt or rpm), found none", location()),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Returns a string, number or boolean as text, or `None` for `null`, absent values and
/// containers.
fn scalar(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Returns the JSON type of a value, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn shorten(text: &str) -> &str {
    match text.char_indices().nth(60) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_line_splits() {
        let line = "web-01.example.com | SUCCESS => {";
        let (host, status, offset) = parse_host_line(line).unwrap();
        assert_eq!(host, "web-01.example.com");
        assert_eq!(status, "SUCCESS");
        assert_eq!(&line[offset..], "{");
    }

    #[test]
    fn host_line_rejects_other_text() {
        assert!(parse_host_line("PLAY [all] ****").is_none());
        assert!(parse_host_line("web | SKIPPED").is_none());
        assert!(parse_host_line("two words | SUCCESS => {").is_none());
    }
}
