//! `berthd`: loads the settings, builds the application, serves until stopped.
//!
//! `berthd rotate-signing-key` makes new signing keys for the built-in issuer and the
//! registry token server, and exits: running servers sign with them within a minute, tokens
//! signed with the old keys stay valid until they expire, and the registry token
//! certificate bundle lists old and new keys (give registries the new bundle).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    berth_api::cli::main().await
}
