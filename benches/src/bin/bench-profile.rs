//! Runs one measured routine of `benches/pipeline.rs` in a loop, for profilers:
//!
//! ```text
//! valgrind --tool=callgrind target/release/bench-profile pipeline-minimal 10000
//! ```
//!
//! Cases: `{value,typed,hmac,decode,verify,pipeline}-{minimal,compact,realistic}`. `hmac` here is
//! the test signer (a fresh key per call), for reference only.
//!
//! `--subscriber info` installs a `tracing_subscriber::fmt` subscriber at INFO first (the
//! `webhook_delivery` span, at DEBUG, is then disabled); `--subscriber span` one that records
//! every span but only events at INFO and above: what the span would cost an operator at INFO
//! were it at INFO.

use std::hint::black_box;
use std::process::ExitCode;

use bytes::Bytes;
use enrich_benches::payload::{SECRET, minimal_event, realistic_event, realistic_event_compact};
use enrich_webhook::enrich_types::WebhookEvent;
use enrich_webhook::testing::{now, sign};
use enrich_webhook::{RequestHeaders, Tolerance, WebhookConfig};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|arg| arg == "--subscriber") {
        let kind = args.get(at + 1).cloned().unwrap_or_default();
        args.drain(at..(at + 2).min(args.len()));
        if !install_subscriber(&kind) {
            eprintln!("--subscriber takes `info` or `span`");
            return ExitCode::from(2);
        }
    }
    let (Some(case), iterations) = (args.first(), args.get(1).and_then(|n| n.parse().ok())) else {
        eprintln!(
            "usage: bench-profile <routine>-<minimal|compact|realistic> [iterations] \
             [--subscriber info|span]"
        );
        return ExitCode::from(2);
    };
    let iterations: u64 = iterations.unwrap_or(10_000);
    let Some((routine, event)) = case.rsplit_once('-') else {
        eprintln!("unknown case `{case}`");
        return ExitCode::from(2);
    };
    let body = match event {
        "minimal" => minimal_event(),
        "realistic" => realistic_event(),
        "compact" => realistic_event_compact(),
        _ => {
            eprintln!("unknown event `{event}`");
            return ExitCode::from(2);
        }
    };
    let length = body.len().to_string();
    let signature = sign(SECRET, now(), &body);
    let wrong = sign("whsec_some_other_secret", now(), &body);
    let body = Bytes::from(body);
    let verifying = WebhookConfig::with_secret(SECRET)
        .expect("a non-empty secret")
        .tolerance(Tolerance::unchecked());
    let skipping = WebhookConfig::insecure_skip_verification();
    let signed =
        RequestHeaders::from_strs(Some("application/json"), Some(&length), Some(&signature));
    let wrongly = RequestHeaders::from_strs(Some("application/json"), Some(&length), Some(&wrong));
    let none = RequestHeaders::default();
    let run = |f: &mut dyn FnMut()| {
        for _ in 0..iterations {
            f();
        }
    };
    match routine {
        "value" => run(&mut || {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(&body)).ok());
        }),
        "typed" => run(&mut || {
            black_box(serde_json::from_slice::<WebhookEvent>(black_box(&body)).ok());
        }),
        "hmac" => run(&mut || {
            black_box(sign(SECRET, now(), black_box(&body)));
        }),
        "decode" => run(&mut || {
            black_box(skipping.receive(&none, body.clone()).ok());
        }),
        "verify" => run(&mut || {
            black_box(verifying.receive(&wrongly, body.clone()).err());
        }),
        "pipeline" => run(&mut || {
            black_box(verifying.receive(&signed, body.clone()).ok());
        }),
        _ => {
            eprintln!("unknown routine `{routine}`");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

/// Installs the subscriber `kind` names (see the module docs); `false` for an unknown kind.
fn install_subscriber(kind: &str) -> bool {
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::prelude::*;

    match kind {
        // What the benchmark servers install.
        "info" => enrich_benches::server::install_subscriber(),
        "span" => {
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter_fn(|metadata| {
                    metadata.is_span() || *metadata.level() <= tracing::Level::INFO
                }));
            if tracing_subscriber::registry()
                .with(layer)
                .try_init()
                .is_err()
            {
                return false;
            }
        }
        _ => return false,
    }
    true
}
