//! A raw HTTP/1.1 client over a real loopback socket.
//!
//! Requests are written byte for byte, so a case can send what a well-behaved client library
//! never would: a `Content-Length` that lies, a chunked body that never ends, header values that
//! are not UTF-8, several requests on one connection. Responses are read by the workspace's one
//! HTTP/1.1 reader (`http1-wire`): bodies by `Content-Length`, by chunked decoding, or to the end
//! of the connection.
//! Every read has a timeout, so a server that hangs fails its case instead of hanging CI.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http1_wire::ResponseReader;
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// How long any single read or write may wait. A server that is still silent after this is
/// treated as hung.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// One request as it goes on the wire: a request line and header block, then body bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// `POST`, `GET`, …
    pub method: &'static str,
    /// The request target, such as `/webhook`.
    pub path: &'static str,
    /// Header names and values, in order, values as raw bytes. `Host` is added when written.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body bytes written after the header block (as they are: no framing is added).
    pub body: Vec<u8>,
}

impl RawRequest {
    /// A `POST` to `path` with no headers and an empty body.
    pub fn post(path: &'static str) -> Self {
        Self {
            method: "POST",
            path,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header (a repeated name is sent twice).
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sets the body without adding any header.
    pub fn raw_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body and a truthful `Content-Length`.
    pub fn body(self, body: impl Into<Vec<u8>>) -> Self {
        let body = body.into();
        let length = body.len().to_string();
        self.header("content-length", length).raw_body(body)
    }

    /// The bytes to write: request line, `Host`, the headers, a blank line, the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = format!(
            "{} {} HTTP/1.1\r\nhost: 127.0.0.1\r\n",
            self.method, self.path
        )
        .into_bytes();
        for (name, value) in &self.headers {
            bytes.extend_from_slice(name.as_bytes());
            bytes.extend_from_slice(b": ");
            bytes.extend_from_slice(value);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

impl fmt::Debug for RawRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value)))
            .collect();
        f.debug_struct("RawRequest")
            .field("target", &format_args!("{} {}", self.method, self.path))
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A parsed response (the workspace's one HTTP/1.1 reader, `http1-wire`).
pub use http1_wire::Response;

/// Writes `request` on a new connection to `addr` and reads one response.
pub async fn send(addr: SocketAddr, request: &RawRequest) -> io::Result<Response> {
    send_bytes(addr, &request.to_bytes()).await
}

/// Writes `bytes` on a new connection to `addr` and reads one response. Anything the server
/// makes of bytes after the first request is never read.
pub async fn send_bytes(addr: SocketAddr, bytes: &[u8]) -> io::Result<Response> {
    let mut connection = Connection::open(addr).await?;
    connection.write(bytes).await?;
    connection.read_response().await
}

/// Writes `bytes` (a head whose body is not sent) and reads the first response, an interim `1xx`
/// included: a server that sends `100 Continue` before refusing shows it here.
pub async fn send_head_only(addr: SocketAddr, bytes: &[u8]) -> io::Result<Response> {
    let mut connection = Connection::open(addr).await?;
    connection.write(bytes).await?;
    with_timeout(http1_wire::read_response_async(
        &mut connection.stream,
        &mut connection.reader,
    ))
    .await
}

/// Writes `bytes`, then closes the write half (the sender stops mid-body), and reads one
/// response.
pub async fn send_then_stop(addr: SocketAddr, bytes: &[u8]) -> io::Result<Response> {
    let mut connection = Connection::open(addr).await?;
    connection.write(bytes).await?;
    with_timeout(connection.stream.shutdown()).await?;
    connection.read_response().await
}

/// Sends each request on ONE connection, reading each response before writing the next request
/// (HTTP/1.1 keep-alive).
pub async fn send_keep_alive(
    addr: SocketAddr,
    requests: &[RawRequest],
) -> io::Result<Vec<Response>> {
    let mut connection = Connection::open(addr).await?;
    let mut responses = Vec::with_capacity(requests.len());
    for request in requests {
        connection.write(&request.to_bytes()).await?;
        responses.push(connection.read_response().await?);
    }
    Ok(responses)
}

/// What [`send_endless_chunks`] observed.
#[derive(Debug)]
pub struct EndlessOutcome {
    /// The response that arrived while the body was still being sent.
    pub response: Response,
    /// Body bytes (chunk payloads) written before the response was read.
    pub sent: usize,
}

/// Writes `head` (a header block announcing `Transfer-Encoding: chunked`), then chunks of
/// `chunk` without ever sending the last chunk, until a response arrives or `max_bytes` have
/// been sent. Only a server that stops reading at its limit can answer: the body never ends.
pub async fn send_endless_chunks(
    addr: SocketAddr,
    head: &RawRequest,
    chunk: &[u8],
    max_bytes: usize,
) -> io::Result<EndlessOutcome> {
    let stream = with_timeout(TcpStream::connect(addr)).await?;
    stream.set_nodelay(true)?;
    let (read_half, mut write_half) = stream.into_split();
    let sent = Arc::new(AtomicUsize::new(0));

    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
    framed.extend_from_slice(chunk);
    framed.extend_from_slice(b"\r\n");
    let head = head.to_bytes();
    let payload = chunk.len();
    let writer = tokio::spawn({
        let sent = Arc::clone(&sent);
        async move {
            // A server that has answered may close the connection: writing fails then, and the
            // writer stops.
            write_half.write_all(&head).await?;
            while sent.load(Ordering::Relaxed) < max_bytes {
                write_half.write_all(&framed).await?;
                sent.fetch_add(payload, Ordering::Relaxed);
            }
            // Keep the connection open, the body unfinished, until the reader is done.
            std::future::pending::<()>().await;
            io::Result::Ok(())
        }
    });

    let mut read_half = read_half;
    let response = read_final(&mut read_half, &mut ResponseReader::new()).await;
    // The writer may be blocked on a server that stopped reading: it is not waited for.
    writer.abort();
    Ok(EndlessOutcome {
        response: response?,
        sent: sent.load(Ordering::Relaxed),
    })
}

async fn with_timeout<T>(future: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    timeout(IO_TIMEOUT, future).await.map_err(|_| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no progress within {IO_TIMEOUT:?}: the server hangs"),
        )
    })?
}

struct Connection {
    stream: TcpStream,
    reader: ResponseReader,
}

impl Connection {
    async fn open(addr: SocketAddr) -> io::Result<Self> {
        let stream = with_timeout(TcpStream::connect(addr)).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            reader: ResponseReader::new(),
        })
    }

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        with_timeout(self.stream.write_all(bytes)).await
    }

    async fn read_response(&mut self) -> io::Result<Response> {
        read_final(&mut self.stream, &mut self.reader).await
    }
}

/// The next final response (interim `1xx` ones skipped), within [`IO_TIMEOUT`].
async fn read_final(
    source: &mut (impl AsyncRead + Unpin),
    reader: &mut ResponseReader,
) -> io::Result<Response> {
    with_timeout(http1_wire::read_final_response_async(source, reader)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_headers_as_given_and_a_truthful_length() {
        let request = RawRequest::post("/webhook")
            .header("x-bytes", b"\xff".to_vec())
            .body("{}");
        assert_eq!(
            request.to_bytes(),
            b"POST /webhook HTTP/1.1\r\nhost: 127.0.0.1\r\nx-bytes: \xff\r\ncontent-length: 2\r\n\r\n{}"
        );
    }
}
