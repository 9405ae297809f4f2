//! The receiver fixture (`src/bin/receivers.rs`) as real processes, for the tests that drive a
//! whole receiver over loopback: the demo, the attack and the soak.
//!
//! [`Processes`] starts them (and `enrich` commands), each on a free port with a fresh secret, and
//! stops them together on every path: normal end, failure, and a panic. [`Running::lines`] is
//! what a process printed on stdout, one line at a time.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use enrich_webhook::SECRET_ENV_VAR;
use enrich_webhook::testing::SignedRequest;
use http1_wire::{ResponseReader, read_final_response};

/// The four frameworks the fixture serves with, by their `--framework` names.
pub const FRAMEWORKS: [&str; 4] = ["axum", "rocket", "poem", "actix"];

/// How long a process may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a request may take to be answered.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Bodies above this size are sent only if the receiver has not already answered the headers.
const EARLY_ANSWER_THRESHOLD: usize = 64 * 1024;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds with `cargo build ARGS` (from the workspace root) and returns the path of the
/// executable named `name` that cargo reports: a binary or an example of another package, which
/// `CARGO_BIN_EXE_…` does not name.
pub fn cargo_build(args: &[&str], name: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .arg("build")
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .current_dir(workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("cannot run cargo: {error}"))?;
    if !output.status.success() {
        return Err(format!("cargo build {} failed", args.join(" ")));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| message["target"]["name"] == name)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("cargo build reported no executable named {name}"))
}

/// A scratch directory under `target/` for the files a test makes (removed by the test).
pub fn scratch_dir() -> Result<PathBuf, String> {
    let dir = workspace_root().join("target").join("demo");
    std::fs::create_dir_all(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    Ok(dir)
}

/// Removes an SQLite file and its write-ahead log files, if they exist.
pub fn remove_database(file: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}

/// A secret nobody else has: 128 bits from the standard library's per-process random keys.
pub fn fresh_secret() -> String {
    let random = |salt: u64| RandomState::new().hash_one(salt);
    format!("whsec_demo_{:016x}{:016x}", random(1), random(2))
}

/// A loopback port that was free a moment ago (the receiver binds it right after).
pub fn free_port() -> Result<SocketAddr, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|error| format!("no free port: {error}"))
}

/// The processes started so far, stopped together (at the latest when the last handle drops).
#[derive(Clone)]
pub struct Processes {
    /// The `receivers` executable (`env!("CARGO_BIN_EXE_receivers")` in this crate's tests).
    receivers: PathBuf,
    children: Arc<Mutex<Vec<Child>>>,
}

/// A started process: where it listens and the lines it prints.
pub struct Running {
    /// Where it listens.
    pub address: SocketAddr,
    /// Each line it prints on stdout.
    pub lines: Receiver<String>,
    /// Its process id (for its memory figures in `/proc`).
    pub pid: u32,
}

impl Processes {
    /// None yet; receivers are started from the executable `receivers`.
    pub fn new(receivers: impl Into<PathBuf>) -> Self {
        Self {
            receivers: receivers.into(),
            children: Arc::default(),
        }
    }

    /// Starts the receiver fixture serving with `framework` on a free port, verifying with
    /// `secret`, with the extra switches `args`.
    pub fn receiver(
        &self,
        framework: &str,
        secret: &str,
        args: &[&str],
    ) -> Result<Running, String> {
        self.receiver_on(free_port()?, framework, secret, args)
    }

    /// [`Processes::receiver`] on `address` (a port chosen beforehand, such as one a sender was
    /// already told about).
    pub fn receiver_on(
        &self,
        address: SocketAddr,
        framework: &str,
        secret: &str,
        args: &[&str],
    ) -> Result<Running, String> {
        let mut command = Command::new(&self.receivers);
        command
            .args([
                "--framework",
                framework,
                "--port",
                &address.port().to_string(),
            ])
            .args(args)
            .env(SECRET_ENV_VAR, secret)
            .env("RUST_LOG", "warn");
        self.spawn(framework, command, address)
    }

