//! One module per domain; [`run`] dispatches.

mod audit;
mod connectors;
mod drift;
mod evidence;
mod intents;
mod rings;
mod rollback;
mod siem;

use crate::cli::Command;
use crate::context::Context;
use crate::exit::{CommandError, Completion};

/// Runs one command.
pub async fn run(context: &Context, command: Command) -> Result<Completion, CommandError> {
    match command {
        Command::Intents(command) => intents::run(context, command).await,
        Command::Drift(arguments) => drift::run(context, arguments).await,
        Command::Rollback(arguments) => rollback::run(context, arguments).await,
        Command::Rings(command) => rings::run(context, command).await,
        Command::Connectors(command) => connectors::run(context, command).await,
        Command::Audit(command) => audit::run(context, command).await,
        Command::Siem(command) => siem::run(context, command).await,
    }
}
