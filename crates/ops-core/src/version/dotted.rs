//! Versions made of dot-separated unsigned integers: the dotted and macbundle schemes.
//!
//! Components compare numerically from the left, and a missing component counts as 0. So
//! `1.10` > `1.9`, `1.02` == `1.2` and `1.2` == `1.2.0.0`. Each component must fit in a `u64`.
//!
//! Windows file versions and MSI product versions use this shape with fixed limits: four 16-bit
//! parts for file versions, and 255.255.65535 for the MSI ProductVersion property, where Windows
//! Installer ignores a fourth field. This module enforces none of those limits and compares every
//! component, because inventories report vendor versions of any length and a difference in the
//! fourth field is still drift.
//!
//! For macOS bundles, Apple documents `CFBundleShortVersionString` as three period-separated
//! integers and `CFBundleVersion` as one to three, where missing integers count as zeros. The
//! macbundle scheme accepts any number of components and compares all of them.
//! NOTE: Apple's documentation of `CFBundleVersion` states that the system ignores integers after
//! the third, so macOS may treat `1.2.3.4` and `1.2.3.5` as one build while this scheme orders
//! them. Some apps ship four-part bundle versions, and ignoring the fourth part would hide drift
//! between their builds.

/// A dotted version reduced to its components without trailing zeros.
///
/// Dropping trailing zeros makes the derived equality, hash and lexicographic order agree with
/// comparing zero-padded component lists.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct DottedVersion {
    components: Vec<u64>,
}

impl DottedVersion {
    /// Parses a trimmed, non-empty version string, returning the broken rule on failure.
    pub(super) fn parse(text: &str) -> Result<DottedVersion, String> {
        let mut components = Vec::new();
        for (index, component) in text.split('.').enumerate() {
            let position = index + 1;
            if component.is_empty() {
                return Err(format!("component {position} is empty"));
            }
            // `u64::from_str` would also accept a leading `+`, which is not a version digit.
            if !component.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(format!(
                    "component {position} ({component:?}) is not an unsigned integer"
                ));
            }
            let value = component.parse::<u64>().map_err(|_| {
                format!(
                    "component {position} ({component}) is larger than {}",
                    u64::MAX
                )
            })?;
            components.push(value);
        }

        while components.last() == Some(&0) {
            components.pop();
        }
        Ok(DottedVersion { components })
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use proptest::prelude::*;

    use super::super::laws;
    use super::super::{Version, VersionError, VersionScheme, compare};

    /// The schemes that share this module's rules.
    const SCHEMES: [VersionScheme; 2] = [VersionScheme::Dotted, VersionScheme::MacBundle];

    fn dotted(scheme: VersionScheme, left: &str, right: &str) -> Ordering {
        match compare(scheme, left, right) {
            Ok(ordering) => ordering,
            Err(error) => panic!("{error}"),
        }
    }

