//! TUF metadata fixtures for the trust store's tests: the files of the notary CLI's first
//! upload of the fixtures (notary/tests/fixtures/tuf), as store updates.

use berth_notary::{MetaUpdate, RoleName};
use std::path::PathBuf;

/// The GUN the store tests write.
pub const GUN: &str = "reg.registry.localhost/app";

/// A file of the fixtures' first upload (`notary init -p`).
///
/// # Panics
/// When the fixture cannot be read.
#[must_use]
pub fn fixture(role: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../notary/tests/fixtures/tuf/app/upload-01")
        .join(format!("{role}.json"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One metadata file of an update: `role` at `version` with `data`.
///
/// # Panics
/// When `role` is not a TUF role name.
#[must_use]
pub fn file(role: &str, version: i64, data: &[u8]) -> MetaUpdate {
    MetaUpdate {
        role: RoleName::parse(role).unwrap_or_else(|e| panic!("bad role {role}: {e:?}")),
        version,
        data: data.to_vec(),
    }
}

/// The fixtures' first upload: root 1, targets 2, snapshot 2, and a timestamp 1.
#[must_use]
pub fn first_update() -> Vec<MetaUpdate> {
    vec![
        file("root", 1, &fixture("root")),
        file("targets", 2, &fixture("targets")),
        file("snapshot", 2, &fixture("snapshot")),
        file(
            "timestamp",
            1,
            br#"{"signed":{"_type":"Timestamp","version":1}}"#,
        ),
    ]
}
