//! The actix-web benchmark server: the five routes of `enrich_benches::server::ROUTES`.
//!
//! actix-web runs its own runtime (an actix `System`, one single-threaded worker per
//! `--workers`), so this server does not use [`ServerArgs::runtime`]'s Tokio runtime.

use std::hint::black_box;

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use enrich_actix::{Event, Webhook};
use enrich_benches::hand::{self, SIGNATURE_HEADER};
use enrich_benches::server::{ServerArgs, hand_secret, unverified, verified};
use enrich_webhook::enrich_types::WebhookEvent;

async fn raw(body: web::Bytes) -> HttpResponse {
    black_box(body.len());
    HttpResponse::Ok().finish()
}

async fn json(web::Json(event): web::Json<WebhookEvent>) -> HttpResponse {
    black_box(&event);
    HttpResponse::Ok().finish()
}

async fn ours(Webhook(event): Event) -> HttpResponse {
    black_box(&event);
    HttpResponse::Ok().finish()
}

/// Route (e): the hand-written receiver.
async fn hand_written(request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let signature = request
        .headers()
        .get(SIGNATURE_HEADER)
        .map(|value| value.as_bytes());
    let status = hand::receive(hand_secret(), signature, &body, |event| {
        black_box(&event);
    });
    HttpResponse::new(
        StatusCode::from_u16(status.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    )
}

fn main() {
    let args = ServerArgs::from_env();
    args.install_subscriber_if_asked();
    let (unverified, verified) = (unverified(), verified());
    let app = move || {
        App::new()
            .route("/raw", web::post().to(raw))
            .route("/json", web::post().to(json))
            .route("/hand", web::post().to(hand_written))
            .service(
                web::resource("/ours")
                    .app_data(unverified.clone())
                    .route(web::post().to(ours)),
            )
            .service(
                web::resource("/ours-verified")
                    .app_data(verified.clone())
                    .route(web::post().to(ours)),
            )
    };
    let served = actix_web::rt::System::new().block_on(async {
        HttpServer::new(app)
            .workers(args.workers)
            .bind(args.addr)?
            .run()
            .await
    });
    if let Err(error) = served {
        eprintln!("bench-server-actix: {error}");
        std::process::exit(1);
    }
}
