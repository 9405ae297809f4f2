//! `cargo xtask bench [--quick] [--out FILE] [--only SECTION[,SECTION…]]`: runs every benchmark
//! of `benches/` and writes `BENCHMARKS.md`.
//!
//! 1. `cargo build --release -p enrich-benches --bins`, and the four example receivers (which
//!    `bench-durable` and `bench-load receivers` measure), each on its own
//! 2. `cargo bench -p enrich-benches --bench pipeline` (criterion, its results under
//!    `target/criterion-enrich`)
//! 3. `target/release/bench-report`: the other measurements (sizes, load, callgrind, the inbox,
//!    the durable path),
//!    checked against the performance targets it holds as data, and the report written
//!
//! `--only load,inbox,durable` (any of them) builds what those sections run, then runs
//! `bench-report --only …`: section 2 (`bench-load load`, `receivers` and `recording`), 4
//! (`bench-inbox`) or 5 (`bench-durable`) alone, each replacing its own section of the report
//! and saying when it was measured, the rest kept.
//!
//! `--quick` shortens every step (for trying the command out; its numbers are not worth
//! publishing). Nothing here runs during `cargo test`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The sections `--only` takes: `load` (section 2), `inbox` (4), `durable` (5).
pub const SECTIONS: [&str; 3] = ["load", "inbox", "durable"];

/// The `bench` command: the report goes to `out` (default `BENCHMARKS.md`). With `only` (names
/// of [`SECTIONS`]), only those sections are measured, each replacing its own in `out`.
pub fn run(quick: bool, out: Option<PathBuf>, only: &[String]) -> ExitCode {
    let root = crate::workspace_root();
    let out = out.unwrap_or_else(|| root.join("BENCHMARKS.md"));
    match bench(&root, quick, &out, only) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\nbench failed: {message}");
            ExitCode::FAILURE
        }
    }
}

fn bench(root: &Path, quick: bool, out: &Path, only: &[String]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    // What the machine was doing before this run: `bench-report` prints it beside its own figure.
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_else(|_| "?".to_owned());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());

    step(
        "build",
        &cargo,
        &["build", "--release", "-p", "enrich-benches", "--bins"],
        root,
    )?;
    // `bench-durable` and `bench-load recording` (`axum_receiver`) and `bench-load receivers`
    // (all four) measure the shipped example receivers, not bench servers: each built on its
    // own, as a user builds it (so its features are its crate's, not unified with the benches').
    let runs = |section: &str| only.is_empty() || only.iter().any(|name| name == section);
    let frameworks: &[&str] = if runs("load") {
        &["axum", "rocket", "poem", "actix"]
    } else if runs("durable") {
        &["axum"]
    } else {
        &[]
    };
    for framework in frameworks {
        let (package, example) = (
            format!("enrich-{framework}"),
            format!("{framework}_receiver"),
        );
        step(
            &format!("build the example {example}"),
            &cargo,
            &["build", "--release", "-p", &package, "--example", &example],
            root,
        )?;
    }
    let report = target.join("release").join("bench-report");
    if !only.is_empty() {
        let mut command = Command::new(&report);
        command
            .arg("--only")
            .arg(only.join(","))
            .arg("--out")
            .arg(out);
        return run_report(command, &report, root, quick);
    }

    let criterion_home = target.join("criterion-enrich");
    // Only this command writes there; stale results must not pass for this run's.
    if criterion_home.exists() {
        std::fs::remove_dir_all(&criterion_home)
            .map_err(|error| format!("{}: {error}", criterion_home.display()))?;
    }
    let mut bench_args = vec!["bench", "-p", "enrich-benches", "--bench", "pipeline", "--"];
    if quick {
        bench_args.extend(["--warm-up-time", "0.3", "--measurement-time", "0.7"]);
    }
    eprintln!("\n==> micro-benchmarks: cargo {}", bench_args.join(" "));
    let status = Command::new(&cargo)
        .args(&bench_args)
        .current_dir(root)
        .env("CRITERION_HOME", &criterion_home)
        .status()
        .map_err(|error| format!("cargo bench: {error}"))?;
    if !status.success() {
        return Err(format!("cargo bench: {status}"));
    }

    let mut command = Command::new(&report);
    command
        .arg("--criterion")
        .arg(&criterion_home)
        .arg("--out")
        .arg(out)
        .args([
            "--load-before",
            &load_before,
            "--started",
            &started.to_string(),
        ]);
    run_report(command, &report, root, quick)
}

/// Runs `bench-report` (at `report`) as `command`, with `--quick` when asked.
fn run_report(mut command: Command, report: &Path, root: &Path, quick: bool) -> Result<(), String> {
    if quick {
        command.arg("--quick");
    }
    let status = command
        .current_dir(root)
        .status()
        .map_err(|error| format!("{}: {error}", report.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{}: {status}", report.display()))
    }
}

fn step(name: &str, program: &OsString, args: &[&str], dir: &Path) -> Result<(), String> {
    eprintln!("\n==> {name}: cargo {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .map_err(|error| format!("{name}: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{name}: {status}"))
    }
}
