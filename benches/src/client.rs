//! A minimal HTTP/1.1 client over raw TCP: keep-alive connections, one request in flight per
//! connection, the same pre-built request bytes every time.
//!
//! It does as little as an HTTP client can (no header map, no allocation per request once the
//! buffers are warm), so that the server under test, not the client, is what the numbers measure.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http1_wire::ResponseReader;
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

/// The bytes of one `POST` request: request line, `Host`, `Content-Length`, the given headers,
/// then the body.
pub fn post_request(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    request
}

/// What one load run measured.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Requests answered.
    pub requests: usize,
    /// Answers whose status was not 200.
    pub non_ok: usize,
    /// From the first request sent to the last answer read.
    pub elapsed: Duration,
    /// Every request's latency (write of the request to end of the answer), sorted, in µs.
    pub latencies_us: Vec<u32>,
}

impl LoadResult {
    /// Answered requests per second.
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// Adds `other`'s requests, answers, time and latencies to this one's, as one run.
    pub fn merge(&mut self, other: LoadResult) {
        self.requests += other.requests;
        self.non_ok += other.non_ok;
        self.elapsed += other.elapsed;
        self.latencies_us.extend(other.latencies_us);
        self.latencies_us.sort_unstable();
    }

    /// The `fraction` quantile of the latency (0.5 for p50), in µs.
    pub fn percentile_us(&self, fraction: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = (fraction * (self.latencies_us.len() - 1) as f64).round() as usize;
        f64::from(self.latencies_us[rank.min(self.latencies_us.len() - 1)])
    }
}

/// Sends `total` copies of `request` to `addr` over `concurrency` keep-alive connections, each
/// with one request in flight, and measures every answer.
///
/// Fails on a connection error or an answer this client cannot frame (it needs
/// `Content-Length`); a non-200 answer is counted, not an error.
pub async fn run_load(
    addr: SocketAddr,
    request: Arc<[u8]>,
    total: usize,
    concurrency: usize,
) -> io::Result<LoadResult> {
    run_load_of(addr, Arc::from(vec![request]), total, concurrency).await
}

/// Like [`run_load`], but the `n`th request sent is `requests[n % requests.len()]` (distinct
/// deliveries, so that a durable receiver stores each one rather than answering duplicates).
///
/// Fails at once when `requests` is empty.
pub async fn run_load_of(
    addr: SocketAddr,
    requests: Arc<[Arc<[u8]>]>,
    total: usize,
    concurrency: usize,
) -> io::Result<LoadResult> {
    if requests.is_empty() {
        return Err(io::Error::other("no request to send"));
    }
    let mut streams = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        streams.push(stream);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|stream| {
            let requests = Arc::clone(&requests);
            let next = Arc::clone(&next);
            tokio::spawn(connection(stream, requests, next, total))
        })
        .collect();
    let mut latencies_us = Vec::with_capacity(total);
    let mut non_ok = 0;
    for task in tasks {
        let (latencies, failed) = task.await.map_err(io::Error::other)??;
        latencies_us.extend(latencies);
        non_ok += failed;
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Ok(LoadResult {
        requests: latencies_us.len(),
        non_ok,
        elapsed,
        latencies_us,
    })
}

async fn connection(
    mut stream: TcpStream,
    requests: Arc<[Arc<[u8]>]>,
    next: Arc<AtomicUsize>,
    total: usize,
) -> io::Result<(Vec<u32>, usize)> {
    let mut latencies = Vec::with_capacity(total / 16);
    let mut non_ok = 0;
    let mut buffer = ResponseReader::new();
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        if index >= total {
            break;
        }
        let sent = Instant::now();
        stream.write_all(&requests[index % requests.len()]).await?;
        let (status, _) = read_response(&mut stream, &mut buffer, false).await?;
        let micros = sent.elapsed().as_micros();
        latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
        if status != 200 {
            non_ok += 1;
        }
    }
    Ok((latencies, non_ok))
}

