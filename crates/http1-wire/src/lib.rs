//! The workspace's one HTTP/1.1 response reader, for its loopback tools and tests (the conformance
//! suite, the benchmarks, `cargo xtask demo | attack | soak`).
//!
//! [`ResponseReader`] is sans-IO: append the bytes read from a connection with
//! [`ResponseReader::extend`], then ask [`ResponseReader::next_response`] for a complete response
//! (heads parsed by `httparse`; bodies framed by `Content-Length`, `chunked`, or the end of the
//! connection). [`read_response`] and (feature `tokio`) [`read_response_async`] are the read
//! loops around it. Interim `1xx` responses are returned like any other, so a caller can see a
//! `100 Continue`; [`read_final_response`] skips them.
//!
//! ```
//! use http1_wire::ResponseReader;
//!
//! let mut reader = ResponseReader::new();
//! reader.extend(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
//! let response = reader.next_response(false).unwrap().unwrap();
//! assert_eq!((response.status, &response.body[..]), (200, &b"ok"[..]));
//! ```

#![warn(missing_docs)]

use std::fmt;
use std::io::{self, Read};

/// A complete HTTP/1.1 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower-case) and raw values, in the order received.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (lower-case), if present and UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }

    /// The `Content-Type` value, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// Whether this is an interim (`1xx`) response.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status)
    }
}

/// Why the bytes received are not an HTTP/1.1 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unreadable HTTP/1.1 response: {}", self.0)
    }
}

impl std::error::Error for ParseError {}

impl From<ParseError> for io::Error {
    fn from(error: ParseError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, error)
    }
}

/// How many header lines a response may have.
const MAX_HEADERS: usize = 64;

/// Parses responses out of the bytes of one connection. Bytes after a response stay buffered for
/// the next one (keep-alive).
#[derive(Debug, Default)]
pub struct ResponseReader {
    bytes: Vec<u8>,
    /// The last response was to a `HEAD` request: it has no body whatever its headers say.
    head_request: bool,
}

impl ResponseReader {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells the reader that the next response answers a `HEAD` request (no body).
    pub fn expect_head_response(&mut self) {
        self.head_request = true;
    }

    /// Appends bytes read from the connection.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    /// The bytes received and not yet part of a response.
    pub fn buffered(&self) -> &[u8] {
        &self.bytes
    }

    /// The next complete response, consumed from the buffer; `Ok(None)` when more bytes are needed.
    /// `eof` says the connection has closed: a body without framing then ends here, and anything
    /// still incomplete is an error.
    pub fn next_response(&mut self, eof: bool) -> Result<Option<Response>, ParseError> {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut slots);
        let head_length = match parsed.parse(&self.bytes) {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) => return incomplete(eof, &self.bytes, "head"),
            Err(error) => return Err(ParseError(error.to_string())),
        };
        let status = parsed
            .code
            .ok_or_else(|| ParseError("no status code".to_owned()))?;
        let headers: Vec<(String, Vec<u8>)> = parsed
            .headers
            .iter()
            .map(|header| (header.name.to_ascii_lowercase(), header.value.to_vec()))
            .collect();
        let framing = framing(status, &headers, self.head_request)?;
        let rest = &self.bytes[head_length..];
        let (body, used) = match framing {
            Framing::None => (Vec::new(), 0),
            Framing::Length(length) => {
                if rest.len() < length {
                    return incomplete(eof, rest, "body");
                }
                (rest[..length].to_vec(), length)
            }
            Framing::Chunked => match dechunk(rest)? {
                Some(found) => found,
                None => return incomplete(eof, rest, "chunked body"),
            },
            Framing::UntilClose => {
                if !eof {
                    return Ok(None);
                }
                (rest.to_vec(), rest.len())
            }
        };
        self.bytes.drain(..head_length + used);
        if !(100..200).contains(&status) {
            self.head_request = false;
        }
        Ok(Some(Response {
            status,
            headers,
            body,
        }))
    }
}

fn incomplete<T>(eof: bool, bytes: &[u8], part: &str) -> Result<Option<T>, ParseError> {
    if !eof {
        Ok(None)
    } else if bytes.is_empty() && part == "head" {
        Err(ParseError(
            "the connection closed without an answer".to_owned(),
        ))
    } else {
        Err(ParseError(format!(
            "the connection closed in the middle of the {part}"
        )))
    }
}

enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

fn framing(
    status: u16,
    headers: &[(String, Vec<u8>)],
    head_request: bool,
) -> Result<Framing, ParseError> {
    if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(Framing::None);
    }
    let value = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| String::from_utf8_lossy(value).trim().to_ascii_lowercase())
    };
    if value("transfer-encoding").is_some_and(|coding| coding.ends_with("chunked")) {
        return Ok(Framing::Chunked);
    }
    match value("content-length") {
        Some(length) => length
            .parse()
            .map(Framing::Length)
            .map_err(|_| ParseError(format!("Content-Length {length:?}"))),
        None => Ok(Framing::UntilClose),
    }
}

/// A whole chunked body at the start of `bytes`: the de-chunked body and the bytes it used, or
/// `None` when it is not complete yet.
fn dechunk(bytes: &[u8]) -> Result<Option<(Vec<u8>, usize)>, ParseError> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let (start, size) = match httparse::parse_chunk_size(&bytes[at..]) {
            Ok(httparse::Status::Complete(found)) => found,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(ParseError("a bad chunk size line".to_owned())),
        };
        let size = usize::try_from(size).map_err(|_| ParseError("a huge chunk".to_owned()))?;
        at += start;
        if size == 0 {
            // Trailer lines, then the blank line that ends the message.
            loop {
                let Some(end) = bytes[at..].windows(2).position(|pair| pair == b"\r\n") else {
                    return Ok(None);
                };
                at += end + 2;
                if end == 0 {
                    return Ok(Some((body, at)));
                }
            }
        }
        if bytes.len() < at + size + 2 {
            return Ok(None);
        }
        if &bytes[at + size..at + size + 2] != b"\r\n" {
            return Err(ParseError("a chunk does not end with CRLF".to_owned()));
        }
        body.extend_from_slice(&bytes[at..at + size]);
        at += size + 2;
    }
}

