//! `cargo xtask ops-check`: the alert rules and the dashboard of `ops/`, checked by Prometheus's
//! own tool and against the README.
//!
//! 1. `promtool check rules ops/prometheus-rules.yml` (syntax, PromQL, templates)
//! 2. `promtool test rules ops/tests/*.yml` (each alert fires on its fault and not on its
//!    look-alike)
//! 3. every alert carries `summary`, `description` and a `runbook` annotation naming a section of
//!    README.md that exists
//! 4. the dashboard is JSON whose every panel has a query
//!
//! That the rules and the dashboard name only metrics the code records is checked by the
//! conformance crate's `metrics_scrape` test, which scrapes a running receiver. `promtool` comes
//! from Debian's `prometheus` package (`.ci/run` installs it).

use std::path::Path;
use std::process::{Command, ExitCode};

/// The alert rules, from the workspace root.
pub const RULES: &str = "ops/prometheus-rules.yml";
/// The unit tests of the rules.
pub const RULE_TESTS: &str = "ops/tests";
/// The Grafana dashboard.
pub const DASHBOARD: &str = "ops/grafana-dashboard.json";

/// The `ops-check` command.
pub fn run() -> ExitCode {
    match check() {
        Ok(summary) => {
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every check; a line saying what passed, or what failed and how to fix it.
pub fn check() -> Result<String, String> {
    let root = crate::workspace_root();
    let mut tests: Vec<String> = std::fs::read_dir(root.join(RULE_TESTS))
        .map_err(|error| format!("cannot list {RULE_TESTS}: {error}"))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml"))
        .filter_map(|path| {
            path.strip_prefix(&root)
                .ok()
                .map(|path| path.display().to_string())
        })
        .collect();
    tests.sort();
    if tests.is_empty() {
        return Err(format!("no rule tests (*.yml) in {RULE_TESTS}"));
    }
    promtool(&root, &["check", "rules", RULES])?;
    let mut test_args = vec!["test", "rules"];
    test_args.extend(tests.iter().map(String::as_str));
    promtool(&root, &test_args)?;
    let rules = read(&root, RULES)?;
    let readme = read(&root, "README.md")?;
    let alerts = check_annotations(&rules, &readme)?;
    let panels = check_dashboard(&read(&root, DASHBOARD)?)?;
    Ok(format!(
        "ops: {alerts} alerts checked and unit-tested ({} test files), {panels} dashboard panels",
        tests.len()
    ))
}

fn read(root: &Path, path: &str) -> Result<String, String> {
    std::fs::read_to_string(root.join(path)).map_err(|error| format!("cannot read {path}: {error}"))
}

/// Runs `promtool` with `args` in `root`, its output shown; a clear error when it is missing.
fn promtool(root: &Path, args: &[&str]) -> Result<(), String> {
    eprintln!("promtool {}", args.join(" "));
    match Command::new("promtool")
        .args(args)
        .current_dir(root)
        .status()
    {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("`promtool {}` failed: {status}", args.join(" "))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(
            "promtool is not installed: `apt-get install prometheus` (Debian's package ships it; \
             .ci/run installs it), or put Prometheus's promtool on PATH"
                .to_owned(),
        ),
        Err(error) => Err(format!("cannot run promtool: {error}")),
    }
}

/// Checks that every alert of `rules` has a `summary`, a `description` and a `runbook`
/// (`README.md#anchor`) whose anchor is a heading of `readme`; the number of alerts. A line scan:
/// the rules file's layout is one key per line, which `promtool check rules` has parsed already.
pub fn check_annotations(rules: &str, readme: &str) -> Result<usize, String> {
    let anchors: Vec<String> = readme
        .lines()
        .filter(|line| line.starts_with('#'))
        .map(|line| slug(line.trim_start_matches('#')))
        .collect();
    let mut alerts: Vec<(String, Vec<String>)> = Vec::new();
    for line in rules.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("- alert:") {
            alerts.push((name.trim().to_owned(), Vec::new()));
        } else if let Some((_, keys)) = alerts.last_mut() {
            for key in ["summary:", "description:", "runbook:"] {
                if let Some(value) = line.strip_prefix(key) {
                    keys.push(key.to_owned());
                    if key == "runbook:" {
                        let anchor = value.trim().strip_prefix("README.md#").ok_or_else(|| {
                            format!("{RULES}: a runbook must be README.md#section, got `{value}`")
                        })?;
                        if !anchors.iter().any(|known| known == anchor) {
                            return Err(format!(
                                "{RULES}: runbook `{}` names no README.md heading",
                                value.trim()
                            ));
                        }
                    }
                }
            }
        }
    }
    if alerts.is_empty() {
        return Err(format!("{RULES} has no alerts"));
    }
    for (name, keys) in &alerts {
        for key in ["summary:", "description:", "runbook:"] {
            if !keys.iter().any(|found| found == key) {
                return Err(format!(
                    "{RULES}: alert {name} has no `{}` annotation",
                    key.trim_end_matches(':')
                ));
            }
        }
    }
    Ok(alerts.len())
}

/// GitHub's anchor of a heading: lower case, spaces to `-`, punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Checks that `dashboard` is JSON whose panels (rows aside) each have a query; their number.
pub fn check_dashboard(dashboard: &str) -> Result<usize, String> {
    let dashboard: serde_json::Value =
        serde_json::from_str(dashboard).map_err(|error| format!("{DASHBOARD}: {error}"))?;
    let panels = dashboard["panels"]
        .as_array()
        .ok_or_else(|| format!("{DASHBOARD} has no `panels` array"))?;
    let mut count = 0;
    for panel in panels.iter().filter(|panel| panel["type"] != "row") {
        let title = panel["title"].as_str().unwrap_or("(untitled)");
        let queries = panel["targets"].as_array().map_or(0, |targets| {
            targets
                .iter()
                .filter(|target| target["expr"].as_str().is_some_and(|expr| !expr.is_empty()))
                .count()
        });
        if queries == 0 {
            return Err(format!("{DASHBOARD}: panel `{title}` has no query"));
        }
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = "# Title\n## Operating it\n#### EnrichThing\ntext\n";

    #[test]
    fn an_alert_needs_all_three_annotations_and_a_runbook_that_exists() {
        let good = "- alert: EnrichThing\n  annotations:\n    summary: s\n    description: d\n    runbook: README.md#enrichthing\n";
        assert_eq!(check_annotations(good, README), Ok(1));
        let missing = good.replace("    description: d\n", "");
        assert_eq!(
            check_annotations(&missing, README).unwrap_err(),
            format!("{RULES}: alert EnrichThing has no `description` annotation")
        );
        let dangling = good.replace("#enrichthing", "#enrichother");
        assert!(
            check_annotations(&dangling, README)
                .unwrap_err()
                .contains("names no README.md heading")
        );
    }

    #[test]
    fn headings_become_github_anchors() {
        assert_eq!(slug(" Operating it"), "operating-it");
        assert_eq!(slug(" `GET /readyz` (ready?)"), "get-readyz-ready");
    }

    #[test]
    fn a_panel_without_a_query_is_refused() {
        let ok = r#"{"panels":[{"type":"row"},{"type":"timeseries","title":"a","targets":[{"expr":"up"}]}]}"#;
        assert_eq!(check_dashboard(ok), Ok(1));
        let empty = r#"{"panels":[{"type":"timeseries","title":"a","targets":[]}]}"#;
        assert!(check_dashboard(empty).unwrap_err().contains("panel `a`"));
    }

    /// The committed files pass (promtool aside, which `ops-check` runs).
    #[test]
    fn the_committed_rules_and_dashboard_pass() {
        let root = crate::workspace_root();
        let rules = read(&root, RULES).unwrap();
        let readme = read(&root, "README.md").unwrap();
        assert_eq!(check_annotations(&rules, &readme), Ok(6));
        assert!(check_dashboard(&read(&root, DASHBOARD).unwrap()).unwrap() >= 18);
    }
}