    fn reason(scheme: VersionScheme, text: &str) -> String {
        match Version::parse(scheme, text) {
            Ok(version) => panic!("{text:?} should be invalid, parsed as {version:?}"),
            Err(VersionError::Invalid { reason, .. }) => reason,
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn components_compare_numerically() {
        for scheme in SCHEMES {
            assert_eq!(dotted(scheme, "1.10", "1.9"), Ordering::Greater);
            assert_eq!(dotted(scheme, "1.02", "1.2"), Ordering::Equal);
            assert_eq!(dotted(scheme, "2", "10"), Ordering::Less);
            assert_eq!(
                dotted(scheme, "10.0.19045.3803", "10.0.19045.4046"),
                Ordering::Less
            );
        }
    }

    #[test]
    fn trailing_zeros_are_insignificant() {
        for scheme in SCHEMES {
            assert_eq!(dotted(scheme, "1.2", "1.2.0.0"), Ordering::Equal);
            assert_eq!(dotted(scheme, "0", "0.0.0"), Ordering::Equal);
            assert_eq!(dotted(scheme, "1.2", "1.2.0.1"), Ordering::Less);
            assert_eq!(dotted(scheme, "1.0.0.0.0.0.0.1", "1"), Ordering::Greater);
        }
    }

    #[test]
    fn component_count_is_unlimited() {
        for scheme in SCHEMES {
            assert_eq!(dotted(scheme, "1.2.3.4", "1.2.3.5"), Ordering::Less);
            assert_eq!(
                dotted(scheme, "120.0.6099.109", "120.0.6099.71"),
                Ordering::Greater
            );
        }
    }

    #[test]
    fn maximum_component_parses() {
        for scheme in SCHEMES {
            let max = u64::MAX.to_string();
            assert_eq!(dotted(scheme, &format!("1.{max}"), "2"), Ordering::Less);
            assert_eq!(dotted(scheme, &format!("0000{max}"), &max), Ordering::Equal);
        }
    }

    #[test]
    fn malformed_versions_are_rejected() {
        for scheme in SCHEMES {
            assert_eq!(reason(scheme, "1..2"), "component 2 is empty");
            assert_eq!(reason(scheme, ".1"), "component 1 is empty");
            assert_eq!(reason(scheme, "1.2."), "component 3 is empty");
            assert_eq!(
                reason(scheme, "1.2.3a"),
                "component 3 (\"3a\") is not an unsigned integer"
            );
            assert_eq!(
                reason(scheme, "1.+2"),
                "component 2 (\"+2\") is not an unsigned integer"
            );
            assert_eq!(
                reason(scheme, "1.-2"),
                "component 2 (\"-2\") is not an unsigned integer"
            );
            assert_eq!(
                reason(scheme, "1.2 (456)"),
                "component 2 (\"2 (456)\") is not an unsigned integer"
            );
            assert_eq!(
                reason(scheme, "v1.2"),
                "component 1 (\"v1\") is not an unsigned integer"
            );
            assert_eq!(
                reason(scheme, "1.18446744073709551616"),
                "component 2 (18446744073709551616) is larger than 18446744073709551615"
            );
        }
    }

    #[test]
    fn error_messages_name_scheme_syntax() {
        let error = Version::parse(VersionScheme::Dotted, "1..2").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid dotted version \"1..2\": component 2 is empty; \
             expected dot-separated unsigned integers, as in 10.0.19045.3803"
        );
        let error = Version::parse(VersionScheme::MacBundle, "1.0b3").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid macbundle version \"1.0b3\": component 2 (\"0b3\") is not an unsigned \
             integer; expected dot-separated unsigned integers, as in 14.2.1"
        );
    }

    /// Builds valid dotted versions with leading zeros, trailing zeros and huge components.
    fn version_text() -> impl Strategy<Value = String> {
        let component = prop_oneof![
            4 => (0u64..4, 0usize..3),
            1 => (any::<u64>(), 0usize..2),
        ]
        .prop_map(|(value, leading_zeros)| format!("{}{value}", "0".repeat(leading_zeros)));
        proptest::collection::vec(component, 1..6).prop_map(|components| components.join("."))
    }

    /// Spells the same version differently: leading zeros on every component and trailing zero
    /// components.
    fn respell(text: &str, extra_zeros: usize) -> String {
        let mut respelled: Vec<String> = text.split('.').map(|part| format!("00{part}")).collect();
        respelled.extend(std::iter::repeat_n("0".to_owned(), extra_zeros));
        respelled.join(".")
    }

    proptest! {
        #[test]
        fn dotted_order_is_total(
            first in version_text(),
            second in version_text(),
            third in version_text(),
        ) {
            for scheme in SCHEMES {
                let first = laws::parse_valid(scheme, &first);
                let second = laws::parse_valid(scheme, &second);
                let third = laws::parse_valid(scheme, &third);
                laws::check_pair(&first, &second);
                laws::check_pair(&second, &third);
                laws::check_triple(&first, &second, &third);
                laws::check_triple(&third, &second, &first);
            }
        }

        #[test]
        fn dotted_respelling_is_equal(text in version_text(), extra_zeros in 0usize..4) {
            for scheme in SCHEMES {
                let original = laws::parse_valid(scheme, &text);
                let respelled = laws::parse_valid(scheme, &respell(&text, extra_zeros));
                laws::check_same_version(&original, &respelled);
            }
        }
    }
}
