//! Correlation ids: one per operation, carried by every log line, audit event and SIEM event.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The id of one operation, such as `drift-01939f6e-7d4c-7b52-9c1e-5b0f2d8a4e11`.
///
/// It is a prefix naming the operation (`deploy`, `rollback`, `drift`, ...), a hyphen and a
/// unique part. Ids made by [`CorrelationId::generate`] use a UUIDv7 as the unique part, so they
/// sort by creation time. Parsed ids may carry any unique part of the allowed characters, because
/// intents arrive from other systems with ids of their own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CorrelationId {
    text: String,
    prefix_len: usize,
}

/// The longest correlation id accepted, in bytes.
pub const MAX_LEN: usize = 128;

/// The longest prefix accepted, in bytes.
pub const MAX_PREFIX_LEN: usize = 32;

/// Prefixes of the operations `ops` runs. Parsing accepts other prefixes too.
pub const KNOWN_PREFIXES: [&str; 12] = [
    "deploy",
    "rollback",
    "promote",
    "drift",
    "telemetry",
    "failover",
    "failback",
    "rotation",
    "rbac-setup",
    "incident",
    "audit",
    "import",
];

/// Why a text is not a valid correlation id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCorrelationId {
    /// The text is empty after trimming.
    #[error(
        "correlation id is empty: expected PREFIX-UNIQUE, as in drift-01939f6e-7d4c-7b52-9c1e-5b0f2d8a4e11"
    )]
    Empty,
    /// The text is longer than [`MAX_LEN`].
    #[error("correlation id {text:?} is {len} bytes long: at most {MAX_LEN} are allowed")]
    TooLong {
        /// The rejected text.
        text: String,
        /// Its length in bytes.
        len: usize,
    },
    /// The text has no hyphen separating a prefix from a unique part, or one of them is empty.
    #[error(
        "correlation id {text:?} lacks a prefix or unique part: expected PREFIX-UNIQUE, as in deploy-2024-0042"
    )]
    MissingPart {
        /// The rejected text.
        text: String,
    },
    /// The prefix is not lowercase ASCII letters, digits and inner hyphens starting with a letter.
    #[error(
        "correlation id {text:?} has an invalid prefix: use lowercase letters, digits and hyphens, starting with a letter, at most {MAX_PREFIX_LEN} bytes"
    )]
    InvalidPrefix {
        /// The rejected text.
        text: String,
    },
    /// The text holds a character outside ASCII letters, digits, `-`, `_` and `.`.
    #[error(
        "correlation id {text:?} contains {character:?}: only ASCII letters, digits, '-', '_' and '.' are allowed"
    )]
    InvalidCharacter {
        /// The rejected text.
        text: String,
        /// The first character not allowed.
        character: char,
    },
}

impl CorrelationId {
    /// Generates a new id with the given prefix and a UUIDv7 unique part.
    ///
    /// # Panics
    ///
    /// Panics if `prefix` is not a valid prefix; prefixes are constants in the calling code.
    pub fn generate(prefix: &str) -> CorrelationId {
        let text = format!("{prefix}-{}", uuid::Uuid::now_v7());
        match CorrelationId::parse(&text) {
            Ok(id) if id.prefix() == prefix => id,
            _ => panic!("correlation id prefix {prefix:?} is invalid"),
        }
    }

    /// Parses and validates an id, trimming surrounding whitespace.
    ///
    /// The prefix is the longest known prefix the text starts with, followed by a hyphen;
    /// otherwise the text before the first hyphen.
    pub fn parse(text: &str) -> Result<CorrelationId, InvalidCorrelationId> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(InvalidCorrelationId::Empty);
        }
        if trimmed.len() > MAX_LEN {
            return Err(InvalidCorrelationId::TooLong {
                text: trimmed.to_owned(),
                len: trimmed.len(),
            });
        }
        if let Some(character) = trimmed
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(InvalidCorrelationId::InvalidCharacter {
                text: trimmed.to_owned(),
                character,
            });
        }

        let known_prefix = KNOWN_PREFIXES
            .iter()
            .filter(|prefix| {
                trimmed.len() > prefix.len() + 1
                    && trimmed.starts_with(*prefix)
                    && trimmed.as_bytes()[prefix.len()] == b'-'
            })
            .map(|prefix| prefix.len())
            .max();
        let prefix_len = match known_prefix.or_else(|| trimmed.find('-')) {
            Some(len) if len > 0 && len + 1 < trimmed.len() => len,
            _ => {
                return Err(InvalidCorrelationId::MissingPart {
                    text: trimmed.to_owned(),
                });
            }
        };

        let prefix = &trimmed[..prefix_len];
        let prefix_is_valid = prefix.len() <= MAX_PREFIX_LEN
            && prefix.starts_with(|c: char| c.is_ascii_lowercase())
            && !prefix.ends_with('-')
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !prefix_is_valid {
            return Err(InvalidCorrelationId::InvalidPrefix {
                text: trimmed.to_owned(),
            });
        }

        Ok(CorrelationId {
            text: trimmed.to_owned(),
            prefix_len,
        })
    }

    /// Returns the prefix naming the operation, such as `rollback`.
    pub fn prefix(&self) -> &str {
        &self.text[..self.prefix_len]
    }

    /// Returns the unique part after the prefix and its hyphen.
    pub fn unique_part(&self) -> &str {
        &self.text[self.prefix_len + 1..]
    }

    /// Returns the whole id.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

