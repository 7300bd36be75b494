//! Semantic Versioning 2.0.0 versions, ordered by precedence.
//!
//! Parsing and precedence come from the `semver` crate. Build metadata (`+...`) does not take part
//! in precedence, so `1.2.3+a` and `1.2.3+b` are equal here and hash equally, although the
//! `semver` crate's own `Ord` and `Eq` tell them apart.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

/// A semantic version whose `Eq`, `Ord` and `Hash` ignore build metadata.
#[derive(Debug, Clone)]
pub(super) struct SemanticVersion(semver::Version);

impl SemanticVersion {
    /// Parses a trimmed, non-empty version string, returning the broken rule on failure.
    pub(super) fn parse(text: &str) -> Result<SemanticVersion, String> {
        // A `v` prefix is common in tags, so name the fix instead of the semver crate's
        // "unexpected character" error. The prefix is ASCII, so slicing after it is safe.
        let mut characters = text.chars();
        if let (Some(prefix @ ('v' | 'V')), Some('0'..='9')) =
            (characters.next(), characters.next())
        {
            return Err(format!(
                "the leading {prefix:?} is not part of a semantic version; remove it, as in {}",
                &text[1..]
            ));
        }
        semver::Version::parse(text)
            .map(SemanticVersion)
            .map_err(|error| error.to_string())
    }
}

impl PartialEq for SemanticVersion {
    fn eq(&self, other: &SemanticVersion) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SemanticVersion {}

impl Hash for SemanticVersion {
    /// Hashes the fields that precedence compares. The prerelease can be hashed as text because
    /// SemVer forbids leading zeros in numeric identifiers, so equal precedence means equal text.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let version = &self.0;
        (version.major, version.minor, version.patch, &version.pre).hash(state);
    }
}

impl Ord for SemanticVersion {
    fn cmp(&self, other: &SemanticVersion) -> Ordering {
        self.0.cmp_precedence(&other.0)
    }
}

impl PartialOrd for SemanticVersion {
    fn partial_cmp(&self, other: &SemanticVersion) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use proptest::prelude::*;

    use super::super::laws;
    use super::super::{Version, VersionError, VersionScheme, compare};

    fn semver(left: &str, right: &str) -> Ordering {
        match compare(VersionScheme::Semver, left, right) {
            Ok(ordering) => ordering,
            Err(error) => panic!("{error}"),
        }
    }

    fn reason(text: &str) -> String {
        match Version::parse(VersionScheme::Semver, text) {
            Ok(version) => panic!("{text:?} should be invalid, parsed as {version:?}"),
            Err(VersionError::Invalid { reason, .. }) => reason,
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn build_metadata_is_ignored() {
        assert_eq!(semver("1.2.3+a", "1.2.3+b"), Ordering::Equal);
        assert_eq!(semver("1.2.3+a", "1.2.3"), Ordering::Equal);
        assert_eq!(semver("1.2.3-rc.1+a", "1.2.3-rc.1+b.7"), Ordering::Equal);

        let left = Version::parse(VersionScheme::Semver, "1.2.3+a").unwrap();
        let right = Version::parse(VersionScheme::Semver, "1.2.3+b").unwrap();
        laws::check_same_version(&left, &right);
    }

    #[test]
    fn precedence_follows_semver_spec() {
        // The precedence chain given as an example in SemVer 2.0.0, item 11.
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
        ];
        for pair in chain.windows(2) {
            assert_eq!(
                semver(pair[0], pair[1]),
                Ordering::Less,
                "{} < {}",
                pair[0],
                pair[1]
            );
        }
        assert_eq!(semver("1.10.0", "1.9.0"), Ordering::Greater);
        assert_eq!(semver("2.0.0", "10.0.0"), Ordering::Less);
    }

    #[test]
    fn leading_v_is_rejected_with_hint() {
        assert_eq!(
            reason("v1.2.3"),
            "the leading 'v' is not part of a semantic version; remove it, as in 1.2.3"
        );
        assert_eq!(
            reason("V1.2.3"),
            "the leading 'V' is not part of a semantic version; remove it, as in 1.2.3"
        );
        assert_eq!(
            reason("version"),
            "unexpected character 'v' while parsing major version number"
        );

        let error = Version::parse(VersionScheme::Semver, "v1.2.3").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid semver version \"v1.2.3\": the leading 'v' is not part of a semantic \
             version; remove it, as in 1.2.3; expected MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], \
             as in 1.2.3-rc.1"
        );
    }

    #[test]
    fn malformed_versions_are_rejected() {
        assert_eq!(
            reason("1.2"),
            "unexpected end of input while parsing minor version number"
        );
        assert_eq!(
            reason("1.02.3"),
            "invalid leading zero in minor version number"
        );
        assert_eq!(
            reason("1.2.3-"),
            "empty identifier segment in pre-release identifier"
        );
        assert_eq!(
            reason("1.2.3.4"),
            "unexpected character '.' after patch version number"
        );
        assert_eq!(
            reason("18446744073709551616.0.0"),
            "value of major version number exceeds u64::MAX"
        );
    }

    /// Builds valid semantic versions with and without prerelease and build metadata.
    fn version_text() -> impl Strategy<Value = String> {
        let identifier = prop_oneof!["0", "1", "2", "11", "alpha", "beta", "rc", "x-y", "A"];
        (
            0u64..3,
            0u64..3,
            0u64..3,
            proptest::collection::vec(identifier, 0..3),
            proptest::option::of("[0-9A-Za-z-]{1,4}(\\.[0-9A-Za-z-]{1,4})?"),
        )
            .prop_map(|(major, minor, patch, prerelease, build)| {
                let mut text = format!("{major}.{minor}.{patch}");
                if !prerelease.is_empty() {
                    text.push('-');
                    text.push_str(&prerelease.join("."));
                }
                if let Some(build) = build {
                    text.push('+');
                    text.push_str(&build);
                }
                text
            })
    }

    proptest! {
        #[test]
        fn semver_order_is_total(
            first in version_text(),
            second in version_text(),
            third in version_text(),
        ) {
            let first = laws::parse_valid(VersionScheme::Semver, &first);
            let second = laws::parse_valid(VersionScheme::Semver, &second);
            let third = laws::parse_valid(VersionScheme::Semver, &third);
            laws::check_pair(&first, &second);
            laws::check_pair(&second, &third);
            laws::check_triple(&first, &second, &third);
            laws::check_triple(&third, &second, &first);
        }

        #[test]
        fn semver_build_change_is_equal(text in version_text(), build in "[0-9a-z]{1,6}") {
            let without_build = text.split('+').next().unwrap_or(&text);
            let original = laws::parse_valid(VersionScheme::Semver, &text);
            let rebuilt =
                laws::parse_valid(VersionScheme::Semver, &format!("{without_build}+{build}"));
            laws::check_same_version(&original, &rebuilt);
        }
    }
}
