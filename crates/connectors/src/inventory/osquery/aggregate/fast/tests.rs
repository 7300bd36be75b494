//! The fast path against `serde_json`, on fixed lines and generated ones.

use proptest::prelude::{BoxedStrategy, Just, Strategy, prop, prop_oneof};
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use super::super::LogLine;
use super::*;

/// Lines the fast path must read exactly as `serde_json` does.
const AGREEING: [&str; 6] = [
    r#"{"name":"pack_inventory_deb_packages","hostIdentifier":"h1","calendarTime":"Fri Dec  4 21:00:00 2026 UTC","unixTime":1796418000,"epoch":0,"counter":1,"numerics":false,"decorations":{"host_uuid":"u-1","hostname":"h1"},"columns":{"name":"curl","version":"7.88.1-10","arch":"amd64","revision":"10"},"action":"added"}"#,
    r#"{"name":"q","hostIdentifier":"h2","columns":{"name":"Slack","bundle_short_version":"4.36","bundle_identifier":"com.tinyspeck.slackmacgap"},"action":"removed"}"#,
    r#" { "hostIdentifier" : "h3" , "columns" : { } , "action" : "added" } "#,
    r#"{"hostname":"old-host","columns":{"name":"rpm-x","version":"1.0","release":"3.el9","epoch":"2"},"action":"added","decorations":{}}"#,
    r#"{"hostIdentifier":"h4","numerics":true ,"a":null,"b":false,"c":0,"d":2E+10,"columns":{"name":"x","version":"1"}}"#,
    r#"{"name":"programs","hostIdentifier":"w1","epoch":-1.5e3,"numerics":true,"columns":{"name":"7-Zip 23.01 (x64)","version":"23.01","install_location":"C:/Program Files/7-Zip"},"action":"added"}"#,
];

/// Lines the fast path must leave to `serde_json`.
const DECLINED: [&str; 12] = [
    r#"{"hostIdentifier":"h1","columns":{"name":"caf\u00e9","version":"1"},"action":"added"}"#,
    r#"{"hostIdentifier":"h1","snapshot":[{"name":"a","version":"1"}],"action":"snapshot"}"#,
    r#"{"hostIdentifier":"h1","columns":{"name":"a","version":1},"action":"added"}"#,
    r#"{"hostIdentifier":"h1","columns":{"name":"a","name":"b"},"action":"added"}"#,
    r#"{"hostIdentifier":"h1","hostIdentifier":"h2","columns":{},"action":"added"}"#,
    r#"{"hostIdentifier":"h1","decorations":{"nested":{"x":"y"}},"columns":{},"action":"added"}"#,
    r#"{"hostIdentifier":"h1","counter":12x,"columns":{},"action":"added"}"#,
    r#"{"hostIdentifier":"h1","counter":01,"columns":{},"action":"added"}"#,
    r#"{"hostIdentifier":"h1","numerics":nul,"columns":{},"action":"added"}"#,
    r#"{"hostIdentifier":"h1","numerics":truex,"columns":{},"action":"added"}"#,
    r#"{"hostIdentifier":"h1","columns":{},"action":"added"} trailing"#,
    "{\"hostIdentifier\":\"h\t1\",\"columns\":{},\"action\":\"added\"}",
];

#[test]
fn fast_path_agrees_with_serde() {
    for line in AGREEING {
        let mut fast = LogLine::default();
        parse(line, &mut fast).unwrap_or_else(|| panic!("fast path declined {line}"));
        let general: LogLine<'_> = serde_json::from_str(line).unwrap();
        assert_eq!(format!("{fast:?}"), format!("{general:?}"), "{line}");
    }
}

/// The first `"` or control character, byte by byte, as `closing_quote` must find it.
fn closing_quote_bytewise(bytes: &[u8]) -> Option<usize> {
    let found = bytes.iter().position(|&byte| byte == b'"' || byte < 0x20)?;
    (bytes[found] == b'"').then_some(found)
}

proptest::proptest! {
    #[test]
    fn closing_quote_matches_bytewise_scan(
        bytes in proptest::collection::vec(
            proptest::prop_oneof![
                Just(b'"'),
                0u8..0x20,
                0x20u8..0x80,
                0x80u8..=0xFF,
            ],
            0..40,
        ),
    ) {
        proptest::prop_assert_eq!(closing_quote(&bytes), closing_quote_bytewise(&bytes));
    }
}

