//! The Poem benchmark server: the five routes of `enrich_benches::server::ROUTES`.

use std::hint::black_box;

use bytes::Bytes;
use enrich_benches::hand::{self, SIGNATURE_HEADER};
use enrich_benches::server::{ServerArgs, hand_secret, unverified, verified};
use enrich_poem::{Event, Webhook};
use enrich_webhook::enrich_types::WebhookEvent;
use poem::http::StatusCode;
use poem::listener::TcpListener;
use poem::web::Json;
use poem::{EndpointExt, Request, Route, Server, handler, post};

#[handler]
fn raw(body: Bytes) -> StatusCode {
    black_box(body.len());
    StatusCode::OK
}

#[handler]
fn json(Json(event): Json<WebhookEvent>) -> StatusCode {
    black_box(&event);
    StatusCode::OK
}

#[handler]
fn ours(Webhook(event): Event) -> StatusCode {
    black_box(&event);
    StatusCode::OK
}

/// Route (e): the hand-written receiver.
#[handler]
fn hand_written(req: &Request, body: Bytes) -> StatusCode {
    let signature = req
        .headers()
        .get(SIGNATURE_HEADER)
        .map(|value| value.as_bytes());
    let status = hand::receive(hand_secret(), signature, &body, |event| {
        black_box(&event);
    });
    StatusCode::from_u16(status.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn main() {
    let args = ServerArgs::from_env();
    let app = Route::new()
        .at("/raw", post(raw))
        .at("/json", post(json))
        .at("/hand", post(hand_written))
        .at("/ours", post(ours).data(unverified()))
        .at("/ours-verified", post(ours).data(verified()));
    let served = args
        .runtime()
        .block_on(Server::new(TcpListener::bind(args.addr)).run(app));
    if let Err(error) = served {
        eprintln!("bench-server-poem: {error}");
        std::process::exit(1);
    }
}
