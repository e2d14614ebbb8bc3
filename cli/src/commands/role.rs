//! `berth role assignment create|list|delete` and `berth role definition list`, with `az`'s
//! assignee resolution (user principal name, appId or service principal name, object id)
//! and role resolution (name, GUID or full id).

use super::flatten;
use crate::Global;
use crate::client::{CliError, Client};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

const AUTHZ_API: &str = "2022-04-01";
const DEFINITIONS_API: &str = "2022-05-01-preview";

/// `berth role ...`.
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Manage role assignments.
    #[command(subcommand)]
    Assignment(AssignmentCommand),
    /// Manage role definitions.
    #[command(subcommand)]
    Definition(DefinitionCommand),
}

/// `berth role assignment ...`.
#[derive(Debug, Subcommand)]
pub enum AssignmentCommand {
    /// Create a role assignment.
    Create {
        /// The scope (an ARM id).
        #[arg(long)]
        scope: String,
        /// The role: a name (AcrImageSigner), a GUID, or a full id.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        assignee: Assignee,
    },
    /// List role assignments.
    List {
        /// The scope (the subscription when left out).
        #[arg(long)]
        scope: Option<String>,
        /// Only those of this assignee.
        #[arg(long)]
        assignee: Option<String>,
        /// Only those of this role.
        #[arg(long)]
        role: Option<String>,
    },
    /// Delete role assignments.
    Delete {
        /// The scope.
        #[arg(long)]
        scope: Option<String>,
        /// Their assignee.
        #[arg(long)]
        assignee: Option<String>,
        /// Their role.
        #[arg(long)]
        role: Option<String>,
        /// Assignment ids.
        #[arg(long, num_args = 1..)]
        ids: Vec<String>,
    },
}

/// Who gets the role.
#[derive(Debug, Args)]
pub struct Assignee {
    /// A user principal name, an appId, a service principal name, or an object id.
    #[arg(
        long,
        required_unless_present = "assignee_object_id",
        conflicts_with = "assignee_object_id"
    )]
    assignee: Option<String>,
    /// An object id, used as it is (no directory lookup).
    #[arg(long, requires = "assignee_principal_type")]
    assignee_object_id: Option<String>,
    /// The type of --assignee-object-id.
    #[arg(long, value_parser = ["User", "Group", "ServicePrincipal", "ForeignGroup", "Device"])]
    assignee_principal_type: Option<String>,
}

impl Assignee {
    /// An assignee resolved by name.
    #[must_use]
    pub fn by_name(name: &str) -> Self {
        Self {
            assignee: Some(name.to_owned()),
            assignee_object_id: None,
            assignee_principal_type: None,
        }
    }
}

/// `berth role definition ...`.
#[derive(Debug, Subcommand)]
pub enum DefinitionCommand {
    /// List role definitions.
    List {
        /// Only the role with this name.
        #[arg(short = 'n', long)]
        name: Option<String>,
        /// The scope (the subscription when left out).
        #[arg(long)]
        scope: Option<String>,
    },
}

/// A `$filter` query parameter, percent-encoded.
fn graph_filter(filter: &str) -> String {
    format!("$filter={}", urlencoding::encode(filter))
}

