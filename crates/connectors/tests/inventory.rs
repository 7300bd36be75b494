//! Offline inventory readers against realistic and malformed export files.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use connectors::inventory::{
    InventoryError, InventoryFormat, InventorySource, ReadSummary, read_inventory,
};
use ops_core::{Inventory, Platform};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn try_read(
    format: InventoryFormat,
    path: &Path,
) -> Result<(Inventory, ReadSummary), InventoryError> {
    let source = InventorySource {
        format,
        path: path.to_owned(),
    };
    let mut inventory = Inventory::new();
    let summary = read_inventory(&source, &mut inventory, &|_| {})?;
    Ok((inventory, summary))
}

fn read(format: InventoryFormat, name: &str) -> (Inventory, ReadSummary) {
    let path = fixture(name);
    try_read(format, &path).unwrap_or_else(|error| panic!("{name}: {error}"))
}

/// Returns the error message for a fixture that must fail, after checking it names the file.
fn read_error(format: InventoryFormat, name: &str) -> String {
    let path = fixture(name);
    let error = match try_read(format, &path) {
        Ok((inventory, _)) => panic!(
            "{name}: read {} entries, expected an error",
            inventory.len()
        ),
        Err(error) => error,
    };
    let message = error.to_string();
    assert_eq!(error.path(), path);
    assert!(
        message.starts_with(&format!("{:?} ", path.display().to_string())),
        "{message}"
    );
    message
}

/// Returns the devices recorded for one application, or `None` when it is absent.
fn devices(inventory: &Inventory, platform: Platform, name: &str, version: &str) -> Option<u64> {
    inventory
        .apps()
        .into_iter()
        .find(|app| app.platform == platform && app.name == name && app.version == version)
        .map(|app| app.devices)
}

fn names(inventory: &Inventory) -> Vec<String> {
    inventory
        .apps()
        .into_iter()
        .map(|app| format!("{} {}", app.name, app.version))
        .collect()
}

fn skipped(summary: &ReadSummary, reason_part: &str) -> u64 {
    summary
        .skipped
        .iter()
        .filter(|skipped| skipped.reason.contains(reason_part))
        .map(|skipped| skipped.rows)
        .sum()
}

// dpkg

#[test]
fn dpkg_counts_installed_packages() {
    let (inventory, summary) = read(InventoryFormat::Dpkg, "dpkg/status");
    assert_eq!(
        names(&inventory),
        [
            "curl 7.88.1-10+deb12u5",
            "libc6 2.36-9+deb12u7",
            "libc6:i386 2.36-9+deb12u7",
            "nginx 1.22.1-9",
            "tzdata 2024a-0+deb12u1",
            "wine32:i386 8.0~repack-4",
            "zlib1g 1:1.2.13.dfsg-1",
        ]
    );
    assert_eq!(summary.rows, 7);
    assert_eq!(summary.devices, 1);
    assert_eq!(inventory.device_count(), 1);
    assert!(
        inventory
            .apps()
            .iter()
            .all(|app| app.platform == Platform::Debian)
    );
}

#[test]
fn dpkg_skips_packages_not_installed() {
    let (_, summary) = read(InventoryFormat::Dpkg, "dpkg/status");
    assert_eq!(skipped(&summary, "config-files"), 1);
    assert_eq!(skipped(&summary, "half-installed"), 1);
    assert_eq!(summary.skipped_rows(), 2);
}

#[test]
fn dpkg_reads_crlf_lines() {
    let (inventory, _) = read(InventoryFormat::Dpkg, "dpkg/status-crlf");
    assert_eq!(
        names(&inventory),
        ["ca-certificates 20230311", "openssl 3.0.11-1~deb12u2"]
    );
}

#[test]
fn dpkg_reads_a_byte_order_mark() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("status");
    let status = std::fs::read(fixture("dpkg/status")).unwrap();
    std::fs::write(&path, [b"\xEF\xBB\xBF".as_slice(), &status].concat()).unwrap();

    let (with_bom, _) = try_read(InventoryFormat::Dpkg, &path).unwrap();
    let (without, _) = read(InventoryFormat::Dpkg, "dpkg/status");
    assert_eq!(with_bom.apps(), without.apps());
}

#[test]
fn dpkg_stanza_without_package_fails() {
    let message = read_error(InventoryFormat::Dpkg, "dpkg/status-no-package");
    assert!(
        message.ends_with(
            " line 6: expected a Package field in the stanza that starts here, found none"
        ),
        "{message}"
    );
}

