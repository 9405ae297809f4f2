//! The four receivers (the `receivers` fixture, under the example receivers' own server limits)
//! under bounded hostile senders over loopback.
//!
//! Each receiver is started with short server limits (see [`Plan`]), then all attacks run on it at
//! once, each from its own connections:
//!
//! - **slowloris**: a request head sent one byte per tick, never finished;
//! - **slow body**: a signed head, then its body one byte per tick;
//! - **idle keep-alive**: one complete request (`GET /webhook`, answered `405`), then silence;
//! - **held unsigned uploads**: an unsigned head declaring a 1 MiB body (half of them with
//!   `Expect: 100-continue`), body never sent: each must be answered `401` at once, never `100`;
//! - **h2c stream flood**: one HTTP/2 prior-knowledge connection opening many unsigned streams that
//!   declare 1 MiB bodies (HTTP/1.1-only servers refuse the preface);
//! - **1-byte chunks**: a signed chunked body sent one byte per chunk, as fast as possible.
//!
//! During the attack a genuine signed delivery must be answered `200`. After the limits have had
//! time to fire, each attack's connections are counted open or closed and compared with what the
//! receiver's server is documented to do (Rocket 0.5, Poem's missing header-read timeout and
//! actix-web's draining of chunked bodies keep some open: expected, and reported). The receiver's
//! peak memory (`VmHWM`) must stay under the bound [`memory_bound`] derives. Exits non-zero on any
//! difference.
//!
//! `attack_quick` (always on) uses fewer connections and takes seconds; `attack_full` is
//! `#[ignore]`d and run by `cargo xtask attack`.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use conformance::fixture::{
    FRAMEWORKS, Processes, Running, deliver, fresh_secret, head, memory, person_delivery,
};
use enrich_webhook::DEFAULT_BODY_LIMIT;
use enrich_webhook::testing::SignedRequest;
use http1_wire::{ResponseReader, read_final_response, read_response};

/// How many connections each attack opens, and the server limits the receivers run with.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Slowloris connections.
    slowloris: usize,
    /// Slow-body connections.
    slow_bodies: usize,
    /// Idle keep-alive connections.
    idle: usize,
    /// Held unsigned uploads.
    unsigned_uploads: usize,
    /// Streams opened on the one h2c connection.
    h2c_streams: u32,
    /// Connections sending a body in 1-byte chunks.
    one_byte_chunks: usize,
    /// The receivers' header-read and idle timeouts.
    header_timeout: Duration,
    /// The receivers' request timeout.
    request_timeout: Duration,
}

impl Plan {
    /// The full attack.
    const FULL: Self = Self {
        slowloris: 300,
        slow_bodies: 200,
        idle: 200,
        unsigned_uploads: 300,
        h2c_streams: 1500,
        one_byte_chunks: 8,
        header_timeout: Duration::from_secs(3),
        request_timeout: Duration::from_secs(5),
    };

    /// The reduced attack of `cargo xtask ci`: seconds, not minutes.
    const QUICK: Self = Self {
        slowloris: 20,
        slow_bodies: 20,
        idle: 20,
        unsigned_uploads: 20,
        h2c_streams: 200,
        one_byte_chunks: 2,
        header_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
    };

    fn connections(&self) -> usize {
        self.slowloris
            + self.slow_bodies
            + self.idle
            + self.unsigned_uploads
            + self.one_byte_chunks
            + 1
    }

    /// The fixture's switches that set these limits.
    fn args(&self) -> Vec<String> {
        let header = self.header_timeout.as_secs().to_string();
        let request = self.request_timeout.as_secs().to_string();
        [
            "--header-read-timeout-secs",
            &header,
            "--idle-timeout-secs",
            &header,
            "--request-timeout-secs",
            &request,
        ]
        .map(str::to_owned)
        .to_vec()
    }
}

/// The attacks, in report order.
const ATTACKS: [&str; 6] = [
    "slowloris",
    "slow body",
    "idle keep-alive",
    "held unsigned upload",
    "h2c stream flood",
    "1-byte chunks",
];

/// What a receiver's server is documented to do with an attack's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    /// Every one closed (by a timeout, or after a refusal).
    All,
    /// Some kept open: the framework has no setting that would close them.
    KeptOpen,
    /// Either: the framework closes them or not depending on timing.
    Either,
}

