//! `ops siem flush`.

use crate::cli::SiemCommand;
use crate::context::Context;
use crate::exit::{CommandError, Completion};

/// Runs a SIEM action.
pub async fn run(_context: &Context, command: SiemCommand) -> Result<Completion, CommandError> {
    match command {
        SiemCommand::Flush => Ok(Completion::Done),
    }
}
