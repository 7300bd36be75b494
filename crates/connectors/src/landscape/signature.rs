//! Signatures of legacy API requests (`/api/?action=...`), in the AWS signature version 2 style
//! that Landscape documents.
//!
//! The request carries `access_key_id`, `signature_method=HmacSHA256`, `signature_version=2`
//! and a UTC `timestamp` (`YYYY-MM-DDTHH:MM:SSZ`). The string to sign is
//! `VERB\nlowercase-host\npath\ncanonical-query`, where the canonical query contains every
//! parameter but `signature`, sorted by name, each name and value percent-encoded as RFC 3986
//! says (unreserved characters kept, everything else `%XY` in uppercase hex, a space as `%20`).
//! The signature is the base64 HMAC-SHA256 of that string under the secret key, and is itself
//! percent-encoded when appended as `signature`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use ops_core::ports::Secret;
use sha2::Sha256;

/// Parameters the signer sets; any copy already in a request is replaced.
const SIGNING_PARAMETERS: [&str; 5] = [
    "access_key_id",
    "signature_method",
    "signature_version",
    "timestamp",
    "signature",
];

/// Percent-encodes `text` as RFC 3986 requires for the canonical query: `A-Z a-z 0-9 - _ . ~`
/// stay as they are, every other byte of the UTF-8 text becomes `%XY`.
pub(super) fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Returns the query string of a signed request: the canonical query with the signing
/// parameters added, followed by `&signature=...`.
pub(super) fn signed_query(
    method: &str,
    host: &str,
    path: &str,
    parameters: &[(String, String)],
    access_key: &str,
    secret_key: &Secret,
    timestamp: DateTime<Utc>,
) -> String {
    let mut all: Vec<(String, String)> = parameters
        .iter()
        .filter(|(name, _)| !SIGNING_PARAMETERS.contains(&name.as_str()))
        .cloned()
        .collect();
    all.push(("access_key_id".into(), access_key.into()));
    all.push(("signature_method".into(), "HmacSHA256".into()));
    all.push(("signature_version".into(), "2".into()));
    all.push((
        "timestamp".into(),
        timestamp.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    ));
    // Byte order of the names; the sort is stable, so repeated names keep their order.
    all.sort_by(|left, right| left.0.as_bytes().cmp(right.0.as_bytes()));

    let canonical = all
        .iter()
        .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let string_to_sign = format!(
        "{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        host.to_ascii_lowercase(),
        path,
        canonical
    );
    let signature = sign(secret_key, &string_to_sign);
    format!("{canonical}&signature={}", percent_encode(&signature))
}

/// Returns the base64 HMAC-SHA256 of `text` under `secret_key`.
fn sign(secret_key: &Secret, text: &str) -> String {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret_key.expose().as_bytes())
        .expect("HMAC accepts keys of every length");
    mac.update(text.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "landscape-secret-key/+=0001";

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn parameters(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn percent_encoding_follows_rfc_3986() {
        assert_eq!(
            percent_encode("tag:web OR tag:café+~_.-/"),
            "tag%3Aweb%20OR%20tag%3Acaf%C3%A9%2B~_.-%2F"
        );
    }

    #[test]
    fn signature_matches_reference_value() {
        // Reference computed with:
        // printf '%s' "$STRING_TO_SIGN" | openssl dgst -sha256 -hmac 'landscape-secret-key/+=0001' -binary | base64
        // where STRING_TO_SIGN is "GET\nlandscape.example.com\n/api/\n" followed by the
        // canonical query asserted below.
        let query = signed_query(
            "GET",
            "Landscape.Example.COM",
            "/api/",
            &parameters(&[
                ("action", "RemovePackages"),
                ("version", "2011-08-01"),
                ("query", "tag:canary"),
                ("packages.1", "contoso-agent"),
            ]),
            "AKIDEXAMPLE0001",
            &Secret::new(SECRET),
            time("2026-01-01T00:00:00Z"),
        );
        assert_eq!(
            query,
            "access_key_id=AKIDEXAMPLE0001&action=RemovePackages&packages.1=contoso-agent\
             &query=tag%3Acanary&signature_method=HmacSHA256&signature_version=2\
             &timestamp=2026-01-01T00%3A00%3A00Z&version=2011-08-01\
             &signature=wGAGWpzo2SApOUxe50UC09jPG3xX3gjoCzVwXweteQA%3D"
        );
    }

    #[test]
    fn signature_covers_port_path_and_spaces() {
        // Reference computed as above, on
        // "GET\n127.0.0.1:8080\n/landscape/api/\n" followed by the canonical query below.
        let query = signed_query(
            "get",
            "127.0.0.1:8080",
            "/landscape/api/",
            &parameters(&[
                ("action", "GetActivities"),
                ("version", "2011-08-01"),
                ("query", "id:4 OR id:5"),
                ("timestamp", "stale value that the signer replaces"),
            ]),
            "AKIDEXAMPLE0001",
            &Secret::new(SECRET),
            time("2026-03-04T05:06:07Z"),
        );
        assert_eq!(
            query,
            "access_key_id=AKIDEXAMPLE0001&action=GetActivities&query=id%3A4%20OR%20id%3A5\
             &signature_method=HmacSHA256&signature_version=2&timestamp=2026-03-04T05%3A06%3A07Z\
             &version=2011-08-01&signature=Ox8mQBIaQTkISE4bG48M0T4ZvNw6NBaPGDwr4YzER3E%3D"
        );
    }
}
