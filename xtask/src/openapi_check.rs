//! `cargo xtask openapi-check`: `schema/openapi.json` checked by tools this project did not write.
//!
//! 1. `openapi-spec-validator` (PyPI) accepts the document as OpenAPI 3.1.
//! 2. `schemathesis` (PyPI) sends generated requests, driven by the document, to the local fake of
//!    the API (`enrich sim`) on a loopback port, and finds no answer that breaks the document.
//!
//! Both are installed, pinned, into a virtual environment under `target/xtask-venv` on first use
//! (`python3 -m venv` and `pip`), so nothing is assumed of the machine but Python 3. The third
//! check, every fixture event against its webhook's schema, is a Rust test
//! (`xtask/tests/openapi.rs`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The pinned Python tools.
const PYTHON_TOOLS: [&str; 2] = ["openapi-spec-validator==0.9.0", "schemathesis==4.32.5"];

/// How many generated examples schemathesis sends per operation: bounded, so the run takes
/// seconds.
const EXAMPLES_PER_OPERATION: u32 = 25;

/// The API key the fake is started with and schemathesis sends.
const FAKE_API_KEY: &str = "sk_openapi_check";

/// The `openapi-check` command. Takes no arguments.
pub fn run() -> ExitCode {
    match check() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask openapi-check: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Both checks, as a step of `cargo xtask ci`.
pub fn check() -> Result<(), String> {
    let root = crate::workspace_root();
    let document = root.join("schema").join(crate::openapi::OPENAPI_FILE);
    let venv = python_tools(&root)?;
    eprintln!("openapi-spec-validator {}", document.display());
    run_tool(
        Command::new(venv.join("bin/openapi-spec-validator")).arg(&document),
        "openapi-spec-validator",
    )?;
    let fake = FakeApi::start(&root)?;
    eprintln!("schemathesis against the fake API at {}", fake.url);
    run_tool(
        Command::new(venv.join("bin/schemathesis"))
            .arg("run")
            .arg(&document)
            .args(["--url", &fake.url])
            .args(["--header", &format!("Authorization: Bearer {FAKE_API_KEY}")])
            .args(["--checks", "all"])
            .args(["--max-examples", &EXAMPLES_PER_OPERATION.to_string()])
            .args(["--seed", "1"])
            .env("SCHEMATHESIS_TELEMETRY", "false")
            .env("NO_COLOR", "1"),
        "schemathesis",
    )
}

/// The virtual environment with the pinned tools, created on first use.
fn python_tools(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join("target").join("xtask-venv");
    let stamp = venv.join(format!("installed-{}", PYTHON_TOOLS.join("+")));
    if stamp.exists() {
        return Ok(venv);
    }
    eprintln!(
        "installing {} into {}",
        PYTHON_TOOLS.join(", "),
        venv.display()
    );
    run_tool(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv (install Python 3 with its venv module)",
    )?;
    run_tool(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(PYTHON_TOOLS),
        "pip install",
    )?;
    std::fs::write(&stamp, b"").map_err(|error| format!("{}: {error}", stamp.display()))?;
    Ok(venv)
}

fn run_tool(command: &mut Command, name: &str) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|error| format!("cannot run {name}: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{name} failed ({status})"))
    }
}

/// The local fake of the API, running as `enrich sim` on a free loopback port; stopped on drop.
struct FakeApi {
    child: Child,
    url: String,
}

impl FakeApi {
    fn start(root: &Path) -> Result<Self, String> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        run_tool(
            Command::new(cargo)
                .args(["build", "--quiet", "-p", "enrich-cli"])
                .current_dir(root),
            "cargo build -p enrich-cli",
        )?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|error| format!("no free port: {error}"))?
            .port();
        let binary = root.join("target/debug/enrich");
        let child = Command::new(&binary)
            .args([
                "sim",
                "--port",
                &port.to_string(),
                "--api-key",
                FAKE_API_KEY,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", binary.display()))?;
        let fake = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                return Err("the fake API did not start listening within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(fake)
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
