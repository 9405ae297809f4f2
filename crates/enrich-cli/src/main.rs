//! `enrich`: the command line of the enrichment webhooks toolkit. See `enrich --help`.

#![allow(
    clippy::field_reassign_with_default,
    reason = "enrich-types structs are #[non_exhaustive]: they are built from Default, field by field"
)]

mod cli;
mod enrichment;
mod error;
mod inbox;
mod input;
mod output;
mod reconcile;
mod send;
mod serve;
mod sim;
mod text;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::enrichment::Kind;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ENRICH_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match run(cli).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("enrich: error: {}", error.report());
            ExitCode::FAILURE
        }
    }
}

/// Runs the command; `Ok(false)` when it ran but something was not as expected.
async fn run(cli: Cli) -> Result<bool, error::Error> {
    let (output, ok) = match cli.command {
        Command::People(command) => (
            enrichment::run(Kind::People, command, cli.json).await?,
            true,
        ),
        Command::Companies(command) => (
            enrichment::run(Kind::Companies, command, cli.json).await?,
            true,
        ),
        Command::Send(args) => send::run(args, cli.json).await?,
        Command::Inbox(command) => (inbox::run(command, cli.json).await?, true),
        Command::Reconcile(args) => (reconcile::run(args, cli.json).await?, true),
        Command::Sim(args) => {
            sim::run(args).await?;
            (String::new(), true)
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(output.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(error::Error::io("cannot write the output"))?;
    Ok(ok)
}
