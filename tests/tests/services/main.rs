//! Service-level tests: Berth's use cases and adapters called directly, on a real SQLite file
//! and a real PostgreSQL schema (the database of a `berthd` started for the test), not through
//! HTTP. What a client sees over HTTP is tested in the `e2e` target.

#![expect(
    clippy::unwrap_used,
    reason = "a failed unwrap is a failed test, with its message"
)]

mod directory;
mod rbac;
mod tokens;
mod tuf_store;

use berth_tests::{TestApp, both_backends};
