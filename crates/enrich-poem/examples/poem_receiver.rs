//! A complete webhook receiver: `POST /webhook` on `127.0.0.1:$PORT` (default 3000).
//!
//! ```sh
//! SURFE_WEBHOOK_SECRET=whsec_... cargo run -p enrich-poem --example poem_receiver
//! cargo run -p enrich-poem --example poem_receiver -- --insecure-skip-verification
//! ```
//!
//! Each accepted delivery is answered 200 and printed on stdout as one line of JSON (the typed
//! event re-serialized). Logs go to stderr (filtered by `RUST_LOG`, default `info`; colour only
//! on a terminal). Other methods on `/webhook` are answered `405` with `Allow: POST`.
//!
//! The server is bounded against slow, idle and flooding senders (see [`ServerLimits`]): an idle
//! timeout, a timeout on the whole request (body included), an HTTP/2 stream cap and a cap on
//! open connections. Poem 3 exposes no header-read timeout: a sender trickling its headers is
//! bounded by the connection cap only (put a reverse proxy with one in front on a public URL).
//!
//! With `--inbox URL` (or `ENRICH_INBOX_URL`; `sqlite:PATH` or `postgres://…`), each accepted
//! delivery is stored before it is answered (`200` for new and duplicate deliveries, `503` when
//! it cannot be stored), and an in-process worker prints the line once per processed delivery,
//! including deliveries stored before a restart.

use std::io::{IsTerminal, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use enrich_inbox::{Inbox, Job, Worker, WorkerConfig};
use enrich_poem::enrich_webhook::ConfigError;
use enrich_poem::enrich_webhook::enrich_types::WebhookEvent;
use enrich_poem::{Refusal, Webhook, WebhookConfig, WebhookDelivery, WebhookRefusal};
use poem::error::{InternalServerError, MethodNotAllowedError};
use poem::http::StatusCode;
use poem::http::uri::Scheme;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, LocalAddr, RemoteAddr};
use poem::{Endpoint, EndpointExt, IntoResponse, Response, Route, Server, handler, post};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing_subscriber::EnvFilter;

#[handler]
async fn receive(
    Data(inbox): Data<&Option<Inbox>>,
    Webhook(delivery): WebhookDelivery,
) -> poem::Result<()> {
    if let Some(inbox) = inbox {
        // Answered only once stored; a duplicate is answered 200 too, so the sender stops.
        inbox
            .store(&delivery)
            .await
            .map_err(|error| WebhookRefusal::from(Refusal::from(error)))?;
        return Ok(());
    }
    print_event(delivery.event()).map_err(InternalServerError)
}

/// Prints `event`, re-serialized, as one line of JSON on stdout.
fn print_event(event: &WebhookEvent) -> std::io::Result<()> {
    let line = serde_json::to_string(event)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let config = config_from_env_or_flag().unwrap_or_else(|error| {
        eprintln!("poem_receiver: refusing to start: {error}");
        std::process::exit(2)
    });
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let inbox = match inbox_url() {
        Some(url) => Some(Inbox::open(&url).await.map_err(std::io::Error::other)?),
        None => None,
    };
    // Prints each stored delivery once it is processed; runs as long as `main`.
    let _worker = match &inbox {
        Some(inbox) if runs_worker() => Some(
            Worker::new(
                inbox.clone(),
                |job: Job| async move { print_event(job.event()) },
            )
            .config(WorkerConfig::from_env().map_err(std::io::Error::other)?)
            .spawn(),
        ),
        _ => None,
    };
    let limits = ServerLimits::from_env()?;
    let app = Route::new()
        .at("/webhook", post(receive))
        .data(config)
        .data(inbox)
        .catch_error(|_: MethodNotAllowedError| async {
            Response::builder()
                .status(StatusCode::METHOD_NOT_ALLOWED)
                .header("allow", "POST")
                .finish()
        });
    let acceptor = TcpListener::bind(format!("127.0.0.1:{port}"))
        .into_acceptor()
        .await?;
    for addr in acceptor.local_addr() {
        if let Some(addr) = addr.as_socket_addr() {
            eprintln!("listening on http://{addr}/webhook");
        }
    }
    serve(acceptor, app, limits).await
}

