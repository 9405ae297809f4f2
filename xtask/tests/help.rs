//! Every `cargo xtask` command answers `--help` with its usage and exit status 0 (and runs
//! nothing else: `fuzz --help` does not look for a fuzz target named `--help`).

use std::process::Command;

const COMMANDS: [&str; 9] = [
    "schema",
    "demo",
    "openapi-check",
    "bench",
    "fuzz",
    "attack",
    "soak",
    "ci",
    // `cargo xtask help`: the list of commands.
    "help",
];

#[test]
fn every_command_answers_help_with_its_usage() {
    for command in COMMANDS {
        let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(if command == "help" {
                vec![command]
            } else {
                vec![command, "--help"]
            })
            .output()
            .unwrap_or_else(|error| panic!("cannot run xtask: {error}"));
        let usage = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "`{command} --help` failed");
        assert!(
            usage.contains("Usage: cargo xtask"),
            "`{command} --help` printed {usage}"
        );
    }
}

#[test]
fn an_unknown_command_or_option_is_a_usage_error() {
    for args in [
        &["launch"][..],
        &["attack", "--fast"],
        &["fuzz", "--help-me"],
        &["fuzz", "nope"],
        &["soak", "--deliveries", "0"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(args)
            .output()
            .unwrap_or_else(|error| panic!("cannot run xtask: {error}"));
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}
