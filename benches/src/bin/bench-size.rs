//! Memory and time on large documents, measured with a counting global allocator.
//!
//! ```text
//! bench-size people [--count 10000] [--repeats 5]   # prints JSON
//! bench-size collector                              # prints JSON
//! ```
//!
//! `people` generates the `GET /v2/people/enrich/:id` answer for `count` people, writes it to a
//! file, and measures its decoding in a child process (`decode-people <file>`), so that nothing of
//! the generation counts: the child's heap peak while decoding (the document included) and its
//! `VmHWM`, then the same for `serde_json::Value`.
//!
//! `collector` streams a valid body exactly at the default 1 MiB limit through
//! `WebhookConfig::receive_body` in 64 KiB chunks, then a body 100x over
//! the limit (streamed, no declared length; and declared with `Content-Length`), and reports the
//! heap the pipeline held.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::PathBuf;
use std::pin::pin;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::Bytes;
use enrich_benches::payload::{event_of_size, people_result};
use enrich_benches::{median, proc_status_kib};
use enrich_webhook::enrich_types::{EnrichPeopleResult, EnrichedPersonResponse};
use enrich_webhook::{BodyError, DEFAULT_BODY_LIMIT, RequestHeaders, WebhookConfig};
use serde_json::{Value, json};

/// Counts the bytes allocated now and the most allocated at once since the last reset.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = CURRENT.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc` and `alloc`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // Count the old and new blocks together while both may exist, as a copy needs them.
            grew(new_size);
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn current() -> usize {
    CURRENT.load(Ordering::Relaxed)
}

/// Resets the peak to the current allocation and returns it.
fn reset_peak() -> usize {
    let now = current();
    PEAK.store(now, Ordering::Relaxed);
    now
}

fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

fn flag(args: &[String], name: &str, default: usize) -> Result<usize, String> {
    match args.iter().position(|arg| arg == name) {
        None => Ok(default),
        Some(index) => args
            .get(index + 1)
            .and_then(|value| value.parse().ok())
            .filter(|value| *value > 0)
            .ok_or_else(|| format!("{name} needs a positive number")),
    }
}

