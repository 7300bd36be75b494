//! The process exit codes, and the one place errors are mapped to them.

use std::process::ExitCode;

/// The operation succeeded and needs nothing more.
pub const SUCCESS: u8 = 0;
/// The operation failed: a service, the store or the audit log did not do its part.
pub const FAILURE: u8 = 1;
/// The input was invalid: a flag, a file or a value. Fix the input and rerun.
pub const BAD_INPUT: u8 = 2;
/// The operation ran and found something that needs a person: drift found, a gate not met, an
/// audit log that does not verify.
pub const ATTENTION: u8 = 3;

/// The text `--help` shows about exit codes.
pub const HELP: &str = "Exit codes:
  0  success
  1  the operation failed (a service, the state store or the audit log did not do its part)
  2  bad input or usage (a flag, file or value is invalid; nothing was changed)
  3  attention needed (drift found, a gate not met, an audit log ending in a torn entry)";

/// How a command ended when it did not simply succeed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The input was invalid; nothing was changed.
    #[error(transparent)]
    BadInput(anyhow::Error),
    /// The operation failed.
    #[error(transparent)]
    Failed(anyhow::Error),
}

impl CommandError {
    /// Returns the exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code())
    }

    /// Returns the exit code as a number, for reports.
    pub fn code(&self) -> u8 {
        match self {
            CommandError::BadInput(_) => BAD_INPUT,
            CommandError::Failed(_) => FAILURE,
        }
    }

    /// Returns the underlying error, for printing its chain.
    pub fn inner(&self) -> &anyhow::Error {
        match self {
            CommandError::BadInput(error) | CommandError::Failed(error) => error,
        }
    }
}

/// Marks an error as bad input.
pub fn bad_input(error: impl Into<anyhow::Error>) -> CommandError {
    CommandError::BadInput(error.into())
}

/// Marks an error as an operation failure.
pub fn failed(error: impl Into<anyhow::Error>) -> CommandError {
    CommandError::Failed(error.into())
}

/// What a command that ran to its end reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Nothing needs attention.
    Done,
    /// Something needs a person (exit code 3).
    Attention,
}

impl From<Completion> for ExitCode {
    fn from(completion: Completion) -> ExitCode {
        match completion {
            Completion::Done => ExitCode::from(SUCCESS),
            Completion::Attention => ExitCode::from(ATTENTION),
        }
    }
}
