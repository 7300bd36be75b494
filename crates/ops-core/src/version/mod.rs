//! Version strings and the rules each platform orders them by.
//!
//! Drift detection decides whether a device runs the approved version, an older one or a newer
//! one. Each platform orders versions by its own rules, so a [`Version`] is always parsed under a
//! [`VersionScheme`], and two versions of the same scheme compare by that scheme's rules:
//!
//! | scheme | syntax | ordering |
//! | --- | --- | --- |
//! | [`Debian`](VersionScheme::Debian) | `[epoch:]upstream[-revision]` | as dpkg compares them |
//! | [`Rpm`](VersionScheme::Rpm) | `[epoch:]version[-release]` | as rpm compares them |
//! | [`Dotted`](VersionScheme::Dotted) | `10.0.19045.3803` | numeric, component by component |
//! | [`Semver`](VersionScheme::Semver) | `1.2.3-rc.1+build.5` | SemVer 2.0.0 precedence |
//! | [`MacBundle`](VersionScheme::MacBundle) | `14.2.1` | numeric, component by component |
//!
//! Equality follows the scheme, not the spelling: `1.2` and `1.2.0.0` are the same dotted
//! version, `0:1.0` and `1.0-0` the same Debian version, and `1.2.3+a` and `1.2.3+b` the same
//! semantic version. [`Version`]'s `Eq`, `Ord` and `Hash` all use that equality, so a version can
//! key a `HashMap` or a `BTreeMap` and different spellings of one version land on the same key.

mod debian;
mod dotted;
mod rpm;
mod semantic;

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use self::debian::DebianVersion;
use self::dotted::DottedVersion;
use self::rpm::RpmVersion;
use self::semantic::SemanticVersion;

/// The rules a platform uses to order its version strings.
///
/// The declaration order is the order of [`VersionScheme::ALL`] and of `Ord`, which sorts
/// versions of different schemes (see [`Version`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionScheme {
    /// Debian package versions, `[epoch:]upstream[-revision]`, ordered as dpkg orders them.
    Debian,
    /// RPM package versions, `[epoch:]version[-release]`, ordered as rpm orders them.
    Rpm,
    /// Dot-separated unsigned integers, as in Windows file versions and MSI product versions.
    Dotted,
    /// Semantic Versioning 2.0.0 versions.
    Semver,
    /// macOS bundle versions (`CFBundleShortVersionString` or `CFBundleVersion`).
    MacBundle,
}

impl VersionScheme {
    /// All schemes, in declaration order.
    pub const ALL: [VersionScheme; 5] = [
        VersionScheme::Debian,
        VersionScheme::Rpm,
        VersionScheme::Dotted,
        VersionScheme::Semver,
        VersionScheme::MacBundle,
    ];

    /// Returns the lowercase name used in configuration files and serialized records.
    pub fn name(self) -> &'static str {
        match self {
            VersionScheme::Debian => "debian",
            VersionScheme::Rpm => "rpm",
            VersionScheme::Dotted => "dotted",
            VersionScheme::Semver => "semver",
            VersionScheme::MacBundle => "macbundle",
        }
    }

    /// Returns the syntax the scheme accepts, with an example, as error messages show it.
    pub fn syntax(self) -> &'static str {
        match self {
            VersionScheme::Debian => "[epoch:]upstream[-revision], as in 1:2.3-4",
            VersionScheme::Rpm => "[epoch:]version[-release], as in 1:2.3-4.el9",
            VersionScheme::Dotted => "dot-separated unsigned integers, as in 10.0.19045.3803",
            VersionScheme::Semver => "MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], as in 1.2.3-rc.1",
            VersionScheme::MacBundle => "dot-separated unsigned integers, as in 14.2.1",
        }
    }
}

impl fmt::Display for VersionScheme {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for VersionScheme {
    type Err = VersionError;

    /// Parses a scheme name, ignoring ASCII case and surrounding whitespace.
    fn from_str(text: &str) -> Result<VersionScheme, VersionError> {
        let trimmed = text.trim();
        VersionScheme::ALL
            .into_iter()
            .find(|scheme| scheme.name().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| VersionError::UnknownScheme {
                name: text.to_owned(),
            })
    }
}

/// The error returned when a version string or a scheme name cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The text does not follow the syntax of its scheme.
    #[error("invalid {scheme} version {text:?}: {reason}; expected {}", scheme.syntax())]
    Invalid {
        /// The scheme the text was parsed under.
        scheme: VersionScheme,
        /// The text as given, before trimming.
        text: String,
        /// The rule the text breaks, naming the offending part.
        reason: String,
    },
    /// The name is not the name of any [`VersionScheme`].
    #[error("unknown version scheme {name:?}; expected one of {}", scheme_names())]
    UnknownScheme {
        /// The name as given.
        name: String,
    },
}

