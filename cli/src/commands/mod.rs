//! The command groups.

pub mod account;
pub mod acr;
pub mod ad;
pub mod group;
pub mod role;
pub mod tokens;

use crate::client::{CliError, Client};
use serde_json::Value;
use std::io::IsTerminal;
use std::time::Duration;

/// Follows an `Azure-AsyncOperation` URL until the operation ends, showing progress on
/// stderr when it is a terminal; fails with the operation's error.
pub(crate) async fn follow(client: &mut Client, url: &str) -> Result<Value, CliError> {
    let show = std::io::stderr().is_terminal();
    let frames = ['|', '/', '-', '\\'];
    let mut i = 0;
    loop {
        let (_, headers, status) = client.send(reqwest::Method::GET, url, None).await?;
        let state = status["status"].as_str().unwrap_or("InProgress");
        if !state.eq_ignore_ascii_case("InProgress") {
            if show {
                eprint!("\r{:30}\r", "");
            }
            if state.eq_ignore_ascii_case("Succeeded") {
                return Ok(status);
            }
            let error = &status["error"];
            return Err(CliError::Arm {
                status: reqwest::StatusCode::OK,
                code: error["code"].as_str().unwrap_or(state).to_owned(),
                message: error["message"]
                    .as_str()
                    .unwrap_or("The operation did not succeed.")
                    .to_owned(),
            });
        }
        if show {
            eprint!("\r{} Running ..", frames[i % frames.len()]);
            i += 1;
        }
        let wait = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1)
            .clamp(1, 30);
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
}
