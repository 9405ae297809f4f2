//! A hand-written webhook receiver behind the shipped example receivers' own server limits: what
//! `bench-load receivers` compares each `<framework>_receiver` example with.
//!
//! ```text
//! SURFE_WEBHOOK_SECRET=… PORT=3000 bench-hand-receiver --framework axum|rocket|poem|actix
//! ```
//!
//! `POST /webhook` on `127.0.0.1:$PORT` (default 3000), served as the example of that framework
//! serves it: the same runtime (`#[tokio::main]`, Rocket's own for Rocket), the same
//! `tracing_subscriber::fmt` subscriber (`RUST_LOG`, default as the example's), and the same
//! server limits — the examples' `limits.rs`, compiled in here, with the values their `main.rs`
//! gives (Rocket has none to set: the same `Config` as `rocket_receiver`). The handler is route
//! (e) of the benchmark servers ([`hand::receive`]: the framework's raw body, the
//! `x-surfe-signature` check with `hmac` + `sha2`, `serde_json::from_slice`), verifying with
//! the secret of `SURFE_WEBHOOK_SECRET`, then prints the event as the examples do: re-serialized,
//! one line of JSON on stdout, flushed (`500` if it cannot be printed).
//!
//! So the example and this receiver differ only in the code the example's user gets from us:
//! the extractor and what the example's handler does around it.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use enrich_benches::hand::{self, SIGNATURE_HEADER};
use enrich_webhook::enrich_types::WebhookEvent;
use tracing_subscriber::EnvFilter;

#[path = "../../../crates/enrich-actix/examples/actix_receiver/limits.rs"]
mod actix_limits;
#[path = "../../../crates/enrich-axum/examples/axum_receiver/limits.rs"]
mod axum_limits;
#[path = "../../../crates/enrich-poem/examples/poem_receiver/limits.rs"]
mod poem_limits;

/// The examples' limits, as their `main.rs` sets them.
const HEADER_READ: Duration = Duration::from_secs(10);
const IDLE: Duration = Duration::from_secs(10);
const REQUEST: Duration = Duration::from_secs(30);
const DISCONNECT: Duration = Duration::from_secs(1);
const HTTP2_STREAMS: u32 = 32;
const MAX_CONNECTIONS: usize = 1024;

/// The signing secret, read once at start.
static SECRET: OnceLock<Vec<u8>> = OnceLock::new();

/// Verifies and decodes a delivery, then prints its event; the status code to answer.
fn receive_and_print(signature: Option<&[u8]>, body: &[u8]) -> u16 {
    let secret = SECRET.get().map_or(&[][..], Vec::as_slice);
    let mut printed = Ok(());
    let status = hand::receive(secret, signature, body, |event| printed = print(&event));
    match printed {
        Ok(()) => status.code(),
        Err(error) => {
            eprintln!("bench-hand-receiver: cannot print the event: {error}");
            500
        }
    }
}

/// Prints `event` as one line of JSON on stdout, as the examples do.
fn print(event: &WebhookEvent) -> std::io::Result<()> {
    let line = serde_json::to_string(event)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let framework = match args.as_slice() {
        [flag, name] if flag == "--framework" => name.clone(),
        _ => {
            eprintln!("usage: bench-hand-receiver --framework axum|rocket|poem|actix");
            return ExitCode::from(2);
        }
    };
    let Some(secret) = std::env::var("SURFE_WEBHOOK_SECRET")
        .ok()
        .filter(|secret| !secret.is_empty())
    else {
        eprintln!("bench-hand-receiver: refusing to start: SURFE_WEBHOOK_SECRET is not set");
        return ExitCode::from(2);
    };
    SECRET.get_or_init(|| secret.into_bytes());
    let port: u16 = match std::env::var("PORT").map_or(Ok(3000), |port| port.parse()) {
        Ok(port) => port,
        Err(error) => {
            eprintln!("bench-hand-receiver: PORT: {error}");
            return ExitCode::from(2);
        }
    };
    // Each example's default filter.
    let filter = if framework == "rocket" {
        "info,rocket::server=warn"
    } else {
        "info"
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| filter.into()))
        .init();
    let served = match framework.as_str() {
        "rocket" => rocket::execute(rocket_app::serve(port)),
        other => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(async move {
                match other {
                    "axum" => axum_app::serve(port).await,
                    "poem" => poem_app::serve(port).await,
                    "actix" => actix_app::serve(port).await,
                    unknown => Err(format!("unknown framework `{unknown}`").into()),
                }
            }),
            Err(error) => Err(error.into()),
        },
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench-hand-receiver: {error}");
            ExitCode::FAILURE
        }
    }
}

