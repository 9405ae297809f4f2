//! `cargo xtask schema [--check]`: the generated files of `schema/`.
//!
//! The files are the JSON Schemas of `enrich_types::schema::published_schemas()`, `README.md`, a
//! Markdown reference rendered from those schemas (see [`crate::reference`]), and `openapi.json`,
//! the OpenAPI 3.1 document built on them (see [`crate::openapi`]).
//! They are committed; `--check` (and the test in `xtask/tests/`) fails when regenerating them
//! would change anything.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use enrich_types::schema::published_schemas;

use crate::{openapi, reference};

/// The name of the generated Markdown reference in `schema/`.
pub const README_FILE: &str = "README.md";

/// The suffix of every schema file; files in `schema/` with it that are not generated are stale.
pub const SCHEMA_SUFFIX: &str = ".schema.json";

/// One file of `schema/` as the generator makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// File name inside `schema/`.
    pub file_name: String,
    /// Full contents.
    pub contents: String,
}

/// Why a file of `schema/` does not match a fresh generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The file exists but its contents differ.
    Changed(String),
    /// The file should exist but does not.
    Missing(String),
    /// A `*.schema.json` file that the generator no longer makes.
    Stale(String),
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Changed(name) => write!(f, "schema/{name} would change"),
            Self::Missing(name) => write!(f, "schema/{name} is missing"),
            Self::Stale(name) => write!(f, "schema/{name} is stale (no longer generated)"),
        }
    }
}

/// Why the files of `schema/` could not be generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenerateError {
    /// The Markdown reference could not be rendered.
    Reference(reference::RenderError),
    /// The OpenAPI document could not be built.
    OpenApi(openapi::OpenApiError),
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reference(error) => error.fmt(f),
            Self::OpenApi(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for GenerateError {}

/// The `schema/` directory of the workspace.
pub fn schema_dir() -> PathBuf {
    crate::workspace_root().join("schema")
}

/// Every file of `schema/`, generated in memory: the schemas in their published order, then the
/// Markdown reference.
pub fn generate() -> Result<Vec<GeneratedFile>, GenerateError> {
    let schemas = published_schemas();
    let mut files: Vec<GeneratedFile> = schemas
        .iter()
        .map(|published| GeneratedFile {
            file_name: published.file_name().to_owned(),
            contents: published.to_file_contents(),
        })
        .collect();
    let documents: Vec<(&str, serde_json::Value)> = schemas
        .iter()
        .map(|published| (published.file_name(), published.as_value().clone()))
        .collect();
    files.push(GeneratedFile {
        file_name: README_FILE.to_owned(),
        contents: reference::render(&documents).map_err(GenerateError::Reference)?,
    });
    files.push(GeneratedFile {
        file_name: openapi::OPENAPI_FILE.to_owned(),
        contents: openapi::render(&documents, env!("CARGO_PKG_VERSION"))
            .map_err(GenerateError::OpenApi)?,
    });
    Ok(files)
}

/// Compares `files` with the contents of `dir`, writing nothing. Empty means up to date.
pub fn check(dir: &Path, files: &[GeneratedFile]) -> io::Result<Vec<Drift>> {
    let mut drift = Vec::new();
    for file in files {
        match fs::read(dir.join(&file.file_name)) {
            Ok(existing) if existing == file.contents.as_bytes() => {}
            Ok(_) => drift.push(Drift::Changed(file.file_name.clone())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                drift.push(Drift::Missing(file.file_name.clone()));
            }
            Err(error) => return Err(error),
        }
    }
    drift.extend(stale_files(dir, files)?.into_iter().map(Drift::Stale));
    Ok(drift)
}

/// Writes `files` into `dir` (only those whose contents change) and removes stale schema files.
/// Returns what it changed, in the same terms as [`check`].
pub fn write(dir: &Path, files: &[GeneratedFile]) -> io::Result<Vec<Drift>> {
    fs::create_dir_all(dir)?;
    let drift = check(dir, files)?;
    for change in &drift {
        match change {
            Drift::Changed(name) | Drift::Missing(name) => {
                let file = files.iter().find(|file| &file.file_name == name);
                if let Some(file) = file {
                    fs::write(dir.join(name), &file.contents)?;
                }
            }
            Drift::Stale(name) => fs::remove_file(dir.join(name))?,
        }
    }
    Ok(drift)
}

/// `*.schema.json` files in `dir` that are not among `files`, sorted by name.
fn stale_files(dir: &Path, files: &[GeneratedFile]) -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut stale = Vec::new();
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(SCHEMA_SUFFIX) && !files.iter().any(|file| file.file_name == name) {
            stale.push(name);
        }
    }
    stale.sort();
    Ok(stale)
}

/// The `schema` command: `cargo xtask schema` writes `schema/`; `--check` only compares.
pub fn run(check_only: bool) -> ExitCode {
    match run_inner(&schema_dir(), check_only) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("xtask schema: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `--check` as a step of another command: `Ok` when `schema/` is up to date, else a message
/// naming each file that would change.
pub fn check_step() -> Result<(), String> {
    let dir = schema_dir();
    let files = generate().map_err(|error| error.to_string())?;
    let drift =
        check(&dir, &files).map_err(|error| format!("reading {}: {error}", dir.display()))?;
    if drift.is_empty() {
        Ok(())
    } else {
        Err(drift_message(&drift))
    }
}

fn run_inner(dir: &Path, check_only: bool) -> Result<ExitCode, String> {
    let files = generate().map_err(|error| error.to_string())?;
    if check_only {
        let drift =
            check(dir, &files).map_err(|error| format!("reading {}: {error}", dir.display()))?;
        if drift.is_empty() {
            println!("schema/ is up to date ({} files)", files.len());
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("{}", drift_message(&drift));
        return Ok(ExitCode::FAILURE);
    }
    let drift =
        write(dir, &files).map_err(|error| format!("writing {}: {error}", dir.display()))?;
    if drift.is_empty() {
        println!("schema/ is up to date ({} files)", files.len());
    }
    for change in &drift {
        match change {
            Drift::Changed(name) => println!("updated schema/{name}"),
            Drift::Missing(name) => println!("created schema/{name}"),
            Drift::Stale(name) => println!("removed stale schema/{name}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The failure message of a check: one line per drifting file, then how to fix it.
pub fn drift_message(drift: &[Drift]) -> String {
    let mut message = String::from("schema/ is out of date:\n");
    for change in drift {
        message.push_str(&format!("  {change}\n"));
    }
    message.push_str("run `cargo xtask schema` and commit the result");
    message
}
