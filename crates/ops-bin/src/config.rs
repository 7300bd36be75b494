//! Configuration: a TOML file, overridden by `OPS_*` environment variables, overridden by flags.
//!
//! **Only this module reads the environment and configuration files.** Domain crates receive
//! typed values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::output::{LogFormat, OutputFormat};

/// The default state directory, relative to the working directory.
pub const DEFAULT_STATE_DIR: &str = ".ops";

/// Top-level keys and sections that `OPS_*` variables may override. Other `OPS_*` variables
/// are left alone, because secrets live in variables such as `OPS_SIEM_CLIENT_SECRET` that the
/// configuration names.
const OVERRIDABLE: [&str; 8] = [
    "state_dir",
    "output",
    "log_format",
    "actor",
    "siem",
    "connectors",
    "rollback",
    "rings",
];

/// Environment variables that clap reads for global flags; the generic override skips them.
const FLAG_VARIABLES: [&str; 5] = [
    "OPS_STATE_DIR",
    "OPS_CONFIG",
    "OPS_OUTPUT",
    "OPS_LOG_FORMAT",
    "OPS_LOG",
];

/// The configuration file's contents. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The state directory, when `--state-dir` and `OPS_STATE_DIR` are not given.
    pub state_dir: Option<PathBuf>,
    /// The output format, when `--output` and `OPS_OUTPUT` are not given.
    pub output: Option<OutputFormat>,
    /// The log format, when `--log-format` and `OPS_LOG_FORMAT` are not given.
    pub log_format: Option<LogFormat>,
    /// The actor recorded in audit events; defaults to `USER@HOST`.
    pub actor: Option<String>,
    /// The SIEM sink; without it, events go to the local audit log only.
    #[serde(default)]
    pub siem: siem::SiemConfig,
    /// The execution planes; without them, only offline inventories are available.
    #[serde(default)]
    pub connectors: connectors::config::ConnectorsConfig,
    /// Rollback concurrency, deadline and warnings.
    #[serde(default)]
    pub rollback: rollback::RollbackSettings,
    /// Promotion gates per ring.
    #[serde(default)]
    pub rings: RingsConfig,
}

/// The `[rings]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingsConfig {
    /// `[rings.gates.<Ring>]` tables: thresholds that override each ring's defaults.
    #[serde(default)]
    pub gates: rings::GatesConfig,
}

/// Reads the configuration file, if any, and applies `OPS_*` overrides from `environment`.
///
/// An override names a key in upper case, with `__` between a section and its key:
/// `OPS_ACTOR=alice` sets `actor`, `OPS_SIEM__SINK=sentinel` sets `sink` in `[siem]`. Only
/// variables whose first part is a key or section of the file override it; an unknown key
/// inside a known section is an error. Values that read as TOML integers, floats, booleans or
/// quoted strings take that type; others are strings.
pub fn load(path: Option<&Path>, environment: &BTreeMap<String, String>) -> anyhow::Result<Config> {
    let mut table = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read configuration file {path:?}: check --config or OPS_CONFIG")
            })?;
            text.parse::<toml::Table>()
                .with_context(|| format!("configuration file {path:?} is not valid TOML"))?
        }
        None => toml::Table::new(),
    };

    for (name, value) in environment {
        let Some(key) = name.strip_prefix("OPS_") else {
            continue;
        };
        if FLAG_VARIABLES.contains(&name.as_str()) || key.is_empty() {
            continue;
        }
        let path: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
        if !OVERRIDABLE.contains(&path[0].as_str()) {
            continue;
        }
        set_path(&mut table, &path, parse_scalar(value)).with_context(|| {
            format!("environment variable {name} cannot override the configuration")
        })?;
    }

    let origin = match path {
        Some(path) => format!("configuration file {path:?} or OPS_* environment variables"),
        None => "OPS_* environment variables".to_owned(),
    };
    toml::Value::Table(table)
        .try_into::<Config>()
        .with_context(|| {
            format!("invalid configuration in {origin}: see docs/configuration.md for the keys")
        })
}