/// What serving returns.
type Served = Result<(), Box<dyn std::error::Error>>;

mod axum_app {
    use axum::Router;
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;

    use super::axum_limits::{ServerLimits, serve as serve_with};
    use super::{HEADER_READ, MAX_CONNECTIONS, REQUEST, SIGNATURE_HEADER, Served};

    async fn webhook(headers: HeaderMap, body: Bytes) -> StatusCode {
        let signature = headers.get(SIGNATURE_HEADER).map(|value| value.as_bytes());
        let code = super::receive_and_print(signature, &body);
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub(super) async fn serve(port: u16) -> Served {
        let app = Router::new().route("/webhook", post(webhook));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let limits = ServerLimits {
            header_read: HEADER_READ,
            request: REQUEST,
            max_connections: MAX_CONNECTIONS,
        };
        Ok(serve_with(listener, app, limits).await?)
    }
}

mod rocket_app {
    use rocket::data::{Data, ToByteUnit};
    use rocket::http::Status;
    use rocket::request::{self, FromRequest, Request};
    use rocket::{post, routes};

    use super::{SIGNATURE_HEADER, Served};

    /// The `x-surfe-signature` header, if any.
    struct Signature<'r>(Option<&'r str>);

    #[rocket::async_trait]
    impl<'r> FromRequest<'r> for Signature<'r> {
        type Error = std::convert::Infallible;

        async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
            request::Outcome::Success(Signature(req.headers().get_one(SIGNATURE_HEADER)))
        }
    }

    #[post("/webhook", data = "<data>")]
    async fn webhook(signature: Signature<'_>, data: Data<'_>) -> Status {
        let body = match data.open(1.mebibytes()).into_bytes().await {
            Ok(body) if body.is_complete() => body.into_inner(),
            Ok(_) => return Status::PayloadTooLarge,
            Err(_) => return Status::BadRequest,
        };
        Status::new(super::receive_and_print(
            signature.0.map(str::as_bytes),
            &body,
        ))
    }

    /// Serves with `rocket_receiver`'s configuration.
    pub(super) async fn serve(port: u16) -> Served {
        let figment = rocket::Config::figment()
            .merge(("address", "127.0.0.1"))
            .merge(("port", port))
            .merge(("log_level", "off"))
            .merge(("cli_colors", false));
        rocket::custom(figment)
            .mount("/", routes![webhook])
            .launch()
            .await?;
        Ok(())
    }
}

mod poem_app {
    use bytes::Bytes;
    use poem::http::StatusCode;
    use poem::listener::{Listener, TcpListener};
    use poem::{Request, Route, handler, post};

    use super::poem_limits::{ServerLimits, serve as serve_with};
    use super::{HTTP2_STREAMS, IDLE, MAX_CONNECTIONS, REQUEST, SIGNATURE_HEADER, Served};

    #[handler]
    fn webhook(req: &Request, body: Bytes) -> StatusCode {
        let signature = req
            .headers()
            .get(SIGNATURE_HEADER)
            .map(|value| value.as_bytes());
        let code = super::receive_and_print(signature, &body);
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub(super) async fn serve(port: u16) -> Served {
        let app = Route::new().at("/webhook", post(webhook));
        let acceptor = TcpListener::bind(format!("127.0.0.1:{port}"))
            .into_acceptor()
            .await?;
        let limits = ServerLimits {
            idle: IDLE,
            request: REQUEST,
            http2_streams: HTTP2_STREAMS,
            max_connections: MAX_CONNECTIONS,
        };
        Ok(serve_with(acceptor, app, limits).await?)
    }
}

mod actix_app {
    use actix_web::http::StatusCode;
    use actix_web::{HttpRequest, HttpResponse, web};

    use super::actix_limits::{ServerLimits, serve as serve_with};
    use super::{
        DISCONNECT, HEADER_READ, IDLE, MAX_CONNECTIONS, REQUEST, SIGNATURE_HEADER, Served,
    };

    async fn webhook(request: HttpRequest, body: web::Bytes) -> HttpResponse {
        let signature = request
            .headers()
            .get(SIGNATURE_HEADER)
            .map(|value| value.as_bytes());
        let code = super::receive_and_print(signature, &body);
        HttpResponse::new(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
    }

    pub(super) async fn serve(port: u16) -> Served {
        let routes = |app: &mut web::ServiceConfig| {
            app.route("/webhook", web::post().to(webhook));
        };
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        let limits = ServerLimits {
            header_read: HEADER_READ,
            idle: IDLE,
            request: REQUEST,
            disconnect: DISCONNECT,
            max_connections: MAX_CONNECTIONS,
        };
        Ok(serve_with(listener, routes, limits).await?)
    }
}
