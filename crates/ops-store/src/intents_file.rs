//! The intents file: a JSON array of deployment intents, as `ops intents import` and
//! `ops drift --intents` read it.
//!
//! Each record is an object with the fields `correlation_id`, `application_id`, `app_name`,
//! `version`, `ring`, `platform`, `connectors` and `status`, and optionally `version_scheme`,
//! `devices_targeted`, `devices_succeeded`, `devices_failed`, `deployed_at` (RFC 3339),
//! `high_risk` (a boolean), and `cab_approved_by` with `cab_approved_at` for a CAB approval.
//! Ring, platform, connector and status names match case-insensitively. A file is accepted
//! whole or not at all: the first invalid record is reported with its index and field.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Utc};
use ops_core::CabApproval;
use ops_core::intent::DeploymentStatus;
use ops_core::{
    ConnectorKind, CorrelationId, DeploymentIntent, IntentStatus, Platform, Ring, Version,
    VersionScheme,
};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde_json::{Map, Value};

/// The fields a record may have.
pub const FIELDS: [&str; 16] = [
    "correlation_id",
    "application_id",
    "app_name",
    "version",
    "ring",
    "platform",
    "connectors",
    "status",
    "version_scheme",
    "devices_targeted",
    "devices_succeeded",
    "devices_failed",
    "deployed_at",
    "high_risk",
    "cab_approved_by",
    "cab_approved_at",
];

/// Why an intents file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum IntentsFileError {
    /// The file could not be read.
    #[error("cannot read intents file {path:?}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON.
    #[error("intents file {path:?} is not valid JSON at line {line}, column {column}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the error.
        line: usize,
        /// The 1-based column of the error.
        column: usize,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The file is empty or holds only whitespace.
    #[error("intents file {path:?} is empty: expected an array of intent objects")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The top-level value is not an array.
    #[error("intents file {path:?} holds a JSON {found}: expected an array of intent objects")]
    NotAnArray {
        /// The file.
        path: PathBuf,
        /// The JSON type found.
        found: &'static str,
    },
    /// A record is invalid.
    #[error("intents file {path:?}, record {index}{}: field {field:?}: {message}", describe_id(.correlation_id))]
    Record {
        /// The file.
        path: PathBuf,
        /// The 0-based index of the record in the array.
        index: usize,
        /// The record's correlation id, when it has a valid one.
        correlation_id: Option<String>,
        /// The invalid field.
        field: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// Two records share a correlation id.
    #[error(
        "intents file {path:?}: records {first} and {second} share correlation id {correlation_id:?}: each intent needs its own"
    )]
    DuplicateId {
        /// The file.
        path: PathBuf,
        /// The index of the first record.
        first: usize,
        /// The index of the second record.
        second: usize,
        /// The shared id.
        correlation_id: String,
    },
}

fn describe_id(correlation_id: &Option<String>) -> String {
    match correlation_id {
        Some(id) => format!(" ({id})"),
        None => String::new(),
    }
}

/// Reads and validates an intents file.
pub fn read(path: &Path) -> Result<Vec<DeploymentIntent>, IntentsFileError> {
    let bytes = std::fs::read(path).map_err(|source| IntentsFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&bytes, path)
}

/// Validates the bytes of an intents file; `path` only names the file in errors.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Vec<DeploymentIntent>, IntentsFileError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(IntentsFileError::Empty {
            path: path.to_owned(),
        });
    }
    let value = serde_json::from_slice::<UniqueKeys>(bytes)
        .map(|unique| unique.0)
        .map_err(|source| IntentsFileError::Json {
            path: path.to_owned(),
            line: source.line(),
            column: source.column(),
            source,
        })?;
    let Value::Array(records) = value else {
        return Err(IntentsFileError::NotAnArray {
            path: path.to_owned(),
            found: json_type(&value),
        });
    };

    let mut intents = Vec::with_capacity(records.len());
    let mut first_index_of: HashMap<String, usize> = HashMap::new();
    for (index, record) in records.iter().enumerate() {
        let intent = parse_record(record).map_err(|failure| IntentsFileError::Record {
            path: path.to_owned(),
            index,
            correlation_id: record_id(record),
            field: failure.field,
            message: failure.message,
        })?;
        let id = intent.correlation_id.as_str().to_owned();
        if let Some(first) = first_index_of.insert(id.clone(), index) {
            return Err(IntentsFileError::DuplicateId {
                path: path.to_owned(),
                first,
                second: index,
                correlation_id: id,
            });
        }
        intents.push(intent);
    }
    Ok(intents)
}