/// Lists the scheme names for error messages, as in `debian, rpm, dotted`.
fn scheme_names() -> String {
    VersionScheme::ALL.map(VersionScheme::name).join(", ")
}

/// A version parsed under one scheme.
///
/// `Eq`, `Ord` and `Hash` follow the scheme's equality: two spellings that the scheme treats as
/// equal, such as the dotted `1.2` and `1.2.0`, are equal and hash equally. [`Version::as_str`]
/// still returns each one's own spelling.
///
/// Versions of different schemes are never equal. `Ord` sorts them by scheme first, in the order
/// of [`VersionScheme::ALL`], so that `Ord` stays a total order and a mixed collection still
/// sorts. That order across schemes carries no meaning: compare only versions of one scheme.
#[derive(Debug, Clone)]
pub struct Version {
    text: String,
    parsed: Parsed,
}

/// A version reduced to the parts its scheme compares.
///
/// Every variant's derived `PartialEq` and `Hash` see only what the scheme compares, so two
/// values are structurally equal exactly when the scheme's comparison returns `Equal`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Parsed {
    Debian(DebianVersion),
    Rpm(RpmVersion),
    Dotted(DottedVersion),
    Semver(SemanticVersion),
    MacBundle(DottedVersion),
}

impl Parsed {
    fn scheme(&self) -> VersionScheme {
        match self {
            Parsed::Debian(_) => VersionScheme::Debian,
            Parsed::Rpm(_) => VersionScheme::Rpm,
            Parsed::Dotted(_) => VersionScheme::Dotted,
            Parsed::Semver(_) => VersionScheme::Semver,
            Parsed::MacBundle(_) => VersionScheme::MacBundle,
        }
    }
}

impl Ord for Parsed {
    fn cmp(&self, other: &Parsed) -> Ordering {
        match (self, other) {
            (Parsed::Debian(left), Parsed::Debian(right)) => left.cmp(right),
            (Parsed::Rpm(left), Parsed::Rpm(right)) => left.cmp(right),
            (Parsed::Dotted(left), Parsed::Dotted(right)) => left.cmp(right),
            (Parsed::Semver(left), Parsed::Semver(right)) => left.cmp(right),
            (Parsed::MacBundle(left), Parsed::MacBundle(right)) => left.cmp(right),
            _ => self.scheme().cmp(&other.scheme()),
        }
    }
}

impl PartialOrd for Parsed {
    fn partial_cmp(&self, other: &Parsed) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Version {
    /// Parses `text` under `scheme`, ignoring surrounding whitespace.
    ///
    /// Returns [`VersionError::Invalid`] when the trimmed text does not follow the scheme's
    /// syntax. The error names the offending part of the text.
    pub fn parse(scheme: VersionScheme, text: &str) -> Result<Version, VersionError> {
        let trimmed = text.trim();
        let parsed = if trimmed.is_empty() {
            Err("the version string is empty".to_owned())
        } else {
            match scheme {
                VersionScheme::Debian => DebianVersion::parse(trimmed).map(Parsed::Debian),
                VersionScheme::Rpm => RpmVersion::parse(trimmed).map(Parsed::Rpm),
                VersionScheme::Dotted => DottedVersion::parse(trimmed).map(Parsed::Dotted),
                VersionScheme::Semver => SemanticVersion::parse(trimmed).map(Parsed::Semver),
                VersionScheme::MacBundle => DottedVersion::parse(trimmed).map(Parsed::MacBundle),
            }
        };

        match parsed {
            Ok(parsed) => Ok(Version {
                text: trimmed.to_owned(),
                parsed,
            }),
            Err(reason) => Err(VersionError::Invalid {
                scheme,
                text: text.to_owned(),
                reason,
            }),
        }
    }

    /// Returns the scheme the version was parsed under.
    pub fn scheme(&self) -> VersionScheme {
        self.parsed.scheme()
    }

    /// Returns the text the version was parsed from, without surrounding whitespace.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Version {
    /// Writes the text the version was parsed from, trimmed.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.parsed == other.parsed
    }
}

