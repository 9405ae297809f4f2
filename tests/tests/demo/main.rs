//! The demo (`cargo xtask demo`): the four receivers answering the conformance suite's cases side
//! by side, the durable inbox on an SQLite file, and an enrichment end to end from the local fake
//! of the API to an inbox, each printed as a table and asserted.
//!
//! `#[ignore]`d (about a minute); `cargo xtask demo` and `cargo xtask ci` run it with
//! `--ignored --nocapture`. Every receiver is the `receivers` fixture, stopped on every path.

mod answers;
mod end_to_end;
mod inbox;

use conformance::fixture::{Processes, fresh_secret};

#[test]
#[ignore = "about a minute: run by `cargo xtask demo` and `cargo xtask ci`"]
fn demo() {
    let processes = Processes::new(env!("CARGO_BIN_EXE_receivers"));
    let answers = answers::run(&processes);
    let inbox = inbox::run(&processes, &fresh_secret());
    let end_to_end = end_to_end::run(&processes, &fresh_secret());
    let verdicts = [
        ("answers", answers),
        ("inbox", inbox),
        ("end to end", end_to_end),
    ];
    for (part, verdict) in &verdicts {
        match verdict {
            Ok(true) => {}
            Ok(false) => eprintln!("demo, {part}: some results are not as documented (WRONG)"),
            Err(message) => eprintln!("demo, {part} failed: {message}"),
        }
    }
    assert!(
        verdicts.iter().all(|(_, verdict)| *verdict == Ok(true)),
        "the demo showed results that are not as documented"
    );
}
