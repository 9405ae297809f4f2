//! A raw HTTP/1.1 client over a real loopback socket.
//!
//! Requests are written byte for byte, so a case can send what a well-behaved client library
//! never would: a `Content-Length` that lies, a chunked body that never ends, header values that
//! are not UTF-8, several requests on one connection. Responses are parsed with `httparse` and
//! their bodies read by `Content-Length`, by chunked decoding, or to the end of the connection.
//! Every read has a timeout, so a server that hangs fails its case instead of hanging CI.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
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

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower-case) and values, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive), if present and UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }

    /// The `Content-Type` value, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

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
    let response = ResponseBuffer::default()
        .read_response(&mut read_half)
        .await;
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
    reader: ResponseBuffer,
}

impl Connection {
    async fn open(addr: SocketAddr) -> io::Result<Self> {
        let stream = with_timeout(TcpStream::connect(addr)).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            reader: ResponseBuffer::default(),
        })
    }

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        with_timeout(self.stream.write_all(bytes)).await
    }

    async fn read_response(&mut self) -> io::Result<Response> {
        self.reader.read_response(&mut self.stream).await
    }
}

/// Bytes read from a connection and not yet consumed (a pipelined next response stays here).
#[derive(Default)]
struct ResponseBuffer {
    bytes: Vec<u8>,
}

impl ResponseBuffer {
    /// Reads more bytes; `Ok(false)` at the end of the connection.
    async fn fill(&mut self, source: &mut (impl AsyncRead + Unpin)) -> io::Result<bool> {
        let mut chunk = [0; 16 * 1024];
        let read = with_timeout(source.read(&mut chunk)).await?;
        self.bytes.extend_from_slice(&chunk[..read]);
        Ok(read > 0)
    }

    async fn fill_or_fail(
        &mut self,
        source: &mut (impl AsyncRead + Unpin),
        what: &str,
    ) -> io::Result<()> {
        if self.fill(source).await? {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the connection closed in the middle of {what}"),
            ))
        }
    }

    async fn read_response(
        &mut self,
        source: &mut (impl AsyncRead + Unpin),
    ) -> io::Result<Response> {
        loop {
            let (status, headers) = self.read_head(source).await?;
            let body = self.read_body(source, status, &headers).await?;
            // Interim responses (100 Continue) precede the real one.
            if !(100..200).contains(&status) {
                return Ok(Response {
                    status,
                    headers,
                    body,
                });
            }
        }
    }

    async fn read_head(
        &mut self,
        source: &mut (impl AsyncRead + Unpin),
    ) -> io::Result<(u16, Vec<(String, Vec<u8>)>)> {
        loop {
            let mut slots = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Response::new(&mut slots);
            match parsed.parse(&self.bytes).map_err(invalid_data)? {
                httparse::Status::Complete(length) => {
                    let status = parsed.code.ok_or_else(|| invalid_data("no status code"))?;
                    let headers = parsed
                        .headers
                        .iter()
                        .map(|header| (header.name.to_ascii_lowercase(), header.value.to_vec()))
                        .collect();
                    self.bytes.drain(..length);
                    return Ok((status, headers));
                }
                httparse::Status::Partial => {
                    if !self.fill(source).await? {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            if self.bytes.is_empty() {
                                "the server closed the connection without answering".to_owned()
                            } else {
                                "the connection closed in the middle of the response head"
                                    .to_owned()
                            },
                        ));
                    }
                }
            }
        }
    }

    async fn read_body(
        &mut self,
        source: &mut (impl AsyncRead + Unpin),
        status: u16,
        headers: &[(String, Vec<u8>)],
    ) -> io::Result<Vec<u8>> {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| String::from_utf8_lossy(value).trim().to_ascii_lowercase())
        };
        if (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(Vec::new());
        }
        if header("transfer-encoding").is_some_and(|coding| coding.ends_with("chunked")) {
            return self.read_chunked(source).await;
        }
        if let Some(length) = header("content-length") {
            let length: usize = length
                .parse()
                .map_err(|_| invalid_data(format!("Content-Length {length:?}")))?;
            while self.bytes.len() < length {
                self.fill_or_fail(source, "the response body").await?;
            }
            return Ok(self.bytes.drain(..length).collect());
        }
        // Neither: the body runs to the end of the connection.
        while self.fill(source).await? {}
        Ok(std::mem::take(&mut self.bytes))
    }

    async fn read_chunked(&mut self, source: &mut (impl AsyncRead + Unpin)) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let (start, size) = loop {
                match httparse::parse_chunk_size(&self.bytes)
                    .map_err(|_| invalid_data("bad chunk size line"))?
                {
                    httparse::Status::Complete(found) => break found,
                    httparse::Status::Partial => {
                        self.fill_or_fail(source, "a chunk size line").await?;
                    }
                }
            };
            let size = usize::try_from(size).map_err(|_| invalid_data("huge chunk"))?;
            if size == 0 {
                self.bytes.drain(..start);
                // Trailers, then the blank line that ends the message.
                loop {
                    let Some(end) = self.bytes.windows(2).position(|pair| pair == b"\r\n") else {
                        self.fill_or_fail(source, "the chunked trailer").await?;
                        continue;
                    };
                    self.bytes.drain(..end + 2);
                    if end == 0 {
                        return Ok(body);
                    }
                }
            }
            while self.bytes.len() < start + size + 2 {
                self.fill_or_fail(source, "a chunk").await?;
            }
            if &self.bytes[start + size..start + size + 2] != b"\r\n" {
                return Err(invalid_data("a chunk does not end with CRLF"));
            }
            body.extend_from_slice(&self.bytes[start..start + size]);
            self.bytes.drain(..start + size + 2);
        }
    }
}

fn invalid_data(error: impl fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unreadable response: {error}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(wire: &[u8]) -> io::Result<(Response, Vec<u8>)> {
        let mut buffer = ResponseBuffer::default();
        let mut source = wire;
        let response = buffer.read_response(&mut source).await?;
        Ok((response, buffer.bytes))
    }

    #[tokio::test]
    async fn reads_a_content_length_body_and_keeps_what_follows() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 2\r\n\r\n{}HTTP/1.1 204";
        let (response, rest) = parse(wire).await.unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.content_type(), Some("application/json"));
        assert_eq!(response.body, b"{}");
        assert_eq!(rest, b"HTTP/1.1 204");
    }

    #[tokio::test]
    async fn decodes_chunked_bodies_with_extensions_and_trailers() {
        let wire = b"HTTP/1.1 413 Payload Too Large\r\ntransfer-encoding: chunked\r\n\r\n\
            3;ext=1\r\nabc\r\n1\r\nd\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        let (response, rest) = parse(wire).await.unwrap();
        assert_eq!(response.status, 413);
        assert_eq!(response.body, b"abcd");
        assert_eq!(rest, b"NEXT");
    }

    #[tokio::test]
    async fn skips_interim_responses_and_reads_close_delimited_bodies() {
        let wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nto the end";
        let (response, _) = parse(wire).await.unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"to the end");
    }

    #[tokio::test]
    async fn a_truncated_response_is_an_error() {
        let error = parse(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nabc")
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        let error = parse(b"").await.unwrap_err();
        assert!(error.to_string().contains("without answering"), "{error}");
    }

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