impl Eq for Version {}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parsed.hash(state);
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.parsed.cmp(&other.parsed)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Parses `left` and `right` under `scheme` and compares them.
///
/// Returns the error of the first text that fails to parse, `left` first.
pub fn compare(scheme: VersionScheme, left: &str, right: &str) -> Result<Ordering, VersionError> {
    let left = Version::parse(scheme, left)?;
    let right = Version::parse(scheme, right)?;
    Ok(left.cmp(&right))
}

/// Property checks that every scheme's `Eq`, `Ord` and `Hash` must pass, shared by the schemes'
/// test modules.
#[cfg(test)]
mod laws {
    use std::cmp::Ordering;
    use std::hash::{DefaultHasher, Hash, Hasher};

    use super::{Version, VersionScheme};

    /// Parses a text that a test strategy generated and so must be valid.
    pub(super) fn parse_valid(scheme: VersionScheme, text: &str) -> Version {
        match Version::parse(scheme, text) {
            Ok(version) => version,
            Err(error) => panic!("generated text must be valid: {error}"),
        }
    }

    /// Hashes with `DefaultHasher::new()`, whose keys are fixed, so equal inputs hash equally.
    pub(super) fn hash_of(version: &Version) -> u64 {
        let mut hasher = DefaultHasher::new();
        version.hash(&mut hasher);
        hasher.finish()
    }

    /// Checks reflexivity, antisymmetry and agreement of `==`, `cmp` and the hash on one pair.
    pub(super) fn check_pair(left: &Version, right: &Version) {
        assert_eq!(left.cmp(left), Ordering::Equal, "reflexivity of {left:?}");
        let copy = left.clone();
        assert_eq!(left, &copy, "reflexivity of == on {left:?}");
        assert_eq!(hash_of(left), hash_of(&copy), "hash of a copy of {left:?}");

        let forward = left.cmp(right);
        let backward = right.cmp(left);
        assert_eq!(
            forward,
            backward.reverse(),
            "antisymmetry of {left:?} and {right:?}"
        );

        assert_eq!(
            left == right,
            forward == Ordering::Equal,
            "== disagrees with cmp on {left:?} and {right:?}"
        );
        if left == right {
            assert_eq!(
                hash_of(left),
                hash_of(right),
                "equal versions {left:?} and {right:?}"
            );
        }
    }

    /// Checks transitivity of `<=` and of `==` on one triple.
    pub(super) fn check_triple(first: &Version, second: &Version, third: &Version) {
        if first <= second && second <= third {
            assert!(
                first <= third,
                "{first:?} <= {second:?} <= {third:?} but not first <= third"
            );
        }
        if first == second && second == third {
            assert_eq!(
                first, third,
                "{first:?} == {second:?} == {third:?} but not first == third"
            );
        }
    }

