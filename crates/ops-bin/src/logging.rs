//! Tracing to stderr, text or JSON, with known secret values redacted.

use std::io::{self, Write};
use std::sync::{Arc, RwLock};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::output::LogFormat;

/// The text that replaces a secret value in log output.
pub const REDACTED: &str = "[REDACTED]";

/// Secret values that must never appear in log output, shared with the log writer.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    /// Adds a value to redact. Values shorter than four characters are ignored: redacting
    /// them would garble ordinary words while protecting nothing.
    pub fn add(&self, secret: &str) {
        if secret.len() >= 4 {
            let mut secrets = self
                .secrets
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            secrets.push(secret.to_owned());
        }
    }

    /// Returns `text` with every known secret replaced.
    pub fn redact(&self, text: &str) -> String {
        let secrets = self
            .secrets
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        secrets.iter().fold(text.to_owned(), |redacted, secret| {
            redacted.replace(secret.as_str(), REDACTED)
        })
    }
}

/// A writer that buffers one log record and writes it, redacted, when dropped.
pub struct RedactingWriter<W: Write> {
    buffer: Vec<u8>,
    inner: W,
    redactor: Redactor,
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let text = String::from_utf8_lossy(&self.buffer);
        let redacted = self.redactor.redact(&text);
        self.buffer.clear();
        self.inner.write_all(redacted.as_bytes())?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        // Losing a log line is better than panicking in the logger.
        let _ = self.flush();
    }
}

/// Makes a [`RedactingWriter`] over `inner` for each log record.
#[derive(Clone)]
pub struct RedactingMakeWriter<M> {
    inner: M,
    redactor: Redactor,
}

impl<M> RedactingMakeWriter<M> {
    /// Wraps a writer factory.
    pub fn new(inner: M, redactor: Redactor) -> RedactingMakeWriter<M> {
        RedactingMakeWriter { inner, redactor }
    }
}

impl<'a, M> MakeWriter<'a> for RedactingMakeWriter<M>
where
    M: MakeWriter<'a>,
{
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            buffer: Vec::with_capacity(256),
            inner: self.inner.make_writer(),
            redactor: self.redactor.clone(),
        }
    }
}

/// Installs the global subscriber: `format` on stderr, level from `OPS_LOG` (default `info`).
pub fn init(format: LogFormat, filter: Option<&str>, redactor: Redactor) {
    let filter =
        EnvFilter::try_new(filter.unwrap_or("info")).unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = RedactingMakeWriter::new(io::stderr, redactor);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    // A second initialization (only possible in tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redactor_replaces_every_occurrence() {
        let redactor = Redactor::default();
        redactor.add("s3cr3t-value");
        redactor.add("abc");
        assert_eq!(
            redactor.redact("token s3cr3t-value and s3cr3t-value, abc"),
            "token [REDACTED] and [REDACTED], abc"
        );
    }

    #[test]
    fn writer_redacts_on_flush() {
        let redactor = Redactor::default();
        redactor.add("hunter22");
        let mut output = Vec::new();
        {
            let mut writer = RedactingWriter {
                buffer: Vec::new(),
                inner: &mut output,
                redactor,
            };
            write!(writer, "password=hunter22").unwrap();
        }
        assert_eq!(String::from_utf8(output).unwrap(), "password=[REDACTED]");
    }
}
