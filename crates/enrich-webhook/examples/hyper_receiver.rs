//! A webhook receiver on a bare hyper 1.x server, through the `http` entry point:
//! `POST /webhook` on `127.0.0.1:$PORT` (default 3000), verified with `SURFE_WEBHOOK_SECRET`.
//!
//! ```sh
//! SURFE_WEBHOOK_SECRET=whsec_… cargo run -p enrich-webhook --features http --example hyper_receiver
//! ```
//!
//! Each accepted delivery is answered `200` and its event printed on stdout as one line of JSON
//! (`500` if it cannot be printed); every other request gets the answer every adapter gives it
//! (a refusal with its problem+json body, `405` with `Allow: POST` for another method), and
//! other paths `404`. The server limits a public URL needs, which hyper leaves to you: HTTP/1.1
//! only, a header-read timeout (it also closes idle keep-alive connections), a timeout on each
//! whole request (body read and handler, answered `408`), and a cap on open connections
//! (further ones wait in the kernel's accept queue).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use enrich_webhook::WebhookConfig;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The limits [`serve`] applies.
#[derive(Debug, Clone, Copy)]
struct ServerLimits {
    /// Time allowed for a request's headers to arrive (slowloris and idle connections alike).
    header_read: Duration,
    /// Time allowed for a whole request: its body read and the handler run.
    request: Duration,
    /// Connections open at once.
    max_connections: usize,
}

const LIMITS: ServerLimits = ServerLimits {
    header_read: Duration::from_secs(10),
    request: Duration::from_secs(30),
    max_connections: 1024,
};

/// Answers one request: `POST /webhook` through the pipeline.
async fn handle(config: &WebhookConfig, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.uri().path() != "/webhook" {
        return status(StatusCode::NOT_FOUND);
    }
    // A refusal, or `405` for another method: sent as it is, the same bytes as every adapter's.
    let delivery = match config.receive_request(request).await {
        Ok(delivery) => delivery,
        Err(answer) => return answer,
    };
    // Answer fast: the sender waits for this 200. Store or queue slow work instead.
    let line = serde_json::to_string(delivery.event()).map_err(std::io::Error::from);
    match line.and_then(|line| writeln!(std::io::stdout(), "{line}")) {
        Ok(()) => status(StatusCode::OK),
        Err(error) => {
            eprintln!("hyper_receiver: cannot print the event: {error}");
            status(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

fn status(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::default());
    *response.status_mut() = status;
    response
}

/// Serves [`handle`] on `listener` under `limits`, until the process ends.
async fn serve(
    listener: TcpListener,
    config: WebhookConfig,
    limits: ServerLimits,
) -> std::io::Result<()> {
    let config = Arc::new(config);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let permit = Arc::clone(&slots)
            .acquire_owned()
            .await
            .map_err(std::io::Error::other)?;
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, or a connection reset before it was accepted.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let config = Arc::clone(&config);
        let service = service_fn(move |request| {
            let config = Arc::clone(&config);
            async move {
                let answer = tokio::time::timeout(limits.request, handle(&config, request));
                let answer = answer.await;
                Ok::<_, std::convert::Infallible>(
                    answer.unwrap_or_else(|_| status(StatusCode::REQUEST_TIMEOUT)),
                )
            }
        });
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                eprintln!("hyper_receiver: connection closed: {error}");
            }
            drop(permit);
        });
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Refusals and warnings reach the operator (signature failures are logged at WARN).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let config =
        WebhookConfig::from_env().map_err(|error| format!("refusing to start: {error}"))?;
    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |port| port.parse())?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("listening on http://{}/webhook", listener.local_addr()?);
    Ok(serve(listener, config, LIMITS).await?)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use enrich_webhook::testing::{SignedRequest, TEST_SECRET};
    use http1_wire::{ResponseReader, read_final_response_async};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    const PERSON: &str =
        r#"{"eventType":"person.enrichment.completed","data":{"person":{"externalID":"p-1"}}}"#;

    /// The example's server on a free port, with a short header-read timeout.
    async fn start() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = WebhookConfig::with_secret(TEST_SECRET).unwrap();
        let limits = ServerLimits {
            header_read: Duration::from_millis(300),
            ..LIMITS
        };
        tokio::spawn(serve(listener, config, limits));
        addr
    }

    /// Sends `method /webhook` with `signed`'s headers and body on a new connection.
    async fn send(addr: SocketAddr, method: &str, signed: &SignedRequest) -> http1_wire::Response {
        let mut request = format!("{method} /webhook HTTP/1.1\r\nhost: test\r\n");
        for (name, value) in &signed.header_pairs {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        let mut bytes = format!("{request}\r\n").into_bytes();
        bytes.extend_from_slice(&signed.body);
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&bytes).await.unwrap();
        read_final_response_async(&mut stream, &mut ResponseReader::new())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn answers_a_signed_delivery_200_and_an_unsigned_one_401() {
        let addr = start().await;
        let signed = SignedRequest::builder(PERSON).build();
        assert_eq!(send(addr, "POST", &signed).await.status, 200);

        let unsigned = SignedRequest::builder(PERSON).unsigned().build();
        let refused = send(addr, "POST", &unsigned).await;
        assert_eq!(refused.status, 401);
        assert_eq!(refused.content_type(), Some("application/problem+json"));
        let problem: serde_json::Value = serde_json::from_slice(&refused.body).unwrap();
        assert_eq!(problem["code"], "missing_signature");

        let get = send(addr, "GET", &SignedRequest::builder("").unsigned().build()).await;
        assert_eq!((get.status, get.header("allow")), (405, Some("POST")));
    }

    #[tokio::test]
    async fn closes_a_connection_whose_head_does_not_arrive_in_time() {
        let addr = start().await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /webhook HTTP/1.1\r\n")
            .await
            .unwrap();
        // The rest of the head never comes: the server must close the connection itself.
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest));
        let closed = read.await.expect("the connection is still open after 10 s");
        // Closed (or reset) with no answer: hyper sends nothing on a header-read timeout.
        assert!(
            rest.is_empty(),
            "{closed:?}: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }
}