    /// Checks that two spellings of one version are equal and hash equally.
    pub(super) fn check_same_version(left: &Version, right: &Version) {
        assert_eq!(left, right, "respelled version should be equal");
        assert_eq!(
            left.cmp(right),
            Ordering::Equal,
            "respelled version should compare equal"
        );
        assert_eq!(
            hash_of(left),
            hash_of(right),
            "respelled {left:?} and {right:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;
    use std::collections::{BTreeSet, HashSet};

    use super::*;

    #[test]
    fn scheme_names_round_trip() {
        for scheme in VersionScheme::ALL {
            assert_eq!(scheme.name().parse::<VersionScheme>(), Ok(scheme));
            assert_eq!(scheme.to_string(), scheme.name());
        }
    }

    #[test]
    fn scheme_parse_ignores_case_and_whitespace() {
        assert_eq!("Debian".parse::<VersionScheme>(), Ok(VersionScheme::Debian));
        assert_eq!(" RPM ".parse::<VersionScheme>(), Ok(VersionScheme::Rpm));
        assert_eq!(
            "MacBundle".parse::<VersionScheme>(),
            Ok(VersionScheme::MacBundle)
        );
    }

    #[test]
    fn scheme_parse_error_lists_names() {
        let error = "msi".parse::<VersionScheme>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown version scheme \"msi\"; expected one of debian, rpm, dotted, semver, macbundle"
        );
    }

    #[test]
    fn scheme_serde_uses_lowercase_names() {
        for scheme in VersionScheme::ALL {
            let json = serde_json::to_string(&scheme).unwrap();
            assert_eq!(json, format!("\"{}\"", scheme.name()));
            assert_eq!(
                serde_json::from_str::<VersionScheme>(&json).unwrap(),
                scheme
            );
        }
    }

    #[test]
    fn parse_trims_and_keeps_spelling() {
        let version = Version::parse(VersionScheme::Dotted, "  1.02.0\n").unwrap();
        assert_eq!(version.as_str(), "1.02.0");
        assert_eq!(version.to_string(), "1.02.0");
        assert_eq!(version.scheme(), VersionScheme::Dotted);
    }

    #[test]
    fn empty_text_is_rejected_by_every_scheme() {
        for scheme in VersionScheme::ALL {
            let error = Version::parse(scheme, " \t").unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "invalid {scheme} version \" \\t\": the version string is empty; expected {}",
                    scheme.syntax()
                )
            );
        }
    }

    #[test]
    fn error_names_scheme_text_and_syntax() {
        let error = Version::parse(VersionScheme::Debian, "1:").unwrap_err();
        assert_eq!(
            error,
            VersionError::Invalid {
                scheme: VersionScheme::Debian,
                text: "1:".to_owned(),
                reason: "upstream version is empty".to_owned(),
            }
        );
        assert_eq!(
            error.to_string(),
            "invalid debian version \"1:\": upstream version is empty; \
             expected [epoch:]upstream[-revision], as in 1:2.3-4"
        );
    }

    #[test]
    fn compare_parses_both_sides() {
        assert_eq!(
            compare(VersionScheme::Dotted, "1.10", "1.9"),
            Ok(Ordering::Greater)
        );
        assert_eq!(
            compare(VersionScheme::Debian, "0:1.2-3", "1.2-3"),
            Ok(Ordering::Equal)
        );
        assert_eq!(
            compare(VersionScheme::Rpm, "1.0~rc1", "1.0"),
            Ok(Ordering::Less)
        );

        let left_error = compare(VersionScheme::Dotted, "1.x", "1..2").unwrap_err();
        assert!(left_error.to_string().contains("\"1.x\""), "{left_error}");
        let right_error = compare(VersionScheme::Dotted, "1.2", "1..2").unwrap_err();
        assert!(
            right_error.to_string().contains("\"1..2\""),
            "{right_error}"
        );
    }

    #[test]
    fn different_schemes_are_never_equal() {
        let dotted = Version::parse(VersionScheme::Dotted, "1.2").unwrap();
        let bundle = Version::parse(VersionScheme::MacBundle, "1.2").unwrap();
        assert_ne!(dotted, bundle);
        assert_eq!(dotted.cmp(&bundle), Ordering::Less);
        assert_eq!(bundle.cmp(&dotted), Ordering::Greater);
    }

    #[test]
    fn mixed_schemes_sort_by_scheme_first() {
        let mut versions = [
            Version::parse(VersionScheme::MacBundle, "1").unwrap(),
            Version::parse(VersionScheme::Semver, "0.0.1").unwrap(),
            Version::parse(VersionScheme::Debian, "9.9").unwrap(),
            Version::parse(VersionScheme::Dotted, "0.1").unwrap(),
            Version::parse(VersionScheme::Rpm, "2").unwrap(),
        ];
        versions.sort();
        let schemes: Vec<VersionScheme> = versions.iter().map(Version::scheme).collect();
        assert_eq!(schemes, VersionScheme::ALL);
    }

    #[test]
    fn equal_spellings_share_set_entries() {
        let spellings = [
            (VersionScheme::Dotted, "1.2"),
            (VersionScheme::Dotted, "1.2.0.0"),
            (VersionScheme::Dotted, "01.002"),
            (VersionScheme::Debian, "1.0"),
            (VersionScheme::Debian, "0:1.0-0"),
            (VersionScheme::Debian, "1.00"),
            (VersionScheme::Semver, "1.2.3+a"),
            (VersionScheme::Semver, "1.2.3+b"),
        ];
        let versions: Vec<Version> = spellings
            .iter()
            .map(|(scheme, text)| Version::parse(*scheme, text).unwrap())
            .collect();

        let hashed: HashSet<&Version> = versions.iter().collect();
        assert_eq!(hashed.len(), 3, "{hashed:?}");
        let sorted: BTreeSet<&Version> = versions.iter().collect();
        assert_eq!(sorted.len(), 3, "{sorted:?}");
    }
}
