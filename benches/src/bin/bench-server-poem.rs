//! The Poem benchmark server: the four routes of `enrich_benches::server::ROUTES`.

use std::hint::black_box;

use bytes::Bytes;
use enrich_benches::server::{ServerArgs, unverified, verified};
use enrich_poem::{Event, Webhook};
use enrich_webhook::enrich_types::WebhookEvent;
use poem::http::StatusCode;
use poem::listener::TcpListener;
use poem::web::Json;
use poem::{EndpointExt, Route, Server, handler, post};

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

fn main() {
    let args = ServerArgs::from_env();
    let app = Route::new()
        .at("/raw", post(raw))
        .at("/json", post(json))
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
