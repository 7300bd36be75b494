//! The byte layout of one log line, and the hash that chains it to the line before.
//!
//! A line is `{"seq":N,"prev":"P","event":E,"hash":"H"}` followed by `\n`. `N` is the entry's
//! 0-based position as a decimal integer. `P` is the hash of the previous entry, or of the genesis
//! file for entry 0. `E` is the compact `serde_json` encoding of the [`AuditEvent`]. `H` is the
//! lowercase hex SHA-256 of the canonical encoding `{"seq":N,"prev":"P","event":E}`. The canonical encoding is the line with its
//! `,"hash":"H"` member removed, so verification hashes slices of the stored line and never
//! serializes anything again.

use std::fmt;
use std::str::FromStr;

use ops_core::audit::AuditEvent;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::error::SiemError;

/// A SHA-256 hash of the chain: an entry's hash, or the genesis hash.
///
/// Its text form is 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash([u8; 32]);

const ENTRY_PREFIX: &[u8] = b"{\"seq\":";
const PREV_KEY: &[u8] = b",\"prev\":\"";
const EVENT_KEY: &[u8] = b"\",\"event\":";
const HASH_KEY: &[u8] = b",\"hash\":\"";
const HEX_LEN: usize = 64;
/// The bytes after the event: `,"hash":"` with 64 hex digits and `"}`.
const ENTRY_SUFFIX_LEN: usize = HASH_KEY.len() + HEX_LEN + 2;
/// `{"event_id":"` with a 36-character hyphenated UUID and `","event_type":"`: the offset of
/// the event type name inside an encoded event, fixed because `event_id` is its first field.
const EVENT_TYPE_OFFSET: usize = 13 + 36 + 16;

impl ChainHash {
    /// Hashes bytes with SHA-256.
    pub fn of(bytes: &[u8]) -> ChainHash {
        ChainHash(Sha256::digest(bytes).into())
    }

    /// Returns the raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Returns the 64 lowercase hex digits as bytes.
    pub(crate) fn to_hex_bytes(self) -> [u8; HEX_LEN] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; HEX_LEN];
        for (index, byte) in self.0.iter().enumerate() {
            hex[2 * index] = DIGITS[usize::from(byte >> 4)];
            hex[2 * index + 1] = DIGITS[usize::from(byte & 0x0f)];
        }
        hex
    }

    /// Parses 64 lowercase or uppercase hex digits.
    pub(crate) fn from_hex_bytes(hex: &[u8]) -> Option<ChainHash> {
        if hex.len() != HEX_LEN {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (index, pair) in hex.chunks_exact(2).enumerate() {
            let high = hex_value(pair[0])?;
            let low = hex_value(pair[1])?;
            bytes[index] = (high << 4) | low;
        }
        Some(ChainHash(bytes))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex_bytes();
        // The digits are ASCII by construction.
        formatter.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "ChainHash({self})")
    }
}

impl Serialize for ChainHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ChainHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ChainHash, D::Error> {
        let text = String::deserialize(deserializer)?;
        ChainHash::from_hex_bytes(text.as_bytes())
            .ok_or_else(|| serde::de::Error::custom("expected a SHA-256 hash as 64 hex digits"))
    }
}

impl FromStr for ChainHash {
    type Err = SiemError;

    fn from_str(text: &str) -> Result<ChainHash, SiemError> {
        ChainHash::from_hex_bytes(text.trim().as_bytes()).ok_or_else(|| {
            SiemError::InvalidCheckpoint {
                text: text.chars().take(200).collect(),
            }
        })
    }
}

/// An encoded line, ready to append.
pub(crate) struct EncodedEntry {
    /// The whole line, `\n` included.
    pub line: Vec<u8>,
    /// The entry's hash.
    pub hash: ChainHash,
}