/// What `framework`'s example receiver does with the connections of `attack`.
fn closing(framework: &str, attack: &str) -> Closing {
    match (framework, attack) {
        // After answering `401` (to an upload), or failing to parse the h2c preface, hyper under
        // Rocket closes the connection or keeps it, depending on how much it had read: timing.
        ("rocket", "held unsigned upload" | "h2c stream flood") => Closing::Either,
        // Rocket 0.5.2 has no timeouts at all (see enrich-rocket's README).
        ("rocket", _) => Closing::KeptOpen,
        // Poem 3 has no header-read timeout (see enrich-poem's README).
        ("poem", "slowloris") => Closing::KeptOpen,
        // On the h2c connection Poem admits 32 streams, answers them `401` from their headers and
        // refuses the rest; whether h2 then ends the connection (too many refused streams, or
        // the idle timeout's graceful shutdown) or waits for the sender to end its half-open
        // streams depends on timing. The stream cap is what bounds it.
        ("poem", "h2c stream flood") => Closing::Either,
        // actix-web answers the request timeout's `408` with `Connection: close`, then reads a
        // chunked body to its end, discarding it, before closing (see enrich-actix's README): a
        // sender that keeps sending chunks keeps its connection, holding no body memory.
        ("actix", "1-byte chunks") => Closing::KeptOpen,
        _ => Closing::All,
    }
}

#[test]
fn attack_quick() {
    assert_eq!(attack_all(&Plan::QUICK), Ok(true));
}

#[test]
#[ignore = "minutes: run by `cargo xtask attack`"]
fn attack_full() {
    assert_eq!(attack_all(&Plan::FULL), Ok(true));
}

fn attack_all(plan: &Plan) -> Result<bool, String> {
    let processes = Processes::new(env!("CARGO_BIN_EXE_receivers"));
    let secret = fresh_secret();
    let mut all_ok = true;
    let args = plan.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    for framework in FRAMEWORKS {
        let receiver = processes.receiver(framework, &secret, &args)?;
        println!("\n{framework} on {}", receiver.address);
        let ok = attack_one(framework, &receiver, &secret, plan)?;
        all_ok &= ok;
        processes.stop_all();
    }
    println!(
        "\n{}",
        if all_ok {
            "every receiver held as documented"
        } else {
            "SOME RECEIVERS DID NOT HOLD AS DOCUMENTED (marked WRONG)"
        }
    );
    Ok(all_ok)
}

/// One attack's connections and what they send on each tick.
struct Group {
    name: &'static str,
    connections: Vec<Attacker>,
}

struct Attacker {
    stream: TcpStream,
    /// What is left to send, one step per tick.
    pending: Vec<u8>,
    /// Bytes sent per tick.
    step: usize,
    /// When the server closed the connection (or answered and then closed it).
    closed_at: Option<Duration>,
}

impl Attacker {
    fn open(address: SocketAddr, first: &[u8], rest: Vec<u8>, step: usize) -> Result<Self, String> {
        let mut stream =
            TcpStream::connect(address).map_err(|error| format!("connect: {error}"))?;
        stream
            .set_nodelay(true)
            .map_err(|error| format!("socket: {error}"))?;
        stream
            .write_all(first)
            .map_err(|error| format!("write: {error}"))?;
        stream
            .set_nonblocking(true)
            .map_err(|error| format!("socket: {error}"))?;
        Ok(Self {
            stream,
            pending: rest,
            step,
            closed_at: None,
        })
    }

    /// Sends the next step and notes whether the server has closed the connection.
    fn tick(&mut self, elapsed: Duration) {
        if self.closed_at.is_some() {
            return;
        }
        let mut sink = [0; 16 * 1024];
        let closed = loop {
            match self.stream.read(&mut sink) {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(error) if error.kind() == ErrorKind::WouldBlock => break false,
                Err(_) => break true,
            }
        };
        let failed_write = !closed && !self.pending.is_empty() && {
            let step = self.step.min(self.pending.len());
            match self.stream.write(&self.pending[..step]) {
                Ok(sent) => {
                    self.pending.drain(..sent);
                    false
                }
                Err(error) => error.kind() != ErrorKind::WouldBlock,
            }
        };
        if closed || failed_write {
            self.closed_at = Some(elapsed);
        }
    }
}

