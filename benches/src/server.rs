//! What the four benchmark servers share: their routes, arguments and configurations.

use std::net::SocketAddr;

use enrich_webhook::WebhookConfig;

use crate::payload::SECRET;

/// The five routes every benchmark server serves, all taking the same request.
pub const ROUTES: [Route; 5] = [
    Route {
        key: "a",
        path: "/raw",
        what: "read the body, answer 200",
    },
    Route {
        key: "b",
        path: "/json",
        what: "the framework's own Json<WebhookEvent>",
    },
    Route {
        key: "c",
        path: "/ours",
        what: "our Event extractor, verification off",
    },
    Route {
        key: "d",
        path: "/ours-verified",
        what: "our Event extractor, verification on",
    },
    Route {
        key: "e",
        path: "/hand",
        what: "hand-written: raw body, hmac + sha2 check, serde_json::from_slice",
    },
];

/// One route of the benchmark servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Its letter in the report: `a` to `e`.
    pub key: &'static str,
    /// The path it is served at.
    pub path: &'static str,
    /// What it does, for the report.
    pub what: &'static str,
}

/// The frameworks, by the name of their server binary's suffix.
pub const FRAMEWORKS: [&str; 4] = ["axum", "rocket", "poem", "actix"];

/// A server's command line: `--port <port>` (required), `--workers <n>` (default 1),
/// `--verify` and `--subscriber`.
#[derive(Debug, Clone, Copy)]
pub struct ServerArgs {
    /// Where to listen, on 127.0.0.1.
    pub addr: SocketAddr,
    /// Runtime worker threads (actix-web: its workers, each a single-threaded runtime).
    pub workers: usize,
    /// For a framework that holds one configuration per server (Rocket's managed state): serve
    /// `/ours` and `/ours-verified` with [`verified`] instead of [`unverified`]. The load driver
    /// passes it when it measures route (d); servers that configure each route on its own ignore
    /// it.
    pub verify: bool,
    /// Install a `tracing_subscriber::fmt` subscriber at INFO (see [`install_subscriber`]), as
    /// an application following the quick starts does.
    pub subscriber: bool,
}

impl ServerArgs {
    /// Parses the process arguments, exiting with a usage message on anything else.
    pub fn from_env() -> Self {
        let mut port = None;
        let mut workers = 1;
        let mut verify = false;
        let mut subscriber = false;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--verify" => {
                    verify = true;
                    continue;
                }
                "--subscriber" => {
                    subscriber = true;
                    continue;
                }
                _ => {}
            }
            let value = args.next().and_then(|value| value.parse::<u64>().ok());
            match (arg.as_str(), value) {
                ("--port", Some(value)) => port = u16::try_from(value).ok(),
                ("--workers", Some(value)) if value > 0 => workers = value as usize,
                _ => usage(),
            }
        }
        let Some(port) = port else { usage() };
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            workers,
            verify,
            subscriber,
        }
    }

    /// Installs the subscriber when [`ServerArgs::subscriber`] asks for it (see
    /// [`install_subscriber`]).
    pub fn install_subscriber_if_asked(&self) {
        if self.subscriber {
            install_subscriber();
        }
    }

    /// A Tokio runtime with [`ServerArgs::workers`] worker threads, after installing the
    /// subscriber when [`ServerArgs::subscriber`] asks for it.
    pub fn runtime(&self) -> tokio::runtime::Runtime {
        self.install_subscriber_if_asked();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.workers)
            .enable_all()
            .build()
            .unwrap_or_else(|error| {
                eprintln!("cannot start the runtime: {error}");
                std::process::exit(1)
            })
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: bench-server-<framework> --port <port> [--workers <n>] [--verify] [--subscriber]"
    );
    std::process::exit(2)
}

/// Route (c)'s configuration: verification off, default limit.
pub fn unverified() -> WebhookConfig {
    WebhookConfig::insecure_skip_verification()
}

/// Route (d)'s configuration: the benchmark secret, the default tolerance (the load driver signs
/// its request at the start of each run, so it is fresh) and the default limit.
pub fn verified() -> WebhookConfig {
    WebhookConfig::with_secret(SECRET).unwrap_or_else(|error| {
        eprintln!("{error}");
        std::process::exit(2)
    })
}

/// Installs a `tracing_subscriber::fmt` subscriber at INFO writing to stderr, as the quick
/// starts do, but without the `log` bridge that `init()` adds: through it Rocket's own request
/// logs (`log` records at INFO) would be formatted too, and the runs would measure Rocket's
/// logging rather than this library's `tracing`.
pub fn install_subscriber() {
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_writer(std::io::stderr)
        .finish();
    if let Err(error) = tracing::subscriber::set_global_default(subscriber) {
        eprintln!("cannot install the tracing subscriber: {error}");
        std::process::exit(1);
    }
}

/// Route (e)'s signing secret: the benchmark secret, as a hand-written receiver holds it.
pub fn hand_secret() -> &'static [u8] {
    SECRET.as_bytes()
}