/// Reads an override's value: an integer, float or boolean written plainly (`30`, `-2`,
/// `0.95`, `true`), a double-quoted TOML string, or else the text itself as a string. Other
/// TOML spellings (`0x1F`, `1_000`, `+42`, a trailing comment) stay text, so a secret that
/// happens to look like one is passed on unchanged.
fn parse_scalar(text: &str) -> toml::Value {
    let is_plain_integer = {
        let digits = text.strip_prefix('-').unwrap_or(text);
        !digits.is_empty()
            && digits.bytes().all(|byte| byte.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'))
    };
    let is_plain_float = text
        .strip_prefix('-')
        .unwrap_or(text)
        .split_once('.')
        .is_some_and(|(whole, fraction)| {
            !whole.is_empty()
                && !fraction.is_empty()
                && whole
                    .bytes()
                    .chain(fraction.bytes())
                    .all(|byte| byte.is_ascii_digit())
        });
    let is_quoted = text.len() >= 2 && text.starts_with('"') && text.ends_with('"');

    if is_plain_integer && let Ok(integer) = text.parse::<i64>() {
        return toml::Value::Integer(integer);
    }
    if is_plain_float && let Ok(float) = text.parse::<f64>() {
        return toml::Value::Float(float);
    }
    if let Ok(boolean) = text.parse::<bool>() {
        return toml::Value::Boolean(boolean);
    }
    if is_quoted
        && let Ok(mut table) = format!("value = {text}").parse::<toml::Table>()
        && let Some(value @ toml::Value::String(_)) = table.remove("value")
    {
        return value;
    }
    toml::Value::String(text.to_owned())
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> anyhow::Result<()> {
    let (last, sections) = path.split_last().context("empty key")?;
    let mut current = table;
    for section in sections {
        let entry = current
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .with_context(|| format!("{section} is a value, not a section"))?;
    }
    current.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn environment(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn file_values_are_read() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "state_dir = \"/srv/ops\"\noutput = \"json\"\nactor = \"alice\""
        )
        .unwrap();
        let config = load(Some(file.path()), &BTreeMap::new()).unwrap();
        assert_eq!(config.state_dir.as_deref(), Some(Path::new("/srv/ops")));
        assert_eq!(config.output, Some(OutputFormat::Json));
        assert_eq!(config.actor.as_deref(), Some("alice"));
    }

    #[test]
    fn environment_overrides_file() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "actor = \"alice\"").unwrap();
        let config = load(
            Some(file.path()),
            &environment(&[("OPS_ACTOR", "bob"), ("HOME", "/root")]),
        )
        .unwrap();
        assert_eq!(config.actor.as_deref(), Some("bob"));
    }

    #[test]
    fn flag_variables_are_left_to_clap() {
        let config = load(
            None,
            &environment(&[("OPS_STATE_DIR", "/x"), ("OPS_LOG", "debug")]),
        )
        .unwrap();
        assert_eq!(config.state_dir, None);
    }

    #[test]
    fn unknown_key_in_a_section_is_an_error_naming_it() {
        let error = load(None, &environment(&[("OPS_SIEM__SINK", "sentinal")])).unwrap_err();
        let chain = format!("{error:#}");
        assert!(chain.contains("sentinal"), "{chain}");
    }

    #[test]
    fn override_values_take_their_toml_type() {
        assert_eq!(parse_scalar("30"), toml::Value::Integer(30));
        assert_eq!(parse_scalar("true"), toml::Value::Boolean(true));
        assert_eq!(
            parse_scalar("\"123456\""),
            toml::Value::String("123456".into())
        );
        assert_eq!(
            parse_scalar("https://x.example"),
            toml::Value::String("https://x.example".into())
        );
        assert_eq!(parse_scalar("a = b"), toml::Value::String("a = b".into()));
        assert_eq!(parse_scalar("0.95"), toml::Value::Float(0.95));
        for text in ["0x1F", "1_000", "+42", "123 # c", "00123", "1e3"] {
            assert_eq!(
                parse_scalar(text),
                toml::Value::String(text.into()),
                "{text}"
            );
        }
    }

    #[test]
    fn other_ops_variables_are_not_configuration() {
        let config = load(
            None,
            &environment(&[("OPS_SIEM_CLIENT_SECRET", "s3cret"), ("OPS_TEST", "1")]),
        )
        .unwrap();
        assert_eq!(config.siem, siem::SiemConfig::None);
    }

    #[test]
    fn invalid_toml_names_the_file() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "state_dir = ").unwrap();
        let error = load(Some(file.path()), &BTreeMap::new()).unwrap_err();
        assert!(error.to_string().contains("is not valid TOML"), "{error}");
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let error = load(Some(Path::new("/nonexistent/ops.toml")), &BTreeMap::new()).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/ops.toml"),
            "{error}"
        );
    }
}
