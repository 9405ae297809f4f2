//! The receiver fixture the tests and `cargo xtask` drive: one binary serving
//! `POST /webhook` with any of the four adapters, the way the example receivers do, with every
//! port, mode and limit a switch (`receivers --help`).
//!
//! The examples (`crates/enrich-*/examples/*_receiver`) teach; this fixture is what the demo, the
//! attack, the soak and the inbox's process tests start. It serves under the examples' own server
//! limits (their `limits.rs`, compiled in here), so what the attack proves holds for what a user
//! copies. Each accepted delivery is printed as one line of JSON on stdout (`500` if it cannot
//! be); with `--inbox`, stored before it is answered and printed by the worker once processed.
//! The signing secret comes from `SURFE_WEBHOOK_SECRET`, never from the command line. As in the
//! examples (their `ops.rs`, compiled in here too), an inbox unreachable at start is opened in
//! the background, `GET /healthz` and `GET /readyz` answer on the webhook port, and
//! `--metrics-listen ADDR` serves `GET /metrics` on a listener of its own.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use enrich_inbox::{InboxConfig, InboxHandle, Job, MetricsListener, Worker, WorkerConfig};
use enrich_webhook::Refusal;
use enrich_webhook::enrich_types::WebhookEvent;

#[path = "../../../crates/enrich-actix/examples/actix_receiver/limits.rs"]
mod actix_limits;
#[path = "../../../crates/enrich-axum/examples/axum_receiver/limits.rs"]
mod axum_limits;
#[path = "../../../crates/enrich-poem/examples/poem_receiver/limits.rs"]
mod poem_limits;

// The examples' health routes. Their `open_inbox` and `serve_metrics` read the examples' own
// command lines; the fixture opens and serves from its switches instead.
#[allow(dead_code)]
#[path = "../../../crates/enrich-actix/examples/actix_receiver/ops.rs"]
mod actix_ops;
#[allow(dead_code)]
#[path = "../../../crates/enrich-axum/examples/axum_receiver/ops.rs"]
mod axum_ops;
#[allow(dead_code)]
#[path = "../../../crates/enrich-poem/examples/poem_receiver/ops.rs"]
mod poem_ops;
#[allow(dead_code)]
#[path = "../../../crates/enrich-rocket/examples/rocket_receiver/ops.rs"]
mod rocket_ops;

/// The web framework serving `/webhook`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Framework {
    Axum,
    Rocket,
    Poem,
    Actix,
}

/// Whether this process runs a worker on its inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum WorkerMode {
    /// Serve and process.
    On,
    /// Serve and store only (a web tier).
    Off,
    /// Process only, no server (a worker tier).
    Only,
}