/// A JSON value whose objects repeat no key. `serde_json::Value` keeps the last of repeated
/// keys, so `{"app_name": "wget", "app_name": "curl"}` would silently read as curl.
struct UniqueKeys(Value);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<UniqueKeys, D::Error> {
        deserializer
            .deserialize_any(UniqueKeysVisitor)
            .map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        let mut values = Vec::new();
        while let Some(UniqueKeys(value)) = items.next_element()? {
            values.push(value);
        }
        Ok(Value::Array(values))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut entries: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = entries.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "the field {key:?} is given twice in one object: keep one"
                )));
            }
            let UniqueKeys(value) = entries.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

struct FieldFailure {
    field: String,
    message: String,
}

fn fail(field: &str, message: impl Into<String>) -> FieldFailure {
    FieldFailure {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn record_id(record: &Value) -> Option<String> {
    let text = record.get("correlation_id")?.as_str()?;
    CorrelationId::parse(text).ok().map(|id| id.to_string())
}

fn parse_record(record: &Value) -> Result<DeploymentIntent, FieldFailure> {
    let Value::Object(object) = record else {
        return Err(fail(
            "(record)",
            format!("is a JSON {}, expected an object", json_type(record)),
        ));
    };
    if let Some(unknown) = object.keys().find(|key| !FIELDS.contains(&key.as_str())) {
        return Err(fail(
            unknown,
            format!(
                "is not a known field: expected fields are {}",
                FIELDS.join(", ")
            ),
        ));
    }

    let correlation_id = required_str(object, "correlation_id")?;
    let correlation_id = CorrelationId::parse(correlation_id)
        .map_err(|error| fail("correlation_id", error.to_string()))?;
    let application_id = required_str(object, "application_id")?.trim().to_owned();
    let app_name = required_str(object, "app_name")?.trim().to_owned();
    let ring: Ring = parse_named(object, "ring")?;
    let platform: Platform = parse_named(object, "platform")?;
    let status: IntentStatus = parse_named(object, "status")?;
    let version_scheme: Option<VersionScheme> = match object.get("version_scheme") {
        None | Some(Value::Null) => None,
        Some(_) => Some(parse_named(object, "version_scheme")?),
    };
    let version = required_str(object, "version")?.trim().to_owned();
    let scheme = version_scheme.unwrap_or_else(|| platform.default_version_scheme());
    Version::parse(scheme, &version).map_err(|error| fail("version", error.to_string()))?;
    let connectors = parse_connectors(object)?;
    let deployment = parse_deployment(object)?;
    let high_risk = match object.get("high_risk") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(other) => {
            return Err(fail(
                "high_risk",
                format!("is a JSON {}, expected true or false", json_type(other)),
            ));
        }
    };
    let cab_approval = parse_cab_approval(object)?;

    Ok(DeploymentIntent {
        correlation_id,
        application_id,
        app_name,
        version,
        ring,
        platform,
        version_scheme,
        connectors,
        status,
        deployment,
        high_risk,
        cab_approval,
    })
}

fn parse_cab_approval(object: &Map<String, Value>) -> Result<Option<CabApproval>, FieldFailure> {
    let approver = match object.get("cab_approved_by") {
        None | Some(Value::Null) => None,
        Some(_) => Some(required_str(object, "cab_approved_by")?.trim().to_owned()),
    };
    let approved_at = optional_time(object, "cab_approved_at")?;
    match (approver, approved_at) {
        (None, None) => Ok(None),
        (Some(approver), Some(approved_at)) => Ok(Some(CabApproval {
            approver,
            approved_at,
        })),
        (None, Some(_)) => Err(fail(
            "cab_approved_by",
            "is missing: a CAB approval needs both cab_approved_by and cab_approved_at",
        )),
        (Some(_), None) => Err(fail(
            "cab_approved_at",
            "is missing: a CAB approval needs both cab_approved_by and cab_approved_at",
        )),
    }
}

fn optional_time(
    object: &Map<String, Value>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, FieldFailure> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            let time = DateTime::parse_from_rfc3339(text.trim())
                .map(|time| time.with_timezone(&Utc))
                .map_err(|error| {
                    fail(
                        field,
                        format!(
                            "{text:?} is not an RFC 3339 time ({error}), as in 2026-11-30T08:00:00Z"
                        ),
                    )
                })?;
            // The store keeps RFC 3339 text, which has four-digit years only.
            if !(1..=9999).contains(&time.year()) {
                return Err(fail(
                    field,
                    format!("{text:?} falls outside the years 1 to 9999 in UTC"),
                ));
            }
            Ok(Some(time))
        }
        Some(other) => Err(fail(
            field,
            format!(
                "is a JSON {}, expected an RFC 3339 time string",
                json_type(other)
            ),
        )),
    }
}

