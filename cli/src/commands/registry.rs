//! Naming a registry on the command line (`--registry`, `-g`) and finding its ARM id, as
//! `az acr` does: shared by the `acr` commands and the scope-map and token commands.

use crate::client::{CliError, Client};
use clap::Args;
use serde_json::Value;

/// A registry named with `--registry`.
#[derive(Debug, Args)]
pub struct RegistryRef {
    /// The registry's name.
    #[arg(short = 'r', long)]
    pub(crate) registry: String,
    /// Its resource group (looked up when left out).
    #[arg(short = 'g', long)]
    pub(crate) resource_group: Option<String>,
}

/// The ARM path of the registry `--registry` names.
pub(crate) async fn registry_path(
    client: &mut Client,
    sub: &str,
    registry: &RegistryRef,
) -> Result<String, CliError> {
    registry_id(
        client,
        sub,
        &registry.registry,
        registry.resource_group.as_deref(),
    )
    .await
}

/// The registry's ARM id, finding its resource group by name as `az acr show` does.
pub(crate) async fn registry_id(
    client: &mut Client,
    sub: &str,
    name: &str,
    group: Option<&str>,
) -> Result<String, CliError> {
    if let Some(group) = group {
        return Ok(format!(
            "/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.ContainerRegistry/registries/{name}"
        ));
    }
    let list = client
        .get(&format!("/subscriptions/{sub}/resources?$filter=resourceType%20eq%20%27Microsoft.ContainerRegistry%2Fregistries%27&api-version=2024-11-01"))
        .await?;
    let found: Vec<&Value> = list["value"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter(|r| {
                    r["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
                .collect()
        })
        .unwrap_or_default();
    match found.as_slice() {
        [one] => Ok(one["id"].as_str().unwrap_or_default().to_owned()),
        [] => Err(CliError::msg(format!(
            "The resource with name '{name}' and type 'Microsoft.ContainerRegistry/registries' could not be found in subscription '{sub}'."
        ))),
        _ => Err(CliError::msg(format!(
            "More than one registry named '{name}' was found; give its resource group with -g."
        ))),
    }
}
