//! The activity benchmark's baseline (`bench/activity.sh`): berthd, configured and run as
//! `berthd` is, but committing no activity record with its writes, so that the benchmark
//! measures what the record costs a request. Not for use: a deployment runs `berthd`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    eprintln!("unrecorded: berthd without its activity log, for the activity benchmark only");
    berth_api::activity::unrecorded_for_the_activity_benchmark();
    berth_api::cli::main().await
}
