//! The secret-store port, and the type that keeps secret values out of output.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::PortResult;

/// A secret value: a client secret, a token, a private key.
///
/// Its `Debug` prints `Secret([REDACTED])`. It has no `Display` and no `Serialize`, so it cannot
/// reach a log line, an error message or an audit event by accident; reading the value takes an
/// explicit [`Secret::expose`]. It can be deserialized, so configuration can hold one.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// Returns the secret value. Call it only where the value leaves for its destination, such
    /// as an Authorization header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Secret {
    /// Reads a string, or a whole number as its decimal text, because configuration overrides
    /// from the environment turn an all-digit value such as a PIN into a number.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum TextOrNumber {
            Text(String),
            Number(u64),
        }
        match TextOrNumber::deserialize(deserializer) {
            Ok(TextOrNumber::Text(text)) => Ok(Secret(text)),
            Ok(TextOrNumber::Number(number)) => Ok(Secret(number.to_string())),
            Err(_) => Err(serde::de::Error::custom("expected a secret as a string")),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret([REDACTED])")
    }
}

/// A secret's value at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVersion {
    /// The version id the store assigned.
    pub version: String,
    /// The value.
    pub value: Secret,
    /// When the version was created.
    pub created: Option<DateTime<Utc>>,
    /// When the value expires, if the store records it.
    pub expires: Option<DateTime<Utc>>,
}

/// Facts about one version of a secret, without its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretVersionInfo {
    /// The version id.
    pub version: String,
    /// Whether the version can be read.
    pub enabled: bool,
    /// When the version was created.
    pub created: Option<DateTime<Utc>>,
}

/// A vault of named, versioned secrets, such as Azure Key Vault.
///
/// `set` always creates a new version and keeps the old ones, so a failed rotation can restore
/// the previous value with `restore_version`.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Returns the current version of a secret, or `None` when it does not exist.
    async fn get(&self, name: &str) -> PortResult<Option<SecretVersion>>;

    /// Stores a new version of a secret and returns its version id.
    async fn set(
        &self,
        name: &str,
        value: &Secret,
        expires: Option<DateTime<Utc>>,
    ) -> PortResult<String>;

    /// Lists the versions of a secret, newest first.
    async fn versions(&self, name: &str) -> PortResult<Vec<SecretVersionInfo>>;

    /// Makes an earlier version current again, by storing its value as a new version, and
    /// returns the new version id.
    async fn restore_version(&self, name: &str, version: &str) -> PortResult<String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserializes_from_text_or_digits() {
        let text: Secret = serde_json::from_str("\"s3cret\"").unwrap();
        assert_eq!(text.expose(), "s3cret");
        let digits: Secret = serde_json::from_str("123456").unwrap();
        assert_eq!(digits.expose(), "123456");
        let error = serde_json::from_str::<Secret>("{\"value\": \"hunter2\"}").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn debug_redacts_value() {
        let secret = Secret::new("hunter2-very-secret");
        let version = SecretVersion {
            version: "v1".into(),
            value: secret.clone(),
            created: None,
            expires: None,
        };
        for text in [
            format!("{secret:?}"),
            format!("{version:?}"),
            format!("{version:#?}"),
        ] {
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains("REDACTED"), "{text}");
        }
        assert_eq!(secret.expose(), "hunter2-very-secret");
    }
}
