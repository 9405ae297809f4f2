//! The cross-adapter conformance suite: one table of cases, one small trait, four adapters and
//! the `http` entry point.
//!
//! Shaped like juniper's `run_http_test_suite`:
//!
//! - [`cases::cases`] is the table: what goes on the wire, under which configuration, and what
//!   must come back (the handler's view, the pipeline's acknowledgement, or a refusal's status
//!   and code);
//! - [`server::Adapter`] is the trait: start a real server on `127.0.0.1:0` with the adapter's
//!   extractors on `POST /webhook` (`WebhookDelivery`), `POST /event` (`Event`) and
//!   `POST /person` (`PersonEvent`), every handler answering [`view::handler_view`];
//! - [`adapters`] holds the implementations, one small file each: the four adapters (axum,
//!   Rocket, Poem, actix-web) and a bare hyper server on `enrich-webhook`'s `http` entry point
//!   (`WebhookConfig::receive_request`), so the entry point for every other server is held to
//!   the same bytes;
//! - [`runner::run_suite`] runs every case against every adapter with the raw HTTP/1.1
//!   [`client`], requires the adapters' answers to be the same status, `Content-Type` and body
//!   bytes, checks each against the case's expectation, and compares the shared answer with one
//!   insta snapshot per case (`tests/snapshots/<case>.snap`).
//!
//! Two things are decided here rather than by a framework:
//!
//! - **Time.** Signatures are made with the real clock (`testing::now()`), as the servers check
//!   them. The only clock-dependent bytes of any answer, the age in a `stale_timestamp`
//!   `detail`, are redacted before comparing and snapshotting ([`runner::redact_clock`]); the
//!   status and code are still asserted exactly.
//! - **A `Content-Length` shorter than the bytes sent.** HTTP/1.1 framing is the
//!   `Content-Length`: the server reads exactly the declared bytes as the body, and whatever
//!   follows is the next request on the connection (garbage, answered by the framework as it
//!   sees fit). The cases read only the first response: the declared prefix is what the
//!   signature is checked against and what the handler sees.
//!
//! A case may name documented, framework-forced divergences ([`cases::Divergence`], one per
//! adapter): the other adapters must still agree, and each divergent adapter must give exactly its
//! documented answer, which the snapshot shows too.
//!
//! `cargo test -p conformance` runs it; `CONFORMANCE_CASE=<part of a name>` narrows it. Snapshots
//! are never written with `CI=true`; after a deliberate change, run once with
//! `INSTA_UPDATE=always` and read every changed `.snap` before committing it.

pub mod adapters;
pub mod cases;
pub mod client;
pub mod fixture;
pub mod runner;
pub mod server;
pub mod view;

/// The root README's code blocks, compiled (and the runnable ones run) as doctests, so the quick
/// starts cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct RootReadme;

/// The production receiver page (`docs/production-receiver.md`), compiled (and its test run) as
/// doctests: the complete program a newcomer copies, and the Rocket, Poem and actix-web handlers
/// that store into the inbox, compiled here rather than in `enrich-inbox`, which depends on no
/// adapter.
#[cfg(doctest)]
#[doc = include_str!("../../docs/production-receiver.md")]
pub struct ProductionReceiver;
