//! `cargo xtask fuzz [--time SECONDS] [TARGET…]`: runs the cargo-fuzz targets of `fuzz/` for a
//! bounded time each, growing the committed corpus, and prints how many inputs each ran.
//!
//! Installs `cargo-fuzz` from crates.io first when `cargo fuzz` is missing. The targets build on
//! stable Rust (`RUSTC_BOOTSTRAP=1` lets cargo-fuzz pass its `-Z` flags), without a sanitizer (the
//! code under test has no `unsafe`) and with debug assertions (overflow checks). A finding is
//! written to `fuzz/artifacts/<target>/`; commit it with the fix, and the replay test
//! (`fuzz/tests/replay.rs`, run by `cargo xtask ci`) keeps it fixed.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

/// The fuzz targets of `fuzz/Cargo.toml`.
pub const TARGETS: &[&str] = &["pipeline", "signed_envelope"];

/// The `fuzz` command.
/// Runs each of `targets` (every one of [`TARGETS`] when empty) for `seconds`.
pub fn run(seconds: u64, targets: &[String]) -> ExitCode {
    let targets: Vec<&str> = if targets.is_empty() {
        TARGETS.to_vec()
    } else {
        targets.iter().map(String::as_str).collect()
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let fuzz_dir = crate::workspace_root().join("fuzz");
    if let Err(message) = ensure_cargo_fuzz(&cargo) {
        eprintln!("{message}");
        return ExitCode::FAILURE;
    }
    let mut failed = false;
    for target in targets {
        eprintln!("\n==> fuzz {target} for {seconds} s");
        match fuzz(&cargo, &fuzz_dir, target, seconds) {
            Ok(executions) => {
                println!("{target}: {executions} executions in {seconds} s, no failure")
            }
            Err(message) => {
                eprintln!("{target}: {message}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Installs cargo-fuzz with `cargo install` when `cargo fuzz` does not run.
fn ensure_cargo_fuzz(cargo: &OsString) -> Result<(), String> {
    let present = Command::new(cargo)
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if present {
        return Ok(());
    }
    eprintln!("==> cargo fuzz is missing: cargo install cargo-fuzz --locked");
    let status = Command::new(cargo)
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .map_err(|error| format!("could not run cargo install: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo install cargo-fuzz failed: {status}"))
    }
}

/// Runs one target for `seconds` and returns the number of inputs it executed.
fn fuzz(cargo: &OsString, fuzz_dir: &Path, target: &str, seconds: u64) -> Result<u64, String> {
    let mut child = Command::new(cargo)
        .args([
            "fuzz",
            "run",
            "--sanitizer",
            "none",
            "--debug-assertions",
            "--features",
            "libfuzzer",
            target,
            &format!("corpus/{target}"),
            "--",
            &format!("-max_total_time={seconds}"),
            "-print_final_stats=1",
        ])
        .current_dir(fuzz_dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("could not run cargo fuzz: {error}"))?;
    let mut executions = None;
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(count) = line.strip_prefix("stat::number_of_executed_units:") {
                executions = count.trim().parse().ok();
            }
            eprintln!("{line}");
        }
    }
    let status = child
        .wait()
        .map_err(|error| format!("cargo fuzz did not finish: {error}"))?;
    if !status.success() {
        return Err(format!(
            "cargo fuzz failed ({status}); a finding is under fuzz/artifacts/{target}/"
        ));
    }
    executions.ok_or_else(|| "libFuzzer printed no execution count".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_a_source_file_and_a_corpus() {
        let fuzz = crate::workspace_root().join("fuzz");
        for target in TARGETS {
            assert!(fuzz.join(format!("fuzz_targets/{target}.rs")).is_file());
            assert!(fuzz.join(format!("corpus/{target}")).is_dir());
        }
    }
}
