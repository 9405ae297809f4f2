//! The server limits against slow, idle and flooding senders, which `axum::serve` cannot set:
//! HTTP/1.1 only, hyper's header-read timeout (it also closes idle keep-alive connections), a
//! timeout on each whole request (body included, answered `408`), and a cap on open connections
//! (further ones wait in the kernel's accept queue).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::timeout::TimeoutLayer;

/// The limits [`serve`] applies.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Time allowed for a request's headers to arrive (slowloris and idle connections alike).
    pub header_read: Duration,
    /// Time allowed for a whole request: its body read and the handler run.
    pub request: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

/// Serves `app` on `listener` under `limits`, until the process ends.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
) -> std::io::Result<()> {
    let timeout = TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limits.request);
    let app = app.layer(timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let permit = Arc::clone(&slots)
            .acquire_owned()
            .await
            .map_err(std::io::Error::other)?;
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, or a connection reset before it was accepted.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed");
            }
            drop(permit);
        });
    }
}
