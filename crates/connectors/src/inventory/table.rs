//! CSV exports with a header row, shared by the Intune and Configuration Manager readers.
//!
//! Fields follow RFC 4180: a field in double quotes may contain commas, line breaks and
//! doubled quotes. A UTF-8 byte order mark before the header is ignored. Header names match
//! their aliases after [`normalize_header`].

use std::path::Path;

use csv::{ByteRecord, ReaderBuilder};

use super::{InventoryError, strip_bom};

/// A column a reader looks for, under any of several header names.
pub(crate) struct Column {
    /// The name used in error messages, as the export usually spells it.
    pub(crate) label: &'static str,
    /// Accepted header names, already normalized, in order of preference.
    pub(crate) aliases: &'static [&'static str],
}

/// Returns a header name reduced to the form aliases are written in.
///
/// The name is lowercased and loses any prefix up to the last `.`, such as the SQL table
/// alias `arp.`. Spaces, `_` and `-` are removed. A trailing `0` after a letter is dropped,
/// because Configuration Manager names inventory columns `DisplayName0` and `Version0`.
/// So `Application Name`, `ApplicationName` and `application_name` all become
/// `applicationname`, and `ARP.DisplayName0` becomes `displayname`.
pub(crate) fn normalize_header(name: &str) -> String {
    let name = name.trim();
    let name = name.rsplit_once('.').map_or(name, |(_, column)| column);
    let mut normalized: String = name
        .chars()
        .filter(|character| !matches!(character, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect();
    let bytes = normalized.as_bytes();
    if bytes.len() >= 2
        && bytes[bytes.len() - 1] == b'0'
        && bytes[bytes.len() - 2].is_ascii_alphabetic()
    {
        normalized.pop();
    }
    normalized
}

/// The header of a CSV export.
pub(crate) struct Header {
    names: Vec<String>,
    normalized: Vec<String>,
}

impl Header {
    /// Returns the position of the first alias of `column` found in the header.
    pub(crate) fn find(&self, column: &Column) -> Option<usize> {
        column
            .aliases
            .iter()
            .find_map(|alias| self.normalized.iter().position(|name| name == alias))
    }

    /// Returns the header names joined with commas, for error messages.
    pub(crate) fn joined(&self) -> String {
        self.names.join(",")
    }

    /// Builds the error for a column the reader requires and the header lacks.
    pub(crate) fn missing(&self, path: &Path, column: &Column) -> InventoryError {
        InventoryError::line(
            path,
            1,
            format!(
                "expected a {} column (header names accepted: {}), found columns {}",
                column.label,
                column.aliases.join(", "),
                self.joined()
            ),
        )
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}

/// One data row of a CSV export.
pub(crate) struct Row<'a> {
    /// The 1-based line the row starts on.
    pub(crate) line: u64,
    path: &'a Path,
    record: &'a ByteRecord,
}

impl Row<'_> {
    /// Returns the trimmed field at `index`, or `""` when `index` is `None`.
    pub(crate) fn get(&self, index: Option<usize>) -> Result<&str, InventoryError> {
        let Some(index) = index else {
            return Ok("");
        };
        let field = self.record.get(index).unwrap_or_default();
        std::str::from_utf8(field)
            .map(str::trim)
            .map_err(|source| InventoryError::Utf8 {
                path: self.path.to_owned(),
                line: self.line,
                source,
            })
    }
}

/// Reads a CSV export, calls `on_header` once with the header, then `on_row` for every row.
///
/// Every row must have as many fields as the header. Empty lines are skipped.
pub(crate) fn read_csv<State>(
    path: &Path,
    bytes: &[u8],
    on_header: impl FnOnce(&Header) -> Result<State, InventoryError>,
    mut on_row: impl FnMut(&mut State, &Row<'_>) -> Result<(), InventoryError>,
) -> Result<(), InventoryError> {
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(strip_bom(bytes));
    let mut record = ByteRecord::new();

    let csv_error = |source: csv::Error, expected: String| {
        let line = source.position().map_or(0, |position| position.line());
        InventoryError::Csv {
            path: path.to_owned(),
            line,
            expected,
            source,
        }
    };

    let has_header = reader
        .read_byte_record(&mut record)
        .map_err(|source| csv_error(source, "a header row".to_owned()))?;
    if !has_header {
        return Err(InventoryError::line(
            path,
            1,
            "expected a header row, found an empty file",
        ));
    }
    let mut names = Vec::with_capacity(record.len());
    for field in record.iter() {
        let name = std::str::from_utf8(field).map_err(|source| InventoryError::Utf8 {
            path: path.to_owned(),
            line: 1,
            source,
        })?;
        names.push(name.trim().to_owned());
    }
    let normalized = names.iter().map(|name| normalize_header(name)).collect();
    let header = Header { names, normalized };
    let mut state = on_header(&header)?;

    loop {
        let expected = || format!("{} columns ({})", header.len(), header.joined());
        let has_record = reader
            .read_byte_record(&mut record)
            .map_err(|source| csv_error(source, expected()))?;
        if !has_record {
            return Ok(());
        }
        let line = record.position().map_or(0, |position| position.line());
        if record.len() == 1 && record[0].iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if record.len() != header.len() {
            return Err(InventoryError::line(
                path,
                line,
                format!("expected {}, found {}", expected(), record.len()),
            ));
        }
        on_row(
            &mut state,
            &Row {
                line,
                path,
                record: &record,
            },
        )?;
    }
}

/// Parses a device count field.
pub(crate) fn parse_count(
    row: &Row<'_>,
    path: &Path,
    label: &str,
    text: &str,
) -> Result<u64, InventoryError> {
    text.parse().map_err(|_| {
        InventoryError::line(
            path,
            row.line,
            format!("expected a whole number in the {label} column, found {text:?}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_normalize_to_aliases() {
        assert_eq!(normalize_header("Application Name"), "applicationname");
        assert_eq!(normalize_header("ApplicationName"), "applicationname");
        assert_eq!(normalize_header(" application_name "), "applicationname");
        assert_eq!(normalize_header("DisplayName0"), "displayname");
        assert_eq!(normalize_header("ARP.Version0"), "version");
        assert_eq!(normalize_header("Netbios_Name0"), "netbiosname");
        assert_eq!(normalize_header("ResourceID"), "resourceid");
        assert_eq!(normalize_header("Office2010"), "office2010");
    }
}