/// Resolves an assignee as `az` does: `/v1.0/users` by UPN when it has `@`, then service
/// principals by name (an appId is one of them), then `getByIds` for an object id.
async fn resolve_assignee(
    client: &mut Client,
    assignee: &str,
) -> Result<(String, String), CliError> {
    let quoted = assignee.replace('\'', "''");
    if assignee.contains('@') {
        let users = client
            .get(&format!(
                "/v1.0/users?{}",
                graph_filter(&format!("userPrincipalName eq '{quoted}'"))
            ))
            .await?;
        if let Some(id) = users["value"][0]["id"].as_str() {
            return Ok((id.to_owned(), "User".to_owned()));
        }
    }
    let sps = client
        .get(&format!(
            "/v1.0/servicePrincipals?{}",
            graph_filter(&format!("servicePrincipalNames/any(c:c eq '{quoted}')"))
        ))
        .await?;
    if let Some(id) = sps["value"][0]["id"].as_str() {
        return Ok((id.to_owned(), "ServicePrincipal".to_owned()));
    }
    if uuid::Uuid::parse_str(assignee).is_ok() {
        let body = json!({"ids": [assignee], "types": ["user", "group", "servicePrincipal", "directoryObjectPartnerReference"]});
        let (_, _, found) = client
            .send(
                reqwest::Method::POST,
                "/v1.0/directoryObjects/getByIds",
                Some(&body),
            )
            .await?;
        if let Some(object) = found["value"].as_array().and_then(|v| v.first()) {
            let kind = match object["@odata.type"].as_str().unwrap_or_default() {
                "#microsoft.graph.user" => "User",
                "#microsoft.graph.group" => "Group",
                _ => "ServicePrincipal",
            };
            return Ok((assignee.to_owned(), kind.to_owned()));
        }
    }
    Err(CliError::msg(format!(
        "Cannot find user or service principal in graph database for '{assignee}'. If the assignee is an appId, make sure the corresponding service principal is created with 'berth ad sp create --id {assignee}'."
    )))
}

/// Resolves a role to its definition id, as `az` does.
async fn resolve_role(
    client: &mut Client,
    sub: &str,
    scope: &str,
    role: &str,
) -> Result<String, CliError> {
    if role.starts_with('/') {
        return Ok(role.to_owned());
    }
    if uuid::Uuid::parse_str(role).is_ok() {
        return Ok(format!(
            "/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"
        ));
    }
    let found = client
        .get(&format!(
            "{}/providers/Microsoft.Authorization/roleDefinitions?api-version={DEFINITIONS_API}&{}",
            scope.trim_end_matches('/'),
            graph_filter(&format!("roleName eq '{}'", role.replace('\'', "''")))
        ))
        .await?;
    found["value"][0]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| CliError::msg(format!("Role '{role}' doesn't exist.")))
}

async fn list(
    client: &mut Client,
    scope: &str,
    assignee: Option<&str>,
    role: Option<&str>,
    sub: &str,
) -> Result<Vec<Value>, CliError> {
    let principal = match assignee {
        Some(a) => Some(resolve_assignee(client, a).await?.0),
        None => None,
    };
    let role_id = match role {
        Some(r) => Some(resolve_role(client, sub, scope, r).await?),
        None => None,
    };
    let page = client
        .get(&format!(
            "{}/providers/Microsoft.Authorization/roleAssignments?api-version={AUTHZ_API}&$filter=atScope()",
            scope.trim_end_matches('/')
        ))
        .await?;
    Ok(page["value"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|a| flatten(a, "scope"))
        .filter(|a| {
            principal.as_deref().is_none_or(|p| {
                a["principalId"]
                    .as_str()
                    .is_some_and(|x| x.eq_ignore_ascii_case(p))
            })
        })
        .filter(|a| {
            role_id.as_deref().is_none_or(|r| {
                let tail = |s: &str| {
                    s.rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_ascii_lowercase()
                };
                a["roleDefinitionId"]
                    .as_str()
                    .is_some_and(|x| tail(x) == tail(r))
            })
        })
        .collect())
}

