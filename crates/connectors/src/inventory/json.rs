//! A JSON scalar read as text, shared by the JSON readers.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A JSON string, number or boolean, as text borrowed from the input when it has no escapes.
///
/// Exports disagree on scalar types: osquery writes every column as a string unless
/// `--logger_numerics` is set, Jamf ids are strings, and Ansible's RPM epoch is a number or
/// `null`. Reading all of them as text lets one reader accept each variant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl Text<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text<'a>, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string, number or boolean")
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(value)))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(value.to_string())))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(value.to_string())))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(value.to_string())))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed(if value { "true" } else { "false" })))
    }
}

/// Returns the text of an optional scalar, or `""` when it is absent or `null`.
pub(crate) fn text_or_empty<'s>(value: &'s Option<Text<'_>>) -> &'s str {
    value.as_ref().map_or("", Text::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_borrows_plain_strings() {
        let text: Text<'_> = serde_json::from_str("\"curl\"").unwrap();
        assert!(matches!(text.0, Cow::Borrowed("curl")));
    }

    #[test]
    fn text_decodes_escapes() {
        let text: Text<'_> = serde_json::from_str(r#""Caf\u00e9 \"Pro\"""#).unwrap();
        assert_eq!(text.as_str(), "Café \"Pro\"");
    }

    #[test]
    fn text_accepts_numbers_and_booleans() {
        let number: Text<'_> = serde_json::from_str("12").unwrap();
        assert_eq!(number.as_str(), "12");
        let negative: Text<'_> = serde_json::from_str("-1").unwrap();
        assert_eq!(negative.as_str(), "-1");
        let flag: Text<'_> = serde_json::from_str("true").unwrap();
        assert_eq!(flag.as_str(), "true");
    }

    #[test]
    fn optional_text_reads_null_as_absent() {
        let value: Option<Text<'_>> = serde_json::from_str("null").unwrap();
        assert_eq!(text_or_empty(&value), "");
    }

    #[test]
    fn text_rejects_objects() {
        assert!(serde_json::from_str::<Text<'_>>("{}").is_err());
    }
}