#[test]
fn closing_quote_at_each_position() {
    for at in 0..24 {
        let mut bytes = vec![b'a'; 24];
        bytes[at] = b'"';
        assert_eq!(closing_quote(&bytes), Some(at));
        bytes[at] = b'\t';
        assert_eq!(closing_quote(&bytes), None);
        // Non-ASCII bytes before the quote borrow nothing.
        bytes[at] = b'"';
        bytes[..at].fill(0xC3);
        assert_eq!(closing_quote(&bytes), Some(at));
    }
    assert_eq!(closing_quote(b"no quote at all"), None);
}

#[test]
fn numbers_follow_json_grammar() {
    for valid in ["0", "-0", "12", "-1.5e3", "2E+10", "0.25", "7e-2"] {
        assert_eq!(
            number_length(valid.as_bytes()),
            Some(valid.len()),
            "{valid}"
        );
    }
    for invalid in ["", "-", "01", "1.", ".5", "1e", "1.2.3", "12x", "+1", "1e+"] {
        assert_ne!(
            number_length(invalid.as_bytes()),
            Some(invalid.len()),
            "{invalid}"
        );
    }
}

#[test]
fn fast_path_declines_what_it_cannot_decide() {
    for line in DECLINED {
        let mut fast = LogLine::default();
        assert!(
            parse(line, &mut fast).is_none(),
            "fast path accepted {line}"
        );
    }
}

/// Generates JSON-like values: mostly valid, with the near misses the fast path must decline.
fn value(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        4 => "[a-z0-9 .:_-]{0,12}".prop_map(|text| format!("\"{text}\"")),
        1 => "[a-z\"\\\\\t\u{e9}\u{7f}]{0,4}".prop_map(|text| format!("\"{text}\"")),
        1 => prop::sample::select(vec![
            "0", "-1", "1.5", "2E+10", "7e-2", "01", "1.", "1e", "12x", "-", "true", "false",
            "null", "nul", "truex", "\"unterminated",
        ])
        .prop_map(str::to_owned),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    prop_oneof![
        4 => leaf,
        2 => object(depth - 1),
        1 => prop::collection::vec(object(depth - 1), 0..2)
            .prop_map(|items| format!("[{}]", items.join(","))),
    ]
    .boxed()
}

/// Generates objects whose keys are mostly ones the reader uses, repeats included.
fn object(depth: u32) -> BoxedStrategy<String> {
    let key = prop::sample::select(vec![
        "name",
        "hostIdentifier",
        "hostname",
        "action",
        "columns",
        "snapshot",
        "diffResults",
        "decorations",
        "version",
        "release",
        "epoch",
        "arch",
        "bundle_short_version",
        "counter",
    ]);
    let space = prop::sample::select(vec!["", "", " ", "\t", "\n"]);
    prop::collection::vec((key, value(depth), space), 0..6)
        .prop_map(|members| {
            let members: Vec<String> = members
                .into_iter()
                .map(|(key, value, space)| format!("{space}\"{key}\"{space}:{value}"))
                .collect();
            format!("{{{}}}", members.join(","))
        })
        .boxed()
}

/// Whatever the fast path accepts, `serde_json` reads the same way. The lines are generated
/// from a fixed seed, and the test checks that enough of them reach the comparison.
#[test]
fn fast_path_matches_serde_generated() {
    let mut runner = TestRunner::deterministic();
    let lines = object(2);
    let mut accepted = 0;
    let mut rejected_by_serde = 0;
    for _ in 0..5_000 {
        let line = lines.new_tree(&mut runner).unwrap().current();
        let general: Result<LogLine<'_>, _> = serde_json::from_str(&line);
        let mut fast = LogLine::default();
        if parse(&line, &mut fast).is_none() {
            rejected_by_serde += usize::from(general.is_err());
            continue;
        }
        accepted += 1;
        let general = general.unwrap_or_else(|error| panic!("{line:?}: {error}"));
        assert_eq!(format!("{fast:?}"), format!("{general:?}"), "{line:?}");
    }
    assert!(
        accepted >= 500,
        "only {accepted} lines reached the comparison"
    );
    assert!(
        rejected_by_serde >= 500,
        "only {rejected_by_serde} malformed lines"
    );
}