fn required_str<'a>(object: &'a Map<String, Value>, field: &str) -> Result<&'a str, FieldFailure> {
    match object.get(field) {
        None | Some(Value::Null) => Err(fail(field, "is missing: every intent needs it")),
        Some(Value::String(text)) if text.trim().is_empty() => Err(fail(field, "is empty")),
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(fail(
            field,
            format!("is a JSON {}, expected a string", json_type(other)),
        )),
    }
}

fn parse_named<T>(object: &Map<String, Value>, field: &str) -> Result<T, FieldFailure>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text = required_str(object, field)?;
    text.parse()
        .map_err(|error: T::Err| fail(field, error.to_string()))
}

fn parse_connectors(object: &Map<String, Value>) -> Result<Vec<ConnectorKind>, FieldFailure> {
    let items = match object.get("connectors") {
        None | Some(Value::Null) => {
            return Err(fail(
                "connectors",
                "is missing: list the execution planes, as in [\"Intune\"]",
            ));
        }
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(fail(
                "connectors",
                "is empty: list at least one execution plane, as in [\"Intune\"]",
            ));
        }
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(fail(
                "connectors",
                format!(
                    "is a JSON {}, expected an array of connector names",
                    json_type(other)
                ),
            ));
        }
    };

    let mut connectors = Vec::with_capacity(items.len());
    for (position, item) in items.iter().enumerate() {
        let field = format!("connectors[{position}]");
        let Value::String(name) = item else {
            return Err(fail(
                &field,
                format!("is a JSON {}, expected a connector name", json_type(item)),
            ));
        };
        let connector: ConnectorKind =
            name.parse()
                .map_err(|error: ops_core::connector::UnknownConnector| {
                    fail(&field, error.to_string())
                })?;
        if !connectors.contains(&connector) {
            connectors.push(connector);
        }
    }
    Ok(connectors)
}

fn parse_deployment(object: &Map<String, Value>) -> Result<Option<DeploymentStatus>, FieldFailure> {
    let targeted = optional_count(object, "devices_targeted")?;
    let succeeded = optional_count(object, "devices_succeeded")?;
    let failed = optional_count(object, "devices_failed")?;
    let deployed_at = optional_time(object, "deployed_at")?;

    let any_reported =
        targeted.is_some() || succeeded.is_some() || failed.is_some() || deployed_at.is_some();
    if !any_reported {
        return Ok(None);
    }
    let status = DeploymentStatus {
        devices_targeted: targeted.unwrap_or(0),
        devices_succeeded: succeeded.unwrap_or(0),
        devices_failed: failed.unwrap_or(0),
        deployed_at,
    };
    if targeted.is_some() && status.devices_reporting() > status.devices_targeted {
        return Err(fail(
            "devices_targeted",
            format!(
                "is {}, fewer than the {} devices that reported success or failure",
                status.devices_targeted,
                status.devices_reporting()
            ),
        ));
    }
    Ok(Some(status))
}

