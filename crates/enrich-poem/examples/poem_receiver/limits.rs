//! The server limits against slow, idle and flooding senders: Poem's own idle timeout and HTTP/2
//! stream cap, a timeout on each whole request (body included, answered `408`), and a cap on open
//! connections on the acceptor (further ones wait in the kernel's accept queue). Poem 3 exposes no
//! header-read timeout: a sender trickling its headers is bounded by the connection cap only.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::StatusCode;
use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Endpoint, EndpointExt, IntoResponse, Server};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits [`serve`] applies.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// A connection with no traffic either way for this long is closed (idle keep-alive).
    pub idle: Duration,
    /// Time allowed for a whole request (its body read and the handler run): answered `408`.
    pub request: Duration,
    /// Streams one HTTP/2 connection may have open at once.
    pub http2_streams: u32,
    /// Connections open at once; further ones wait in the kernel's accept queue.
    pub max_connections: usize,
}

/// Serves `app` under `limits`: Poem's own idle timeout and HTTP/2 stream cap, a request timeout
/// around the endpoint, and a connection cap on the acceptor.
pub async fn serve(
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
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    Server::new_with_acceptor(CappedAcceptor(acceptor, slots))
        .idle_timeout(limits.idle)
        .http2_max_concurrent_streams(limits.http2_streams)
        .run(app)
        .await
}

/// An acceptor that keeps at most as many connections open as its semaphore has permits.
struct CappedAcceptor<A>(A, Arc<Semaphore>);

impl<A: Acceptor> Acceptor for CappedAcceptor<A> {
    type Io = Capped<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(&mut self) -> std::io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let permit = Arc::clone(&self.1)
            .acquire_owned()
            .await
            .map_err(std::io::Error::other)?;
        let (io, local, remote, scheme) = self.0.accept().await?;
        Ok((Capped(io, permit), local, remote, scheme))
    }
}

/// A connection holding one of the acceptor's permits (never read: held) until it is dropped.
struct Capped<T>(T, #[allow(dead_code)] OwnedSemaphorePermit);

impl<T: AsyncRead + Unpin> AsyncRead for Capped<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Capped<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