#[test]
fn dpkg_packages_index_fails() {
    let message = read_error(InventoryFormat::Dpkg, "dpkg/packages-index");
    assert!(
        message.contains(" line 1: package curl: expected a Status field, found none"),
        "{message}"
    );
}

#[test]
fn dpkg_short_status_fails() {
    let message = read_error(InventoryFormat::Dpkg, "dpkg/status-bad-status");
    assert!(
        message.contains(" line 6: package wget: expected \"Status: WANT FLAG STATE\""),
        "{message}"
    );
}

#[test]
fn dpkg_line_without_colon_fails() {
    let message = read_error(InventoryFormat::Dpkg, "dpkg/status-bad-line");
    assert!(
        message.ends_with(
            " line 5: expected a \"Field: value\" line, found \"this line has no colon\""
        ),
        "{message}"
    );
}

#[test]
fn dpkg_installed_without_version_fails() {
    let message = read_error(InventoryFormat::Dpkg, "dpkg/status-no-version");
    assert!(
        message.ends_with(" line 1: installed package curl: expected a Version field, found none"),
        "{message}"
    );
}

#[test]
fn dpkg_matches_this_machine() {
    let status = Path::new("/var/lib/dpkg/status");
    let query = Command::new("dpkg-query")
        .args([
            "-W",
            "-f=${db:Status-Abbrev}|${Package}|${Architecture}|${Version}\n",
        ])
        .output();
    let native = Command::new("dpkg").arg("--print-architecture").output();
    let (Ok(query), Ok(native)) = (query, native) else {
        eprintln!("skipped: dpkg-query or dpkg is not installed");
        return;
    };
    if !status.exists() || !query.status.success() {
        eprintln!("skipped: no dpkg database on this machine");
        return;
    }
    let native = String::from_utf8_lossy(&native.stdout).trim().to_owned();
    let mut expected: Vec<String> = String::from_utf8_lossy(&query.stdout)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('|').collect();
            let [abbrev, package, architecture, version] = fields[..] else {
                return None;
            };
            if abbrev.as_bytes().get(1) != Some(&b'i') {
                return None;
            }
            let is_foreign = architecture != "all" && architecture != native;
            let name = if is_foreign {
                format!("{package}:{architecture}")
            } else {
                package.to_owned()
            };
            Some(format!("{name} {version}"))
        })
        .collect();
    expected.sort();
    expected.dedup();

    let (inventory, summary) =
        try_read(InventoryFormat::Dpkg, status).expect("this machine's dpkg status must read");
    let mut found = names(&inventory);
    found.sort();
    assert_eq!(found, expected);
    assert_eq!(summary.rows as usize, expected.len());
}

// osquery

#[test]
fn osquery_array_reads_programs() {
    let (inventory, summary) = read(InventoryFormat::Osquery, "osquery/osqueryi-programs.json");
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "7-Zip 23.01 (x64 edition)",
            "23.01.00.0"
        ),
        Some(1)
    );
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Mozilla Firefox (x64 en-US)",
            "121.0"
        ),
        Some(1)
    );
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Café \"Bistro\" Manager",
            "2.4.1"
        ),
        Some(1)
    );
    assert_eq!(summary.rows, 3);
    assert_eq!(skipped(&summary, "version is empty"), 1);
    assert_eq!(summary.devices, 1);
}

#[test]
fn osquery_array_reads_mac_apps() {
    let (inventory, summary) = read(InventoryFormat::Osquery, "osquery/osqueryi-apps.json");
    assert_eq!(
        names(&inventory),
        ["LegacyTool 412", "Safari 17.1", "Visual Studio Code 1.85.1"]
    );
    assert!(
        inventory
            .apps()
            .iter()
            .all(|app| app.platform == Platform::Macos)
    );
    assert_eq!(summary.rows, 3);
}

#[test]
fn osquery_events_count_added_rows() {
    let (inventory, summary) = read(InventoryFormat::Osquery, "osquery/results-events.log");
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Mozilla Firefox (x64 en-US)",
            "121.0"
        ),
        Some(2)
    );
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Mozilla Firefox (x64 en-US)",
            "120.0.1"
        ),
        None
    );
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Café \"Bistro\" Manager",
            "2.4.1"
        ),
        Some(1)
    );
    assert_eq!(
        devices(&inventory, Platform::Debian, "curl", "7.88.1-10+deb12u5"),
        Some(1)
    );
    assert_eq!(
        devices(&inventory, Platform::Rpm, "openssl", "1:3.0.7-9.el9"),
        Some(1)
    );
    assert_eq!(
        devices(&inventory, Platform::Rpm, "bash", "5.1.8-2.el9"),
        Some(1)
    );
    assert_eq!(
        devices(&inventory, Platform::Debian, "htop", "3.2.2-2"),
        Some(1)
    );
    assert_eq!(inventory.len(), 6);
    assert_eq!(summary.rows, 7);
}

