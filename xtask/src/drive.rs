//! `cargo xtask demo`, `attack` and `soak`: thin drivers of tests that live in the conformance
//! crate (`tests/tests/demo`, `attack.rs`, `soak.rs`), run with `cargo test` and their output
//! shown. The tests start the `receivers` fixture; nothing here knows a receiver.

use std::ffi::OsString;
use std::process::{Command, ExitCode};

/// `cargo test -p conformance --test TEST -- ARGS --nocapture`, with `env` set; its exit status.
pub fn conformance_test(test: &str, args: &[&str], env: &[(&str, String)]) -> ExitCode {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let status = Command::new(cargo)
        .current_dir(crate::workspace_root())
        .args([
            "test",
            "--quiet",
            "--package",
            "conformance",
            "--test",
            test,
            "--",
        ])
        .args(args)
        .args(["--nocapture", "--test-threads", "1"])
        .envs(env.iter().map(|(name, value)| (name, value)))
        .status();
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("could not run cargo: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask demo`: the `demo` test (ignored by a plain `cargo test`: about a minute).
pub fn demo() -> ExitCode {
    conformance_test("demo", &["--ignored"], &[])
}

/// `cargo xtask attack [--quick]`: the full attack (`attack_full`, ignored by a plain
/// `cargo test`), or the reduced one every `cargo test` runs (`attack_quick`).
pub fn attack(quick: bool) -> ExitCode {
    if quick {
        conformance_test("attack", &["--exact", "attack_quick"], &[])
    } else {
        conformance_test("attack", &["--ignored", "--exact", "attack_full"], &[])
    }
}

/// `cargo xtask soak`: the `soak` test (ignored by a plain `cargo test`) with `deliveries` and
/// `concurrency`.
pub fn soak(deliveries: u64, concurrency: u64) -> ExitCode {
    let env = [
        ("SOAK_DELIVERIES", deliveries.to_string()),
        ("SOAK_CONCURRENCY", concurrency.to_string()),
    ];
    conformance_test("soak", &["--ignored"], &env)
}
