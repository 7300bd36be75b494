//! Errors of the offline inventory readers.

use std::io;
use std::path::{Path, PathBuf};
use std::str::Utf8Error;

/// A failure to read an inventory export.
///
/// Every variant names the file, and every variant but [`InventoryError::Read`] names the line
/// (1-based) or the record (1-based) where the reader stopped and what it expected there. The
/// underlying parser error, where there is one, is available through
/// [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The file could not be opened or read.
    #[error("failed to read {path:?}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// A line is not valid JSON.
    #[error("{path:?} line {line} column {column}: invalid JSON, expected {expected}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: u64,
        /// The 1-based column where the JSON parser stopped, or 0 when unknown.
        column: u64,
        /// The expected content, as in "an osquery result object".
        expected: &'static str,
        /// The JSON parser's message.
        #[source]
        source: JsonCause,
    },

    /// A line of a CSV file could not be split into fields.
    #[error("{path:?} line {line}: invalid CSV, expected {expected}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: u64,
        /// The expected content.
        expected: String,
        /// The CSV parser's error.
        #[source]
        source: csv::Error,
    },

    /// A line is not valid UTF-8.
    #[error("{path:?} line {line}: invalid UTF-8, expected UTF-8 text")]
    Utf8 {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: u64,
        /// The decoder's error.
        #[source]
        source: Utf8Error,
    },

    /// A line parsed but does not have the content the format requires.
    #[error("{path:?} line {line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: u64,
        /// The expected content and what the reader found instead.
        message: String,
    },

    /// A record of a JSON document parsed but does not have the content the format requires.
    #[error("{path:?} record {record}: {message}")]
    Record {
        /// The file.
        path: PathBuf,
        /// The 1-based index of the record (a computer, a host, a row) in the document.
        record: u64,
        /// The expected content and what the reader found, with the record's location in the
        /// document.
        message: String,
    },
}

impl InventoryError {
    /// Returns the file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            InventoryError::Read { path, .. }
            | InventoryError::Json { path, .. }
            | InventoryError::Csv { path, .. }
            | InventoryError::Utf8 { path, .. }
            | InventoryError::Line { path, .. }
            | InventoryError::Record { path, .. } => path,
        }
    }

    pub(crate) fn read(path: &Path, source: io::Error) -> InventoryError {
        InventoryError::Read {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn line(path: &Path, line: u64, message: impl Into<String>) -> InventoryError {
        InventoryError::Line {
            path: path.to_owned(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn record(path: &Path, record: u64, message: impl Into<String>) -> InventoryError {
        InventoryError::Record {
            path: path.to_owned(),
            record,
            message: message.into(),
        }
    }

    /// Builds a [`InventoryError::Json`] from a parser error whose line and column count from the
    /// start of the file, or from the start of line `first_line` when the parser saw one line.
    pub(crate) fn json(
        path: &Path,
        first_line: u64,
        expected: &'static str,
        source: serde_json::Error,
    ) -> InventoryError {
        if source.is_eof() && source.line() == 1 && source.column() == 0 {
            // The parser read nothing at all, so the message names an empty input instead of
            // column 0.
            return InventoryError::line(path, first_line, format!("empty, expected {expected}"));
        }
        let line = first_line + (source.line() as u64).saturating_sub(1);
        InventoryError::Json {
            path: path.to_owned(),
            line,
            column: source.column() as u64,
            expected,
            source: JsonCause::new(&source),
        }
    }
}

/// The JSON parser's message without its position. The parser counts lines from where it
/// started, such as the start of one line of a results log, so its position would disagree with
/// the line of the file that [`InventoryError::Json`] states.
#[derive(Debug)]
pub struct JsonCause(String);

impl JsonCause {
    fn new(error: &serde_json::Error) -> JsonCause {
        let text = error.to_string();
        let position = format!(" at line {} column {}", error.line(), error.column());
        match text.strip_suffix(&position) {
            Some(message) => JsonCause(message.to_owned()),
            None => JsonCause(text),
        }
    }
}

impl std::fmt::Display for JsonCause {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for JsonCause {}
