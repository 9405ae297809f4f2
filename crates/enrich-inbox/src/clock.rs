//! The process's clock: the one place the crate reads the wall clock of the machine it runs on.
//!
//! Leases, due times and every time the inbox records come from the database's clock, read
//! inside the statements (`backend::sql`), so that replicas whose own clocks disagree still agree
//! on who holds a lease and what is due; a worker measures its own lease on the monotonic clock.
//! What does read the wall clock (checking a stored signature's time in
//! [`Inbox::verify`](crate::Inbox::verify)) reads it here, shifted by
//! `InboxConfig::process_clock_offset`. Two things keep a lease path from ever coming to read it:
//! the tests run replicas whose process clocks are shifted several leases apart (a lease or due
//! time read here would make them take each other's leases or see new rows late), and a test of
//! this module fails when any other file of the crate reads the wall clock itself.

use std::time::{Duration, SystemTime};

/// The wall clock as this inbox sees it: the system's, shifted by an offset (zero but in tests
/// of clock skew).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ProcessClock {
    offset_ms: i64,
}

impl ProcessClock {
    /// The system's clock shifted by `offset_ms` milliseconds (positive: ahead).
    pub fn shifted(offset_ms: i64) -> Self {
        Self { offset_ms }
    }

    /// Now, on this clock.
    pub fn now(&self) -> SystemTime {
        let now = SystemTime::now();
        let magnitude = Duration::from_millis(self.offset_ms.unsigned_abs());
        let shifted = if self.offset_ms >= 0 {
            now.checked_add(magnitude)
        } else {
            now.checked_sub(magnitude)
        };
        shifted.unwrap_or(now)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// What reads a wall clock in Rust: the standard library's and the usual crates'.
    const WALL_CLOCK_READS: &[&str] = &[
        "SystemTime::now",
        "UNIX_EPOCH.elapsed",
        "Utc::now",
        "Local::now",
        "OffsetDateTime::now",
        "Timestamp::now",
        "Zoned::now",
    ];

    /// Every line of code (comments left out) of the Rust files under `dir`, with its file.
    fn code_lines(dir: &Path, lines: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read the source directory")
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                code_lines(&path, lines);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                let text = std::fs::read_to_string(&path).expect("read a source file");
                let name = path.display().to_string();
                lines.extend(
                    text.lines()
                        .filter(|line| !line.trim_start().starts_with("//"))
                        .map(|line| (name.clone(), line.to_owned())),
                );
            }
        }
    }

    // Issue 16, item 2: the clock-skew tests shift only this clock. A lease, due time or
    // recorded time that read the wall clock anywhere else would escape them; this fails
    // instead.
    #[test]
    fn no_file_but_this_one_reads_the_wall_clock() {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut lines = Vec::new();
        code_lines(&source, &mut lines);
        let this_file = source.join("clock.rs").display().to_string();
        let reads: Vec<&(String, String)> = lines
            .iter()
            .filter(|(_, line)| WALL_CLOCK_READS.iter().any(|read| line.contains(read)))
            .collect();
        // This file's own read, and the list above (the test's own lines) are the only ones.
        let elsewhere: Vec<_> = reads
            .iter()
            .filter(|(file, _)| *file != this_file)
            .collect();
        assert!(
            elsewhere.is_empty(),
            "read the wall clock through clock::ProcessClock, not directly: {elsewhere:#?}"
        );
        assert!(
            reads
                .iter()
                .any(|(_, line)| line.contains("let now = SystemTime::now();")),
            "the process clock reads the system's"
        );
    }
}
