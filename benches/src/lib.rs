//! Benchmarks of the webhook receive pipeline and its framework adapters.
//!
//! - `benches/pipeline.rs` (criterion, `cargo bench -p enrich-benches`): the pipeline's stages
//!   against plain `serde_json` and plain HMAC-SHA256 on the same bodies.
//! - `bench-server-{axum,rocket,poem,actix}`: one server per framework with the five routes of
//!   [`server::ROUTES`] (route (e) is the hand-written receiver of [`hand`]), started and
//!   stopped by `bench-load`.
//! - `bench-load`: a keep-alive HTTP/1.1 load driver, in its own process, that measures every
//!   route of every framework alternately over several rounds, and the server's CPU time per
//!   request and peak RSS.
//! - `bench-size`: decoding a 10,000-person batch answer, and bodies at and over the limit, with
//!   a counting allocator.
//!
//! - `bench-durable`: the durable path: acknowledgements/s of the shipped `axum_receiver` with
//!   an inbox against the same receiver without one, and the worker's drain rate ([`durable`]).
//!
//! - `bench-inbox`: the inbox's stores against each engine's floor, with encryption at rest
//!   against without, and during a retention pass over a large inbox ([`retention`]).
//!
//! `cargo xtask bench` builds and runs all of them and writes `BENCHMARKS.md`. None of them runs
//! during `cargo test`.

pub mod client;
pub mod durable;
pub mod hand;
pub mod payload;
pub mod retention;
pub mod server;

/// Reads a `kB` field (such as `VmHWM` or `VmRSS`) of `/proc/<pid>/status`, in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// The CPU time all threads of process `pid` have run so far, in nanoseconds: the sum of the
/// first field of each `/proc/<pid>/task/<tid>/schedstat` (user and kernel time alike). Threads
/// that already ended are not counted, so take differences over a span in which none ends.
pub fn process_cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for task in tasks {
        let schedstat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += schedstat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// The `fraction` quantile (0.99 for p99) of `sorted` (ascending), by nearest rank; `NaN` when
/// empty.
pub fn nearest_rank(sorted: &[u64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

/// The median of `values` (the mean of the middle two for an even count); `NaN` when empty.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_status() {
        let pid = std::process::id();
        assert!(proc_status_kib(pid, "VmHWM").is_some_and(|kib| kib > 0));
        assert_eq!(proc_status_kib(pid, "NoSuchField"), None);
    }

    #[test]
    fn counts_this_process_cpu_time() {
        let pid = std::process::id();
        let before = process_cpu_ns(pid).unwrap();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(process_cpu_ns(pid).unwrap() > before);
        assert_eq!(process_cpu_ns(u32::MAX), None);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
