//! Debian package versions, ordered as `dpkg --compare-versions` orders them.
//!
//! The syntax is `[epoch:]upstream_version[-debian_revision]`, as deb-version(7) of dpkg 1.21.22
//! describes it. The epoch ends at the first colon and the revision starts after the last hyphen,
//! so the upstream version may contain colons only when an epoch is present and hyphens only when
//! a revision is present. A missing epoch is 0 and a missing revision compares like `0`, so
//! `0:1.2`, `1.2` and `1.2-0` are one version. deb-version(7) states that a missing revision
//! sorts before a present one, but `dpkg --compare-versions` finds `1.2` equal to `1.2-0` and
//! greater than `1.2-~`, and this module follows dpkg.
//!
//! Upstream version and revision are compared by the same algorithm. Each string is split into
//! alternating runs of non-digits and digits. Non-digit runs compare character by character, where
//! `~` sorts before everything (even the end of the run), then the end of the run, then letters in
//! ASCII order, then all other characters in ASCII order. Digit runs compare as unbounded
//! unsigned integers. The tests check this module against the real `dpkg --compare-versions`.

use std::cmp::Ordering;

/// The maximum epoch dpkg 1.21.22 accepts (`INT_MAX`). It rejects larger ones as "too big".
const MAX_EPOCH: u64 = i32::MAX as u64;

/// A Debian version reduced to what dpkg compares.
///
/// The fields are canonical (see [`Part`]), so the derived `PartialEq` and `Hash` agree with
/// [`Ord`]: two versions are structurally equal exactly when dpkg finds them equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct DebianVersion {
    epoch: u32,
    upstream: Vec<Part>,
    revision: Vec<Part>,
}

/// One step of dpkg's comparison: a run of non-digits and the digit run that follows it.
///
/// Only the first part of a string can have an empty `text`. A missing digit run compares as 0,
/// so `1.0a` and `1.0a0` become the same parts. [`split_parts`] drops a trailing part whose text
/// and number are both empty, so the revision `0` becomes the same empty list as no revision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct Part {
    /// The non-digit run, possibly empty.
    text: String,
    /// The digit run without leading zeros, so zero and a missing run are both empty.
    number: String,
}

impl DebianVersion {
    /// Parses a trimmed, non-empty version string, returning the broken rule on failure.
    ///
    /// dpkg 1.21.22 only warns when the upstream version does not start with a digit or when a
    /// part contains characters outside its allowed set. This parser accepts the first, as dpkg
    /// does, and rejects the second, because such a string is not a valid Debian version.
    pub(super) fn parse(text: &str) -> Result<DebianVersion, String> {
        let (epoch, rest) = match text.split_once(':') {
            Some((epoch, rest)) => (parse_epoch(epoch)?, rest),
            None => (0, text),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((upstream, revision)) => (upstream, Some(revision)),
            None => (rest, None),
        };

        if upstream.is_empty() {
            return Err("upstream version is empty".to_owned());
        }
        if revision == Some("") {
            return Err("revision is empty".to_owned());
        }

        // Colons and hyphens in the upstream version are valid here, because the epoch and
        // revision split above leaves them only where an epoch or a revision is present.
        if let Some(invalid) = upstream.chars().find(|&c| !is_upstream_char(c)) {
            return Err(format!(
                "invalid character {invalid:?} in upstream version {upstream:?}; \
                 allowed are ASCII letters, digits and . + ~ - :"
            ));
        }
        let revision = revision.unwrap_or("");
        if let Some(invalid) = revision.chars().find(|&c| !is_revision_char(c)) {
            return Err(format!(
                "invalid character {invalid:?} in revision {revision:?}; \
                 allowed are ASCII letters, digits and . + ~"
            ));
        }

        Ok(DebianVersion {
            epoch,
            upstream: split_parts(upstream),
            revision: split_parts(revision),
        })
    }
}

