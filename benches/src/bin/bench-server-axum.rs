//! The axum benchmark server: the five routes of `enrich_benches::server::ROUTES`.

use std::hint::black_box;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use enrich_axum::{Event, Webhook};
use enrich_benches::hand::{self, SIGNATURE_HEADER};
use enrich_benches::server::{ServerArgs, hand_secret, unverified, verified};
use enrich_webhook::enrich_types::WebhookEvent;

async fn raw(body: Bytes) -> StatusCode {
    black_box(body.len());
    StatusCode::OK
}

async fn json(axum::Json(event): axum::Json<WebhookEvent>) -> StatusCode {
    black_box(&event);
    StatusCode::OK
}

async fn ours(Webhook(event): Event) -> StatusCode {
    black_box(&event);
    StatusCode::OK
}

/// Route (e): the hand-written receiver.
async fn hand_written(headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers.get(SIGNATURE_HEADER).map(|value| value.as_bytes());
    let status = hand::receive(hand_secret(), signature, &body, |event| {
        black_box(&event);
    });
    StatusCode::from_u16(status.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn main() {
    let args = ServerArgs::from_env();
    let app = Router::new()
        .route("/raw", post(raw))
        .route("/json", post(json))
        .route("/hand", post(hand_written))
        .merge(
            Router::new()
                .route("/ours", post(ours))
                .with_state(unverified()),
        )
        .merge(
            Router::new()
                .route("/ours-verified", post(ours))
                .with_state(verified()),
        );
    let served = args.runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr).await?;
        axum::serve(listener, app).await
    });
    if let Err(error) = served {
        eprintln!("bench-server-axum: {error}");
        std::process::exit(1);
    }
}
