//! The axum benchmark server: the four routes of `enrich_benches::server::ROUTES`.

use std::hint::black_box;

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use enrich_axum::{Event, Webhook};
use enrich_benches::server::{ServerArgs, unverified, verified};
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

fn main() {
    let args = ServerArgs::from_env();
    let app = Router::new()
        .route("/raw", post(raw))
        .route("/json", post(json))
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