impl FromStr for CorrelationId {
    type Err = InvalidCorrelationId;

    fn from_str(text: &str) -> Result<CorrelationId, InvalidCorrelationId> {
        CorrelationId::parse(text)
    }
}

impl Serialize for CorrelationId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for CorrelationId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<CorrelationId, D::Error> {
        let text = String::deserialize(deserializer)?;
        CorrelationId::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_id_has_prefix_and_uuid() {
        let id = CorrelationId::generate("drift");
        assert_eq!(id.prefix(), "drift");
        assert!(uuid::Uuid::parse_str(id.unique_part()).is_ok(), "{id}");
    }

    #[test]
    fn generated_ids_sort_by_creation_time() {
        let ids: Vec<CorrelationId> = (0..200)
            .map(|_| CorrelationId::generate("rollback"))
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        sorted.dedup();
        assert_eq!(sorted.len(), 200, "generated ids must be unique");
    }

    #[test]
    fn hyphenated_known_prefix_is_kept_whole() {
        let id = CorrelationId::generate("rbac-setup");
        assert_eq!(id.prefix(), "rbac-setup");
        let parsed = CorrelationId::parse("rbac-setup-2024-01").unwrap();
        assert_eq!(parsed.prefix(), "rbac-setup");
        assert_eq!(parsed.unique_part(), "2024-01");
    }

    #[test]
    fn foreign_ids_parse_with_their_first_word_as_prefix() {
        let id = CorrelationId::parse(" change-CHG0042 ").unwrap();
        assert_eq!(id.prefix(), "change");
        assert_eq!(id.unique_part(), "CHG0042");
        assert_eq!(id.as_str(), "change-CHG0042");
    }

    #[test]
    fn parse_rejects_malformed_ids() {
        assert_eq!(CorrelationId::parse("  "), Err(InvalidCorrelationId::Empty));
        assert!(matches!(
            CorrelationId::parse("deploy"),
            Err(InvalidCorrelationId::MissingPart { .. })
        ));
        assert!(matches!(
            CorrelationId::parse("deploy-"),
            Err(InvalidCorrelationId::MissingPart { .. })
        ));
        assert!(matches!(
            CorrelationId::parse("-0042"),
            Err(InvalidCorrelationId::MissingPart { .. })
        ));
        assert!(matches!(
            CorrelationId::parse("Deploy-0042"),
            Err(InvalidCorrelationId::InvalidPrefix { .. })
        ));
        assert!(matches!(
            CorrelationId::parse("deploy-00 42"),
            Err(InvalidCorrelationId::InvalidCharacter { character: ' ', .. })
        ));
        assert!(matches!(
            CorrelationId::parse("deploy-ü"),
            Err(InvalidCorrelationId::InvalidCharacter {
                character: 'ü', ..
            })
        ));
    }

    #[test]
    fn parse_bounds_length() {
        let longest = format!("deploy-{}", "a".repeat(MAX_LEN - 7));
        assert!(CorrelationId::parse(&longest).is_ok());
        let too_long = format!("{longest}a");
        assert!(matches!(
            CorrelationId::parse(&too_long),
            Err(InvalidCorrelationId::TooLong { len, .. }) if len == MAX_LEN + 1
        ));
        let long_prefix = format!("{}-1", "p".repeat(MAX_PREFIX_LEN + 1));
        assert!(matches!(
            CorrelationId::parse(&long_prefix),
            Err(InvalidCorrelationId::InvalidPrefix { .. })
        ));
    }

    #[test]
    fn serde_round_trip_validates() {
        let id = CorrelationId::generate("promote");
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<CorrelationId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<CorrelationId>("\"nope\"").is_err());
    }
}