#[test]
fn osquery_events_skip_removed_and_other_tables() {
    let (_, summary) = read(InventoryFormat::Osquery, "osquery/results-events.log");
    assert_eq!(skipped(&summary, "removed event"), 1);
    assert_eq!(skipped(&summary, "match no software table"), 3);
    assert_eq!(summary.skipped_rows(), 4);
}

#[test]
fn osquery_events_count_hosts_with_software() {
    let (inventory, summary) = read(InventoryFormat::Osquery, "osquery/results-events.log");
    // WS-0101, WS-0102, web-01, db-01 and legacy-host; WS-0103 logged only processes.
    assert_eq!(summary.devices, 5);
    assert_eq!(inventory.device_count(), 5);
}

#[test]
fn osquery_snapshot_and_batch_lines() {
    let (inventory, summary) = read(InventoryFormat::Osquery, "osquery/results-snapshot.log");
    assert_eq!(
        devices(&inventory, Platform::Macos, "Slack", "4.35.131"),
        Some(2)
    );
    assert_eq!(
        devices(&inventory, Platform::Macos, "Safari", "17.1"),
        Some(1)
    );
    assert_eq!(
        devices(&inventory, Platform::Debian, "curl", "7.88.1-10+deb12u5"),
        Some(1)
    );
    assert_eq!(
        devices(&inventory, Platform::Debian, "vim", "2:9.0.1378-2"),
        Some(1)
    );
    assert_eq!(
        devices(&inventory, Platform::Debian, "vim", "2:9.0.1000-1"),
        None
    );
    assert_eq!(summary.rows, 5);
    assert_eq!(summary.devices, 3);
    assert_eq!(skipped(&summary, "removed event"), 1);
}

#[test]
fn osquery_log_with_bom_and_crlf() {
    let (inventory, summary) = read(InventoryFormat::Osquery, "osquery/results-bom-crlf.log");
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Notepad++ (64-bit x64)",
            "8.6"
        ),
        Some(2)
    );
    assert_eq!(summary.devices, 2);
}

#[test]
fn osquery_line_not_json_fails() {
    let message = read_error(InventoryFormat::Osquery, "osquery/results-not-json.log");
    assert!(
        message.contains(" line 3 column 1: invalid JSON, expected an osquery result object"),
        "{message}"
    );
}

#[test]
fn osquery_truncated_line_fails() {
    let path = fixture("osquery/results-truncated.log");
    let error = try_read(InventoryFormat::Osquery, &path).unwrap_err();
    let message = error.to_string();
    assert!(message.contains(" line 2 column "), "{message}");
    assert!(
        message.ends_with(": invalid JSON, expected an osquery result object"),
        "{message}"
    );
    let cause = error
        .source()
        .expect("the JSON error is the source")
        .to_string();
    assert!(cause.contains("EOF"), "{cause}");
}

#[test]
fn osquery_status_log_line_fails() {
    let message = read_error(InventoryFormat::Osquery, "osquery/results-status-line.log");
    assert!(
        message.ends_with(
            " line 2: expected an osquery result with \"columns\", \"snapshot\" or \
             \"diffResults\", found none"
        ),
        "{message}"
    );
}

#[test]
fn osquery_unknown_action_fails() {
    let message = read_error(InventoryFormat::Osquery, "osquery/results-bad-action.log");
    assert!(
        message.ends_with(
            " line 1: expected action \"added\" or \"removed\" with \"columns\", found \"changed\""
        ),
        "{message}"
    );
}

#[test]
fn osquery_truncated_array_fails() {
    let message = read_error(InventoryFormat::Osquery, "osquery/osqueryi-truncated.json");
    assert!(message.contains(" line 3 column "), "{message}");
    assert!(
        message.ends_with(
            "invalid JSON, expected an array of osquery rows, as osqueryi --json prints"
        ),
        "{message}"
    );
}

