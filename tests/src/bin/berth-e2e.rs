//! `berth` as the end-to-end tests run it: the same command line as the `berth` binary,
//! built in this package so that the tests can name it.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    berth_cli::main().await
}
