//! One module per domain; [`run`] dispatches.

mod audit;
mod drift;
mod evidence;
mod intents;
mod siem;

use crate::cli::Command;
use crate::context::Context;
use crate::exit::{CommandError, Completion};

/// Runs one command.
pub async fn run(context: &Context, command: Command) -> Result<Completion, CommandError> {
    match command {
        Command::Intents(command) => intents::run(context, command).await,
        Command::Drift(arguments) => drift::run(context, arguments).await,
        Command::Audit(command) => audit::run(context, command).await,
        Command::Siem(command) => siem::run(context, command).await,
    }
}