/// Encodes an entry as one line.
pub(crate) fn encode_entry(
    seq: u64,
    prev: ChainHash,
    event: &AuditEvent,
) -> Result<EncodedEntry, SiemError> {
    let mut line = Vec::with_capacity(512);
    line.extend_from_slice(ENTRY_PREFIX);
    line.extend_from_slice(seq.to_string().as_bytes());
    line.extend_from_slice(PREV_KEY);
    line.extend_from_slice(&prev.to_hex_bytes());
    line.extend_from_slice(EVENT_KEY);
    serde_json::to_writer(&mut line, event).map_err(|source| SiemError::Encode {
        event_id: event.event_id,
        source,
    })?;

    let hash = canonical_hash(&line);
    line.extend_from_slice(HASH_KEY);
    line.extend_from_slice(&hash.to_hex_bytes());
    line.extend_from_slice(b"\"}\n");
    Ok(EncodedEntry { line, hash })
}

/// Hashes the canonical encoding whose bytes are `body` followed by the closing `}`.
fn canonical_hash(body: &[u8]) -> ChainHash {
    let mut hasher = Sha256::new();
    hasher.update(body);
    hasher.update(b"}");
    ChainHash(hasher.finalize().into())
}

/// One line split into its parts, borrowed from the line. Nothing is checked but the layout.
#[derive(Debug)]
pub(crate) struct RawEntry<'a> {
    pub seq: u64,
    pub prev_hex: &'a [u8],
    pub event_json: &'a [u8],
    pub hash_hex: &'a [u8],
    /// The canonical encoding without its closing brace.
    body: &'a [u8],
}

impl<'a> RawEntry<'a> {
    /// Splits a line, without its trailing newline, or returns `None` if the line does not have
    /// the layout of an entry.
    pub fn parse(line: &'a [u8]) -> Option<RawEntry<'a>> {
        let rest = line.strip_prefix(ENTRY_PREFIX)?;
        let digits = rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
        let seq = parse_seq(&rest[..digits])?;
        let rest = rest[digits..].strip_prefix(PREV_KEY)?;
        let prev_hex = rest.get(..HEX_LEN)?;
        let rest = rest[HEX_LEN..].strip_prefix(EVENT_KEY)?;

        let event_len = rest.len().checked_sub(ENTRY_SUFFIX_LEN)?;
        let (event_json, suffix) = rest.split_at(event_len);
        let hash_hex = suffix.strip_prefix(HASH_KEY)?.strip_suffix(b"\"}")?;
        let event_is_object = event_json.first() == Some(&b'{') && event_json.last() == Some(&b'}');
        if !event_is_object || !is_lower_hex(prev_hex) || !is_lower_hex(hash_hex) {
            return None;
        }

        let body = &line[..line.len() - ENTRY_SUFFIX_LEN];
        Some(RawEntry {
            seq,
            prev_hex,
            event_json,
            hash_hex,
            body,
        })
    }

    /// Computes the hash of the canonical encoding.
    pub fn computed_hash(&self) -> ChainHash {
        canonical_hash(self.body)
    }

    /// Returns the stored hash. The layout check guarantees 64 hex digits.
    pub fn stored_hash(&self) -> ChainHash {
        ChainHash::from_hex_bytes(self.hash_hex).unwrap_or(ChainHash([0; 32]))
    }

    /// Returns true when the stored hash is the hash of the entry's canonical encoding.
    pub fn hash_matches(&self) -> bool {
        self.verified_hash_hex().is_some()
    }

    /// Returns the stored hash as hex when it is the hash of the entry's canonical encoding.
    pub fn verified_hash_hex(&self) -> Option<[u8; HEX_LEN]> {
        let computed = self.computed_hash().to_hex_bytes();
        (computed == self.hash_hex).then_some(computed)
    }

    /// Returns the event type name without decoding the event, or `None` when the event does not
    /// start with `event_id` and `event_type` as the writer encodes it.
    pub fn event_type_name(&self) -> Option<&'a [u8]> {
        let json = self.event_json;
        if !json.starts_with(b"{\"event_id\":\"") {
            return None;
        }
        let rest = json.get(EVENT_TYPE_OFFSET..)?;
        if &json[EVENT_TYPE_OFFSET - 16..EVENT_TYPE_OFFSET] != b"\",\"event_type\":\"" {
            return None;
        }
        let end = rest.iter().position(|byte| *byte == b'"')?;
        Some(&rest[..end])
    }