/// Reads one answer from `stream` with the workspace's one HTTP/1.1 reader (`http1-wire`; bytes
/// already in `reader` first): its status, and its body when `keep_body`.
async fn read_response<R: AsyncRead + Unpin>(
    stream: &mut R,
    reader: &mut ResponseReader,
    keep_body: bool,
) -> io::Result<(u16, Vec<u8>)> {
    let response = http1_wire::read_final_response_async(stream, reader).await?;
    Ok((
        response.status,
        if keep_body { response.body } else { Vec::new() },
    ))
}

/// The body of a single large request.
#[derive(Debug, Clone)]
pub enum Body {
    /// These exact bytes.
    Bytes(Vec<u8>),
    /// `len` bytes of filler (`x`), generated while sending, never held in memory at once.
    Filler(u64),
}

/// What a single large request got.
#[derive(Debug, Clone)]
pub struct SingleResult {
    /// The answer's status, or `None` if the server closed the connection without one.
    pub status: Option<u16>,
    /// The answer's body.
    pub body: Vec<u8>,
    /// How many body bytes were written before the answer arrived (or the connection failed).
    pub body_bytes_sent: u64,
}

/// Sends one `POST` with `body`, either with `Content-Length` or chunked (no declared length),
/// and reads the answer while still sending: a server that refuses the body early answers
/// before it has all been sent, and sending stops then.
pub async fn send_single(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: Body,
    chunked: bool,
) -> io::Result<SingleResult> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut reader, writer) = stream.into_split();
    let mut head = format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    let length = match &body {
        Body::Bytes(bytes) => bytes.len() as u64,
        Body::Filler(len) => *len,
    };
    if chunked {
        head.push_str("transfer-encoding: chunked\r\n");
    } else {
        head.push_str(&format!("content-length: {length}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let sent = Arc::new(AtomicU64::new(0));
    let writer_task = tokio::spawn(write_body(
        writer,
        head.into_bytes(),
        body,
        chunked,
        Arc::clone(&sent),
    ));
    let mut buffer = ResponseReader::new();
    let answer = read_response(&mut reader, &mut buffer, true).await;
    writer_task.abort();
    drop(writer_task);
    let body_bytes_sent = sent.load(Ordering::Relaxed);
    match answer {
        Ok((status, body)) => Ok(SingleResult {
            status: Some(status),
            body,
            body_bytes_sent,
        }),
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            ) =>
        {
            Ok(SingleResult {
                status: None,
                body: Vec::new(),
                body_bytes_sent,
            })
        }
        Err(error) => Err(error),
    }
}

async fn write_body(
    mut writer: OwnedWriteHalf,
    head: Vec<u8>,
    body: Body,
    chunked: bool,
    sent: Arc<AtomicU64>,
) -> io::Result<OwnedWriteHalf> {
    const CHUNK: usize = 64 * 1024;
    writer.write_all(&head).await?;
    let filler = vec![b'x'; CHUNK];
    let mut offset = 0u64;
    let total = match &body {
        Body::Bytes(bytes) => bytes.len() as u64,
        Body::Filler(len) => *len,
    };
    while offset < total {
        let len = (total - offset).min(CHUNK as u64) as usize;
        let chunk = match &body {
            Body::Bytes(bytes) => &bytes[offset as usize..offset as usize + len],
            Body::Filler(_) => &filler[..len],
        };
        if chunked {
            writer.write_all(format!("{len:x}\r\n").as_bytes()).await?;
            writer.write_all(chunk).await?;
            writer.write_all(b"\r\n").await?;
        } else {
            writer.write_all(chunk).await?;
        }
        offset += len as u64;
        sent.store(offset, Ordering::Relaxed);
    }
    if chunked {
        writer.write_all(b"0\r\n\r\n").await?;
    }
    writer.flush().await?;
    // Returned, not dropped: dropping it would half-close the connection, which HTTP servers
    // (hyper by default) take as the client going away, before they answer.
    Ok(writer)
}
