//! Memory held while `WebhookConfig::receive_body` reads a body, measured with a counting
//! allocator: the peak stays within 10 % of the bytes actually received plus 4 KiB (as its
//! documentation promises), whatever the declared length and however the body is cut into
//! chunks.
//!
//! The allocator counts the bytes live on the current thread (the body is read on one thread,
//! polled with a no-op waker: the chunks are all ready); a `realloc` counts as its new size
//! replacing the old one.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use enrich_webhook::{BodyError, RequestHeaders, WebhookConfig};

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn add(delta: isize) {
    // `try_with`: the thread-locals may already be gone while a thread shuts down.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are updated besides.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1 << 20;
static BODY: [u8; MIB] = [b'x'; MIB];

/// How far above the bytes received the buffer may run, in percent, and at least by how much.
const GROWTH_PERCENT: usize = 10;
const MIN_GROWTH: usize = 4096;

/// Feeds `received` bytes in chunks of `chunk` bytes (borrowed from a static, so that only the
/// pipeline allocates) and returns the peak bytes allocated above the starting point while the
/// body is read (the decoding afterwards is not the buffer's cost: the body is no JSON).
fn peak_while_collecting(declared: Option<&str>, received: usize, chunk: usize) -> usize {
    let config = WebhookConfig::insecure_skip_verification().body_limit(MIB);
    let headers = RequestHeaders::from_strs(None, declared, None);
    let pieces: Vec<&'static [u8]> = BODY[..received].chunks(chunk).collect();
    let peak_at_end = Cell::new(0);
    let start = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let mut pieces = pieces.into_iter();
    let chunks = futures_util::stream::poll_fn(|_| {
        let next = pieces.next();
        if next.is_none() {
            peak_at_end.set(PEAK.with(Cell::get) - start);
        }
        Poll::Ready(next.map(|piece| Ok::<_, std::io::Error>(Bytes::from_static(piece))))
    });
    let reading = pin!(config.receive_body(&headers, chunks, |_| BodyError::Failed));
    let outcome = reading.poll(&mut Context::from_waker(Waker::noop()));
    let Poll::Ready(outcome) = outcome else {
        panic!("every chunk is ready, so the read cannot wait");
    };
    let code = outcome
        .map(|_| "accepted")
        .unwrap_or_else(|refusal| refusal.code());
    assert_eq!(
        code, "malformed_json",
        "the whole body was read, then decoded"
    );
    usize::try_from(peak_at_end.get()).expect("a peak above the start")
}

/// The documented bound, plus the few bytes of bookkeeping `Bytes` allocates when it takes
/// ownership of a buffer.
fn bound(received: usize) -> usize {
    received + received / 100 * GROWTH_PERCENT + MIN_GROWTH + 64
}

#[test]
fn memory_follows_the_bytes_received_not_the_declared_length() {
    let mut figures = Vec::new();
    for (declared, received, chunk) in [
        (Some("1048576"), 3, 1),
        (Some("1048576"), 64 * 1024, 1),
        (None, MIB, 1),
        (None, MIB, 1000),
        (None, MIB, 16 * 1024),
        (Some("1048576"), MIB, 16 * 1024),
        (Some("1048576"), MIB / 2, 64 * 1024),
        (Some("1000"), MIB, 7919),
    ] {
        let peak = peak_while_collecting(declared, received, chunk);
        figures.push(format!(
            "declared {declared:?}, received {received}, chunks of {chunk}: peak {peak} bytes"
        ));
        assert!(
            peak <= bound(received),
            "peak {peak} over the bound {} for {received} bytes received in chunks of {chunk} \
             (declared {declared:?})",
            bound(received)
        );
    }
    // The figures BENCHMARKS.md quotes; shown with `--nocapture`.
    println!("{}", figures.join("\n"));
}

#[test]
fn a_declared_length_alone_reserves_nothing() {
    let peak = peak_while_collecting(Some("1048576"), 0, 1);
    assert!(peak <= 64, "{peak} bytes allocated for an empty body");
}