/// Writes a results log large enough for several workers, with lines that cross every
/// worker boundary, and checks that each line is counted exactly once.
#[test]
fn osquery_large_log_counts_each_line_once() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("results.log");
    let mut text = String::new();
    let lines = 40_000u64;
    for index in 0..lines {
        let padding = "x".repeat((index % 97) as usize);
        text.push_str(&format!(
            "{{\"name\":\"pack_inventory_programs\",\"hostIdentifier\":\"host-{}\",\"decorations\":{{\"pad\":\"{padding}\"}},\"columns\":{{\"name\":\"App {}\",\"version\":\"1.{}\",\"install_location\":\"C:\\\\Apps\"}},\"action\":\"added\"}}\n",
            index % 1_000,
            index % 10,
            index % 3
        ));
    }
    std::fs::write(&path, &text).unwrap();

    let reports = AtomicU64::new(0);
    let last = AtomicU64::new(0);
    let source = InventorySource {
        format: InventoryFormat::Osquery,
        path: path.clone(),
    };
    let mut inventory = Inventory::new();
    let summary = read_inventory(&source, &mut inventory, &|bytes| {
        reports.fetch_add(1, Ordering::Relaxed);
        last.fetch_max(bytes, Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(summary.rows, lines);
    assert_eq!(summary.devices, 1_000);
    assert_eq!(summary.bytes, text.len() as u64);
    assert_eq!(
        inventory.apps().iter().map(|app| app.devices).sum::<u64>(),
        lines
    );
    assert_eq!(
        devices(&inventory, Platform::Windows, "App 0", "1.0"),
        Some(1_334)
    );
    assert_eq!(last.load(Ordering::Relaxed), text.len() as u64);
    assert!(reports.load(Ordering::Relaxed) >= 1);
}

/// A line longer than the reader's buffer (a host with a huge decoration) is read whole.
#[test]
fn osquery_line_longer_than_the_read_buffer() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("results.log");
    let line = |host: &str, pad: usize| {
        format!(
            "{{\"name\":\"pack_inventory_deb_packages\",\"hostIdentifier\":\"{host}\",\"decorations\":{{\"note\":\"{}\"}},\"columns\":{{\"name\":\"curl\",\"version\":\"7.88.1-10\",\"arch\":\"amd64\"}},\"action\":\"added\"}}\n",
            "n".repeat(pad)
        )
    };
    let text = [line("a", 10), line("b", 3 << 20), line("c", 10)].concat();
    std::fs::write(&path, &text).unwrap();

    let (inventory, summary) = try_read(InventoryFormat::Osquery, &path).unwrap();
    assert_eq!(summary.rows, 3);
    assert_eq!(summary.devices, 3);
    assert_eq!(
        devices(&inventory, Platform::Debian, "curl", "7.88.1-10"),
        Some(3)
    );
}

/// Reads `content` through a named pipe, as `cat FILE | ops drift --inventory osquery:/dev/stdin`
/// would.
fn read_through_pipe(content: &str) -> Result<(Inventory, ReadSummary), InventoryError> {
    let directory = tempfile::tempdir().unwrap();
    let pipe = directory.path().join("pipe");
    let mkfifo = std::process::Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .unwrap();
    assert!(mkfifo.success());
    let writer = {
        let pipe = pipe.clone();
        let content = content.to_owned();
        std::thread::spawn(move || std::fs::write(pipe, content).unwrap())
    };
    let result = try_read(InventoryFormat::Osquery, &pipe);
    writer.join().unwrap();
    result
}

#[test]
fn osquery_array_from_pipe() {
    // Longer than the 4 KiB the format check reads, so a second read would miss the start.
    let rows: Vec<String> = (0..200)
        .map(|index| format!("{{\"name\":\"pkg-{index}\",\"version\":\"1.0-{index}\",\"arch\":\"amd64\",\"maintainer\":\"Debian\"}}"))
        .collect();
    let content = format!("[\n{}\n]\n", rows.join(",\n"));
    assert!(content.len() > 4096);

    let (inventory, summary) = read_through_pipe(&content).unwrap();
    assert_eq!(summary.rows, 200);
    assert_eq!(
        devices(&inventory, Platform::Debian, "pkg-199", "1.0-199"),
        Some(1)
    );
}

#[test]
fn osquery_log_from_pipe() {
    let line = |host: &str| {
        format!(
            "{{\"name\":\"pack_inventory_deb_packages\",\"hostIdentifier\":\"{host}\",\"columns\":{{\"name\":\"curl\",\"version\":\"7.88.1-10\",\"arch\":\"amd64\"}},\"action\":\"added\"}}\n"
        )
    };
    let content = format!("\u{feff}{}{}", line("h1"), line("h2"));

    let (inventory, summary) = read_through_pipe(&content).unwrap();
    assert_eq!(summary.rows, 2);
    assert_eq!(summary.devices, 2);
    assert_eq!(
        devices(&inventory, Platform::Debian, "curl", "7.88.1-10"),
        Some(2)
    );

    let broken = format!("{}{{\"name\":\n", line("h1"));
    let message = read_through_pipe(&broken).unwrap_err().to_string();
    assert!(message.contains(" line 2 column "), "{message}");
}

#[test]
fn osquery_form_feed_line_fails() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("results.log");
    std::fs::write(&path, "\u{c}\n").unwrap();

    let message = try_read(InventoryFormat::Osquery, &path)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(" line 1 column 1: invalid JSON"),
        "{message}"
    );
}

