//! Drift detection on hand-built intents and inventories.

use drift::detect;
use ops_core::{
    ConnectorKind, CorrelationId, DeploymentIntent, IntentStatus, Inventory, Platform, Ring,
    VersionScheme,
};

fn intent(id: &str, name: &str, version: &str, ring: Ring, platform: Platform) -> DeploymentIntent {
    DeploymentIntent {
        correlation_id: CorrelationId::parse(id).unwrap(),
        application_id: format!("app-{id}"),
        app_name: name.to_owned(),
        version: version.to_owned(),
        ring,
        platform,
        version_scheme: None,
        connectors: vec![ConnectorKind::Intune],
        status: IntentStatus::Deployed,
        deployment: None,
        high_risk: false,
        cab_approval: None,
    }
}

fn inventory(rows: &[(Platform, &str, &str)]) -> Inventory {
    let mut inventory = Inventory::new();
    for (platform, name, version) in rows {
        inventory.add(*platform, name, version, 1);
    }
    inventory
}

#[test]
fn matching_ring_has_no_drift() {
    let intents = [intent(
        "deploy-1",
        "curl",
        "7.88.1-10",
        Ring::Canary,
        Platform::Debian,
    )];
    let report = detect(
        Ring::Canary,
        &intents,
        &inventory(&[(Platform::Debian, "curl", "7.88.1-10")]),
    );
    assert!(!report.has_drift(), "{report:?}");
    assert_eq!(report.intents_compared, 1);
}

#[test]
fn unapproved_app_is_unauthorized() {
    let report = detect(
        Ring::Lab,
        &[],
        &inventory(&[(Platform::Windows, "Putty", "0.80")]),
    );
    assert_eq!(report.unauthorized.len(), 1);
    assert_eq!(report.unauthorized[0].name, "Putty");
    assert_eq!(report.unauthorized[0].version, "0.80");
    assert_eq!(report.unauthorized[0].platform, Platform::Windows);
    assert!(report.has_drift());
}

#[test]
fn approved_app_not_deployed_is_missing() {
    let intents = [intent(
        "deploy-1",
        "sudo",
        "1.9.13p3-1",
        Ring::Lab,
        Platform::Debian,
    )];
    let report = detect(Ring::Lab, &intents, &inventory(&[]));
    assert_eq!(report.missing.len(), 1);
    assert_eq!(report.missing[0].name, "sudo");
    assert_eq!(report.missing[0].version, "1.9.13p3-1");
    assert_eq!(report.missing[0].correlation_id, "deploy-1");
}

#[test]
fn other_version_is_version_drift() {
    let intents = [intent(
        "deploy-1",
        "Google Chrome",
        "120.0.6099.130",
        Ring::Pilot,
        Platform::Windows,
    )];
    let report = detect(
        Ring::Pilot,
        &intents,
        &inventory(&[(Platform::Windows, "Google Chrome", "119.0.6045.200")]),
    );
    assert_eq!(report.version_drift.len(), 1);
    let drift = &report.version_drift[0];
    assert_eq!(
        (drift.expected.as_str(), drift.actual.as_str()),
        ("120.0.6099.130", "119.0.6045.200")
    );
    assert!(!drift.newer);
    assert!(report.missing.is_empty(), "{report:?}");
    assert!(report.unauthorized.is_empty(), "{report:?}");
}

#[test]
fn other_rings_intents_are_ignored() {
    let intents = [
        intent(
            "deploy-1",
            "7-Zip",
            "23.01",
            Ring::Canary,
            Platform::Windows,
        ),
        intent(
            "deploy-2",
            "Notepad++",
            "8.6",
            Ring::Global,
            Platform::Windows,
        ),
    ];
    let report = detect(
        Ring::Canary,
        &intents,
        &inventory(&[(Platform::Windows, "7-Zip", "23.01")]),
    );
    assert!(!report.has_drift(), "{report:?}");
    assert_eq!(report.intents_compared, 1);
}

#[test]
fn unapproved_statuses_are_not_expected() {
    let mut rolled_back = intent("deploy-1", "curl", "7.88.1-10", Ring::Lab, Platform::Debian);
    rolled_back.status = IntentStatus::RolledBack;
    let mut pending = intent("deploy-2", "wget", "1.21.3-1", Ring::Lab, Platform::Debian);
    pending.status = IntentStatus::Pending;
    let report = detect(
        Ring::Lab,
        &[rolled_back, pending],
        &inventory(&[(Platform::Debian, "curl", "7.88.1-10")]),
    );
    assert!(report.missing.is_empty(), "{report:?}");
    assert_eq!(
        report.unauthorized.len(),
        1,
        "a rolled-back version still installed is unauthorized"
    );
}

