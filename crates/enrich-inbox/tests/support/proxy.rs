//! A TCP proxy between the inbox and its database that the test can cut: while cut, every open
//! connection is closed and new ones are closed as soon as they are accepted.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Whether the line is cut, and the connections it carries (one task each).
#[derive(Default)]
struct Line {
    cut: bool,
    connections: JoinSet<()>,
}

/// A running proxy to one upstream address.
pub struct Proxy {
    /// Where it listens (on loopback).
    pub addr: SocketAddr,
    line: Arc<Mutex<Line>>,
    listener: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `upstream` on a free loopback port.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let line = Arc::new(Mutex::new(Line::default()));
        let carried = line.clone();
        let listener = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut line = carried.lock().expect("the line");
                if line.cut {
                    continue; // `client` is dropped: closed at once.
                }
                while line.connections.try_join_next().is_some() {}
                line.connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self {
            addr,
            line,
            listener,
        }
    }

    /// Cuts the line: closes every open connection and refuses new ones until [`Self::restore`].
    pub fn cut(&self) {
        let mut line = self.line.lock().expect("the line");
        line.cut = true;
        line.connections.abort_all();
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.line.lock().expect("the line").cut = false;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.listener.abort();
        if let Ok(mut line) = self.line.lock() {
            line.connections.abort_all();
        }
    }
}
