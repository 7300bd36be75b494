//! Object ids, which the Classic API writes as JSON integers and the Jamf Pro API as strings.

use std::fmt;

use serde::Deserialize;

/// An id written as an integer (Classic API, TOML) or as a string (Jamf Pro API).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum IdValue {
    /// An integer id.
    Integer(i64),
    /// A string id.
    Text(String),
}

impl IdValue {
    /// Returns the id as a positive integer, or `None` when it is not one.
    pub fn to_positive_integer(&self) -> Option<u64> {
        match self {
            IdValue::Integer(value) => u64::try_from(*value).ok().filter(|value| *value > 0),
            IdValue::Text(text) => text.trim().parse::<u64>().ok().filter(|value| *value > 0),
        }
    }
}

impl fmt::Display for IdValue {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdValue::Integer(value) => write!(formatter, "{value}"),
            IdValue::Text(text) => write!(formatter, "{text:?}"),
        }
    }
}