#[test]
fn equal_but_differently_written_versions_match() {
    let intents = [
        intent(
            "deploy-1",
            "curl",
            "0:7.88.1-10",
            Ring::Lab,
            Platform::Debian,
        ),
        intent("deploy-2", "Zoom", "5.17", Ring::Lab, Platform::Windows),
        intent("deploy-3", "Slack", "4.36.0", Ring::Lab, Platform::Macos),
    ];
    let report = detect(
        Ring::Lab,
        &intents,
        &inventory(&[
            (Platform::Debian, "curl", "7.88.1-10"),
            (Platform::Windows, "Zoom", "5.17.0.0"),
            (Platform::Macos, "Slack", "4.36"),
        ]),
    );
    assert!(!report.has_drift(), "{report:?}");
}

#[test]
fn four_part_versions_compare_numerically() {
    let intents = [intent(
        "deploy-1",
        "Agent",
        "1.9",
        Ring::Lab,
        Platform::Windows,
    )];
    let report = detect(
        Ring::Lab,
        &intents,
        &inventory(&[(Platform::Windows, "Agent", "1.10")]),
    );
    assert_eq!(report.version_drift.len(), 1);
    assert!(report.version_drift[0].newer, "1.10 is newer than 1.9");
}

#[test]
fn debian_epochs_and_tildes_order_correctly() {
    let intents = [
        intent(
            "deploy-1",
            "zlib1g",
            "1:1.2.13.dfsg-1",
            Ring::Lab,
            Platform::Debian,
        ),
        intent(
            "deploy-2",
            "openssl",
            "3.0.17-1",
            Ring::Lab,
            Platform::Debian,
        ),
    ];
    let report = detect(
        Ring::Lab,
        &intents,
        &inventory(&[
            (Platform::Debian, "zlib1g", "9.9-1"),
            (Platform::Debian, "openssl", "3.0.17-1~rc1"),
        ]),
    );
    let by_name = |name: &str| {
        report
            .version_drift
            .iter()
            .find(|drift| drift.name == name)
            .unwrap()
    };
    assert!(
        !by_name("zlib1g").newer,
        "an epoch of 1 outranks any version without one"
    );
    assert!(
        !by_name("openssl").newer,
        "a tilde sorts before the release"
    );
}

#[test]
fn windows_and_macos_names_ignore_case_but_debian_does_not() {
    let intents = [
        intent(
            "deploy-1",
            "Google Chrome",
            "120.0",
            Ring::Lab,
            Platform::Windows,
        ),
        intent("deploy-2", "Slack", "4.36", Ring::Lab, Platform::Macos),
        intent("deploy-3", "curl", "7.88.1-10", Ring::Lab, Platform::Debian),
    ];
    let report = detect(
        Ring::Lab,
        &intents,
        &inventory(&[
            (Platform::Windows, "  google chrome ", "120.0"),
            (Platform::Macos, "SLACK", "4.36"),
            (Platform::Debian, "Curl", "7.88.1-10"),
        ]),
    );
    assert_eq!(report.unauthorized.len(), 1, "{report:?}");
    assert_eq!(report.unauthorized[0].name, "Curl");
    assert_eq!(report.missing.len(), 1);
    assert_eq!(report.missing[0].name, "curl");
}

#[test]
fn names_match_across_unicode_normal_forms() {
    let intents = [intent(
        "deploy-1",
        "Caf\u{e9} Reader",
        "2.0",
        Ring::Lab,
        Platform::Windows,
    )];
    let report = detect(
        Ring::Lab,
        &intents,
        &inventory(&[(Platform::Windows, "Cafe\u{301} Reader", "2.0")]),
    );
    assert!(!report.has_drift(), "{report:?}");
}

#[test]
fn same_name_on_two_platforms_is_two_intents() {
    let intents = [
        intent("deploy-1", "Zoom", "5.17", Ring::Lab, Platform::Windows),
        intent("deploy-2", "Zoom", "5.16", Ring::Lab, Platform::Macos),
    ];
    let report = detect(
        Ring::Lab,
        &intents,
        &inventory(&[(Platform::Windows, "Zoom", "5.17")]),
    );
    assert!(
        report.unauthorized.is_empty() && report.version_drift.is_empty(),
        "{report:?}"
    );
    assert_eq!(report.missing.len(), 1);
    assert_eq!(report.missing[0].platform, Platform::Macos);
}