#[test]
fn osquery_error_line_counts_from_file_start() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("results.log");
    let good = "{\"name\":\"q\",\"hostIdentifier\":\"h\",\"columns\":{\"name\":\"A\",\"version\":\"1\",\"install_date\":\"\"},\"action\":\"added\"}\n";
    let mut text = good.repeat(30_000);
    text.push_str("{\"name\":\"q\",\"columns\":\n");
    text.push_str(&good.repeat(10));
    std::fs::write(&path, &text).unwrap();
    let error = try_read(InventoryFormat::Osquery, &path).unwrap_err();
    let message = error.to_string();
    assert!(message.contains(" line 30001 column "), "{message}");
    // The parser's own position counts from the start of the line, so it is left out.
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert_eq!(cause, "EOF while parsing a value");
}

// Ansible

#[test]
fn ansible_ad_hoc_output_per_host() {
    let (inventory, summary) = read(InventoryFormat::Ansible, "ansible/adhoc.txt");
    assert_eq!(
        devices(&inventory, Platform::Debian, "curl", "7.88.1-10+deb12u5"),
        Some(1)
    );
    assert_eq!(
        devices(&inventory, Platform::Debian, "vim", "2:9.0.1378-2"),
        Some(1)
    );
    assert_eq!(
        devices(&inventory, Platform::Rpm, "kernel", "5.14.0-362.8.1.el9_3"),
        Some(1)
    );
    assert_eq!(
        devices(&inventory, Platform::Rpm, "kernel", "5.14.0-362.13.1.el9_3"),
        Some(1)
    );
    assert_eq!(
        devices(&inventory, Platform::Rpm, "openssl", "1:3.0.7-25.el9_3"),
        Some(1)
    );
    assert_eq!(summary.rows, 5);
    assert_eq!(summary.devices, 2);
    assert_eq!(skipped(&summary, "UNREACHABLE!"), 1);
}

#[test]
fn ansible_module_result_keeps_versions() {
    let (inventory, summary) = read(InventoryFormat::Ansible, "ansible/result.json");
    assert_eq!(
        names(&inventory),
        [
            "bash 5.1.8-2.el9",
            "gpg-pubkey fd431d51-5ccc5b19",
            "kernel 5.14.0-362.13.1.el9_3",
            "kernel 5.14.0-362.8.1.el9_3",
            "shadow-utils 2:4.9-8.el9",
        ]
    );
    assert_eq!(summary.devices, 1);
}

#[test]
fn ansible_bare_map_skips_other_managers() {
    let (inventory, summary) = read(InventoryFormat::Ansible, "ansible/bare-map.json");
    assert_eq!(
        names(&inventory),
        ["libbz2-1.0 1.0.8-5+b1", "patch 2.7.6-7"]
    );
    assert_eq!(skipped(&summary, "package source \"pacman\""), 1);
}

/// Writes `content` to a file and returns the error reading it as Ansible output.
fn ansible_error(content: &str) -> String {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("facts.txt");
    std::fs::write(&path, content).unwrap();
    match try_read(InventoryFormat::Ansible, &path) {
        Ok((inventory, _)) => panic!("read {} entries from {content:?}", inventory.len()),
        Err(error) => error.to_string(),
    }
}