pub(crate) async fn run(command: RoleCommand, global: &Global) -> Result<Value, CliError> {
    let mut client = Client::load(global.debug)?;
    let sub = client.subscription(global.subscription.as_deref()).await?;
    let default_scope = format!("/subscriptions/{sub}");
    match command {
        RoleCommand::Assignment(AssignmentCommand::Create {
            scope,
            role,
            assignee,
        }) => {
            let (principal, kind) = match (assignee.assignee, assignee.assignee_object_id) {
                (_, Some(id)) => (
                    id,
                    assignee
                        .assignee_principal_type
                        .unwrap_or_else(|| "ServicePrincipal".to_owned()),
                ),
                (Some(name), None) => resolve_assignee(&mut client, &name).await?,
                (None, None) => {
                    return Err(CliError::msg(
                        "the following arguments are required: --assignee",
                    ));
                }
            };
            let role_id = resolve_role(&mut client, &sub, &scope, &role).await?;
            let path = format!(
                "{}/providers/Microsoft.Authorization/roleAssignments/{}?api-version={AUTHZ_API}",
                scope.trim_end_matches('/'),
                uuid::Uuid::new_v4()
            );
            let body = json!({"properties": {"roleDefinitionId": role_id, "principalId": principal, "principalType": kind}});
            match client.send(reqwest::Method::PUT, &path, Some(&body)).await {
                Ok((_, _, created)) => Ok(flatten(created, "scope")),
                // az takes an existing assignment as success and prints it.
                Err(CliError::Arm { code, .. }) if code == "RoleAssignmentExists" => {
                    let existing = list(&mut client, &scope, None, None, &sub).await?;
                    existing
                        .into_iter()
                        .find(|a| {
                            a["principalId"]
                                .as_str()
                                .is_some_and(|p| p.eq_ignore_ascii_case(&principal))
                                && a["scope"].as_str().is_some_and(|s| {
                                    s.eq_ignore_ascii_case(scope.trim_end_matches('/'))
                                })
                                && a["roleDefinitionId"]
                                    .as_str()
                                    .is_some_and(|r| r.eq_ignore_ascii_case(&role_id))
                        })
                        .ok_or_else(|| CliError::msg("The role assignment already exists."))
                }
                Err(e) => Err(e),
            }
        }
        RoleCommand::Assignment(AssignmentCommand::List {
            scope,
            assignee,
            role,
        }) => {
            let scope = scope.unwrap_or(default_scope);
            Ok(Value::Array(
                list(
                    &mut client,
                    &scope,
                    assignee.as_deref(),
                    role.as_deref(),
                    &sub,
                )
                .await?,
            ))
        }
        RoleCommand::Assignment(AssignmentCommand::Delete {
            scope,
            assignee,
            role,
            ids,
        }) => {
            let targets: Vec<String> = if ids.is_empty() {
                if assignee.is_none() && role.is_none() {
                    return Err(CliError::msg(
                        "Please provide at least one of these parameters: --assignee, --role, --ids.",
                    ));
                }
                let scope = scope.unwrap_or(default_scope);
                list(
                    &mut client,
                    &scope,
                    assignee.as_deref(),
                    role.as_deref(),
                    &sub,
                )
                .await?
                .into_iter()
                .filter(|a| {
                    a["scope"]
                        .as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(scope.trim_end_matches('/')))
                })
                .filter_map(|a| a["id"].as_str().map(str::to_owned))
                .collect()
            } else {
                ids
            };
            if targets.is_empty() {
                return Err(CliError::msg(
                    "No matched assignments were found to delete.",
                ));
            }
            for id in targets {
                client
                    .send(
                        reqwest::Method::DELETE,
                        &format!("{id}?api-version={AUTHZ_API}"),
                        None,
                    )
                    .await?;
            }
            Ok(Value::Null)
        }
        RoleCommand::Definition(DefinitionCommand::List { name, scope }) => {
            let scope = scope.unwrap_or(default_scope);
            let mut path = format!(
                "{}/providers/Microsoft.Authorization/roleDefinitions?api-version={DEFINITIONS_API}",
                scope.trim_end_matches('/')
            );
            if let Some(name) = name {
                path.push('&');
                path.push_str(&graph_filter(&format!(
                    "roleName eq '{}'",
                    name.replace('\'', "''")
                )));
            }
            let page = client.get(&path).await?;
            Ok(Value::Array(
                page["value"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| flatten(a, "scope"))
                    .collect(),
            ))
        }
    }
}
