//! `berth acr scope-map create|list|delete` and `berth acr token create|list|delete`:
//! repository-scoped tokens, as `az acr scope-map` and `az acr token` make them.

use super::flatten;
use super::registry::{RegistryRef, registry_path};
use crate::client::{CliError, Client};
use crate::{API, Global, confirm};
use clap::Subcommand;
use serde_json::{Value, json};

/// `berth acr scope-map ...`.
#[derive(Debug, Subcommand)]
pub enum ScopeMapCommand {
    /// Create a scope map.
    Create {
        /// Its name.
        #[arg(short = 'n', long)]
        name: String,
        #[command(flatten)]
        registry: RegistryRef,
        /// A repository and its actions (content/read, content/write, content/delete,
        /// metadata/read, metadata/write); repeat for more repositories.
        #[arg(long, num_args = 2.., value_names = ["REPOSITORY", "ACTIONS"], action = clap::ArgAction::Append)]
        repository: Vec<String>,
        /// A description.
        #[arg(long)]
        description: Option<String>,
    },
    /// List scope maps.
    List {
        #[command(flatten)]
        registry: RegistryRef,
    },
    /// Delete a scope map.
    Delete {
        /// Its name.
        #[arg(short = 'n', long)]
        name: String,
        #[command(flatten)]
        registry: RegistryRef,
        /// Do not prompt for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

/// `berth acr token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token (and its passwords).
    Create {
        /// Its name.
        #[arg(short = 'n', long)]
        name: String,
        #[command(flatten)]
        registry: RegistryRef,
        /// An existing scope map.
        #[arg(
            long,
            conflicts_with = "repository",
            required_unless_present = "repository"
        )]
        scope_map: Option<String>,
        /// A repository and its actions; makes a scope map `<name>-scope-map`.
        #[arg(long, num_args = 2.., value_names = ["REPOSITORY", "ACTIONS"], action = clap::ArgAction::Append)]
        repository: Vec<String>,
        /// Do not generate passwords.
        #[arg(long)]
        no_passwords: bool,
    },
    /// List tokens.
    List {
        #[command(flatten)]
        registry: RegistryRef,
    },
    /// Delete a token.
    Delete {
        /// Its name.
        #[arg(short = 'n', long)]
        name: String,
        #[command(flatten)]
        registry: RegistryRef,
        /// Do not prompt for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

/// The scope-map actions of `--repository REPO ACTION... [--repository ...]`: the values
/// arrive in one list, and a value that is not an action names the next repository.
fn actions(values: &[String]) -> Result<Vec<String>, CliError> {
    const ACTIONS: [&str; 5] = [
        "content/read",
        "content/write",
        "content/delete",
        "metadata/read",
        "metadata/write",
    ];
    let mut repository: Option<(&str, usize)> = None;
    let mut out = Vec::new();
    let bare = |repo: Option<(&str, usize)>, count: usize| match repo {
        Some((name, before)) if count == before => Err(CliError::msg(format!(
            "--repository {name} needs actions from: {}",
            ACTIONS.join(", ")
        ))),
        _ => Ok(()),
    };
    for value in values {
        if ACTIONS.contains(&value.as_str()) {
            let (name, _) = repository
                .ok_or_else(|| CliError::msg("--repository needs a repository name first"))?;
            out.push(format!("repositories/{name}/{value}"));
        } else {
            bare(repository, out.len())?;
            repository = Some((value, out.len()));
        }
    }
    bare(repository, out.len())?;
    Ok(out)
}

async fn list(client: &mut Client, path: &str) -> Result<Value, CliError> {
    let page = client.get(&format!("{path}?api-version={API}")).await?;
    Ok(Value::Array(
        page["value"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|r| flatten(r, "id"))
            .collect(),
    ))
}

pub(crate) async fn scope_maps(
    command: ScopeMapCommand,
    global: &Global,
) -> Result<Value, CliError> {
    let mut client = Client::load(global.debug)?;
    let sub = client.subscription(global.subscription.as_deref()).await?;
    match command {
        ScopeMapCommand::Create {
            name,
            registry,
            repository,
            description,
        } => {
            let base = registry_path(&mut client, &sub, &registry).await?;
            let body = json!({"properties": {"description": description, "actions": actions(&repository)?}});
            let path = format!("{base}/scopeMaps/{name}?api-version={API}");
            Ok(flatten(
                client
                    .send(reqwest::Method::PUT, &path, Some(&body))
                    .await?
                    .2,
                "id",
            ))
        }
        ScopeMapCommand::List { registry } => {
            let base = registry_path(&mut client, &sub, &registry).await?;
            list(&mut client, &format!("{base}/scopeMaps")).await
        }
        ScopeMapCommand::Delete {
            name,
            registry,
            yes,
        } => {
            confirm(
                &format!(
                    "Deleting the scope map '{name}' will remove its permissions from tokens that use it. Are you sure you want to proceed?"
                ),
                yes,
            )?;
            let base = registry_path(&mut client, &sub, &registry).await?;
            client
                .send(
                    reqwest::Method::DELETE,
                    &format!("{base}/scopeMaps/{name}?api-version={API}"),
                    None,
                )
                .await?;
            Ok(Value::Null)
        }
    }
}

pub(crate) async fn tokens(command: TokenCommand, global: &Global) -> Result<Value, CliError> {
    let mut client = Client::load(global.debug)?;
    let sub = client.subscription(global.subscription.as_deref()).await?;
    match command {
        TokenCommand::Create {
            name,
            registry,
            scope_map,
            repository,
            no_passwords,
        } => {
            let base = registry_path(&mut client, &sub, &registry).await?;
            let map = match scope_map {
                Some(map) => map,
                None => {
                    let map = format!("{name}-scope-map");
                    let body = json!({"properties": {"description": format!("Scope map for the token '{name}'"), "actions": actions(&repository)?}});
                    client
                        .send(
                            reqwest::Method::PUT,
                            &format!("{base}/scopeMaps/{map}?api-version={API}"),
                            Some(&body),
                        )
                        .await?;
                    map
                }
            };
            let map_id = format!("{base}/scopeMaps/{map}");
            let body = json!({"properties": {"scopeMapId": map_id, "status": "enabled"}});
            let token_path = format!("{base}/tokens/{name}?api-version={API}");
            let mut token = flatten(
                client
                    .send(reqwest::Method::PUT, &token_path, Some(&body))
                    .await?
                    .2,
                "id",
            );
            if !no_passwords {
                let generate = json!({"tokenId": format!("{base}/tokens/{name}")});
                let (_, _, credentials) = client
                    .send(
                        reqwest::Method::POST,
                        &format!("{base}/generateCredentials?api-version={API}"),
                        Some(&generate),
                    )
                    .await?;
                token["credentials"] = credentials;
            }
            Ok(token)
        }
        TokenCommand::List { registry } => {
            let base = registry_path(&mut client, &sub, &registry).await?;
            list(&mut client, &format!("{base}/tokens")).await
        }
        TokenCommand::Delete {
            name,
            registry,
            yes,
        } => {
            confirm(
                &format!("Are you sure you want to delete the token '{name}'?"),
                yes,
            )?;
            let base = registry_path(&mut client, &sub, &registry).await?;
            client
                .send(
                    reqwest::Method::DELETE,
                    &format!("{base}/tokens/{name}?api-version={API}"),
                    None,
                )
                .await?;
            Ok(Value::Null)
        }
    }
}
