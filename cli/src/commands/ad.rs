//! `berth ad sp create-for-rbac`, `berth ad user create`, `berth ad group create|member add`.

use crate::Global;
use crate::client::{CliError, Client};
use clap::Subcommand;
use serde_json::{Value, json};

/// `berth ad ...`.
#[derive(Debug, Subcommand)]
pub enum AdCommand {
    /// Manage service principals.
    #[command(subcommand)]
    Sp(SpCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage groups.
    #[command(subcommand)]
    Group(GroupCommand),
}

/// `berth ad sp ...`.
#[derive(Debug, Subcommand)]
pub enum SpCommand {
    /// Create an application, its service principal and a secret; optionally assign a role.
    CreateForRbac {
        /// Display name.
        #[arg(short = 'n', long)]
        name: Option<String>,
        /// A role to assign.
        #[arg(long, requires = "scopes")]
        role: Option<String>,
        /// Scopes of the role.
        #[arg(long, num_args = 1..)]
        scopes: Vec<String>,
    },
}

/// `berth ad user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create {
        /// Display name.
        #[arg(long)]
        display_name: String,
        /// User principal name (user@domain).
        #[arg(long)]
        user_principal_name: String,
        /// Password.
        #[arg(long)]
        password: String,
    },
}

/// `berth ad group ...`.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group.
    Create {
        /// Display name.
        #[arg(long)]
        display_name: String,
        /// Mail nickname.
        #[arg(long)]
        mail_nickname: String,
    },
    /// Manage members.
    #[command(subcommand)]
    Member(MemberCommand),
}

/// `berth ad group member ...`.
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a member.
    Add {
        /// The group's object id.
        #[arg(short = 'g', long)]
        group: String,
        /// The member's object id.
        #[arg(long)]
        member_id: String,
    },
}

pub(crate) async fn run(command: AdCommand, global: &Global) -> Result<Value, CliError> {
    let mut client = Client::load(global.debug)?;
    match command {
        AdCommand::Sp(SpCommand::CreateForRbac { name, role, scopes }) => {
            let name = name.unwrap_or_else(|| {
                format!(
                    "berth-cli-{}",
                    time::OffsetDateTime::now_utc().unix_timestamp()
                )
            });
            let (_, _, application) = client
                .send(
                    reqwest::Method::POST,
                    "/v1.0/applications",
                    Some(&json!({"displayName": name})),
                )
                .await?;
            let app_id = application["appId"].as_str().unwrap_or_default().to_owned();
            let object = application["id"].as_str().unwrap_or_default().to_owned();
            let (_, _, password) = client
                .send(
                    reqwest::Method::POST,
                    &format!("/v1.0/applications/{object}/addPassword"),
                    Some(&json!({})),
                )
                .await?;
            if let Some(role) = role {
                for scope in scopes {
                    let args = crate::commands::role::RoleCommand::Assignment(
                        crate::commands::role::AssignmentCommand::Create {
                            scope,
                            role: role.clone(),
                            assignee: crate::commands::role::Assignee::by_name(&app_id),
                        },
                    );
                    crate::commands::role::run(args, global).await?;
                }
            }
            Ok(json!({
                "appId": app_id,
                "displayName": name,
                "password": password["secretText"],
                "tenant": client.profile.tenant,
            }))
        }
        AdCommand::User(UserCommand::Create {
            display_name,
            user_principal_name,
            password,
        }) => {
            let nickname = user_principal_name
                .split('@')
                .next()
                .unwrap_or_default()
                .to_owned();
            let body = json!({
                "accountEnabled": true,
                "displayName": display_name,
                "mailNickname": nickname,
                "userPrincipalName": user_principal_name,
                "passwordProfile": {"password": password, "forceChangePasswordNextSignIn": false},
            });
            Ok(client
                .send(reqwest::Method::POST, "/v1.0/users", Some(&body))
                .await?
                .2)
        }
        AdCommand::Group(GroupCommand::Create {
            display_name,
            mail_nickname,
        }) => {
            let body = json!({"displayName": display_name, "mailNickname": mail_nickname, "securityEnabled": true, "mailEnabled": false});
            Ok(client
                .send(reqwest::Method::POST, "/v1.0/groups", Some(&body))
                .await?
                .2)
        }
        AdCommand::Group(GroupCommand::Member(MemberCommand::Add { group, member_id })) => {
            let reference = format!(
                "{}/v1.0/directoryObjects/{member_id}",
                client.profile.endpoint
            );
            client
                .send(
                    reqwest::Method::POST,
                    &format!("/v1.0/groups/{group}/members/$ref"),
                    Some(&json!({"@odata.id": reference})),
                )
                .await?;
            Ok(Value::Null)
        }
    }
}