fn optional_count(object: &Map<String, Value>, field: &str) -> Result<Option<u64>, FieldFailure> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_u64()
            .filter(|count| i64::try_from(*count).is_ok())
            .map(Some)
            .ok_or_else(|| {
                fail(
                    field,
                    format!(
                        "is {number}, expected a whole number of devices from 0 to {}",
                        i64::MAX
                    ),
                )
            }),
        Some(other) => Err(fail(
            field,
            format!(
                "is a JSON {}, expected a whole number of devices",
                json_type(other)
            ),
        )),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Vec<DeploymentIntent>, IntentsFileError> {
        parse(text.as_bytes(), Path::new("intents.json"))
    }

    const VALID: &str = r#"[
        {"correlation_id": "deploy-1", "application_id": "app-1", "app_name": "curl",
         "version": "7.88.1-10+deb12u5", "ring": "canary", "platform": "Debian",
         "connectors": ["landscape", "Ansible"], "status": "deployed"},
        {"correlation_id": "deploy-2", "application_id": "app-2", "app_name": "Google Chrome",
         "version": "120.0.6099.130", "ring": "Pilot", "platform": "windows",
         "connectors": ["SCCM", "intune"], "status": "Approved",
         "devices_targeted": 10, "devices_succeeded": 9, "devices_failed": 1,
         "deployed_at": "2026-11-30T08:00:00Z"}
    ]"#;

    #[test]
    fn valid_file_parses_names_case_insensitively() {
        let intents = parse_text(VALID).unwrap();
        assert_eq!(intents.len(), 2);
        assert_eq!(intents[0].ring, Ring::Canary);
        assert_eq!(intents[0].platform, Platform::Debian);
        assert_eq!(
            intents[0].connectors,
            [ConnectorKind::Landscape, ConnectorKind::Ansible]
        );
        assert_eq!(intents[0].status, IntentStatus::Deployed);
        assert_eq!(intents[0].deployment, None);
        assert_eq!(
            intents[1].connectors,
            [ConnectorKind::Sccm, ConnectorKind::Intune]
        );
        let deployment = intents[1].deployment.unwrap();
        assert_eq!(deployment.devices_succeeded, 9);
        assert_eq!(
            deployment.deployed_at.unwrap().to_rfc3339(),
            "2026-11-30T08:00:00+00:00"
        );
    }

    fn record_error(text: &str) -> (usize, String, String) {
        match parse_text(text).unwrap_err() {
            IntentsFileError::Record {
                index,
                field,
                message,
                ..
            } => (index, field, message),
            other => panic!("expected a record error, got {other}"),
        }
    }

    fn with_second(replace_from: &str, replace_to: &str) -> String {
        let (first, second) =
            VALID.split_at(VALID.find("{\"correlation_id\": \"deploy-2\"").unwrap());
        format!("{first}{}", second.replacen(replace_from, replace_to, 1))
    }

    /// Replaces the second record's `"status": "Approved"` member with `members`.
    fn second_with(members: &str) -> String {
        with_second(
            "\"status\": \"Approved\"",
            &format!("\"status\": \"Approved\", {members}"),
        )
    }

    #[test]
    fn invalid_fields_name_field_and_fix() {
        let cases = [
            (
                "\"high_risk\": \"yes\"",
                "high_risk",
                "is a JSON string, expected true or false",
            ),
            (
                "\"cab_approved_by\": \"cab@example.com\"",
                "cab_approved_at",
                "is missing: a CAB approval needs both",
            ),
            (
                "\"cab_approved_at\": \"2026-11-30T08:00:00Z\"",
                "cab_approved_by",
                "is missing: a CAB approval needs both",
            ),
            (
                "\"cab_approved_by\": \"cab@example.com\", \"cab_approved_at\": \"tomorrow\"",
                "cab_approved_at",
                "is not an RFC 3339 time",
            ),
            (
                "\"cab_approved_by\": \"cab@example.com\", \"cab_approved_at\": 5",
                "cab_approved_at",
                "is a JSON number, expected an RFC 3339 time string",
            ),
            (
                "\"cab_approved_by\": \"cab@example.com\", \"cab_approved_at\": \"0000-01-01T00:00:00Z\"",
                "cab_approved_at",
                "falls outside the years 1 to 9999",
            ),
            (
                "\"devices_targeted\": 5",
                "devices_targeted",
                "is 5, fewer than the 10 devices that reported",
            ),
            ("\"version_scheme\": \"calver\"", "version_scheme", "calver"),
            ("\"x_note\": 1", "x_note", "is not a known field"),
        ];
        for (members, expected_field, expected_message) in cases {
            let text = second_with(members).replace("\"devices_targeted\": 10, ", "");
            let (index, field, message) = record_error(&text);
            assert_eq!(index, 1, "{members}");
            assert_eq!(field, expected_field, "{members}");
            assert!(message.contains(expected_message), "{members}: {message}");
        }
    }

    #[test]
    fn mistyped_values_name_their_json_type() {
        let cases = [
            (
                "\"app_name\": \"Google Chrome\"",
                "\"app_name\": \"  \"",
                "app_name",
                "is empty",
            ),
            (
                "\"app_name\": \"Google Chrome\"",
                "\"app_name\": true",
                "app_name",
                "is a JSON boolean, expected a string",
            ),
            (
                "\"connectors\": [\"SCCM\", \"intune\"]",
                "\"connectors\": []",
                "connectors",
                "is empty",
            ),
            (
                "\"connectors\": [\"SCCM\", \"intune\"]",
                "\"connectors\": null",
                "connectors",
                "is missing",
            ),
            (
                "\"connectors\": [\"SCCM\", \"intune\"]",
                "\"connectors\": \"SCCM\"",
                "connectors",
                "is a JSON string, expected an array",
            ),
            (
                "\"connectors\": [\"SCCM\", \"intune\"]",
                "\"connectors\": [\"SCCM\", {}]",
                "connectors[1]",
                "is a JSON object, expected a connector name",
            ),
            (
                "\"devices_failed\": 1",
                "\"devices_failed\": -1",
                "devices_failed",
                "expected a whole number of devices from 0",
            ),
            (
                "\"devices_failed\": 1",
                "\"devices_failed\": 1.5",
                "devices_failed",
                "expected a whole number of devices from 0",
            ),
            (
                "\"devices_failed\": 1",
                "\"devices_failed\": [1]",
                "devices_failed",
                "is a JSON array, expected a whole number",
            ),
        ];
        for (from, to, expected_field, expected_message) in cases {
            let (_, field, message) = record_error(&with_second(from, to));
            assert_eq!(field, expected_field, "{to}");
            assert!(message.contains(expected_message), "{to}: {message}");
        }
    }

    #[test]
    fn record_that_is_not_an_object_is_named() {
        let (index, field, message) = record_error("[null]");
        assert_eq!((index, field.as_str()), (0, "(record)"));
        assert_eq!(message, "is a JSON null, expected an object");
    }

    #[test]
    fn top_level_object_is_not_an_array() {
        let error = parse_text("{\"intents\": []}").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("holds a JSON object: expected an array"),
            "{error}"
        );
    }

    #[test]
    fn missing_file_is_named() {
        let error = read(Path::new("/nonexistent/intents.json")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot read intents file \"/nonexistent/intents.json\""
        );
    }

    #[test]
    fn empty_file_is_named() {
        let error = parse_text(" \n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "intents file \"intents.json\" is empty: expected an array of intent objects"
        );
    }

    #[test]
    fn repeated_key_is_rejected() {
        let text = with_second(
            "\"app_name\": \"Google Chrome\",",
            "\"app_name\": \"wget\", \"app_name\": \"curl\",",
        );
        let error = parse_text(&text).unwrap_err();
        let IntentsFileError::Json { line, .. } = &error else {
            panic!("expected a JSON error, got {error}");
        };
        assert_eq!(*line, 5);
        let chain = format!("{error}: {}", std::error::Error::source(&error).unwrap());
        assert!(
            chain.contains("the field \"app_name\" is given twice in one object: keep one"),
            "{chain}"
        );
    }

    #[test]
    fn bad_ring_names_index_and_field() {
        let (index, field, message) = record_error(&with_second("\"Pilot\"", "\"prod\""));
        assert_eq!((index, field.as_str()), (1, "ring"));
        assert!(
            message.contains("\"prod\"") && message.contains("Canary"),
            "{message}"
        );
    }

    #[test]
    fn bad_connector_names_its_position() {
        let (index, field, message) = record_error(&with_second("\"intune\"", "\"puppet\""));
        assert_eq!((index, field.as_str()), (1, "connectors[1]"));
        assert!(message.contains("puppet"), "{message}");
    }

    #[test]
    fn missing_and_mistyped_fields_are_named() {
        let (_, field, message) =
            record_error(&with_second("\"app_name\": \"Google Chrome\",", ""));
        assert_eq!(field, "app_name");
        assert!(message.contains("missing"), "{message}");

        let (_, field, _) = record_error(&with_second(
            "\"devices_failed\": 1",
            "\"devices_failed\": -1",
        ));
        assert_eq!(field, "devices_failed");

        let (_, field, message) = record_error(&with_second(
            "\"status\": \"Approved\"",
            "\"staus\": \"Approved\"",
        ));
        assert_eq!(field, "staus");
        assert!(message.contains("not a known field"), "{message}");
    }

    #[test]
    fn unparsable_version_is_rejected() {
        let (_, field, message) = record_error(&with_second("120.0.6099.130", "120.0.beta"));
        assert_eq!(field, "version");
        assert!(message.contains("120.0.beta"), "{message}");
    }

    #[test]
    fn message_names_file_record_and_id() {
        let error = parse_text(&with_second("\"Pilot\"", "\"prod\"")).unwrap_err();
        let message = error.to_string();
        assert!(
            message
                .starts_with("intents file \"intents.json\", record 1 (deploy-2): field \"ring\""),
            "{message}"
        );
    }

    #[test]
    fn duplicate_ids_are_rejected() {
        let text = with_second("deploy-2", "deploy-1");
        match parse_text(&text).unwrap_err() {
            IntentsFileError::DuplicateId {
                first,
                second,
                correlation_id,
                ..
            } => {
                assert_eq!((first, second, correlation_id.as_str()), (0, 1, "deploy-1"));
            }
            other => panic!("expected a duplicate error, got {other}"),
        }
    }

    #[test]
    fn non_array_and_broken_json_are_rejected() {
        assert!(matches!(
            parse_text("{}"),
            Err(IntentsFileError::NotAnArray {
                found: "object",
                ..
            })
        ));
        match parse_text("[\n{\"correlation_id\": ").unwrap_err() {
            IntentsFileError::Json { line, .. } => assert_eq!(line, 2),
            other => panic!("expected a JSON error, got {other}"),
        }
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        let (_, field, message) = record_error(&with_second(
            "2026-11-30T08:00:00Z",
            "0000-01-01T00:00:00+23:59",
        ));
        assert_eq!(field, "deployed_at");
        assert!(message.contains("1 to 9999"), "{message}");

        let (_, field, _) = record_error(&with_second(
            "\"devices_targeted\": 10",
            "\"devices_targeted\": 18446744073709551615",
        ));
        assert_eq!(field, "devices_targeted");
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let text = format!("\u{feff}{VALID}");
        assert_eq!(parse_text(&text).unwrap().len(), 2);
    }
}
