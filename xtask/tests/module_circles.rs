//! No two modules of a crate import each other, directly or around a circle (`CONTRIBUTING.md`,
//! Layout): every `src/` of the workspace is read as text, each module's mentions of
//! `crate::…` and `super::…` outside comments are its imports (a name the crate root re-exports
//! counts as the module that defines it), and the graph must have no cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use xtask::workspace_root;

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.filter_map(Result::ok).map(|entry| entry.path()) {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The module path of `file` in the crate rooted at `src` (`""` for `lib.rs` and `main.rs`);
/// `None` for a binary of its own under `src/bin`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.first().is_some_and(|first| first == "bin") {
        return None;
    }
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    Some(parts.join("::"))
}

/// `text` without its comment lines (doc comments included: a link in a comment is no import).
fn code(text: &str) -> String {
    let lines = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"));
    lines.collect::<Vec<_>>().join("\n")
}

/// The identifier paths that follow each `prefix` in `text` (`a::b` of `crate::a::b`), with each
/// name of a `{…}` group as a path of its own.
fn paths_after(text: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for (at, _) in text.match_indices(prefix) {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `mycrate::`, not `crate::`
        }
        let rest = &text[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or_default();
            for item in group.split(',') {
                paths.push(identifiers(item.trim()));
            }
        } else {
            paths.push(identifiers(rest));
        }
    }
    paths
}

/// The leading `a::b::c` of `text`, as its identifiers.
fn identifiers(text: &str) -> Vec<String> {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    text[..end]
        .split("::")
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The names the crate root's `root` re-exports (`pub use module::{A, B as C};`), each with the
/// module that defines it.
fn reexports(root: &str, modules: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for (at, _) in root.match_indices("pub use ") {
        let statement = root[at + "pub use ".len()..]
            .split(';')
            .next()
            .unwrap_or_default();
        let statement = statement
            .trim_start_matches("self::")
            .trim_start_matches("crate::");
        let Some((module, items)) = statement.split_once("::") else {
            continue;
        };
        if !modules.contains_key(module) {
            continue;
        }
        let items = items.trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',') {
            let name = item.rsplit(" as ").next().unwrap_or_default();
            let name = name.rsplit("::").next().unwrap_or_default().trim();
            if !name.is_empty() && !modules.contains_key(name) {
                names.insert(name.to_owned(), module.to_owned());
            }
        }
    }
    names
}

/// For each module of the crate at `src`, the other modules it imports.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let texts: BTreeMap<String, String> = files
        .iter()
        .filter_map(|file| {
            let text = std::fs::read_to_string(file).ok()?;
            Some((module_of(src, file)?, code(&text)))
        })
        .collect();
    let reexported = reexports(texts.get("").map_or("", String::as_str), &texts);
    let mut graph = BTreeMap::new();
    for (module, text) in &texts {
        let mut targets = BTreeSet::new();
        let parent = module.rsplit_once("::").map_or("", |(parent, _)| parent);
        let mentioned = paths_after(text, "crate::").into_iter().chain(
            paths_after(text, "super::").into_iter().map(|mut path| {
                if !parent.is_empty() {
                    path.insert(0, parent.to_owned());
                }
                path
            }),
        );
        for mut path in mentioned {
            if let Some(module) = path.first().and_then(|name| reexported.get(name)) {
                path.insert(0, module.clone());
            }
            // The longest prefix of the path that is a module.
            let target = (1..=path.len())
                .rev()
                .map(|len| path[..len].join("::"))
                .find(|prefix| texts.contains_key(prefix));
            if let Some(target) = target
                && target != *module
                && !module.starts_with(&format!("{target}::"))
            {
                targets.insert(target);
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

/// A circle of `graph` (its modules in order), if it has one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        module: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|seen| seen == module) {
            return Some(path[at..].to_vec());
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for target in graph.get(module).into_iter().flatten() {
            if let Some(found) = visit(graph, target, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(graph, module, &mut Vec::new(), &mut done))
}

/// Every `src/` of the workspace's crates.
fn sources() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut sources: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .expect("the crates directory")
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("src"))
        .collect();
    sources.extend(["tests", "xtask", "benches", "fuzz"].map(|dir| root.join(dir).join("src")));
    sources.retain(|src| src.is_dir());
    sources.sort();
    sources
}

#[test]
fn no_two_modules_import_each_other() {
    let sources = sources();
    assert!(
        sources.len() >= 12,
        "the crates were not found: {sources:?}"
    );
    for src in sources {
        let graph = imports(&src);
        if let Some(circle) = circle(&graph) {
            panic!(
                "{}: modules import each other: {}",
                src.display(),
                circle.join(" -> ")
            );
        }
    }
}

#[test]
fn a_circle_is_found() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("", vec!["a", "b", "c"]),
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
    ]
    .into_iter()
    .map(|(module, targets)| (module.into(), targets.into_iter().map(Into::into).collect()))
    .collect();
    assert_eq!(
        circle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into()])
    );
}

#[test]
fn imports_are_read_from_paths_groups_and_super() {
    let text = code("use crate::{output::json, text};\n// crate::error\nlet x = super::y::z;");
    assert_eq!(
        paths_after(&text, "crate::"),
        [
            vec!["output".to_owned(), "json".to_owned()],
            vec!["text".to_owned()]
        ]
    );
    assert_eq!(
        paths_after(&text, "super::"),
        [vec!["y".to_owned(), "z".to_owned()]]
    );
}
