//! A fast path for the common shape of results-log lines.
//!
//! Most lines a fleet ships are event lines whose values are plain strings without escapes,
//! like `{"name":"pack_x","hostIdentifier":"h1",...,"columns":{"name":"curl",...},"action":"added"}`.
//! For such a line every `"` delimits a string, so one pass over the bytes finds the keys
//! without a general JSON parser, at about three times the speed of `serde_json`.
//!
//! The fast path only accepts what it can decide exactly: a line with a backslash, an array, a
//! nested object deeper than one level, a control character in a string, a non-string column
//! value, a repeated key or anything else unusual returns `None`, and the caller parses the line
//! with `serde_json`, which either reads it or reports it as malformed. So the fast path never
//! changes what a line means, only how quickly it is read.

use std::borrow::Cow;

use super::LogLine;
use crate::inventory::json::Text;
use crate::inventory::osquery::Row;

/// Reads an event line of plain strings into `line`, which must be empty, or returns `None`
/// for the general parser. Filling the caller's line rather than returning one saves copying
/// it, which showed in profiles.
pub(super) fn parse<'a>(text: &'a str, line: &mut LogLine<'a>) -> Option<()> {
    if memchr::memchr(b'\\', text.as_bytes()).is_some() {
        return None;
    }
    parse_unescaped(text, line)
}

/// Reads a line the caller has already checked to hold no backslash, like [`parse`]. With a
/// backslash in it, an escaped `\"` would be read as the end of a string.
pub(super) fn parse_unescaped<'a>(text: &'a str, line: &mut LogLine<'a>) -> Option<()> {
    let mut scanner = Scanner { text, at: 0 };
    scanner.expect(b'{')?;
    if scanner.peek()? == b'}' {
        scanner.at += 1;
        return scanner.finish();
    }
    loop {
        let key = scanner.string()?;
        scanner.expect(b':')?;
        match scanner.peek()? {
            b'"' => {
                let value = scanner.string()?;
                let slot = match key {
                    "hostIdentifier" => Some(&mut line.host_identifier),
                    "hostname" => Some(&mut line.hostname),
                    "name" => Some(&mut line.name),
                    "action" => Some(&mut line.action),
                    "columns" | "snapshot" | "diffResults" => return None,
                    _ => None,
                };
                if let Some(slot) = slot
                    && slot.replace(borrowed(value)).is_some()
                {
                    return None;
                }
            }
            b'{' if key == "columns" => {
                if line.columns.is_some() {
                    return None;
                }
                scanner.columns(line.columns.insert(Row::default()))?;
            }
            b'{' => {
                if matches!(
                    key,
                    "hostIdentifier" | "hostname" | "name" | "action" | "snapshot" | "diffResults"
                ) {
                    return None;
                }
                scanner.skip_flat_object()?;
            }
            _ => {
                if matches!(
                    key,
                    "hostIdentifier"
                        | "hostname"
                        | "name"
                        | "action"
                        | "columns"
                        | "snapshot"
                        | "diffResults"
                ) {
                    return None;
                }
                scanner.literal()?;
            }
        }
        match scanner.next()? {
            b',' => continue,
            b'}' => return scanner.finish(),
            _ => return None,
        }
    }
}

/// Returns the length of the number in JSON's grammar at the start of `text`,
/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, or `None` when `text` starts with none.
/// What follows the number is the caller's to check: in `01` or `1.` the number is `0` or `1`
/// and the scanner then declines the unexpected byte.
pub(super) fn number_length(text: &[u8]) -> Option<usize> {
    let digits_from = |at: usize| {
        text.get(at..).map_or(0, |rest| {
            rest.iter().take_while(|byte| byte.is_ascii_digit()).count()
        })
    };
    let mut at = usize::from(text.first() == Some(&b'-'));
    match text.get(at)? {
        b'0' => at += 1,
        b'1'..=b'9' => at += digits_from(at),
        _ => return None,
    }
    if text.get(at) == Some(&b'.') {
        let fraction = digits_from(at + 1);
        if fraction > 0 {
            at += 1 + fraction;
        }
    }
    if matches!(text.get(at), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(text.get(at + 1), Some(b'+' | b'-')));
        let exponent = digits_from(at + 1 + sign);
        if exponent > 0 {
            at += 1 + sign + exponent;
        }
    }
    Some(at)
}

