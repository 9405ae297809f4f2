//! The extractors behind `axum::serve` on a real loopback socket, spoken to in raw HTTP/1.1.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use enrich_axum::enrich_webhook::testing::SignedRequest;
use enrich_axum::enrich_webhook::{Answer, SIGNATURE_HEADER};
use enrich_axum::{Rejection, Webhook, WebhookConfig, WebhookDelivery};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PERSON: &str = r#"{"eventType":"person.enrichment.completed","data":{"enrichmentID":"b-1","person":{"externalID":"p-1"}}}"#;

/// Serves `POST /webhook` (answering with the delivery's idempotency key) and returns the address.
async fn serve(config: WebhookConfig, layer_limit: usize) -> std::net::SocketAddr {
    let app = Router::new()
        .route(
            "/webhook",
            post(|Webhook(delivery): WebhookDelivery| async move {
                delivery.idempotency_key().to_string()
            }),
        )
        .layer(DefaultBodyLimit::max(layer_limit))
        .with_state(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

fn config() -> WebhookConfig {
    WebhookConfig::with_secret("whsec_test_secret").unwrap()
}

/// The request head for `signed`, with `framing` (`content-length: …` or
/// `transfer-encoding: chunked`) in place of its `Content-Length`.
fn head(signed: &SignedRequest, framing: &str) -> String {
    let mut head = format!("POST /webhook HTTP/1.1\r\nhost: localhost\r\n{framing}\r\n");
    for name in ["content-type", SIGNATURE_HEADER] {
        if let Some(value) = signed.header(name) {
            head += &format!("{name}: {value}\r\n");
        }
    }
    head + "\r\n"
}

fn with_length(signed: &SignedRequest) -> Vec<u8> {
    let framing = format!("content-length: {}", signed.body.len());
    [head(signed, &framing).as_bytes(), &signed.body].concat()
}

/// Reads one response: status, `Content-Type` and body (framed by `Content-Length`).
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> (u16, String, Vec<u8>) {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head_len) = response.parse(buffer).unwrap() {
            let header = |name: &str| {
                response
                    .headers
                    .iter()
                    .find(|header| header.name.eq_ignore_ascii_case(name))
                    .map(|header| String::from_utf8(header.value.to_vec()).unwrap())
            };
            let length: usize = header("content-length").unwrap().parse().unwrap();
            if buffer.len() >= head_len + length {
                let status = response.code.unwrap();
                let content_type = header("content-type").unwrap_or_default();
                let body = buffer[head_len..head_len + length].to_vec();
                buffer.drain(..head_len + length);
                return (status, content_type, body);
            }
        }
        let mut chunk = [0; 4096];
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "the connection closed before a whole response");
        buffer.extend_from_slice(&chunk[..read]);
    }
}

async fn exchange(address: std::net::SocketAddr, request: &[u8]) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_response(&mut stream, &mut Vec::new()).await
}

/// The (status, `Content-Type`, body) of an answer as it should arrive on the wire.
fn on_the_wire(rejection: &Rejection) -> (u16, String, Vec<u8>) {
    let answer = Answer::from(rejection);
    (answer.status, answer.content_type.to_owned(), answer.body)
}

#[tokio::test]
async fn two_deliveries_on_one_keep_alive_connection() {
    let address = serve(config(), 2 * 1024 * 1024).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    let mut buffer = Vec::new();
    for unsigned in [false, true] {
        let mut builder = SignedRequest::builder(PERSON);
        if unsigned {
            builder = builder.unsigned();
        }
        stream
            .write_all(&with_length(&builder.build()))
            .await
            .unwrap();
        let (status, _, body) = read_response(&mut stream, &mut buffer).await;
        if unsigned {
            assert_eq!(status, 401);
            assert_eq!(body, Rejection::MissingSignature.body());
        } else {
            assert_eq!(status, 200);
            assert_eq!(body, b"person.enrichment.completed/b-1/p-1");
        }
    }
}

#[tokio::test]
async fn a_chunked_body_over_the_layers_limit_gets_413() {
    let address = serve(config(), 150).await;
    let body = format!("{PERSON}{}", " ".repeat(200));
    let signed = SignedRequest::builder(body).build();
    let mut request = head(&signed, "transfer-encoding: chunked").into_bytes();
    for chunk in signed.body.chunks(50) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let response = exchange(address, &request).await;
    assert_eq!(
        response,
        on_the_wire(&Rejection::PayloadTooLarge { limit: 150 })
    );
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_incomplete() {
    let address = serve(config(), 2 * 1024 * 1024).await;
    let signed = SignedRequest::builder(PERSON).build();
    let framing = format!("content-length: {}", signed.body.len() + 10);
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(&[head(&signed, &framing).as_bytes(), &signed.body].concat())
        .await
        .unwrap();
    stream.shutdown().await.unwrap(); // the sender stops: the body ends early
    let response = read_response(&mut stream, &mut Vec::new()).await;
    assert_eq!(response, on_the_wire(&Rejection::IncompleteBody));
}
