//! The server limits against slow, idle and flooding senders: actix-web's own header-read
//! timeout (`client_request_timeout`, answered `408`), keep-alive, disconnect timeout and
//! connection cap, and a timeout on each whole request (body included, answered `408`), which
//! actix-web has no setting for. HTTP/1.1 only: actix-web's `http2` feature is off.

use std::time::Duration;

use actix_web::dev::Service;
use actix_web::error::InternalError;
use actix_web::{App, HttpResponse, HttpServer, web};

/// The limits [`serve`] applies.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Time for a request's head to arrive: answered `408`, then closed.
    pub header_read: Duration,
    /// A connection idle between requests for this long is closed (keep-alive).
    pub idle: Duration,
    /// Time allowed for a whole request (its body read and the handler run): answered `408`.
    pub request: Duration,
    /// Time allowed to finish closing a connection.
    pub disconnect: Duration,
    /// Connections open at once (divided among the workers); further ones wait in the kernel's
    /// accept queue.
    pub max_connections: usize,
}

/// Serves the routes `configure` adds on `listener` under `limits`, one worker per core.
pub async fn serve(
    listener: std::net::TcpListener,
    configure: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    limits: ServerLimits,
) -> std::io::Result<()> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let request_timeout = limits.request;
    HttpServer::new(move || {
        App::new()
            .configure(configure.clone())
            .wrap_fn(move |request, service| {
                let call = service.call(request);
                async move {
                    // Closed after the answer: actix-web would otherwise drain a chunked body that
                    // never ends.
                    let answer = || HttpResponse::RequestTimeout().force_close().finish();
                    let timed_out = || InternalError::from_response("request timeout", answer());
                    let result = tokio::time::timeout(request_timeout, call).await;
                    result.unwrap_or_else(|_| Err(timed_out().into()))
                }
            })
    })
    .workers(workers)
    .client_request_timeout(limits.header_read)
    .keep_alive(limits.idle)
    .client_disconnect_timeout(limits.disconnect)
    .max_connections(limits.max_connections.div_ceil(workers))
    .shutdown_timeout(limits.request.as_secs())
    .listen(listener)?
    .run()
    .await
}
