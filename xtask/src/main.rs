//! `cargo xtask <command>`: project automation. See `cargo xtask help`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Project automation: generated files, CI, the demo, benchmarks, fuzzing and stress runs.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Xtask {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write the generated files of schema/.
    Schema {
        /// Only compare with the committed files; write nothing.
        #[arg(long)]
        check: bool,
    },
    /// Start the four receivers and show how each answers the same deliveries, then the durable
    /// inbox, then an enrichment end to end (the conformance crate's `demo` test).
    Demo,
    /// Validate schema/openapi.json (openapi-spec-validator) and run schemathesis against the
    /// local fake API (installs both into target/xtask-venv).
    OpenapiCheck,
    /// Run the benchmarks of benches/ and write BENCHMARKS.md.
    Bench {
        /// Shorten every step (numbers not worth publishing).
        #[arg(long)]
        quick: bool,
        /// Write the report here instead of BENCHMARKS.md.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Measure only these sections (comma-separated: `load` = 2, `inbox` = 4, `durable` = 5),
        /// each replacing its own in the report, keeping the rest as it was.
        #[arg(
            long,
            value_name = "SECTION",
            value_delimiter = ',',
            value_parser = clap::builder::PossibleValuesParser::new(xtask::bench::SECTIONS)
        )]
        only: Vec<String>,
    },
    /// Run the cargo-fuzz targets of fuzz/ for a bounded time each.
    Fuzz {
        /// Seconds per target.
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        time: u64,
        /// The targets to run (default: all).
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(xtask::fuzz::TARGETS))]
        targets: Vec<String>,
    },
    /// Run bounded hostile senders against the four receivers (the `attack` test).
    Attack {
        /// The reduced attack `cargo test` runs: seconds, not minutes.
        #[arg(long)]
        quick: bool,
    },
    /// Send signed deliveries to each receiver from many connections at once (the `soak` test).
    Soak {
        /// Deliveries per receiver.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
        deliveries: u64,
        /// Connections at once.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
        concurrency: u64,
    },
    /// Check the alert rules (promtool check and unit tests), their runbooks and the dashboard
    /// of ops/ (needs promtool, from Debian's `prometheus` package).
    OpsCheck,
    /// Run every check CI runs: fmt, clippy, tests (the attack included), doctests, packaging,
    /// the demo, the fuzz corpus replay, schema --check, openapi-check, ops-check.
    Ci,
}

fn main() -> ExitCode {
    match Xtask::parse().command {
        Command::Schema { check } => xtask::schema::run(check),
        Command::Demo => xtask::drive::demo(),
        Command::OpenapiCheck => xtask::openapi_check::run(),
        Command::OpsCheck => xtask::ops::run(),
        Command::Bench { quick, out, only } => xtask::bench::run(quick, out, &only),
        Command::Fuzz { time, targets } => xtask::fuzz::run(time, &targets),
        Command::Attack { quick } => xtask::drive::attack(quick),
        Command::Soak {
            deliveries,
            concurrency,
        } => xtask::drive::soak(deliveries, concurrency.min(deliveries)),
        Command::Ci => xtask::ci::run(),
    }
}
