//! Every `enrich` command, group and leaf, answers `--help` with its usage and exit status 0. The
//! commands are not listed by hand: they are walked from clap's own tree (`Cli::command()`, the
//! binary's `cli.rs` compiled in here), which clap's `debug_assert` checks first.

#[allow(
    dead_code,
    reason = "only the command tree is read here; the binary reads the parsed values"
)]
#[path = "../src/cli.rs"]
mod cli;

use std::process::Command;

use clap::CommandFactory;

/// Every command path below `command`, groups before their subcommands: `["inbox"]`, then
/// `["inbox", "stats"]`, …
fn paths(command: &clap::Command, prefix: &[&str], out: &mut Vec<(Vec<String>, String)>) {
    for sub in command.get_subcommands() {
        let mut path: Vec<String> = prefix.iter().map(|name| (*name).to_owned()).collect();
        path.push(sub.get_name().to_owned());
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        out.push((path.clone(), about));
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        paths(sub, &path, out);
    }
}

#[test]
fn the_command_tree_passes_claps_own_checks() {
    cli::Cli::command().debug_assert();
}

#[test]
fn every_command_answers_help_with_its_usage() {
    let root = cli::Cli::command();
    let mut commands = vec![(
        Vec::new(),
        root.get_about()
            .map(ToString::to_string)
            .unwrap_or_default(),
    )];
    paths(&root, &[], &mut commands);
    // The tree was read: the six top-level commands and the subcommands of the three groups.
    for expected in [
        &["send"][..],
        &["people", "wait"],
        &["inbox", "retry"],
        &["reconcile"],
    ] {
        assert!(
            commands.iter().any(|(path, _)| path == expected),
            "{expected:?} is not in the tree"
        );
    }
    for (path, about) in commands {
        let output = Command::new(env!("CARGO_BIN_EXE_enrich"))
            .args(&path)
            .arg("--help")
            .env_remove("ENRICH_INBOX_URL")
            .output()
            .unwrap_or_else(|error| panic!("cannot run enrich: {error}"));
        let shown = format!("enrich {} --help", path.join(" "));
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "`{shown}` exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let usage = format!("Usage: enrich {}", path.join(" "));
        assert!(
            help.contains(usage.trim_end()),
            "`{shown}` printed no `{usage}`:\n{help}"
        );
        assert!(
            help.contains(&about),
            "`{shown}` does not say what the command does ({about:?}):\n{help}"
        );
        assert!(output.stderr.is_empty(), "`{shown}` wrote to stderr");
    }
}

/// `--show-personal` is offered by the commands whose tables hold personal data (and by
/// `inbox serve`, for the admin page's bodies), and by no other (where it would do nothing).
#[test]
fn show_personal_is_offered_only_where_a_table_holds_personal_data() {
    let root = cli::Cli::command();
    let mut commands = Vec::new();
    paths(&root, &[], &mut commands);
    let offered: Vec<String> = commands
        .iter()
        .filter(|(path, _)| {
            let mut command = &root;
            for name in path {
                command = command.find_subcommand(name).expect("a walked path");
            }
            command
                .get_arguments()
                .any(|arg| arg.get_long() == Some("show-personal"))
        })
        .map(|(path, _)| path.join(" "))
        .collect();
    assert_eq!(
        offered,
        [
            "people get",
            "people wait",
            "companies get",
            "companies wait",
            "inbox dead",
            "inbox serve"
        ]
    );
    assert!(
        !root
            .get_arguments()
            .any(|arg| arg.get_long() == Some("show-personal")),
        "not a global flag"
    );
}
