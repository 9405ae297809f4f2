//! The one small trait an adapter implements to join the suite, and the running server it
//! returns.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use enrich_webhook::WebhookConfig;
use tokio::task::JoinHandle;

/// A web framework adapter under test.
///
/// An implementation starts a real server on `127.0.0.1`, port 0, serving with the adapter's
/// own extractors and the shared [`handler_view`](crate::view::handler_view):
///
/// - `POST /webhook` taking `WebhookDelivery`,
/// - `POST /event` taking `Event`,
/// - `POST /person` taking `PersonEvent`;
/// - `POST /company` taking `CompanyEvent`.
pub trait Adapter {
    /// The framework's name, used in failure messages.
    const NAME: &'static str;

    /// Starts a server receiving with `config`; it runs until the returned value is dropped.
    fn start(
        config: WebhookConfig,
    ) -> impl Future<Output = io::Result<RunningServer>> + Send + 'static;
}

/// A server started by an [`Adapter`]: its bound address. Dropping it stops the server.
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<Stop>,
    task: JoinHandle<()>,
}

/// Asks a server to shut down gracefully (before its task is aborted).
type Stop = Box<dyn FnOnce() + Send>;

impl RunningServer {
    /// A server listening on `addr`, served by `task`, asked to stop by `stop`.
    pub fn new(
        addr: SocketAddr,
        task: JoinHandle<()>,
        stop: impl FnOnce() + Send + 'static,
    ) -> Self {
        Self {
            addr,
            stop: Some(Box::new(stop)),
            task,
        }
    }

    /// The address the server is listening on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
        // No graceful wait: open test connections must not keep the server alive.
        self.task.abort();
    }
}

/// The future [`Adapter::start`] returns, boxed.
pub type Starting = Pin<Box<dyn Future<Output = io::Result<RunningServer>> + Send>>;

/// An adapter as a value, so the runner can hold them all in one list.
#[derive(Clone, Copy)]
pub struct AdapterEntry {
    /// [`Adapter::NAME`].
    pub name: &'static str,
    /// [`Adapter::start`].
    pub start: fn(WebhookConfig) -> Starting,
}

impl AdapterEntry {
    /// The entry of adapter `A`.
    pub fn of<A: Adapter>() -> Self {
        Self {
            name: A::NAME,
            start: |config| Box::pin(A::start(config)),
        }
    }
}

impl std::fmt::Debug for AdapterEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}
