//! Output formats for results (stdout) and logs (stderr).

use std::io::Write;
use std::sync::{Mutex, PoisonError};

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::{Deserialize, Serialize};

/// How results are printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Tables for people.
    #[default]
    Table,
    /// One JSON document, for pipelines.
    Json,
}

/// How log lines are written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    write_line(format_args!("{text}"));
    Ok(())
}

/// The first failed write to stdout, other than to a reader that went away.
static WRITE_ERROR: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// Writes one line to stdout. A reader that went away (`ops ... | head`) is not an error: the
/// rest of the output is dropped and the command still ends with its own exit code, after its
/// evidence is recorded. Any other failure, such as a full disk, is kept for [`finish`].
pub fn write_line(line: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = writeln!(stdout, "{line}") {
        keep_write_error(error);
    }
}

fn keep_write_error(error: std::io::Error) {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        return;
    }
    let mut first_error = WRITE_ERROR.lock().unwrap_or_else(PoisonError::into_inner);
    first_error.get_or_insert(error);
}

/// Flushes stdout and returns the first write failure, if any, so that a report that was not
/// written ends the command with a failure instead of its own exit code.
pub fn finish() -> Result<(), std::io::Error> {
    if let Err(error) = std::io::stdout().lock().flush() {
        keep_write_error(error);
    }
    match WRITE_ERROR
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// `println!` for results: see [`write_line`].
macro_rules! outln {
    ($($argument:tt)*) => {
        $crate::output::write_line(format_args!($($argument)*))
    };
}
pub(crate) use outln;

/// Returns `count` and `noun`, with the noun in the plural unless `count` is one.
pub fn plural(count: u64, noun: &str) -> String {
    match (count, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{count} {stem}ies"),
        (_, None) => format!("{count} {noun}s"),
    }
}

/// Creates a table with the house style and the given header.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_header(header.to_vec());
    table
}

/// Prints a table, or `empty` when it has no rows.
pub fn print_table(title: &str, table: &Table, empty: &str) {
    if table.row_count() == 0 {
        outln!("{title}: {empty}");
    } else {
        outln!("{title}:\n{table}");
    }
}
