//! `cargo xtask <command>`: project automation. See `cargo xtask help`.

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  schema [--check]   write the generated files of schema/ (--check: only compare, write nothing)
  demo               start the three example receivers and show how each answers the same deliveries
  openapi-check      validate schema/openapi.json (openapi-spec-validator) and run schemathesis
                     against the local fake API (installs both into target/xtask-venv)
  bench [--quick]    run the benchmarks of benches/ and write BENCHMARKS.md
  fuzz [--time S]    run the cargo-fuzz targets of fuzz/ for S seconds each (default 60)
  attack [--quick]   run bounded hostile senders against the three example receivers
  soak [--deliveries N --concurrency C]
                     send N signed deliveries to each example receiver, C at once
  ci                 run every check CI runs: fmt, clippy, tests, doctests, packaging, the demo,
                     the fuzz corpus replay, the reduced attack, schema --check, openapi-check
  help               print this message";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match command.as_str() {
        "schema" => xtask::schema::run(rest),
        "ci" => xtask::ci::run(rest),
        "demo" => xtask::demo::run(rest),
        "bench" => xtask::bench::run(rest),
        "openapi-check" => xtask::openapi_check::run(rest),
        "fuzz" => xtask::fuzz::run(rest),
        "attack" => xtask::attack::run(rest),
        "soak" => xtask::soak::run(rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("unknown command `{other}`\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