/// Reads the next response (interim ones included) from a blocking connection.
pub fn read_response(source: &mut impl Read, reader: &mut ResponseReader) -> io::Result<Response> {
    let mut buffer = [0; 16 * 1024];
    let mut eof = false;
    loop {
        if let Some(response) = reader.next_response(eof)? {
            return Ok(response);
        }
        let read = source.read(&mut buffer)?;
        eof = read == 0;
        reader.extend(&buffer[..read]);
    }
}

/// Reads the next final (non-`1xx`) response from a blocking connection, skipping interim ones.
pub fn read_final_response(
    source: &mut impl Read,
    reader: &mut ResponseReader,
) -> io::Result<Response> {
    loop {
        let response = read_response(source, reader)?;
        if !response.is_interim() {
            return Ok(response);
        }
    }
}

/// Reads the next response (interim ones included) from a tokio connection.
#[cfg(feature = "tokio")]
pub async fn read_response_async(
    source: &mut (impl tokio::io::AsyncRead + Unpin),
    reader: &mut ResponseReader,
) -> io::Result<Response> {
    use tokio::io::AsyncReadExt;

    let mut buffer = [0; 16 * 1024];
    let mut eof = false;
    loop {
        if let Some(response) = reader.next_response(eof)? {
            return Ok(response);
        }
        let read = source.read(&mut buffer).await?;
        eof = read == 0;
        reader.extend(&buffer[..read]);
    }
}

/// Reads the next final (non-`1xx`) response from a tokio connection, skipping interim ones.
#[cfg(feature = "tokio")]
pub async fn read_final_response_async(
    source: &mut (impl tokio::io::AsyncRead + Unpin),
    reader: &mut ResponseReader,
) -> io::Result<Response> {
    loop {
        let response = read_response_async(source, reader).await?;
        if !response.is_interim() {
            return Ok(response);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(bytes: &[u8], eof: bool) -> Result<Vec<Response>, ParseError> {
        let mut reader = ResponseReader::new();
        reader.extend(bytes);
        let mut found = Vec::new();
        while let Some(response) = reader.next_response(eof)? {
            found.push(response);
            if reader.buffered().is_empty() {
                break;
            }
        }
        Ok(found)
    }

    #[test]
    fn frames_by_length_chunks_and_close_and_keeps_what_follows() {
        let bytes = b"HTTP/1.1 100 Continue\r\n\r\n\
            HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc\
            HTTP/1.1 422 Unprocessable Entity\r\nTransfer-Encoding: chunked\r\n\r\n\
            2\r\nde\r\n1;ext=1\r\nf\r\n0\r\nx-trailer: 1\r\n\r\n\
            HTTP/1.1 204 No Content\r\n\r\n\
            HTTP/1.0 500 Oops\r\n\r\nto the end";
        let found = all(bytes, true).unwrap();
        let summary: Vec<(u16, &[u8])> = found
            .iter()
            .map(|response| (response.status, &response.body[..]))
            .collect();
        assert_eq!(
            summary,
            [
                (100, &b""[..]),
                (200, b"abc"),
                (422, b"def"),
                (204, b""),
                (500, b"to the end")
            ]
        );
        assert!(found[0].is_interim());
        assert_eq!(found[1].header("content-length"), Some("3"));
    }

    #[test]
    fn waits_for_more_bytes_at_every_cut_and_fails_on_a_cut_at_eof() {
        let whole = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        for cut in 0..whole.len() {
            let mut reader = ResponseReader::new();
            reader.extend(&whole[..cut]);
            assert_eq!(reader.next_response(false), Ok(None), "cut at {cut}");
            assert!(reader.next_response(true).is_err(), "cut at {cut} at eof");
            reader.extend(&whole[cut..]);
            let response = reader.next_response(false).unwrap().unwrap();
            assert_eq!(response.body, b"abc");
        }
    }

    #[test]
    fn a_close_delimited_body_needs_the_end_of_the_connection() {
        let mut reader = ResponseReader::new();
        reader.extend(b"HTTP/1.1 200 OK\r\n\r\npartial");
        assert_eq!(reader.next_response(false), Ok(None));
        assert_eq!(
            reader.next_response(true).unwrap().unwrap().body,
            b"partial"
        );
    }

    #[test]
    fn a_head_response_has_no_body_and_garbage_is_refused() {
        let mut reader = ResponseReader::new();
        reader.expect_head_response();
        reader.extend(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 10\r\n\r\n");
        assert_eq!(reader.next_response(false).unwrap().unwrap().status, 405);
        assert!(all(b"SMTP ready\r\n\r\n", false).is_err());
        assert!(all(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", false).is_err());
        assert!(
            all(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
                false
            )
            .is_err()
        );
        assert!(all(b"", true).is_err());
    }

    #[test]
    fn the_blocking_loop_reads_from_a_reader() {
        let mut source = &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\n\r\n{}"[..];
        let mut reader = ResponseReader::new();
        let response = read_final_response(&mut source, &mut reader).unwrap();
        assert_eq!((response.status, &response.body[..]), (401, &b"{}"[..]));
    }
}