/// The server's limits against hostile senders. Defaults suit a webhook endpoint (small,
/// quick requests from one API); each can be changed through the environment.
#[derive(Debug, Clone, Copy)]
struct ServerLimits {
    /// A connection with no traffic either way for this long is closed (idle keep-alive).
    idle: Duration,
    /// Time allowed for a whole request (its body read and the handler run): answered `408`.
    request: Duration,
    /// Streams one HTTP/2 connection may have open at once.
    http2_streams: u32,
    /// Connections open at once; further ones wait in the kernel's accept queue.
    max_connections: usize,
}

impl ServerLimits {
    /// The defaults (10 s idle, 30 s per request, 32 streams, 1,024 connections), overridden by
    /// `IDLE_TIMEOUT_SECS`, `REQUEST_TIMEOUT_SECS`, `HTTP2_MAX_STREAMS` and `MAX_CONNECTIONS`.
    fn from_env() -> std::io::Result<Self> {
        Ok(Self {
            idle: Duration::from_secs(env_number("IDLE_TIMEOUT_SECS", 10)?),
            request: Duration::from_secs(env_number("REQUEST_TIMEOUT_SECS", 30)?),
            http2_streams: u32::try_from(env_number("HTTP2_MAX_STREAMS", 32)?)
                .map_err(std::io::Error::other)?,
            max_connections: usize::try_from(env_number("MAX_CONNECTIONS", 1024)?)
                .map_err(std::io::Error::other)?,
        })
    }
}

fn env_number(name: &str, default: u64) -> std::io::Result<u64> {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .map_err(|_| std::io::Error::other(format!("{name} is not a whole number: {value:?}"))),
        Err(_) => Ok(default),
    }
}

/// Serves `app` under `limits`: Poem's own idle timeout and HTTP/2 stream cap, a request timeout
/// around the endpoint, and a connection cap on the acceptor.
async fn serve(
    acceptor: impl Acceptor + 'static,
    app: impl Endpoint + 'static,
    limits: ServerLimits,
) -> std::io::Result<()> {
    let request_timeout = limits.request;
    let app = app.around(move |endpoint, request| async move {
        match tokio::time::timeout(request_timeout, endpoint.call(request)).await {
            Ok(response) => response.map(IntoResponse::into_response),
            Err(_) => Ok(StatusCode::REQUEST_TIMEOUT.into_response()),
        }
    });
    let acceptor = CappedAcceptor {
        inner: acceptor,
        slots: Arc::new(Semaphore::new(limits.max_connections)),
    };
    Server::new_with_acceptor(acceptor)
        .idle_timeout(limits.idle)
        .http2_max_concurrent_streams(limits.http2_streams)
        .run(app)
        .await
}

/// An acceptor that keeps at most as many connections open as its semaphore has permits.
struct CappedAcceptor<A> {
    inner: A,
    slots: Arc<Semaphore>,
}

impl<A: Acceptor> Acceptor for CappedAcceptor<A> {
    type Io = Capped<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> std::io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(std::io::Error::other)?;
        let (io, local, remote, scheme) = self.inner.accept().await?;
        Ok((
            Capped {
                io,
                _permit: permit,
            },
            local,
            remote,
            scheme,
        ))
    }
}

/// A connection holding one of the acceptor's permits until it is dropped.
struct Capped<T> {
    io: T,
    _permit: OwnedSemaphorePermit,
}

impl<T: AsyncRead + Unpin> AsyncRead for Capped<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Capped<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The receiver's configuration: the secrets from `SURFE_WEBHOOK_SECRET`; without it, skipping
/// verification only when the command line says so (`--insecure-skip-verification`), so that
/// running unverified is a choice written in the command that started the process.
fn config_from_env_or_flag() -> Result<WebhookConfig, ConfigError> {
    match WebhookConfig::from_env() {
        Err(ConfigError::EnvVarMissing)
            if std::env::args().any(|arg| arg == "--insecure-skip-verification") =>
        {
            Ok(WebhookConfig::insecure_skip_verification())
        }
        result => result,
    }
}

/// The inbox URL: `--inbox URL` (or `--inbox=URL`), else `ENRICH_INBOX_URL`.
fn inbox_url() -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--inbox" {
            return args.next();
        }
        if let Some(url) = arg.strip_prefix("--inbox=") {
            return Some(url.to_owned());
        }
    }
    std::env::var(enrich_inbox::INBOX_URL_ENV_VAR).ok()
}

/// Whether this process also processes the inbox: yes unless `ENRICH_INBOX_WORKER=off`, which
/// makes a receiver that only stores (another process, or a later start, processes).
fn runs_worker() -> bool {
    !std::env::var("ENRICH_INBOX_WORKER").is_ok_and(|value| value == "off")
}
