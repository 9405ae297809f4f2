//! The receivers fixture as real processes for the inbox's tests: started with `--inbox` and
//! the tests' secret, fed signed deliveries over loopback (async, so that many senders and
//! several processes run at once), killed with SIGKILL. Unlike [`conformance::fixture`]'s
//! `Processes`, each process is killed on its own, and only whole lines count as printed.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conformance::client::{self, RawRequest};
use conformance::fixture::free_port;
use enrich_webhook::SECRET_ENV_VAR;

use crate::support::{SECRET, signed_request};

/// A running receiver fixture.
pub struct Receiver {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    stdout_reader: Option<std::thread::JoinHandle<()>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Receiver {
    /// Starts the fixture serving with `framework` (a `--framework` name) on a free port with
    /// `--inbox inbox_url`, the test secret, and the switches `args`, and waits until it accepts
    /// connections.
    pub async fn start(framework: &str, inbox_url: &str, args: &[&str]) -> Self {
        let addr = free_port().unwrap_or_else(|error| panic!("{error}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_receivers"))
            .args(["--framework", framework, "--inbox", inbox_url])
            .args(["--port", &addr.port().to_string()])
            .args(args)
            .env(SECRET_ENV_VAR, SECRET)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the receiver");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        let collected = lines.clone();
        let stdout_reader = std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            // Only whole lines count: a line cut short by SIGKILL was never printed.
            while reader
                .read_until(b'\n', &mut line)
                .is_ok_and(|read| read > 0)
            {
                if line.ends_with(b"\n") {
                    let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                    collected.lock().expect("lines").push(text);
                }
                line.clear();
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let logged = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(read @ 1..) = pipe.read(&mut buffer) {
                logged
                    .lock()
                    .expect("stderr")
                    .extend_from_slice(&buffer[..read]);
            }
        });
        let mut receiver = Self {
            child,
            addr,
            lines,
            stdout_reader: Some(stdout_reader),
            stderr,
        };
        receiver.wait_until_listening().await;
        receiver
    }

    async fn wait_until_listening(&mut self) {
        for _ in 0..3000 {
            if let Some(status) = self.child.try_wait().expect("poll the receiver") {
                panic!("the receiver exited with {status}:\n{}", self.stderr());
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the receiver never listened:\n{}", self.stderr());
    }

    /// Sends `body`, signed, to `/webhook`; the answer's status, or the I/O error (a refused
    /// connection once the process is gone).
    pub async fn deliver(&self, body: &str) -> std::io::Result<u16> {
        deliver_to(self.addr, body).await
    }

    /// Every whole line the process printed on stdout so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    /// What the process logged on stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().expect("stderr")).into_owned()
    }

    /// Kills the process with SIGKILL, reaps it, and reads what it printed to the end.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.stdout_reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends `body`, signed, to `/webhook` at `addr`; the answer's status.
pub async fn deliver_to(addr: SocketAddr, body: &str) -> std::io::Result<u16> {
    let signed = signed_request(body);
    let mut request = RawRequest::post("/webhook");
    for (name, value) in &signed.header_pairs {
        if name != "content-length" {
            request = request.header(name, value.as_bytes());
        }
    }
    let response = client::send(addr, &request.body(signed.body)).await?;
    Ok(response.status)
}
