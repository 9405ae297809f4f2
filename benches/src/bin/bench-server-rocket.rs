//! The Rocket benchmark server: the five routes of `enrich_benches::server::ROUTES`.
//!
//! Rocket holds one `WebhookConfig` per server (managed state), so `/ours` and `/ours-verified`
//! share it: verification is on with `--verify`, off without. The load driver starts a server
//! per measured route and passes `--verify` for route (d).

use std::hint::black_box;

use enrich_benches::hand::{self, SIGNATURE_HEADER};
use enrich_benches::server::{ServerArgs, hand_secret, unverified, verified};
use enrich_rocket::Event;
use enrich_webhook::enrich_types::WebhookEvent;
use rocket::config::LogLevel;
use rocket::data::{Data, ToByteUnit};
use rocket::http::Status;
use rocket::request::{self, FromRequest, Request};
use rocket::serde::json::Json;
use rocket::{post, routes};

#[post("/raw", data = "<data>")]
async fn raw(data: Data<'_>) -> Status {
    match data.open(1.mebibytes()).into_bytes().await {
        Ok(body) if body.is_complete() => {
            black_box(body.len());
            Status::Ok
        }
        Ok(_) => Status::PayloadTooLarge,
        Err(_) => Status::BadRequest,
    }
}

#[post("/json", data = "<event>")]
fn json(event: Json<WebhookEvent>) -> Status {
    black_box(&event.0);
    Status::Ok
}

#[post("/ours", data = "<event>")]
fn ours(event: Event) -> Status {
    black_box(&event.0);
    Status::Ok
}

#[post("/ours-verified", data = "<event>")]
fn ours_verified(event: Event) -> Status {
    black_box(&event.0);
    Status::Ok
}

/// The `x-surfe-signature` header, if any: the request guard a hand-written Rocket receiver needs.
struct Signature<'r>(Option<&'r str>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Signature<'r> {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        request::Outcome::Success(Signature(req.headers().get_one(SIGNATURE_HEADER)))
    }
}

/// Route (e): the hand-written receiver.
#[post("/hand", data = "<data>")]
async fn hand_written(signature: Signature<'_>, data: Data<'_>) -> Status {
    let body = match data.open(1.mebibytes()).into_bytes().await {
        Ok(body) if body.is_complete() => body.into_inner(),
        Ok(_) => return Status::PayloadTooLarge,
        Err(_) => return Status::BadRequest,
    };
    let signature = signature.0.map(str::as_bytes);
    let status = hand::receive(hand_secret(), signature, &body, |event| {
        black_box(&event);
    });
    Status::new(status.code())
}

fn main() {
    let args = ServerArgs::from_env();
    let config = rocket::Config {
        address: args.addr.ip(),
        port: args.addr.port(),
        workers: args.workers,
        log_level: LogLevel::Off,
        cli_colors: false,
        ..rocket::Config::release_default()
    };
    let webhook = if args.verify {
        verified()
    } else {
        unverified()
    };
    let launched = args.runtime().block_on(
        rocket::custom(config)
            .manage(webhook)
            .mount("/", routes![raw, json, ours, ours_verified, hand_written])
            .register("/", enrich_rocket::catchers())
            .launch(),
    );
    if let Err(error) = launched {
        eprintln!("bench-server-rocket: {error}");
        std::process::exit(1);
    }
}