/// Returns the index of the first `"` in `bytes`, or `None` when there is none or a control
/// character, which JSON forbids in strings, comes first.
///
/// Strings here are short, so a call to `memchr` per string costs more than the search. This
/// reads eight bytes at a time and flags quotes and control characters in one pass. A byte of
/// `word ^ QUOTES` is zero at a quote, and subtracting one from each byte sets the high bit of
/// a zero byte. Subtracting `0x20` sets it for a byte below `0x20`. Borrows only run upward,
/// so the lowest flagged byte is always a real match.
pub(super) fn closing_quote(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH_BITS: u64 = u64::from_le_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_le_bytes([b'"'; 8]);
    const SPACES: u64 = u64::from_le_bytes([0x20; 8]);

    let is_quote = |index: usize| (bytes[index] == b'"').then_some(index);
    let mut chunks = bytes.chunks_exact(8);
    for (number, chunk) in chunks.by_ref().enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let quotes = word ^ QUOTES;
        let flagged = ((quotes.wrapping_sub(ONES) & !quotes) | (word.wrapping_sub(SPACES) & !word))
            & HIGH_BITS;
        if flagged != 0 {
            return is_quote(number * 8 + (flagged.trailing_zeros() / 8) as usize);
        }
    }
    let tail = bytes.len() - chunks.remainder().len();
    let found = chunks
        .remainder()
        .iter()
        .position(|&byte| byte == b'"' || byte < 0x20)?;
    is_quote(tail + found)
}

/// Returns true for the four bytes JSON counts as whitespace. Unlike
/// `u8::is_ascii_whitespace`, this leaves out the form feed.
pub(super) fn is_json_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

fn borrowed(value: &str) -> Text<'_> {
    Text(Cow::Borrowed(value))
}

struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn skip_whitespace(&mut self) {
        while let Some(&byte) = self.bytes().get(self.at) {
            if !is_json_whitespace(byte) {
                break;
            }
            self.at += 1;
        }
    }

    /// Returns the next byte that is not whitespace, without consuming it.
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes().get(self.at).copied()
    }

    /// Consumes and returns the next byte that is not whitespace.
    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, expected: u8) -> Option<()> {
        (self.next()? == expected).then_some(())
    }

    /// Reads a string without escapes and returns its content.
    fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.at;
        let length = closing_quote(&self.bytes()[start..])?;
        self.at = start + length + 1;
        Some(&self.text[start..start + length])
    }

    /// Reads a number, `true`, `false` or `null`.
    fn literal(&mut self) -> Option<()> {
        let rest = &self.bytes()[self.at..];
        let length = match rest.first()? {
            b't' => rest.starts_with(b"true").then_some(4)?,
            b'f' => rest.starts_with(b"false").then_some(5)?,
            b'n' => rest.starts_with(b"null").then_some(4)?,
            _ => number_length(rest)?,
        };
        self.at += length;
        Some(())
    }

    /// Skips an object whose values are strings or literals, such as `decorations`.
    fn skip_flat_object(&mut self) -> Option<()> {
        self.expect(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            self.string()?;
            self.expect(b':')?;
            match self.peek()? {
                b'"' => {
                    self.string()?;
                }
                b'{' | b'[' => return None,
                _ => self.literal()?,
            }
            match self.next()? {
                b',' => continue,
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// Reads a `columns` object whose values are all strings into `row`.
    fn columns(&mut self, row: &mut Row<'a>) -> Option<()> {
        self.expect(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            if self.peek()? != b'"' {
                return None;
            }
            let value = self.string()?;
            // A column the reader uses, given twice, is an error for serde; leave it to serde.
            if !row.set_column(key, borrowed(value)) {
                return None;
            }
            match self.next()? {
                b',' => continue,
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    fn finish(mut self) -> Option<()> {
        self.skip_whitespace();
        (self.at == self.text.len()).then_some(())
    }
}

#[cfg(test)]
mod tests;
