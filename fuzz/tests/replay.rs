//! Replays every committed corpus and crash file of both fuzz targets through the same checks,
//! on stable Rust and without a fuzzer: what fuzzing found stays guarded by `cargo test`.

use std::fs;
use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = files(&root.join("corpus").join(target));
    assert!(
        corpus.len() >= 10,
        "the committed seed corpus of {target} has {} files",
        corpus.len()
    );
    let crashes = files(&root.join("artifacts").join(target));
    for path in corpus.iter().chain(&crashes) {
        let data = fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{} fails its checks", path.display());
    }
    println!(
        "{target}: {} corpus files and {} crash files replayed",
        corpus.len(),
        crashes.len()
    );
}

#[test]
fn the_pipeline_corpus_passes() {
    replay("pipeline", enrich_webhook_fuzz::pipeline);
}

#[test]
fn the_signed_envelope_corpus_passes() {
    replay("signed_envelope", enrich_webhook_fuzz::signed_envelope);
}
