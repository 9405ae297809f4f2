//! Project automation, run as `cargo xtask <command>`.
//!
//! Each command lives in its own module with a `run(…) -> ExitCode` entry point; `main.rs`
//! parses the arguments (clap) and dispatches. The generation logic is public so tests can call it: a plain `cargo test`
//! fails when the committed `schema/` files are stale.

use std::path::{Path, PathBuf};

pub mod bench;
pub mod ci;
pub mod drive;
pub mod fuzz;
pub mod openapi;
pub mod openapi_check;
pub mod ops;
pub mod reference;
pub mod schema;

/// The workspace root: the directory that holds the top-level `Cargo.toml`.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}