fn attack_one(
    framework: &str,
    receiver: &Running,
    secret: &str,
    plan: &Plan,
) -> Result<bool, String> {
    let address = receiver.address;
    // A warm-up delivery, so the baseline includes a served request.
    let warm = deliver(address, &person_delivery(secret, 0))?;
    let baseline = memory(receiver.pid)?;
    let started = Instant::now();
    let mut groups = open_groups(address, secret, plan, framework)?;
    let mut ok = true;

    // The held unsigned uploads were answered from their heads (checked in `open_groups`); now a
    // genuine delivery, while every attack is in flight.
    let genuine_started = Instant::now();
    let genuine = deliver(address, &person_delivery(secret, 1));
    let genuine_took = genuine_started.elapsed();

    let deadline = plan.request_timeout.max(plan.header_timeout) + Duration::from_secs(3);
    while started.elapsed() < deadline {
        let elapsed = started.elapsed();
        for group in &mut groups {
            for attacker in &mut group.connections {
                attacker.tick(elapsed);
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let peak = memory(receiver.pid)?;

    println!(
        "  warm-up delivery: {warm}; genuine delivery during the attack: {} after {genuine_took:.1?}",
        match &genuine {
            Ok(status) => status.to_string(),
            Err(error) => error.clone(),
        }
    );
    if genuine != Ok(200) {
        println!("  WRONG: the genuine delivery was not answered 200");
        ok = false;
    }
    for group in &groups {
        let total = group.connections.len();
        let closed: Vec<Duration> = group
            .connections
            .iter()
            .filter_map(|attacker| attacker.closed_at)
            .collect();
        let expected = closing(framework, group.name);
        let as_expected = match expected {
            Closing::All => closed.len() == total,
            Closing::KeptOpen => closed.len() < total,
            Closing::Either => true,
        };
        let latest = closed.iter().max().copied().unwrap_or_default();
        println!(
            "  {:<22} {:>4} connections, {:>4} closed by the server (last after {latest:.1?}); expected {}{}",
            group.name,
            total,
            closed.len(),
            match expected {
                Closing::All => "all closed",
                Closing::KeptOpen => "kept open (documented)",
                Closing::Either => "either (documented)",
            },
            if as_expected { "" } else { "  WRONG" },
        );
        ok &= as_expected;
    }
    let bound = memory_bound(baseline.hwm, plan);
    let within = peak.hwm <= bound;
    println!(
        "  memory: VmHWM {} KiB at start, {} KiB after the attack; bound {} KiB{}",
        baseline.hwm / 1024,
        peak.hwm / 1024,
        bound / 1024,
        if within { "" } else { "  WRONG" }
    );
    Ok(ok && within)
}

/// The peak memory a receiver may reach under `plan`: its peak before the attack, plus
/// [`PER_CONNECTION`] for every attacking connection and stream (read and write buffers, the
/// connection task, parser state), plus the body bytes the attack can make it hold (each slow body
/// and 1-byte-chunk body is under 64 KiB, times 1.1 for the body collector's growth), plus a
/// constant for allocator slack and worker threads.
fn memory_bound(baseline: u64, plan: &Plan) -> u64 {
    let streams = u64::try_from(plan.connections()).unwrap_or(u64::MAX)
        + u64::from(plan.h2c_streams.min(H2C_STREAM_ALLOWANCE));
    let bodies = u64::try_from(plan.slow_bodies + plan.one_byte_chunks).unwrap_or(u64::MAX)
        * (ATTACK_BODY as u64 * 11 / 10);
    baseline + streams * PER_CONNECTION + bodies + CONSTANT
}

/// Memory allowed per attacking connection or stream (see [`memory_bound`]).
const PER_CONNECTION: u64 = 64 * 1024;
/// Allowance for the receiver's own threads and allocator slack (see [`memory_bound`]).
const CONSTANT: u64 = 32 * 1024 * 1024;
/// Streams counted against the bound for the h2c flood: the stream cap (Poem's, 32) with room for
/// streams refused but not yet freed.
const H2C_STREAM_ALLOWANCE: u32 = 256;
/// The size of the bodies the slow attacks send.
const ATTACK_BODY: usize = 32 * 1024;

/// What a receiver first answered to an unsigned head whose body was not sent.
#[derive(Debug, PartialEq, Eq)]
enum First {
    /// `401`, from the headers alone.
    Refused,
    /// `100 Continue`.
    Continue,
    /// Another final answer.
    Other(u16),
    /// Nothing yet.
    Nothing,
}

/// How many body bytes Rocket 0.5.2 reads before routing a request (`_method=delete`).
const ROCKET_PEEK: usize = 14;

fn refusal_before_body(stream: &mut TcpStream, framework: &str) -> Result<First, String> {
    stream.set_nonblocking(false).ok();
    // Rocket answers nothing (or `100 Continue`) before body bytes arrive, and either is
    // documented: a short look is enough. The others must answer `401` from the head.
    let wait = if framework == "rocket" {
        Duration::from_millis(50)
    } else {
        Duration::from_secs(10)
    };
    stream
        .set_read_timeout(Some(wait))
        .map_err(|error| format!("socket: {error}"))?;
    let mut reader = ResponseReader::new();
    let first = match read_response(stream, &mut reader) {
        Ok(answer) if answer.status == 401 => First::Refused,
        // actix-web sends `100 Continue` before any extractor runs (the conformance suite's
        // documented divergence); the refusal must follow at once, with no body byte sent.
        Ok(answer) if answer.status == 100 && framework == "actix" => {
            match read_response(stream, &mut reader) {
                Ok(answer) if answer.status == 401 => First::Refused,
                Ok(answer) => First::Other(answer.status),
                Err(error) => return Err(format!("no refusal after 100 Continue: {error}")),
            }
        }
        Ok(answer) if answer.status == 100 => First::Continue,
        Ok(answer) => First::Other(answer.status),
        Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            First::Nothing
        }
        Err(error) => return Err(format!("no answer from the head: {error}")),
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|error| format!("socket: {error}"))?;
    Ok(first)
}

fn open_groups(
    address: SocketAddr,
    secret: &str,
    plan: &Plan,
    framework: &str,
) -> Result<Vec<Group>, String> {
    let mut groups: Vec<Group> = ATTACKS
        .iter()
        .map(|name| Group {
            name,
            connections: Vec::new(),
        })
        .collect();
    let filler = |n: usize| {
        let mut body = br#"{"eventType":"person.enrichment.completed","data":{"pad":""#.to_vec();
        body.resize(n - 3, b'x');
        body.extend_from_slice(br#""}}"#);
        body
    };
    let signed_body = SignedRequest::builder(filler(ATTACK_BODY))
        .secret(secret)
        .build();
    let slowloris = b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n".to_vec();
    let trickle: Vec<u8> = b"x-a: b\r\n".repeat(10_000);
    for _ in 0..plan.slowloris {
        groups[0]
            .connections
            .push(Attacker::open(address, &slowloris, trickle.clone(), 1)?);
    }
    for _ in 0..plan.slow_bodies {
        groups[1].connections.push(Attacker::open(
            address,
            &head(&signed_body, &[]),
            signed_body.body.clone(),
            1,
        )?);
    }
    for _ in 0..plan.idle {
        let mut attacker = Attacker::open(
            address,
            b"GET /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            Vec::new(),
            0,
        )?;
        // Let the 405 arrive, so that the connection is idle between requests.
        attacker.stream.set_nonblocking(false).ok();
        attacker
            .stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok();
        let answer = read_response(&mut attacker.stream, &mut ResponseReader::new())
            .map_err(|error| format!("idle keep-alive: no answer to GET: {error}"))?;
        if answer.status != 405 || answer.header("allow") != Some("POST") {
            return Err(format!(
                "GET /webhook answered {} (allow {:?}), not 405 with Allow: POST",
                answer.status,
                answer.header("allow")
            ));
        }
        attacker.stream.set_nonblocking(true).ok();
        groups[2].connections.push(attacker);
    }
    let unsigned = SignedRequest::builder(Vec::new())
        .unsigned()
        .build()
        .header_pairs
        .into_iter()
        .filter(|(name, _)| name != "content-length")
        .collect::<Vec<_>>();
    for n in 0..plan.unsigned_uploads {
        let mut lines: Vec<String> = unsigned
            .iter()
            .map(|(name, value)| format!("{name}: {value}"))
            .collect();
        lines.push(format!("content-length: {DEFAULT_BODY_LIMIT}"));
        if n % 2 == 0 {
            lines.push("expect: 100-continue".to_owned());
        }
        let request = format!(
            "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n{}\r\n\r\n",
            lines.join("\r\n")
        );
        let expect_continue = n % 2 == 0;
        let mut attacker = Attacker::open(address, request.as_bytes(), Vec::new(), 0)?;
        let first = refusal_before_body(&mut attacker.stream, framework)
            .map_err(|error| format!("held unsigned upload: {error}"))?;
        let documented = if framework == "rocket" {
            // Rocket 0.5.2 peeks at the first bytes of every body before routing (see
            // enrich-rocket's README): `100 Continue` (or silence), then the refusal once a few
            // body bytes have arrived. Only those bytes are read.
            matches!(first, First::Continue | First::Nothing)
        } else {
            first == First::Refused
        };
        if !documented {
            return Err(format!(
                "{framework}: an unsigned upload declaring {DEFAULT_BODY_LIMIT} bytes{} was first \
                 answered {first:?}",
                if expect_continue {
                    " with Expect: 100-continue"
                } else {
                    ""
                },
            ));
        }
        if first != First::Refused {
            attacker
                .stream
                .write_all(&[b' '; ROCKET_PEEK])
                .map_err(|error| format!("write: {error}"))?;
            let mut reader = ResponseReader::new();
            let answer = read_final_response(&mut attacker.stream, &mut reader)
                .map_err(|error| format!("held unsigned upload: {error}"))?;
            if answer.status != 401 {
                return Err(format!(
                    "{framework}: an unsigned upload was answered {}, not 401",
                    answer.status
                ));
            }
        }
        attacker.stream.set_nonblocking(true).ok();
        groups[3].connections.push(attacker);
    }
    groups[4].connections.push(Attacker::open(
        address,
        &h2c_flood(plan.h2c_streams),
        Vec::new(),
        0,
    )?);
    for _ in 0..plan.one_byte_chunks {
        let big = SignedRequest::builder(filler(ATTACK_BODY))
            .secret(secret)
            .build();
        let mut chunked = Vec::with_capacity(big.body.len() * 6);
        for byte in &big.body {
            chunked.extend_from_slice(b"1\r\n");
            chunked.push(*byte);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        let mut request = big.clone();
        request
            .header_pairs
            .retain(|(name, _)| name != "content-length");
        groups[5].connections.push(Attacker::open(
            address,
            &head(&request, &["transfer-encoding: chunked"]),
            chunked,
            // 1-byte chunks, 64 of them per tick.
            64 * 6,
        )?);
    }
    Ok(groups)
}

/// An HTTP/2 prior-knowledge connection opening `streams` unsigned `POST /webhook` streams that
/// each declare a 1 MiB body and never send it (HPACK literals without indexing or Huffman).
fn h2c_flood(streams: u32) -> Vec<u8> {
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    frame(&mut bytes, 0x4, 0, 0, &[]); // SETTINGS, empty
    let length = DEFAULT_BODY_LIMIT.to_string();
    let fields: [(&str, &str); 6] = [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/webhook"),
        (":authority", "127.0.0.1"),
        ("content-type", "application/json"),
        ("content-length", &length),
    ];
    let mut block = Vec::new();
    for (name, value) in fields {
        block.push(0x00);
        block.push(u8::try_from(name.len()).unwrap_or(0));
        block.extend_from_slice(name.as_bytes());
        block.push(u8::try_from(value.len()).unwrap_or(0));
        block.extend_from_slice(value.as_bytes());
    }
    for n in 0..streams {
        // HEADERS with END_HEADERS, without END_STREAM: the body is still to come.
        frame(&mut bytes, 0x1, 0x4, 2 * n + 1, &block);
    }
    bytes
}

fn frame(bytes: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let length = u32::try_from(payload.len()).unwrap_or(0);
    bytes.extend_from_slice(&length.to_be_bytes()[1..]);
    bytes.push(kind);
    bytes.push(flags);
    bytes.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    bytes.extend_from_slice(payload);
}

#[test]
fn the_h2c_flood_is_well_framed() {
    let bytes = h2c_flood(3);
    let mut at = 24;
    let mut frames = Vec::new();
    while at < bytes.len() {
        let length = usize::from(bytes[at]) << 16
            | usize::from(bytes[at + 1]) << 8
            | usize::from(bytes[at + 2]);
        let stream =
            u32::from_be_bytes([bytes[at + 5], bytes[at + 6], bytes[at + 7], bytes[at + 8]]);
        frames.push((bytes[at + 3], stream));
        at += 9 + length;
    }
    assert_eq!(at, bytes.len());
    assert_eq!(frames, [(4, 0), (1, 1), (1, 3), (1, 5)]);
}

#[test]
fn the_bound_grows_with_the_attack() {
    let quick = memory_bound(10 << 20, &Plan::QUICK);
    let full = memory_bound(10 << 20, &Plan::FULL);
    assert!(quick > 10 << 20 && full > quick);
}