    /// Runs `command` (stdout piped to [`Running::lines`], stderr discarded) and waits until
    /// something listens on `address`.
    pub fn spawn(
        &self,
        name: &str,
        command: Command,
        address: SocketAddr,
    ) -> Result<Running, String> {
        let (pid, lines) = self.run(name, command)?;
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("{name} did not start listening on {address}"));
            }
            if self.exited() {
                return Err(format!("{name} exited before listening on {address}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Running {
            address,
            lines,
            pid,
        })
    }

    /// Runs `command` (stdout piped, stderr discarded), stopped with the others; its process id
    /// and each line it prints. For a process that listens on nothing; see [`Processes::spawn`].
    pub fn run(&self, name: &str, mut command: Command) -> Result<(u32, Receiver<String>), String> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start {name}: {error}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let pid = child.id();
        self.children
            .lock()
            .map_err(|_| "lock poisoned")?
            .push(child);
        Ok((pid, lines_of(stdout)))
    }

    fn exited(&self) -> bool {
        self.children.lock().is_ok_and(|mut children| {
            children
                .iter_mut()
                .any(|child| matches!(child.try_wait(), Ok(Some(_))))
        })
    }

    /// Kills every process started so far and waits for each.
    pub fn stop_all(&self) {
        if let Ok(mut children) = self.children.lock() {
            for mut child in children.drain(..) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        // The last handle stops whatever is still running (an early return or a panic).
        if Arc::strong_count(&self.children) == 1 {
            self.stop_all();
        }
    }
}

/// Each line `stdout` prints, as it is printed (read on a thread of its own until it ends).
pub fn lines_of(stdout: ChildStdout) -> Receiver<String> {
    let (sender, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// A signed delivery's head for `POST /webhook`, with `extra` header lines.
pub fn head(request: &SignedRequest, extra: &[&str]) -> Vec<u8> {
    let mut head = String::from("POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in &request.header_pairs {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// A realistic signed `person.enrichment.completed` delivery, told apart by `n`.
pub fn person_delivery(secret: &str, n: u64) -> SignedRequest {
    let body = format!(
        r#"{{"eventType":"person.enrichment.completed","data":{{"enrichmentID":"0195be44-1a0d-718a-967b-042c9d17ffd7","person":{{"externalID":"crm-{n}","firstName":"Ada","lastName":"Lovelace","jobTitle":"Analyst","companyName":"Analytical Engines","emails":[{{"email":"ada@example.com","validationStatus":"VALID","emailType":"professional"}}],"mobilePhones":[{{"mobilePhone":"+33 6 12 34 56 78","confidenceScore":0.92}}],"status":"COMPLETED"}}}}}}"#
    );
    SignedRequest::builder(body).secret(secret).build()
}

/// Sends `request` as `POST /webhook` on a fresh connection and returns the final status.
pub fn deliver(address: SocketAddr, request: &SignedRequest) -> Result<u16, String> {
    post_bytes(
        address,
        &head(request, &["connection: close"]),
        &request.body,
    )
    .map(|(status, _)| status)
}

/// Sends `GET path` on a fresh connection and returns the final status and body.
pub fn get(address: SocketAddr, path: &str) -> Result<(u16, Vec<u8>), String> {
    let head = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nconnection: close\r\n\r\n");
    post_bytes(address, head.as_bytes(), b"")
}

/// Sends a request (`head`, then `body`) on a fresh connection and returns the final status and
/// body.
///
/// The head goes first: a receiver that refuses on `Content-Length` answers before the body is
/// sent, and may close the connection without reading it.
pub fn post_bytes(address: SocketAddr, head: &[u8], body: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let mut stream = TcpStream::connect_timeout(&address, IO_TIMEOUT)
        .map_err(|error| format!("connect: {error}"))?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|error| format!("socket: {error}"))?;
    stream
        .write_all(head)
        .map_err(|error| format!("write: {error}"))?;
    // A large body may be refused on its Content-Length alone: look for an early answer before
    // sending it, since writing into a connection the receiver has closed can reset it and lose
    // the answer. Otherwise a write cut off by the receiver is not an error by itself; its answer
    // is what counts.
    let answered_early = body.len() > EARLY_ANSWER_THRESHOLD && {
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let early = matches!(stream.peek(&mut [0; 1]), Ok(n) if n > 0);
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        early
    };
    if !answered_early {
        let _ = stream.write_all(body);
    }
    let response = read_final_response(&mut stream, &mut ResponseReader::new())
        .map_err(|error| format!("no answer ({error})"))?;
    Ok((response.status, response.body))
}

/// A process's memory figures from `/proc/<pid>/status`, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// Resident set size now.
    pub rss: u64,
    /// Peak resident set size.
    pub hwm: u64,
}

/// The memory figures of process `pid`.
pub fn memory(pid: u32) -> Result<Memory, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|error| format!("cannot read the memory of process {pid}: {error}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kib| kib * 1024)
            .ok_or_else(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok(Memory {
        rss: field("VmRSS:")?,
        hwm: field("VmHWM:")?,
    })
}