#[test]
fn ansible_malformed_output_is_named() {
    let long_garbage = "x".repeat(100);
    let cases = [
        (
            "{\"plays\": [{\"tasks\": [{\"task\": {\"name\": \"ping\"}}]}]}",
            "line 1: expected a task result with ansible_facts.packages in the plays, found none",
        ),
        (
            "[WARNING]: No inventory was parsed\n",
            "line 1: expected \"HOST | SUCCESS => {\" lines, found none",
        ),
        (
            "web-01 | SUCCESS => [\n",
            "line 1: expected \"HOST | SUCCESS => {\" as ansible prints package_facts results, found \"web-01 | SUCCESS => [\"",
        ),
        (
            long_garbage.as_str(),
            "found \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ),
        (
            "web-01 | SUCCESS => {\n    \"ansible_facts\": {\n",
            "line 3 column 0: invalid JSON, expected Ansible package_facts results",
        ),
        (
            "web-01 | SUCCESS => {\"changed\": false}\n",
            "record 1: host web-01: expected ansible_facts.packages, found none",
        ),
        (
            "web-01 | SUCCESS => {\"ansible_facts\": {\"packages\": {\"curl\": [\"7.88\"]}}}\n",
            "record 1: host web-01, packages[\"curl\"][0]: expected an object, found a string",
        ),
        (
            "web-01 | SUCCESS => {\"ansible_facts\": {\"packages\": {\"curl\": [{\"version\": \"7.88\"}]}}}\n",
            "record 1: host web-01, packages[\"curl\"][0]: expected a source (apt or rpm), found none",
        ),
    ];
    for (content, expected) in cases {
        let message = ansible_error(content);
        assert!(message.contains(expected), "{content:?}: {message}");
    }
}

#[test]
fn ansible_skips_failed_and_factless_results() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("facts.txt");
    std::fs::write(
        &path,
        "web-01 | SUCCESS => {\"failed\": true, \"msg\": \"no package manager\"}\n\
         web-02 | SUCCESS => {\"ansible_facts\": {\"packages\": {\"curl\": [{\"version\": 7, \"source\": \"apt\"}]}}}\n",
    )
    .unwrap();

    let (inventory, summary) = try_read(InventoryFormat::Ansible, &path).unwrap();
    assert_eq!(skipped(&summary, "the host result is failed"), 1);
    assert_eq!(names(&inventory), ["curl 7"]);
}

#[test]
fn ansible_json_callback_output() {
    let (inventory, summary) = read(InventoryFormat::Ansible, "ansible/callback.json");
    assert_eq!(
        names(&inventory),
        ["curl 7.88.1-10+deb12u4", "curl 7.88.1-10+deb12u5"]
    );
    assert_eq!(summary.devices, 2);
    assert_eq!(skipped(&summary, "the host result is failed"), 1);
    assert_eq!(skipped(&summary, "the host is reported unreachable"), 1);
}

#[test]
fn ansible_truncated_json_fails() {
    let message = read_error(InventoryFormat::Ansible, "ansible/truncated.json");
    assert!(message.contains(" line 7 column "), "{message}");
    assert!(
        message.ends_with("invalid JSON, expected Ansible package_facts results"),
        "{message}"
    );
}

#[test]
fn ansible_entry_without_version_fails() {
    let message = read_error(InventoryFormat::Ansible, "ansible/missing-version.json");
    assert!(message.contains(" record 1: host "), "{message}");
    assert!(
        message.ends_with("packages[\"bash\"][0]: expected a version, found none"),
        "{message}"
    );
}

#[test]
fn ansible_versions_not_a_list_fails() {
    let message = read_error(InventoryFormat::Ansible, "ansible/not-a-list.json");
    assert!(
        message.contains(" record 1: host ")
            && message.ends_with(
                "packages[\"bash\"]: expected a list of installed versions, found an object"
            ),
        "{message}"
    );
}

#[test]
fn ansible_unexpected_text_fails() {
    let message = read_error(InventoryFormat::Ansible, "ansible/adhoc-garbage.txt");
    assert!(
        message.contains(" line 2: expected \"HOST | SUCCESS => {\""),
        "{message}"
    );
}

// Intune

#[test]
fn intune_device_counts_saturate() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("apps.csv");
    std::fs::write(
        &path,
        "ApplicationName,ApplicationVersion,Platform,DeviceCount\n\
         7-Zip,24.0,Windows,18446744073709551615\n\
         7-Zip,24.0,Windows,2\n",
    )
    .unwrap();

    let (inventory, _) = try_read(InventoryFormat::Intune, &path).unwrap();
    assert_eq!(
        devices(&inventory, Platform::Windows, "7-Zip", "24.0"),
        Some(u64::MAX)
    );
}

#[test]
fn intune_export_with_bom_and_quotes() {
    let (inventory, summary) = read(InventoryFormat::Intune, "intune/discovered-apps.csv");
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Adobe Acrobat Reader DC",
            "23.008.20470"
        ),
        Some(412)
    );
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "7-Zip 23.01 (x64 edition)",
            "23.01.00.0"
        ),
        Some(87)
    );
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Contoso \"Field\" Tools, Enterprise Edition",
            "5.2.1"
        ),
        Some(12)
    );
    assert_eq!(
        devices(
            &inventory,
            Platform::Macos,
            "Google Chrome",
            "120.0.6099.129"
        ),
        Some(95)
    );
    assert_eq!(
        devices(
            &inventory,
            Platform::Macos,
            "Microsoft Teams",
            "23335.232.2637.4844"
        ),
        Some(40)
    );
    assert_eq!(summary.rows, 5);
    assert_eq!(summary.devices, 0);
}