#[test]
fn unparsable_inventory_version_is_reported_not_compared() {
    let intents = [intent(
        "deploy-1",
        "Agent",
        "2.0",
        Ring::Lab,
        Platform::Windows,
    )];
    let report = detect(
        Ring::Lab,
        &intents,
        &inventory(&[(Platform::Windows, "Agent", "2.0 beta")]),
    );
    assert!(report.version_drift.is_empty());
    assert_eq!(report.unparsable.len(), 1);
    assert_eq!(report.unparsable[0].version, "2.0 beta");
    assert_eq!(report.unparsable[0].source, "inventory");
    assert!(report.has_drift(), "an uncomparable version needs a person");
}

#[test]
fn unparsable_intent_version_is_reported() {
    let mut bad = intent("deploy-1", "Agent", "2.x", Ring::Lab, Platform::Windows);
    bad.version_scheme = Some(VersionScheme::Dotted);
    let report = detect(Ring::Lab, &[bad], &inventory(&[]));
    assert_eq!(report.unparsable.len(), 1);
    assert_eq!(report.unparsable[0].source, "intent");
}

#[test]
fn semver_scheme_override_applies() {
    let mut tool = intent(
        "deploy-1",
        "cli-tool",
        "2.0.0-rc.1",
        Ring::Lab,
        Platform::Windows,
    );
    tool.version_scheme = Some(VersionScheme::Semver);
    let report = detect(
        Ring::Lab,
        &[tool],
        &inventory(&[(Platform::Windows, "cli-tool", "2.0.0")]),
    );
    assert_eq!(report.version_drift.len(), 1);
    assert!(
        report.version_drift[0].newer,
        "a release is newer than its release candidate"
    );
}

#[test]
fn several_approved_versions_accept_each() {
    let intents = [
        intent(
            "deploy-1",
            "python3",
            "3.11.2-1",
            Ring::Lab,
            Platform::Debian,
        ),
        intent(
            "deploy-2",
            "python3",
            "3.11.4-1",
            Ring::Lab,
            Platform::Debian,
        ),
    ];
    let report = detect(
        Ring::Lab,
        &intents,
        &inventory(&[
            (Platform::Debian, "python3", "3.11.2-1"),
            (Platform::Debian, "python3", "3.11.9-1"),
        ]),
    );
    assert!(report.missing.is_empty());
    assert_eq!(report.version_drift.len(), 1);
    assert_eq!(
        report.version_drift[0].expected, "3.11.4-1",
        "the highest approved version is expected"
    );
    assert_eq!(report.version_drift[0].actual, "3.11.9-1");
}

#[test]
fn equal_drifted_versions_merge_with_device_counts() {
    let intents = [intent(
        "deploy-1",
        "curl",
        "7.88.1-10",
        Ring::Lab,
        Platform::Debian,
    )];
    let mut inventory = Inventory::new();
    inventory.add(Platform::Debian, "curl", "7.88.1-12", 30);
    inventory.add(Platform::Debian, "curl", "0:7.88.1-12", 12);
    let report = detect(Ring::Lab, &intents, &inventory);
    assert_eq!(report.version_drift.len(), 1, "{report:?}");
    assert_eq!(report.version_drift[0].devices, 42);
}

#[test]
fn output_is_sorted_and_deterministic() {
    let intents = [
        intent("deploy-1", "b-app", "1.0", Ring::Lab, Platform::Windows),
        intent("deploy-2", "a-app", "1.0", Ring::Lab, Platform::Windows),
    ];
    let rows = [
        (Platform::Windows, "zeta", "1"),
        (Platform::Debian, "alpha", "1"),
        (Platform::Windows, "beta", "2"),
        (Platform::Windows, "beta", "1"),
    ];
    let first = detect(Ring::Lab, &intents, &inventory(&rows));
    let mut reversed = rows;
    reversed.reverse();
    let second = detect(Ring::Lab, &intents, &inventory(&reversed));
    assert_eq!(first, second);
    let names: Vec<(&str, &str)> = first
        .unauthorized
        .iter()
        .map(|app| (app.name.as_str(), app.version.as_str()))
        .collect();
    assert_eq!(
        names,
        [("alpha", "1"), ("beta", "1"), ("beta", "2"), ("zeta", "1")]
    );
    let missing: Vec<&str> = first.missing.iter().map(|app| app.name.as_str()).collect();
    assert_eq!(missing, ["a-app", "b-app"]);
}