impl Ord for DebianVersion {
    fn cmp(&self, other: &DebianVersion) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_parts(&self.upstream, &other.upstream))
            .then_with(|| compare_parts(&self.revision, &other.revision))
    }
}

impl PartialOrd for DebianVersion {
    fn partial_cmp(&self, other: &DebianVersion) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Parses the epoch: ASCII digits, leading zeros allowed, at most [`MAX_EPOCH`].
fn parse_epoch(epoch: &str) -> Result<u32, String> {
    if epoch.is_empty() {
        return Err("epoch is empty; remove the colon or put a number before it".to_owned());
    }
    if !epoch.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!("epoch {epoch:?} is not an unsigned integer"));
    }

    // Strip leading zeros first, so that a long run of zeros does not overflow the parse.
    let significant = epoch.trim_start_matches('0');
    let value = if significant.is_empty() {
        Some(0)
    } else {
        significant.parse::<u64>().ok()
    };
    match value {
        Some(value) if value <= MAX_EPOCH => Ok(value as u32),
        _ => Err(format!(
            "epoch {epoch} is too large; dpkg allows at most {MAX_EPOCH}"
        )),
    }
}

fn is_upstream_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | '-' | ':')
}

fn is_revision_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~')
}

/// Splits an upstream version or revision into canonical [`Part`]s.
fn split_parts(text: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let text_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (non_digits, after_text) = rest.split_at(text_end);
        let number_end = after_text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after_text.len());
        let (digits, after_number) = after_text.split_at(number_end);

        parts.push(Part {
            text: non_digits.to_owned(),
            number: digits.trim_start_matches('0').to_owned(),
        });
        rest = after_number;
    }

    // A trailing part equal to the padding that compare_parts uses would make spellings that
    // dpkg finds equal, such as the revision `0` and a missing revision, differ structurally.
    while parts.last() == Some(&Part::default()) {
        parts.pop();
    }
    parts
}

