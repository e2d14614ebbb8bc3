//! `berthd`: Berth's server. Its command line is [`berth_api::cli`]: `berthd --help`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    berth_api::cli::main().await
}
