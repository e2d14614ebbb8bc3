//! `berth`: see the `berth_cli` library.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    berth_cli::main().await
}
