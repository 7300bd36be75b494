//! `ops`: the command-line tool of the endpoint-deployment control plane's operations layer.
//!
//! A thin layer: it reads configuration, wires adapters (the SQLite store, inventory readers,
//! the audit log) into domain crates, prints results and maps errors to exit codes in one
//! place ([`exit`]). Each subcommand lives in [`commands`].

mod cli;
mod commands;
mod config;
mod context;
mod exit;
mod logging;
mod notifier;
mod output;

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::exit::CommandError;

fn main() -> ExitCode {
    // Two TLS crypto providers are linked (aws-lc-rs through reqwest 0.13, ring through the Graph
    // SDK), so rustls has no process default until one is chosen; code that builds a TLS config
    // without naming a provider would panic otherwise. An error means one is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

    let cli = Cli::parse();
    let environment: BTreeMap<String, String> = std::env::vars().collect();

    let config = match config::load(cli.global.config.as_deref(), &environment) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let redactor = logging::Redactor::default();
    let siem_secret = config
        .siem
        .secret_env()
        .and_then(|variable| environment.get(variable));
    if let Some(secret) = siem_secret {
        redactor.add(secret);
    }
    let log_format = cli
        .global
        .log_format
        .or(config.log_format)
        .unwrap_or_default();
    logging::init(
        log_format,
        environment.get("OPS_LOG").map(String::as_str),
        redactor,
    );

    let context = context::Context::new(&cli.global, config, &environment);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(exit::FAILURE);
        }
    };

    let result = runtime.block_on(commands::run(&context, cli.command));
    let written = output::finish();
    match (result, written) {
        (Err(error), _) => report(&error, log_format),
        // The command ran and recorded its evidence, but its report did not reach stdout.
        (Ok(_), Err(error)) => {
            let error = anyhow::Error::new(error).context("cannot write the report to stdout");
            report(&exit::failed(error), log_format)
        }
        (Ok(completion), Ok(())) => completion.into(),
    }
}

/// Prints the error chain once, in the log format, and picks the exit code.
fn report(error: &CommandError, log_format: output::LogFormat) -> ExitCode {
    let chain: Vec<String> = error.inner().chain().map(ToString::to_string).collect();
    let message = chain.join(": ");
    match log_format {
        output::LogFormat::Text => eprintln!("error: {message}"),
        output::LogFormat::Json => eprintln!(
            "{}",
            serde_json::json!({
                "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "level": "ERROR",
                "fields": {"message": message, "exit_code": error.code()},
            })
        ),
    }
    error.exit_code()
}
