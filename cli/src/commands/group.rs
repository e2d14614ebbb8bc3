//! `berth group create|show|list|delete`.

use super::follow;
use crate::client::{CliError, Client};
use crate::{Global, confirm};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

const RG_API: &str = "2025-04-01";

/// `berth group ...`.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a resource group.
    Create {
        /// Its name.
        #[arg(short = 'n', long, visible_alias = "resource-group", short_alias = 'g')]
        name: String,
        /// Its location.
        #[arg(short = 'l', long)]
        location: String,
    },
    /// Show a resource group.
    Show(NameArg),
    /// List resource groups.
    List,
    /// Delete a resource group and everything in it.
    Delete {
        #[command(flatten)]
        name: NameArg,
        /// Do not prompt for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
    },
}

/// A resource group's name.
#[derive(Debug, Args)]
pub struct NameArg {
    /// The resource group's name.
    #[arg(short = 'n', long, visible_alias = "resource-group", short_alias = 'g')]
    name: String,
}

pub(crate) async fn run(command: GroupCommand, global: &Global) -> Result<Value, CliError> {
    let mut client = Client::load(global.debug)?;
    let sub = client.subscription(global.subscription.as_deref()).await?;
    let path =
        |name: &str| format!("/subscriptions/{sub}/resourcegroups/{name}?api-version={RG_API}");
    match command {
        GroupCommand::Create { name, location } => Ok(client
            .send(
                reqwest::Method::PUT,
                &path(&name),
                Some(&json!({"location": location})),
            )
            .await?
            .2),
        GroupCommand::Show(NameArg { name }) => client.get(&path(&name)).await,
        GroupCommand::List => Ok(client
            .get(&format!(
                "/subscriptions/{sub}/resourcegroups?api-version={RG_API}"
            ))
            .await?["value"]
            .clone()),
        GroupCommand::Delete {
            name: NameArg { name },
            yes,
            no_wait,
        } => {
            confirm("Are you sure you want to perform this operation?", yes)?;
            let (_, headers, _) = client
                .send(reqwest::Method::DELETE, &path(&name), None)
                .await?;
            if !no_wait
                && let Some(op) = headers
                    .get("azure-asyncoperation")
                    .and_then(|v| v.to_str().ok())
            {
                follow(&mut client, op).await?;
            }
            Ok(Value::Null)
        }
    }
}
