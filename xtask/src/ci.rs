//! `cargo xtask ci`: every check CI runs, in order, stopping at the first failure.
//!
//! 1. `cargo fmt --all --check`
//! 2. `cargo clippy --workspace --all-targets -- -D warnings`
//! 3. `cargo test --workspace --all-targets` (the reduced attack included: the conformance
//!    crate's `attack_quick`, seconds)
//! 4. `cargo test --workspace --doc`
//! 5. `cargo publish --workspace --dry-run --allow-dirty`: every library crate packages and its
//!    packaged copy builds, in dependency order, against the others' packaged copies (crates with
//!    `publish = false` are skipped; nothing is uploaded; it reads the crates.io index)
//! 6. the demo: the conformance crate's `demo` test, `#[ignore]`d by a plain `cargo test` (what
//!    `cargo xtask demo`, the README's main command, runs)
//! 7. the fuzz corpus replay: `cargo test --manifest-path fuzz/Cargo.toml` (every committed corpus
//!    and crash file through the fuzz targets' checks, on stable, without a fuzzer)
//! 8. `schema --check` (in process)
//! 9. `openapi-check` (in process): openapi-spec-validator and schemathesis, from a pinned
//!    virtual environment, against `schema/openapi.json` and the local fake API
//! 10. `ops-check` (in process): `promtool check rules` and `promtool test rules` on `ops/`, the
//!     alerts' runbooks and the dashboard (a second or two)
//!
//! Tests run with `INSTA_UPDATE=no` and `CI=true`, so a snapshot mismatch fails instead of
//! writing a `.snap.new` file, and `INSTA_FORCE_PASS` is removed so it cannot hide one.

use std::ffi::OsString;
use std::process::{Command, ExitCode};
use std::time::Instant;

/// One external command of the CI run.
struct Step {
    /// What the step checks, for the progress and failure messages.
    name: &'static str,
    /// Arguments to `cargo`.
    args: &'static [&'static str],
    /// Whether it runs tests (and so needs insta kept read-only).
    runs_tests: bool,
}

const STEPS: &[Step] = &[
    Step {
        name: "formatting",
        args: &["fmt", "--all", "--check"],
        runs_tests: false,
    },
    Step {
        name: "clippy",
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        runs_tests: false,
    },
    Step {
        name: "tests",
        args: &["test", "--workspace", "--all-targets"],
        runs_tests: true,
    },
    Step {
        name: "doctests",
        args: &["test", "--workspace", "--doc"],
        runs_tests: true,
    },
    Step {
        name: "packaging",
        args: &["publish", "--workspace", "--dry-run", "--allow-dirty"],
        runs_tests: false,
    },
    Step {
        name: "demo",
        args: &[
            "test",
            "--package",
            "conformance",
            "--test",
            "demo",
            "--",
            "--ignored",
            "--nocapture",
        ],
        runs_tests: true,
    },
    Step {
        name: "fuzz corpus replay",
        args: &[
            "test",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--target-dir",
            "target",
        ],
        runs_tests: true,
    },
];

/// The `ci` command.
pub fn run() -> ExitCode {
    let started = Instant::now();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let root = crate::workspace_root();
    for step in STEPS {
        eprintln!("\n==> {}: cargo {}", step.name, step.args.join(" "));
        let mut command = Command::new(&cargo);
        command.args(step.args).current_dir(&root);
        if step.runs_tests {
            command
                .env("INSTA_UPDATE", "no")
                .env("CI", "true")
                .env_remove("INSTA_FORCE_PASS");
        }
        match command.status() {
            Ok(status) if status.success() => {}
            Ok(status) => {
                eprintln!(
                    "\nci failed at step `{}` (cargo {}): {status}",
                    step.name,
                    step.args.join(" ")
                );
                return ExitCode::FAILURE;
            }
            Err(error) => {
                eprintln!(
                    "\nci failed at step `{}`: could not run cargo: {error}",
                    step.name
                );
                return ExitCode::FAILURE;
            }
        }
    }
    eprintln!("\n==> schema: cargo xtask schema --check");
    if let Err(message) = crate::schema::check_step() {
        eprintln!("{message}\n\nci failed at step `schema`");
        return ExitCode::FAILURE;
    }
    eprintln!("\n==> openapi: cargo xtask openapi-check");
    if let Err(message) = crate::openapi_check::check() {
        eprintln!("{message}\n\nci failed at step `openapi`");
        return ExitCode::FAILURE;
    }
    eprintln!("\n==> ops: cargo xtask ops-check");
    match crate::ops::check() {
        Ok(summary) => eprintln!("{summary}"),
        Err(message) => {
            eprintln!("{message}\n\nci failed at step `ops`");
            return ExitCode::FAILURE;
        }
    }
    eprintln!(
        "\nci passed: fmt, clippy, tests (the reduced attack included), doctests, packaging, demo, \
         fuzz corpus replay, schema, openapi, ops ({:.0?})",
        started.elapsed()
    );
    ExitCode::SUCCESS
}
