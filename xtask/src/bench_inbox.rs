//! The inbox's part of `cargo xtask bench`: runs `bench-inbox` (built with the other benchmark
//! binaries) and returns the Markdown section it prints for `BENCHMARKS.md`.

use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `binary` (`--quick` when asked) and returns its section.
pub fn section(binary: &Path, quick: bool) -> Result<String, String> {
    let mut command = Command::new(binary);
    if quick {
        command.arg("--quick");
    }
    eprintln!(
        "\n==> {}{}",
        binary.display(),
        if quick { " --quick" } else { "" }
    );
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("{}: {error}", binary.display()))?;
    if !output.status.success() {
        return Err(format!("{}: {}", binary.display(), output.status));
    }
    String::from_utf8(output.stdout)
        .map_err(|error| format!("{}: output is not UTF-8: {error}", binary.display()))
}