fn people(args: &[String]) -> Result<Value, String> {
    let count = flag(args, "--count", 10_000)?;
    let repeats = flag(args, "--repeats", 5)?;
    let document = people_result(count);
    let path = std::env::temp_dir().join(format!(
        "enrich-benches-people-{count}-{}.json",
        std::process::id()
    ));
    std::fs::write(&path, &document).map_err(|error| format!("{}: {error}", path.display()))?;
    drop(document);
    let exe = std::env::current_exe().map_err(|error| error.to_string())?;
    let output = Command::new(exe)
        .arg("decode-people")
        .arg(&path)
        .arg(repeats.to_string())
        .output();
    let _ = std::fs::remove_file(&path);
    let output = output.map_err(|error| error.to_string())?;
    if !output.status.success() {
        return Err(format!(
            "decode-people failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut result: Value =
        serde_json::from_slice(&output.stdout).map_err(|error| error.to_string())?;
    result["people"] = json!(count);
    Ok(result)
}

/// In the child: read the document, then decode it, measuring each decode's heap peak.
fn decode_people(args: &[String]) -> Result<Value, String> {
    let path = PathBuf::from(args.first().ok_or("decode-people <file> [repeats]")?);
    let repeats: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(5);
    let pid = std::process::id();
    let hwm_start = proc_status_kib(pid, "VmHWM");
    let document = std::fs::read(&path).map_err(|error| format!("{}: {error}", path.display()))?;
    let doc_bytes = document.len();

    let mut typed_ms = Vec::new();
    let mut typed_peak = 0;
    let mut retained = 0;
    let mut hwm_after_typed = None;
    for repeat in 0..repeats {
        let before = reset_peak();
        let started = Instant::now();
        let result: EnrichPeopleResult =
            serde_json::from_slice(black_box(&document)).map_err(|error| error.to_string())?;
        typed_ms.push(started.elapsed().as_secs_f64() * 1e3);
        if repeat == 0 {
            // The document is part of `before`: the peak counts it, as the process holds it.
            typed_peak = peak() - before + doc_bytes;
            retained = current() - before;
            hwm_after_typed = proc_status_kib(pid, "VmHWM");
            let people = result.people.as_ref().map_or(0, Vec::len);
            if people == 0 {
                return Err("the document decoded to no people".to_owned());
            }
        }
        drop(black_box(result));
    }

    let mut value_ms = Vec::new();
    let mut value_peak = 0;
    for repeat in 0..repeats {
        let before = reset_peak();
        let started = Instant::now();
        let value: Value =
            serde_json::from_slice(black_box(&document)).map_err(|error| error.to_string())?;
        value_ms.push(started.elapsed().as_secs_f64() * 1e3);
        if repeat == 0 {
            value_peak = peak() - before + doc_bytes;
        }
        drop(black_box(value));
    }

    Ok(json!({
        "document_bytes": doc_bytes,
        "typed": {
            "decode_ms": median(&typed_ms),
            "peak_heap_bytes": typed_peak,
            "peak_over_document": typed_peak as f64 / doc_bytes as f64,
            "decoded_heap_bytes": retained,
            "person_struct_bytes": std::mem::size_of::<EnrichedPersonResponse>(),
        },
        "value": {
            "decode_ms": median(&value_ms),
            "peak_heap_bytes": value_peak,
            "peak_over_document": value_peak as f64 / doc_bytes as f64,
        },
        "vm_hwm_kib_at_start": hwm_start,
        "vm_hwm_kib_after_typed_decode": hwm_after_typed,
    }))
}

/// Streams `total` bytes (from `source`, or filler) through the pipeline in 64 KiB chunks.
fn collect(total: usize, source: Option<&[u8]>, declare_length: bool) -> Value {
    const CHUNK: usize = 64 * 1024;
    let filler = vec![b'x'; CHUNK];
    let config = WebhookConfig::insecure_skip_verification();
    let length = total.to_string();
    let headers = RequestHeaders::from_strs(
        Some("application/json"),
        declare_length.then_some(length.as_str()),
        None,
    );
    let before = reset_peak();
    // Bytes handed to the pipeline, and the size of the last chunk (refused if over the limit).
    let (mut yielded, mut last) = (0, 0);
    let outcome = {
        let chunks = futures_util::stream::poll_fn(|_| {
            if yielded >= total {
                return Poll::Ready(None);
            }
            let len = (total - yielded).min(CHUNK);
            let chunk = match source {
                Some(body) => &body[yielded..yielded + len],
                None => &filler[..len],
            };
            (yielded, last) = (yielded + len, len);
            Poll::Ready(Some(Ok::<_, std::io::Error>(Bytes::copy_from_slice(chunk))))
        });
        let reading = pin!(config.receive_body(&headers, chunks, |_| BodyError::Failed));
        // Every chunk is ready at once, so one poll completes the read.
        match reading.poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(delivery)) => {
                black_box(&delivery);
                "accepted".to_owned()
            }
            Poll::Ready(Err(refusal)) => refusal.code().to_owned(),
            Poll::Pending => "pending".to_owned(),
        }
    };
    let accepted = if outcome == "payload_too_large" {
        yielded - last
    } else {
        yielded
    };
    json!({
        "body_bytes": total,
        "declared_length": declare_length,
        "outcome": outcome,
        "bytes_accepted_before_outcome": accepted,
        "peak_heap_bytes": peak() - before,
    })
}

fn collector() -> Result<Value, String> {
    let limit = DEFAULT_BODY_LIMIT;
    let at_limit = event_of_size(limit).ok_or("no event of that size")?;
    Ok(json!({
        "limit_bytes": limit,
        "at_limit": collect(limit, Some(&at_limit), true),
        "over_100x_streamed": collect(100 * limit, None, false),
        "over_100x_declared": collect(100 * limit, None, true),
    }))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.split_first() {
        Some((mode, rest)) if mode == "people" => people(rest),
        Some((mode, rest)) if mode == "decode-people" => decode_people(rest),
        Some((mode, _)) if mode == "collector" => collector(),
        _ => Err("usage: bench-size <people [--count N] [--repeats N] | collector>".to_owned()),
    };
    match result {
        Ok(value) => {
            println!("{value:#}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("bench-size: {message}");
            ExitCode::FAILURE
        }
    }
}