/// A webhook receiver for tests: every switch the test suite and `cargo xtask` need.
#[derive(Debug, Parser)]
#[command(name = "receivers")]
struct Args {
    /// The framework to serve with.
    #[arg(long, value_enum)]
    framework: Framework,
    /// The loopback port to listen on.
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Accept unsigned deliveries when `SURFE_WEBHOOK_SECRET` is unset.
    #[arg(long)]
    insecure_skip_verification: bool,
    /// The pipeline's body limit, in bytes (default: the library's, 1 MiB).
    #[arg(long, value_name = "BYTES")]
    body_limit: Option<usize>,
    /// Store each delivery in this inbox before answering: `sqlite:PATH` or `postgres://…`.
    #[arg(long, value_name = "URL")]
    inbox: Option<String>,
    /// Serve `GET /metrics` (Prometheus text) on this address, on a listener of its own.
    #[arg(long, value_name = "ADDR", env = "ENRICH_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// How often the inbox's readiness and gauges are refreshed for `/metrics`, in milliseconds.
    #[arg(long, default_value_t = 15_000)]
    metrics_interval_ms: u64,
    /// Whether to run a worker on the inbox.
    #[arg(long, value_enum, default_value_t = WorkerMode::On)]
    worker: WorkerMode,
    /// Deliveries the worker runs at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// The worker's lease, in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    lease_ms: u64,
    /// Attempts before a dead letter.
    #[arg(long, default_value_t = 10)]
    max_attempts: u32,
    /// How often an idle worker polls, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    poll_ms: u64,
    /// Time for a request's headers to arrive (axum, actix-web), in seconds.
    #[arg(long, default_value_t = 10)]
    header_read_timeout_secs: u64,
    /// Time a connection may stay idle (Poem; actix-web's keep-alive), in seconds.
    #[arg(long, default_value_t = 10)]
    idle_timeout_secs: u64,
    /// Time for a whole request, in seconds.
    #[arg(long, default_value_t = 30)]
    request_timeout_secs: u64,
    /// Connections open at once (axum, Poem and actix-web).
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Streams one HTTP/2 connection may open at once (Poem).
    #[arg(long, default_value_t = 32)]
    http2_max_streams: u32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,rocket::server=warn".into());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .init();
    let args = Args::parse();
    let inbox = match &args.inbox {
        Some(url) => Some(InboxHandle::open(url, InboxConfig::default()).await),
        None => None,
    };
    // As the examples: no secret means quarantine with an inbox, unless insecure is asked for.
    let config =
        enrich_inbox::webhook_config_at_start(inbox.as_ref(), args.insecure_skip_verification)
            .map_err(|error| format!("refusing to start: {error}"))?;
    let config = match args.body_limit {
        Some(limit) => config.body_limit(limit),
        None => config,
    };
    if let Some(address) = args.metrics_listen {
        MetricsListener::new(address)
            .refresh_every(Duration::from_millis(args.metrics_interval_ms))
            .serve(inbox.as_ref())?;
    }
    let options = WorkerConfig::default()
        .concurrency(args.concurrency)
        .lease(Duration::from_millis(args.lease_ms))
        .max_attempts(args.max_attempts)
        .poll_interval(Duration::from_millis(args.poll_ms));
    // Started once the inbox is open (at once, unless the database was unreachable at start).
    let worker = match (&inbox, args.worker) {
        (Some(inbox), WorkerMode::On | WorkerMode::Only) => {
            let inbox = inbox.clone();
            Some(tokio::spawn(async move {
                let handler = |job: Job| async move { print(job.event()) };
                Worker::new(inbox.opened().await, handler)
                    .config(options)
                    .spawn()
            }))
        }
        _ => None,
    };
    if args.worker == WorkerMode::Only {
        tokio::signal::ctrl_c().await?;
        // A worker that never started (the inbox never opened) has nothing to finish.
        if let Some(worker) = worker.filter(|worker| worker.is_finished()) {
            worker.await?.shutdown(Duration::from_secs(30)).await;
        }
        return Ok(());
    }
    match args.framework {
        Framework::Axum => axum_app::serve(&args, config, inbox).await?,
        Framework::Rocket => rocket_app::serve(&args, config, inbox).await?,
        Framework::Poem => poem_app::serve(&args, config, inbox).await?,
        Framework::Actix => actix_app::serve(&args, config, inbox).await?,
    }
    drop(worker);
    Ok(())
}

