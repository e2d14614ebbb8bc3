//! `berthd` as the end-to-end tests run it in a process of its own (to kill it with
//! SIGKILL, for instance): the same command line as the `berthd` binary, built in this
//! package so that the tests can name it.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    berth_api::cli::main().await
}
