//! The durable inbox behind real receiver processes: the receivers fixture (`src/bin/receivers.rs`)
//! started with `--inbox`, killed with SIGKILL mid-stream ([`processes`]), run as replicas on one
//! database, migrating a fresh one at once, fed by the local fake of the API that drops
//! deliveries for reconciliation to find ([`reconcile`]), and by HTTP senders that disconnect
//! mid-request ([`writer`]). Each test that says so runs on a SQLite file and on a Postgres
//! database (`ENRICH_REQUIRE_POSTGRES=1` makes a missing server a failure).
//!
//! These are enrich-inbox's tests; they live here so that enrich-inbox depends on no adapter, not
//! even in its dev build. They share enrich-inbox's test support (the throwaway databases, the
//! signed deliveries, the fake), compiled in from its `tests/support`.

#[path = "../../../crates/enrich-inbox/tests/support/mod.rs"]
mod support;

mod processes;
mod receiver;
mod reconcile;
mod writer;