/// Prints `event`, re-serialized, as one line of JSON on stdout.
fn print(event: &WebhookEvent) -> std::io::Result<()> {
    let line = serde_json::to_string(event)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

/// What the receiver does with an accepted delivery: stores it (`Ok(true)`: answer 200), or,
/// without an inbox, prints it (`Ok(false)`: printing failed, answer 500).
async fn accept(
    inbox: Option<&InboxHandle>,
    delivery: &enrich_webhook::Delivery,
) -> Result<bool, Refusal> {
    if let Some(inbox) = inbox {
        inbox.store(delivery).await.map_err(Refusal::from)?;
        return Ok(true);
    }
    match print(delivery.event()) {
        Ok(()) => Ok(true),
        Err(error) => {
            eprintln!("receivers: cannot print the event: {error}");
            Ok(false)
        }
    }
}

mod axum_app {
    use std::time::Duration;

    use axum::http::StatusCode;
    use axum::routing::post;
    use enrich_axum::{Webhook, WebhookConfig, WebhookDelivery, WebhookRefusal};
    use enrich_inbox::InboxHandle;

    use super::axum_limits::{ServerLimits, serve as serve_with};

    async fn webhook(
        inbox: Option<InboxHandle>,
        Webhook(delivery): WebhookDelivery,
    ) -> Result<StatusCode, WebhookRefusal> {
        Ok(match super::accept(inbox.as_ref(), &delivery).await? {
            true => StatusCode::OK,
            false => StatusCode::INTERNAL_SERVER_ERROR,
        })
    }

    pub(super) async fn serve(
        args: &super::Args,
        config: WebhookConfig,
        inbox: Option<InboxHandle>,
    ) -> std::io::Result<()> {
        let app = super::axum_ops::routes(inbox.clone())
            // As in the example receiver: the inbox through the route's closure.
            .route(
                "/webhook",
                post(move |delivery| webhook(inbox.clone(), delivery)),
            )
            .with_state(config);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
        let limits = ServerLimits {
            header_read: Duration::from_secs(args.header_read_timeout_secs),
            request: Duration::from_secs(args.request_timeout_secs),
            max_connections: args.max_connections,
        };
        serve_with(listener, app, limits).await
    }
}

mod rocket_app {
    use enrich_inbox::InboxHandle;
    use enrich_rocket::{WebhookConfig, WebhookDelivery, WebhookRefusal};
    use rocket::http::Status;
    use rocket::{State, post, routes};

    #[post("/webhook", data = "<webhook>")]
    async fn receive(
        webhook: WebhookDelivery,
        inbox: &State<Option<InboxHandle>>,
    ) -> Result<Status, WebhookRefusal> {
        let stored_or_printed = super::accept(inbox.inner().as_ref(), &webhook.0).await?;
        Ok(if stored_or_printed {
            Status::Ok
        } else {
            Status::InternalServerError
        })
    }

    pub(super) async fn serve(
        args: &super::Args,
        config: WebhookConfig,
        inbox: Option<InboxHandle>,
    ) -> Result<(), Box<rocket::Error>> {
        let rocket_config = rocket::Config {
            address: std::net::Ipv4Addr::LOCALHOST.into(),
            port: args.port,
            log_level: rocket::config::LogLevel::Off,
            cli_colors: false,
            ..rocket::Config::default()
        };
        rocket::custom(rocket_config)
            .register("/", enrich_rocket::catchers())
            .mount("/", routes![receive])
            .mount("/", super::rocket_ops::routes())
            .mount("/", enrich_rocket::post_only("/webhook"))
            .manage(inbox)
            .manage(config)
            .launch()
            .await
            .map_err(Box::new)?;
        Ok(())
    }
}

mod poem_app {
    use std::time::Duration;

    use enrich_inbox::InboxHandle;
    use enrich_poem::{Webhook, WebhookConfig, WebhookDelivery, WebhookRefusal};
    use poem::error::MethodNotAllowedError;
    use poem::http::StatusCode;
    use poem::listener::{Listener, TcpListener};
    use poem::web::Data;
    use poem::{EndpointExt, Response, Route, handler, post};

    use super::poem_limits::{ServerLimits, serve as serve_with};

    #[handler]
    async fn receive(
        Data(inbox): Data<&Option<InboxHandle>>,
        Webhook(delivery): WebhookDelivery,
    ) -> poem::Result<StatusCode> {
        match super::accept(inbox.as_ref(), &delivery).await {
            Ok(true) => Ok(StatusCode::OK),
            Ok(false) => Ok(StatusCode::INTERNAL_SERVER_ERROR),
            Err(rejection) => Err(WebhookRefusal::from(rejection).into()),
        }
    }

    pub(super) async fn serve(
        args: &super::Args,
        config: WebhookConfig,
        inbox: Option<InboxHandle>,
    ) -> std::io::Result<()> {
        let app = super::poem_ops::routes(Route::new())
            .at("/webhook", post(receive))
            .data(config)
            .data(inbox)
            .catch_error(|_: MethodNotAllowedError| async {
                Response::builder()
                    .status(StatusCode::METHOD_NOT_ALLOWED)
                    .header("allow", "POST")
                    .finish()
            });
        let acceptor = TcpListener::bind(format!("127.0.0.1:{}", args.port))
            .into_acceptor()
            .await?;
        let limits = ServerLimits {
            idle: Duration::from_secs(args.idle_timeout_secs),
            request: Duration::from_secs(args.request_timeout_secs),
            http2_streams: args.http2_max_streams,
            max_connections: args.max_connections,
        };
        serve_with(acceptor, app, limits).await
    }
}

mod actix_app {
    use std::time::Duration;

    use actix_web::{HttpResponse, web};
    use enrich_actix::{Webhook, WebhookConfig, WebhookDelivery, WebhookRefusal};
    use enrich_inbox::InboxHandle;

    use super::actix_limits::{ServerLimits, serve as serve_with};

    async fn receive(
        inbox: web::Data<Option<InboxHandle>>,
        Webhook(delivery): WebhookDelivery,
    ) -> Result<HttpResponse, WebhookRefusal> {
        Ok(
            match super::accept(inbox.as_ref().as_ref(), &delivery).await? {
                true => HttpResponse::Ok().finish(),
                false => HttpResponse::InternalServerError().finish(),
            },
        )
    }

    pub(super) async fn serve(
        args: &super::Args,
        config: WebhookConfig,
        inbox: Option<InboxHandle>,
    ) -> std::io::Result<()> {
        let inbox = web::Data::new(inbox);
        // A resource, so other methods are answered `405` with `Allow: POST`.
        let routes = move |app: &mut web::ServiceConfig| {
            let webhook = web::resource("/webhook").route(web::post().to(receive));
            app.app_data(config.clone())
                .app_data(inbox.clone())
                .service(webhook);
            super::actix_ops::routes(app);
        };
        let listener = std::net::TcpListener::bind(("127.0.0.1", args.port))?;
        let limits = ServerLimits {
            header_read: Duration::from_secs(args.header_read_timeout_secs),
            idle: Duration::from_secs(args.idle_timeout_secs),
            request: Duration::from_secs(args.request_timeout_secs),
            disconnect: Duration::from_secs(1),
            max_connections: args.max_connections,
        };
        serve_with(listener, routes, limits).await
    }
}