/// Compares two part lists as dpkg compares the strings they came from.
///
/// The shorter list is padded with empty parts, which matches dpkg's comparison after it reaches
/// the end of one string.
fn compare_parts(left: &[Part], right: &[Part]) -> Ordering {
    let padding = Part::default();
    let length = left.len().max(right.len());
    for index in 0..length {
        let left_part = left.get(index).unwrap_or(&padding);
        let right_part = right.get(index).unwrap_or(&padding);
        let ordering = compare_non_digits(&left_part.text, &right_part.text)
            .then_with(|| compare_numbers(&left_part.number, &right_part.number));
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// Compares two non-digit runs character by character, treating the end of a run as a character
/// that sorts after `~` and before everything else.
fn compare_non_digits(left: &str, right: &str) -> Ordering {
    let (left, right) = (left.as_bytes(), right.as_bytes());
    let length = left.len().max(right.len());
    for index in 0..length {
        let ordering = sort_weight(left.get(index)).cmp(&sort_weight(right.get(index)));
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// Returns dpkg's weight of a character in a non-digit run, `None` being the end of the run.
fn sort_weight(byte: Option<&u8>) -> i32 {
    match byte {
        None => 0,
        Some(b'~') => -1,
        Some(&letter) if letter.is_ascii_alphabetic() => i32::from(letter),
        Some(&other) => i32::from(other) + 256,
    }
}

/// Compares two digit runs without leading zeros as unsigned integers of any length.
fn compare_numbers(left: &str, right: &str) -> Ordering {
    left.len().cmp(&right.len()).then_with(|| left.cmp(right))
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;
    use std::io::ErrorKind;
    use std::process::Command;
    use std::time::Instant;

    use proptest::prelude::*;

    use super::super::laws;
    use super::super::{Version, VersionScheme, compare};

    fn debian(left: &str, right: &str) -> Ordering {
        match compare(VersionScheme::Debian, left, right) {
            Ok(ordering) => ordering,
            Err(error) => panic!("{error}"),
        }
    }

    fn reason(text: &str) -> String {
        match Version::parse(VersionScheme::Debian, text) {
            Ok(version) => panic!("{text:?} should be invalid, parsed as {version:?}"),
            Err(super::super::VersionError::Invalid { reason, .. }) => reason,
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn missing_epoch_is_zero() {
        assert_eq!(debian("0:1.2-3", "1.2-3"), Ordering::Equal);
        assert_eq!(debian("00:1.2-3", "1.2-3"), Ordering::Equal);
        assert_eq!(debian("01:1.2", "1:1.2"), Ordering::Equal);
    }

    #[test]
    fn epoch_beats_upstream() {
        assert_eq!(debian("1:0.1", "9.9"), Ordering::Greater);
        assert_eq!(debian("2:0", "10:0"), Ordering::Less);
        assert_eq!(debian("2147483647:0", "2147483646:9"), Ordering::Greater);
    }

    #[test]
    fn missing_revision_equals_zero() {
        assert_eq!(debian("1.0", "1.0-0"), Ordering::Equal);
        assert_eq!(debian("1.0", "1.0-00"), Ordering::Equal);
        assert_eq!(debian("1.0", "1.0-1"), Ordering::Less);
        assert_eq!(debian("1.0", "1.0-~"), Ordering::Greater);
    }

    #[test]
    fn digit_runs_compare_numerically() {
        assert_eq!(debian("1.0", "1.00"), Ordering::Equal);
        assert_eq!(debian("1.9", "1.10"), Ordering::Less);
        assert_eq!(debian("1.010", "1.9"), Ordering::Greater);
        assert_eq!(debian("1", "1.0"), Ordering::Less);
        assert_eq!(debian("1a", "1a0"), Ordering::Equal);
    }

    #[test]
    fn long_digit_runs_do_not_overflow() {
        let big = "123456789012345678901234567890";
        let bigger = "123456789012345678901234567891";
        assert_eq!(debian(big, bigger), Ordering::Less);
        assert_eq!(
            debian(&format!("1.{big}"), &format!("1.000{big}")),
            Ordering::Equal
        );
        assert_eq!(
            debian(&format!("1.{big}"), "1.99999999999999999999"),
            Ordering::Greater
        );
    }

    #[test]
    fn tilde_sorts_before_everything() {
        assert_eq!(debian("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(debian("1.0~rc1", "1.0~rc2"), Ordering::Less);
        assert_eq!(debian("1.0~~", "1.0~"), Ordering::Less);
        assert_eq!(debian("1.0~~a", "1.0~~"), Ordering::Greater);
        assert_eq!(debian("1.0~", "1.0"), Ordering::Less);
        assert_eq!(debian("1.0-1~bpo1", "1.0-1"), Ordering::Less);
    }

    #[test]
    fn letters_sort_before_other_characters() {
        assert_eq!(debian("1.0a", "1.0+"), Ordering::Less);
        assert_eq!(debian("1.0a", "1.0."), Ordering::Less);
        assert_eq!(debian("1.0Z", "1.0a"), Ordering::Less);
        assert_eq!(debian("1.0", "1.0a"), Ordering::Less);
        assert_eq!(debian("1.0+b1", "1.0.1"), Ordering::Less);
        assert_eq!(debian("1.0+dfsg", "1.0"), Ordering::Greater);
    }

    #[test]
    fn revision_starts_after_last_hyphen() {
        assert_eq!(debian("1.0-1-2", "1.0-1-10"), Ordering::Less);
        assert_eq!(debian("1.0-1-2", "1.0-1"), Ordering::Greater);
        assert_eq!(debian("1:2:3", "1:2"), Ordering::Greater);
    }

    #[test]
    fn upstream_may_start_with_letter() {
        assert_eq!(debian("abc", "abd"), Ordering::Less);
        assert_eq!(debian("a", "1"), Ordering::Greater);
    }

    #[test]
    fn malformed_versions_are_rejected() {
        assert_eq!(reason("1:"), "upstream version is empty");
        assert_eq!(reason("-1"), "upstream version is empty");
        assert_eq!(reason("1:-1"), "upstream version is empty");
        assert_eq!(reason("1.0-"), "revision is empty");

        assert_eq!(
            reason(":1.0"),
            "epoch is empty; remove the colon or put a number before it"
        );
        assert_eq!(reason("a:1.0"), "epoch \"a\" is not an unsigned integer");
        assert_eq!(reason("+1:1.0"), "epoch \"+1\" is not an unsigned integer");
        assert_eq!(reason("1-a:b"), "epoch \"1-a\" is not an unsigned integer");
        assert_eq!(
            reason("2147483648:1.0"),
            "epoch 2147483648 is too large; dpkg allows at most 2147483647"
        );
        assert_eq!(
            reason("99999999999999999999999:1.0"),
            "epoch 99999999999999999999999 is too large; dpkg allows at most 2147483647"
        );

        assert_eq!(
            reason("1 .0"),
            "invalid character ' ' in upstream version \"1 .0\"; \
             allowed are ASCII letters, digits and . + ~ - :"
        );
        assert_eq!(
            reason("1_0"),
            "invalid character '_' in upstream version \"1_0\"; \
             allowed are ASCII letters, digits and . + ~ - :"
        );
        assert_eq!(
            reason("1.0-a_b"),
            "invalid character '_' in revision \"a_b\"; allowed are ASCII letters, digits and . + ~"
        );
        assert_eq!(
            reason("1.0é"),
            "invalid character 'é' in upstream version \"1.0é\"; \
             allowed are ASCII letters, digits and . + ~ - :"
        );
    }

    #[test]
    fn long_zero_epoch_is_zero() {
        assert_eq!(debian("0000000000000000000000:1", "1"), Ordering::Equal);
    }

    /// Builds valid Debian versions with epochs, revisions, tildes, leading zeros, and colons
    /// and hyphens inside the upstream version.
    fn version_text() -> impl Strategy<Value = String> {
        (
            proptest::option::of("[0-9]{1,3}"),
            "[0-9][0-9a-cA-C.+~]{0,7}",
            proptest::option::of("[0-9a-cA-C.+~]{1,5}"),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(epoch, upstream, revision, colon, hyphen)| {
                let mut text = String::new();
                if let Some(epoch) = &epoch {
                    text.push_str(epoch);
                    text.push(':');
                }
                text.push_str(&upstream);
                if colon && epoch.is_some() {
                    text.push_str(":1");
                }
                if let Some(revision) = &revision {
                    if hyphen {
                        text.push_str("-2");
                    }
                    text.push('-');
                    text.push_str(revision);
                }
                text
            })
    }

    /// Spells the same version differently: a zero before every digit run, an explicit `0:`
    /// epoch when there is none, and a `-0` revision when there is none.
    fn respell(text: &str) -> String {
        let mut respelled = String::new();
        let mut previous_is_digit = false;
        for c in text.chars() {
            let is_digit = c.is_ascii_digit();
            if is_digit && !previous_is_digit {
                respelled.push('0');
            }
            respelled.push(c);
            previous_is_digit = is_digit;
        }
        if !text.contains(':') {
            respelled.insert_str(0, "0:");
        }
        if !text.contains('-') {
            respelled.push_str("-0");
        }
        respelled
    }

    proptest! {
        #[test]
        fn debian_order_is_total(
            first in version_text(),
            second in version_text(),
            third in version_text(),
        ) {
            let first = laws::parse_valid(VersionScheme::Debian, &first);
            let second = laws::parse_valid(VersionScheme::Debian, &second);
            let third = laws::parse_valid(VersionScheme::Debian, &third);
            laws::check_pair(&first, &second);
            laws::check_pair(&second, &third);
            laws::check_triple(&first, &second, &third);
            laws::check_triple(&third, &second, &first);
        }

        #[test]
        fn debian_respelling_is_equal(text in version_text()) {
            let original = laws::parse_valid(VersionScheme::Debian, &text);
            let respelled = laws::parse_valid(VersionScheme::Debian, &respell(&text));
            laws::check_same_version(&original, &respelled);
        }
    }

    /// A xorshift64 generator, so that the pairs checked against dpkg are the same on every run.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, bound: usize) -> usize {
            (self.next() % bound as u64) as usize
        }

        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    const DIGIT_RUNS: &[&str] = &[
        "0",
        "1",
        "2",
        "9",
        "10",
        "01",
        "007",
        "123",
        "20240131",
        "123456789012345678901234567890",
    ];
    const WORDS: &[&str] = &[
        "a", "b", "z", "A", "Z", "rc", "alpha", "beta", "git", "dfsg", "ubuntu", "deb", "build",
    ];
    const SEPARATORS: &[&str] = &[".", "+", "~", "~~", ".", "."];
    const EPOCHS: &[&str] = &["0", "1", "2", "10", "01", "00", "2147483647"];

    /// Builds an upstream version or revision from 1 to 6 pieces.
    fn random_component(rng: &mut XorShift, digit_first: bool) -> String {
        let mut component = String::new();
        let pieces = 1 + rng.below(6);
        for index in 0..pieces {
            let piece = if index == 0 && digit_first {
                rng.pick(DIGIT_RUNS)
            } else {
                match rng.below(3) {
                    0 => rng.pick(DIGIT_RUNS),
                    1 => rng.pick(WORDS),
                    _ => rng.pick(SEPARATORS),
                }
            };
            component.push_str(piece);
        }
        component
    }

    fn random_version(rng: &mut XorShift) -> String {
        let mut text = String::new();
        let has_epoch = rng.chance(30);
        if has_epoch {
            text.push_str(rng.pick(EPOCHS));
            text.push(':');
        }

        let digit_first = rng.chance(95);
        text.push_str(&random_component(rng, digit_first));
        if has_epoch && rng.chance(10) {
            text.push(':');
            text.push_str(&random_component(rng, false));
        }

        if rng.chance(50) {
            if rng.chance(10) {
                text.push('-');
                text.push_str(&random_component(rng, true));
            }
            let digit_first = rng.chance(70);
            text.push('-');
            text.push_str(&random_component(rng, digit_first));
        }
        text
    }

    /// Changes a version slightly, so that the pair differs late in the string or not at all.
    /// The result may be invalid, and the caller skips such pairs.
    fn mutate(rng: &mut XorShift, text: &str) -> String {
        // Generated versions are ASCII, so every byte index is a character boundary.
        let mut mutated = text.to_owned();
        let position = rng.below(mutated.len() + 1);
        let at_digit = mutated
            .as_bytes()
            .get(position)
            .is_some_and(u8::is_ascii_digit);
        match rng.below(7) {
            0 => {
                mutated.push_str(rng.pick(&["~", "~rc1", ".0", "0", "+b1", "a", "-0", "-1", ".1"]))
            }
            1 => mutated.insert_str(position, rng.pick(&["0", "~", ".", "+", "a", "Z", "9"])),
            2 if position < mutated.len() => {
                mutated.remove(position);
            }
            3 if at_digit => {
                let digit = rng.pick(&["0", "1", "2", "5", "9"]);
                mutated.replace_range(position..=position, digit);
            }
            4 if !text.contains(':') => mutated.insert_str(0, "0:"),
            5 if !text.contains('-') => mutated.push_str("-0"),
            _ => mutated.insert(position, '0'),
        }
        mutated
    }

    /// Generates pairs of valid versions: a quarter unrelated, the rest near each other.
    fn generate_pairs(count: usize) -> Vec<(String, String)> {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut pairs = Vec::with_capacity(count);
        while pairs.len() < count {
            let left = random_version(&mut rng);
            let mut right = if rng.chance(25) {
                random_version(&mut rng)
            } else {
                left.clone()
            };
            for _ in 0..1 + rng.below(3) {
                right = mutate(&mut rng, &right);
            }
            let both_valid = Version::parse(VersionScheme::Debian, &left).is_ok()
                && Version::parse(VersionScheme::Debian, &right).is_ok();
            if both_valid {
                pairs.push((left, right));
            }
        }
        pairs
    }

    /// Runs `dpkg --compare-versions left operator right` and returns whether the relation holds.
    fn dpkg_holds(left: &str, operator: &str, right: &str) -> bool {
        let output = match Command::new("dpkg")
            .args(["--compare-versions", left, operator, right])
            .output()
        {
            Ok(output) => output,
            Err(error) if error.kind() == ErrorKind::NotFound => panic!(
                "dpkg is required to check the Debian ordering but was not found on PATH; \
                 install the dpkg package: {error}"
            ),
            Err(error) => panic!("failed to run dpkg --compare-versions: {error}"),
        };
        match output.status.code() {
            Some(0) => true,
            Some(1) => false,
            _ => panic!(
                "dpkg --compare-versions {left:?} {operator} {right:?} failed with {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        }
    }

    /// Returns dpkg's ordering of a pair, running up to two dpkg processes.
    fn dpkg_ordering(left: &str, right: &str) -> Ordering {
        if dpkg_holds(left, "eq", right) {
            Ordering::Equal
        } else if dpkg_holds(left, "lt", right) {
            Ordering::Less
        } else {
            Ordering::Greater
        }
    }

    /// Checks one pair with a single dpkg process. The operator that matches this module's
    /// result is true exactly when dpkg agrees, because dpkg's ordering is total.
    fn agrees_with_dpkg(left: &str, right: &str) -> Result<(), String> {
        let expected = debian(left, right);
        let operator = match expected {
            Ordering::Less => "lt",
            Ordering::Equal => "eq",
            Ordering::Greater => "gt",
        };
        if dpkg_holds(left, operator, right) {
            return Ok(());
        }
        let actual = dpkg_ordering(left, right);
        Err(format!(
            "{left:?} vs {right:?}: this module returned {expected:?}, dpkg {actual:?}"
        ))
    }

    #[test]
    fn ordering_matches_dpkg() {
        const PAIRS: usize = 3000;
        let pairs = generate_pairs(PAIRS);
        let started = Instant::now();

        // The dpkg processes take nearly all of the time, so each available core checks a share.
        let workers = std::thread::available_parallelism().map_or(1, usize::from);
        let chunk_size = PAIRS.div_ceil(workers);
        let mismatches: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = pairs
                .chunks(chunk_size)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .filter_map(|(left, right)| agrees_with_dpkg(left, right).err())
                            .collect::<Vec<String>>()
                    })
                })
                .collect();
            let mut mismatches = Vec::new();
            for handle in handles {
                match handle.join() {
                    Ok(chunk_mismatches) => mismatches.extend(chunk_mismatches),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            mismatches
        });

        eprintln!(
            "checked {PAIRS} pairs against dpkg in {:?}",
            started.elapsed()
        );

        // Each outcome must be common, or the check would test that outcome on few pairs.
        let orderings: Vec<Ordering> = pairs
            .iter()
            .map(|(left, right)| debian(left, right))
            .collect();
        for ordering in [Ordering::Less, Ordering::Equal, Ordering::Greater] {
            let count = orderings.iter().filter(|&&other| other == ordering).count();
            eprintln!("{count} pairs compare {ordering:?}");
            assert!(
                count >= PAIRS / 20,
                "only {count} generated pairs compare {ordering:?}"
            );
        }
        assert!(
            mismatches.is_empty(),
            "{} of {PAIRS} pairs disagree with dpkg, first ones:\n{}",
            mismatches.len(),
            mismatches[..mismatches.len().min(20)].join("\n")
        );
    }
}