    /// Decodes the event.
    pub fn decode_event(&self) -> Result<AuditEvent, serde_json::Error> {
        serde_json::from_slice(self.event_json)
    }
}

/// Parses a sequence number: decimal digits, no leading zero unless it is `0`, within `u64`.
fn parse_seq(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn is_lower_hex(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(byte))
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use ops_core::CorrelationId;
    use ops_core::audit::{AuditEventType, Outcome};

    use super::*;

    fn event() -> AuditEvent {
        AuditEvent::new(
            AuditEventType::DriftDetected,
            CorrelationId::parse("drift-1").unwrap(),
            "ops@host",
            DateTime::UNIX_EPOCH,
            Outcome::Success,
        )
        .with_detail(
            "note",
            "a \"quoted\" value with ,\"hash\":\" inside\nand a newline",
        )
    }

    #[test]
    fn encoded_line_parses_back() {
        let prev = ChainHash::of(b"genesis");
        let event = event();
        let encoded = encode_entry(7, prev, &event).unwrap();
        let line = encoded.line.strip_suffix(b"\n").unwrap();
        assert!(!line.contains(&b'\n'), "an entry must be one line");

        let raw = RawEntry::parse(line).unwrap();
        assert_eq!(raw.seq, 7);
        assert_eq!(raw.prev_hex, prev.to_hex_bytes());
        assert!(raw.hash_matches());
        assert_eq!(raw.stored_hash(), encoded.hash);
        assert_eq!(raw.event_type_name(), Some(&b"DriftDetected"[..]));
        assert_eq!(raw.decode_event().unwrap(), event);
    }

    #[test]
    fn hash_covers_canonical_encoding() {
        let prev = ChainHash::of(b"genesis");
        let event = event();
        let encoded = encode_entry(0, prev, &event).unwrap();
        let canonical = format!(
            "{{\"seq\":0,\"prev\":\"{prev}\",\"event\":{}}}",
            serde_json::to_string(&event).unwrap()
        );
        assert_eq!(encoded.hash, ChainHash::of(canonical.as_bytes()));
    }

    #[test]
    fn edited_line_fails_hash_check() {
        let encoded = encode_entry(0, ChainHash::of(b"g"), &event()).unwrap();
        let text = String::from_utf8(encoded.line).unwrap();
        let edited = text.trim_end().replace("ops@host", "ops@evil");
        let raw = RawEntry::parse(edited.as_bytes()).unwrap();
        assert!(!raw.hash_matches());
    }

    #[test]
    fn parse_rejects_broken_layouts() {
        let encoded = encode_entry(12, ChainHash::of(b"g"), &event()).unwrap();
        let line = encoded.line.strip_suffix(b"\n").unwrap();
        for cut in [1, 10, 80, line.len() / 2, line.len() - 1] {
            assert!(
                RawEntry::parse(&line[..cut]).is_none(),
                "prefix of {cut} bytes parsed"
            );
        }
        let text = std::str::from_utf8(line).unwrap();
        let leading_zero = text.replacen("\"seq\":12", "\"seq\":012", 1);
        assert!(RawEntry::parse(leading_zero.as_bytes()).is_none());
        let hash_hex = encoded.hash.to_string();
        let upper_hex = text.replace(&hash_hex, &hash_hex.to_uppercase());
        assert!(RawEntry::parse(upper_hex.as_bytes()).is_none());
    }

    #[test]
    fn chain_hash_text_round_trips() {
        let hash = ChainHash::of(b"abc");
        assert_eq!(
            hash.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash.to_string().parse::<ChainHash>().unwrap(), hash);
        assert!("xyz".parse::<ChainHash>().is_err());
    }
}