#[test]
fn intune_skips_mobile_platforms() {
    let (_, summary) = read(InventoryFormat::Intune, "intune/discovered-apps.csv");
    assert_eq!(skipped(&summary, "\"iOS\" is not Windows or macOS"), 2);
    assert_eq!(skipped(&summary, "\"Android\" is not Windows or macOS"), 1);
}

#[test]
fn intune_display_name_headers() {
    let (inventory, summary) = read(
        InventoryFormat::Intune,
        "intune/discovered-apps-display-names.csv",
    );
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Microsoft Edge",
            "120.0.2210.91"
        ),
        Some(1500)
    );
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Zoom Workplace",
            "5.16.10 (26186)"
        ),
        Some(7)
    );
    assert_eq!(summary.rows, 3);
}

#[test]
fn intune_per_device_export() {
    let (inventory, summary) = read(InventoryFormat::Intune, "intune/raw-data.csv");
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Google Chrome",
            "120.0.6099.130"
        ),
        Some(2)
    );
    assert_eq!(
        devices(&inventory, Platform::Macos, "Slack", "4.35.131"),
        Some(1)
    );
    assert_eq!(summary.devices, 3);
}

#[test]
fn intune_short_row_fails() {
    let message = read_error(InventoryFormat::Intune, "intune/short-row.csv");
    assert!(
        message.ends_with(
            " line 3: expected 5 columns (ApplicationName,ApplicationPublisher,ApplicationVersion,\
             DeviceCount,Platform), found 2"
        ),
        "{message}"
    );
}

#[test]
fn intune_missing_platform_column_fails() {
    let message = read_error(InventoryFormat::Intune, "intune/no-platform.csv");
    assert!(
        message.ends_with(
            " line 1: expected a Platform column (header names accepted: platform), found columns \
             ApplicationName,ApplicationVersion,DeviceCount"
        ),
        "{message}"
    );
}

#[test]
fn intune_bad_device_count_fails() {
    let message = read_error(InventoryFormat::Intune, "intune/bad-count.csv");
    assert!(
        message.ends_with(
            " line 3: expected a whole number in the Device Count column, found \"many\""
        ),
        "{message}"
    );
}

#[test]
fn intune_unterminated_quote_fails() {
    let message = read_error(InventoryFormat::Intune, "intune/unterminated-quote.csv");
    assert!(message.contains(" line 3: expected 4 columns"), "{message}");
}

// Jamf

#[test]
fn empty_json_file_is_named_empty() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("computers.json");
    std::fs::write(&path, "").unwrap();

    let message = try_read(InventoryFormat::Jamf, &path)
        .unwrap_err()
        .to_string();
    assert!(message.contains(" line 1: empty, expected "), "{message}");
    assert!(!message.contains("column 0"), "{message}");
}

#[test]
fn jamf_inventory_response() {
    let (inventory, summary) = read(InventoryFormat::Jamf, "jamf/computers-inventory.json");
    assert_eq!(
        devices(&inventory, Platform::Macos, "Safari", "17.1"),
        Some(1)
    );
    assert_eq!(
        devices(&inventory, Platform::Macos, "Safari", "17.2"),
        Some(1)
    );
    assert_eq!(
        devices(&inventory, Platform::Macos, "Slack", "4.35.131"),
        Some(2)
    );
    assert_eq!(
        devices(&inventory, Platform::Macos, "Café \"Menu\" Bar", "1.2"),
        Some(1)
    );
    assert_eq!(summary.rows, 5);
    assert_eq!(summary.devices, 2);
    assert_eq!(skipped(&summary, "version is empty"), 1);
}

#[test]
fn jamf_bare_list_with_numeric_ids() {
    let (inventory, summary) = read(InventoryFormat::Jamf, "jamf/computers-list.json");
    assert_eq!(
        devices(&inventory, Platform::Macos, "Xcode", "15.1"),
        Some(2)
    );
    assert_eq!(summary.devices, 2);
}

#[test]
fn jamf_without_applications_section_fails() {
    let message = read_error(InventoryFormat::Jamf, "jamf/no-applications.json");
    assert!(
        message.ends_with(
            " record 2: results[1] (computer 1B7C9D3E-2F4A-4C6B-8D0E-3A5B7C9D1E22, \"John's iMac\"): \
             expected an \"applications\" list, found none (request the APPLICATIONS section)"
        ),
        "{message}"
    );
}

