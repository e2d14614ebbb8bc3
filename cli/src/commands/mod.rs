//! The command groups.

pub mod account;
pub mod acr;
pub mod ad;
pub mod az_config;
pub mod group;
pub mod monitor;
pub mod registry;
pub mod repository;
pub mod role;
pub mod tokens;

use crate::client::{CliError, Client};
use serde_json::Value;
use std::io::IsTerminal;
use std::time::Duration;

/// A resource as `az` prints it: `properties` hoisted to the top, and `resourceGroup`
/// read from the ARM id in the field `group_from` (`id`, or `scope` for role assignments).
pub(crate) fn flatten(mut resource: Value, group_from: &str) -> Value {
    let Some(object) = resource.as_object_mut() else {
        return resource;
    };
    if let Some(Value::Object(properties)) = object.remove("properties") {
        for (k, v) in properties {
            object.entry(k).or_insert(v);
        }
    }
    if let Some(group) = object
        .get(group_from)
        .and_then(Value::as_str)
        .and_then(resource_group_of)
    {
        object.insert("resourceGroup".to_owned(), Value::String(group));
    }
    resource
}

/// The resource-group segment of an ARM id, case kept.
fn resource_group_of(id: &str) -> Option<String> {
    let lower = id.to_ascii_lowercase();
    let at = lower.find("/resourcegroups/")? + "/resourcegroups/".len();
    id[at..].split('/').next().map(str::to_owned)
}

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
