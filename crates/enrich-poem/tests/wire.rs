//! The extractors over a real loopback socket: the bytes a sender actually receives.

use std::net::SocketAddr;

use enrich_poem::enrich_webhook::testing::{SignedRequest, now, sign};
use enrich_poem::enrich_webhook::{Answer, PROBLEM_CONTENT_TYPE, SIGNATURE_HEADER};
use enrich_poem::{PersonEvent, Rejection, Webhook, WebhookConfig, WebhookDelivery};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{EndpointExt, Route, Server, handler, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "whsec_test_secret";
const LIMIT: usize = 1024;
const PERSON: &str =
    r#"{"eventType":"person.enrichment.completed","data":{"person":{"externalID":"p-1"}}}"#;
const COMPANY: &str =
    r#"{"eventType":"company.enrichment.completed","data":{"company":{"externalID":"c-1"}}}"#;

#[handler]
fn delivery(Webhook(delivery): WebhookDelivery) -> String {
    delivery
        .event()
        .external_id()
        .unwrap_or_default()
        .to_owned()
}

#[handler]
fn person(Webhook(_): PersonEvent) -> &'static str {
    "handler ran"
}

async fn serve() -> SocketAddr {
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
    let config = WebhookConfig::with_secret(SECRET)
        .unwrap()
        .body_limit(LIMIT);
    let app = Route::new()
        .at("/webhook", post(delivery))
        .at("/person", post(person))
        .data(config);
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    addr
}

/// One HTTP/1.1 response as received: status, every header line, body bytes.
struct Received {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    fn assert_answer(&self, status: u16, content_type: &str, body: &[u8]) {
        assert_eq!(self.status, status);
        assert_eq!(self.header_values("content-type"), [content_type]);
        assert_eq!(
            String::from_utf8_lossy(&self.body),
            String::from_utf8_lossy(body)
        );
    }
}

/// Reads one response with a `Content-Length` body from `stream`.
async fn read_response(stream: &mut TcpStream) -> Received {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break at;
        }
        let mut chunk = [0; 4096];
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "connection closed before the response head");
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_owned(), value.trim().to_owned())
        })
        .collect();
    let mut received = Received {
        status,
        headers,
        body: buffer[head_end + 4..].to_vec(),
    };
    let length: usize = received.header_values("content-length")[0].parse().unwrap();
    while received.body.len() < length {
        let mut chunk = [0; 4096];
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "connection closed inside the body");
        received.body.extend_from_slice(&chunk[..read]);
    }
    received
}

fn request_bytes(path: &str, request: &SignedRequest) -> Vec<u8> {
    let mut bytes = format!("POST {path} HTTP/1.1\r\nhost: localhost\r\n").into_bytes();
    for (name, value) in &request.header_pairs {
        bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(&request.body);
    bytes
}

#[tokio::test]
async fn the_wire_carries_exactly_the_pipelines_rejection() {
    let addr = serve().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let unsigned = SignedRequest::builder(PERSON).unsigned().build();
    stream
        .write_all(&request_bytes("/webhook", &unsigned))
        .await
        .unwrap();
    let received = read_response(&mut stream).await;
    let rejection = Rejection::MissingSignature;
    received.assert_answer(401, PROBLEM_CONTENT_TYPE, &rejection.body());
    assert_eq!(
        received.header_values("content-type"),
        ["application/problem+json"]
    );
}

#[tokio::test]
async fn two_deliveries_on_one_kept_alive_connection() {
    let addr = serve().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    for (path, body) in [("/webhook", PERSON), ("/person", COMPANY)] {
        let signed = SignedRequest::builder(body).secret(SECRET).build();
        stream
            .write_all(&request_bytes(path, &signed))
            .await
            .unwrap();
        let received = read_response(&mut stream).await;
        if path == "/webhook" {
            assert_eq!((received.status, &received.body[..]), (200, &b"p-1"[..]));
        } else {
            let answer = Answer::from(&Rejection::Ignored {
                event_type: "company.enrichment.completed".to_owned(),
            });
            received.assert_answer(200, answer.content_type, &answer.body);
        }
    }
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_gets_413() {
    let addr = serve().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // A fresh, well-formed signature (of another body), so that the body gets read.
    let signature = sign(SECRET, now(), b"another body");
    let mut request = format!(
        "POST /webhook HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         {SIGNATURE_HEADER}: {signature}\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..(2 * LIMIT / 256) {
        request.extend_from_slice(b"100\r\n");
        request.extend_from_slice(&[b' '; 256]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&request).await.unwrap();
    let received = read_response(&mut stream).await;
    let rejection = Rejection::PayloadTooLarge { limit: LIMIT };
    received.assert_answer(413, PROBLEM_CONTENT_TYPE, &rejection.body());
}
