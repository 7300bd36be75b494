//! Checkpoints: the head of the chain, published off the box so that truncation can be caught.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::SiemError;
use crate::log::format::ChainHash;

/// The number of entries in the log and the hash of the last one.
///
/// Its text form is `HASH@COUNT`, such as `9f86d0…0a08@42`. For an empty log the count is 0 and
/// the hash is the genesis hash. A log matches a checkpoint when it has at least `count` entries
/// and entry `count - 1` has the hash `head_hash`, so a checkpoint kept elsewhere proves that no
/// entry up to it was removed or rewritten since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Entries in the log, the AuditLogRepaired entries included.
    pub count: u64,
    /// The hash of entry `count - 1`, or the genesis hash when `count` is 0.
    pub head_hash: ChainHash,
}

impl Checkpoint {
    /// Parses `HASH@COUNT` or the JSON form `{"count": N, "head_hash": "HASH"}`.
    pub fn parse(text: &str) -> Result<Checkpoint, SiemError> {
        let trimmed = text.trim();
        let invalid = || SiemError::InvalidCheckpoint {
            text: trimmed.chars().take(200).collect(),
        };
        if trimmed.starts_with('{') {
            return serde_json::from_str(trimmed).map_err(|_| invalid());
        }

        let (hash, count) = trimmed.split_once('@').ok_or_else(invalid)?;
        let head_hash = ChainHash::from_hex_bytes(hash.as_bytes()).ok_or_else(invalid)?;
        let count = count.parse().map_err(|_| invalid())?;
        Ok(Checkpoint { count, head_hash })
    }

    /// Reads a checkpoint file holding `HASH@COUNT` or the JSON form.
    pub fn load(path: &Path) -> Result<Checkpoint, SiemError> {
        let text = fs::read_to_string(path).map_err(|source| SiemError::Read {
            path: path.to_owned(),
            source,
        })?;
        Checkpoint::parse(&text)
    }

    /// Reads a command-line argument that is either `HASH@COUNT` or the path of a checkpoint file.
    pub fn from_arg(argument: &str) -> Result<Checkpoint, SiemError> {
        let trimmed = argument.trim();
        let looks_inline = trimmed.contains('@') || trimmed.starts_with('{');
        match Checkpoint::parse(argument) {
            Ok(checkpoint) => Ok(checkpoint),
            Err(_) if Path::new(argument).is_file() => Checkpoint::load(Path::new(argument)),
            Err(error) if looks_inline => Err(error),
            // Anything else is meant as a path, so a missing file is reported as missing.
            Err(_) => Checkpoint::load(Path::new(argument)),
        }
    }

    /// Writes `HASH@COUNT` and a newline to `path`, replacing it atomically: the text goes to a
    /// temporary file beside it, which is synced and then renamed over `path`.
    pub fn save(&self, path: &Path) -> Result<(), SiemError> {
        let write_error = |source| SiemError::Write {
            path: path.to_owned(),
            source,
        };
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned());
        let temporary = path.with_file_name(format!(
            ".{}.tmp-{}",
            file_name.unwrap_or_else(|| "checkpoint".to_owned()),
            std::process::id()
        ));

        let mut file = fs::File::create(&temporary).map_err(write_error)?;
        file.write_all(format!("{self}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(write_error)?;
        fs::rename(&temporary, path).map_err(write_error)?;
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            crate::log::segment::sync_directory(parent)?;
        }
        Ok(())
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}@{}", self.head_hash, self.count)
    }
}

impl FromStr for Checkpoint {
    type Err = SiemError;

    fn from_str(text: &str) -> Result<Checkpoint, SiemError> {
        Checkpoint::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            count: 42,
            head_hash: ChainHash::of(b"head"),
        }
    }

    #[test]
    fn text_form_round_trips() {
        let text = checkpoint().to_string();
        assert!(text.ends_with("@42"), "{text}");
        assert_eq!(Checkpoint::parse(&text).unwrap(), checkpoint());
        assert_eq!(
            Checkpoint::parse(&format!("  {text}\n")).unwrap(),
            checkpoint()
        );
    }

    #[test]
    fn json_form_parses() {
        let json = serde_json::to_string(&checkpoint()).unwrap();
        assert!(json.contains("\"head_hash\""), "{json}");
        assert_eq!(Checkpoint::parse(&json).unwrap(), checkpoint());
    }

    #[test]
    fn parse_rejects_malformed_text() {
        for text in [
            "",
            "abc@1",
            "@5",
            &format!("{}@", ChainHash::of(b"x")),
            "{\"count\":1}",
        ] {
            let error = Checkpoint::parse(text).unwrap_err();
            assert!(error.to_string().contains("HASH@COUNT"), "{error}");
        }
    }

    #[test]
    fn save_then_load_and_from_arg() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("head.txt");
        checkpoint().save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), checkpoint());
        assert_eq!(
            Checkpoint::from_arg(path.to_str().unwrap()).unwrap(),
            checkpoint()
        );
        assert_eq!(
            Checkpoint::from_arg(&checkpoint().to_string()).unwrap(),
            checkpoint()
        );
    }

    #[test]
    fn missing_checkpoint_file_is_named() {
        let error = Checkpoint::from_arg("/nonexistent/checkpoint").unwrap_err();
        assert!(matches!(error, SiemError::Read { .. }), "{error:?}");
        assert_eq!(error.to_string(), "failed to read /nonexistent/checkpoint");

        let error = Checkpoint::from_arg("abc@12").unwrap_err();
        assert!(
            matches!(error, SiemError::InvalidCheckpoint { .. }),
            "{error:?}"
        );
    }
}