#[test]
fn jamf_truncated_json_fails() {
    let message = read_error(InventoryFormat::Jamf, "jamf/truncated.json");
    assert!(message.contains(" line 5 column "), "{message}");
    assert!(
        message.ends_with("invalid JSON, expected a Jamf Pro computers-inventory response"),
        "{message}"
    );
}

#[test]
fn jamf_wrong_type_fails() {
    let path = fixture("jamf/wrong-type.json");
    let error = try_read(InventoryFormat::Jamf, &path).unwrap_err();
    assert!(error.to_string().contains(" line 4 column "), "{error}");
    let cause = error.source().unwrap().to_string();
    assert!(
        cause.contains("expected a string, number or boolean"),
        "{cause}"
    );
}

// Configuration Manager

#[test]
fn sccm_add_remove_programs_export() {
    let (inventory, summary) = read(InventoryFormat::Sccm, "sccm/add-remove-programs.csv");
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Microsoft Edge",
            "120.0.2210.91"
        ),
        Some(2)
    );
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Microsoft Edge",
            "119.0.2151.97"
        ),
        Some(1)
    );
    assert_eq!(
        devices(&inventory, Platform::Windows, "7-Zip 23.01 (x64)", "23.01"),
        Some(1)
    );
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Contoso \"Field\" Tools, Enterprise Edition",
            "5.2.1"
        ),
        Some(1)
    );
    assert_eq!(summary.rows, 5);
    assert_eq!(summary.devices, 3);
    assert_eq!(skipped(&summary, "name is empty"), 1);
}

#[test]
fn sccm_name0_is_the_machine() {
    let (inventory, summary) = read(InventoryFormat::Sccm, "sccm/installed-software-name0.csv");
    assert_eq!(names(&inventory), ["Microsoft Edge 120.0.2210.91"]);
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Microsoft Edge",
            "120.0.2210.91"
        ),
        Some(2)
    );
    assert_eq!(summary.devices, 2);
}

#[test]
fn sccm_report_with_counts() {
    let (inventory, summary) = read(InventoryFormat::Sccm, "sccm/report-counts.csv");
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Microsoft Edge",
            "120.0.2210.91"
        ),
        Some(1432)
    );
    assert_eq!(
        devices(
            &inventory,
            Platform::Windows,
            "Mozilla Firefox (x64 en-US)",
            "121.0"
        ),
        Some(210)
    );
    assert_eq!(summary.devices, 0);
}

#[test]
fn sccm_missing_version_column_fails() {
    let message = read_error(InventoryFormat::Sccm, "sccm/no-version-column.csv");
    assert!(
        message.ends_with(
            " line 1: expected a Version0 column (header names accepted: version, displayversion, \
             productversion), found columns ResourceID,DisplayName0,Publisher0"
        ),
        "{message}"
    );
}

#[test]
fn sccm_long_row_fails() {
    let message = read_error(InventoryFormat::Sccm, "sccm/long-row.csv");
    assert!(
        message
            .ends_with(" line 3: expected 3 columns (ResourceID,DisplayName0,Version0), found 5"),
        "{message}"
    );
}

// Shared behaviour

#[test]
fn missing_file_names_path() {
    for format in InventoryFormat::ALL {
        let path = fixture("does-not-exist.csv");
        let error = try_read(format, &path).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("failed to read {:?}", path.display().to_string())
        );
        assert!(error.source().is_some());
    }
}

#[test]
fn failed_read_leaves_inventory_unchanged() {
    let source = InventorySource {
        format: InventoryFormat::Osquery,
        path: fixture("osquery/results-not-json.log"),
    };
    let mut inventory = Inventory::new();
    inventory.add(Platform::Windows, "Existing", "1.0", 1);
    assert!(read_inventory(&source, &mut inventory, &|_| {}).is_err());
    assert_eq!(inventory.len(), 1);
    assert_eq!(inventory.device_count(), 0);
}

#[test]
fn sources_merge_into_one_inventory() {
    let mut inventory = Inventory::new();
    for text in [
        "jamf:tests/fixtures/jamf/computers-inventory.json",
        "osquery:tests/fixtures/osquery/results-snapshot.log",
    ] {
        let mut source: InventorySource = text.parse().unwrap();
        source.path = Path::new(env!("CARGO_MANIFEST_DIR")).join(&source.path);
        read_inventory(&source, &mut inventory, &|_| {}).unwrap();
    }
    assert_eq!(
        devices(&inventory, Platform::Macos, "Slack", "4.35.131"),
        Some(4)
    );
    assert_eq!(inventory.device_count(), 5);
}
