//! `berth acr create|show|list|update|delete|check-name` and `berth acr config
//! content-trust show|update`.

use super::registry::{RegistryRef, registry_id};
use super::{flatten, follow};
use crate::client::{CliError, Client};
use crate::{API, Global, confirm, warn};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

/// `berth acr ...`.
#[derive(Debug, Subcommand)]
pub enum AcrCommand {
    /// Create a registry.
    Create {
        /// The registry's name (5-50 alphanumerics, lowercase).
        #[arg(short = 'n', long)]
        name: String,
        /// Its resource group.
        #[arg(short = 'g', long)]
        resource_group: String,
        /// Its SKU.
        #[arg(long, value_enum, ignore_case = true)]
        sku: SkuArg,
        /// Its location (the group's when left out).
        #[arg(short = 'l', long)]
        location: Option<String>,
        /// Enable the admin user.
        #[arg(long)]
        admin_enabled: Option<bool>,
    },
    /// Show a registry (found by name across resource groups when -g is left out).
    Show(RegistryArgs),
    /// List registries.
    List {
        /// Only this resource group's.
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
    },
    /// Update a registry.
    Update {
        #[command(flatten)]
        registry: RegistryArgs,
        /// A new SKU.
        #[arg(long, value_enum, ignore_case = true)]
        sku: Option<SkuArg>,
        /// Enable or disable the admin user.
        #[arg(long)]
        admin_enabled: Option<bool>,
    },
    /// Delete a registry.
    Delete {
        #[command(flatten)]
        registry: RegistryArgs,
        /// Do not prompt for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// Check whether a registry name is available.
    CheckName {
        /// The name.
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Manage registry configurations.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Log in to a registry: get a registry refresh token and give it to Docker (or print it).
    Login {
        #[command(flatten)]
        registry: RegistryArgs,
        /// Print the token instead of storing it for Docker.
        #[arg(short = 't', long)]
        expose_token: bool,
    },
    /// Manage the admin user's credentials.
    #[command(subcommand)]
    Credential(CredentialCommand),
    /// Manage scope maps (repository-scoped permissions for tokens).
    #[command(subcommand, name = "scope-map")]
    ScopeMap(super::tokens::ScopeMapCommand),
    /// Manage repository-scoped tokens.
    #[command(subcommand)]
    Token(super::tokens::TokenCommand),
    /// Manage repositories (images) at the registry's login server.
    #[command(subcommand)]
    Repository(super::repository::RepositoryCommand),
}

/// `berth acr credential ...`.
#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Show the admin user's name and passwords.
    Show {
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Renew one of the two passwords.
    Renew {
        #[command(flatten)]
        registry: RegistryArgs,
        /// Which one.
        #[arg(long, value_parser = ["password", "password2"])]
        password_name: String,
    },
}

/// The user name Docker stores with a registry refresh token.
const NULL_USER: &str = "00000000-0000-0000-0000-000000000000";

/// Gives `refresh` to Docker for `login_server`: `docker login --password-stdin` when Docker is
/// installed; else the Docker config file, through its credential helper when one is set.
fn store_for_docker(login_server: &str, refresh: &str) -> Result<(), CliError> {
    use base64::Engine;
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let run_with_stdin = |mut command: Command, input: &str| -> Result<bool, CliError> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| CliError::msg(format!("cannot run {command:?}: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(input.as_bytes());
        }
        let output = child
            .wait_with_output()
            .map_err(|e| CliError::msg(format!("cannot run {command:?}: {e}")))?;
        if !output.status.success() {
            return Err(CliError::msg(
                String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            ));
        }
        Ok(true)
    };
    let on_path = |binary: &str| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(binary).is_file()))
    };
    if on_path("docker") {
        let mut docker = Command::new("docker");
        docker.args([
            "login",
            "--username",
            NULL_USER,
            "--password-stdin",
            login_server,
        ]);
        run_with_stdin(docker, refresh)?;
        return Ok(());
    }
    let dir = std::env::var_os("DOCKER_CONFIG").map_or_else(
        || std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".docker"),
        std::path::PathBuf::from,
    );
    let file = dir.join("config.json");
    let mut config: Value = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({}));
    let helper = config["credHelpers"][login_server]
        .as_str()
        .or(config["credsStore"].as_str())
        .map(str::to_owned);
    if let Some(helper) = helper {
        let entry = json!({"ServerURL": login_server, "Username": NULL_USER, "Secret": refresh});
        let mut command = Command::new(format!("docker-credential-{helper}"));
        command.arg("store");
        run_with_stdin(command, &entry.to_string())?;
        return Ok(());
    }
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{NULL_USER}:{refresh}"));
    config["auths"][login_server] = json!({"auth": auth});
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::msg(format!("cannot create {}: {e}", dir.display())))?;
    let text = serde_json::to_vec_pretty(&config).map_err(|e| CliError::msg(e.to_string()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(&file)
        .and_then(|mut f| f.write_all(&text))
        .map_err(|e| CliError::msg(format!("cannot write {}: {e}", file.display())))
}

/// `berth acr config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Manage content trust.
    #[command(subcommand, name = "content-trust")]
    ContentTrust(ContentTrustCommand),
}

/// `berth acr config content-trust ...`.
#[derive(Debug, Subcommand)]
pub enum ContentTrustCommand {
    /// Show the content-trust policy.
    Show {
        #[command(flatten)]
        registry: RegistryRef,
    },
    /// Enable or disable content trust.
    Update {
        #[command(flatten)]
        registry: RegistryRef,
        /// The new status.
        #[arg(long, value_enum, ignore_case = true)]
        status: Status,
        /// Do not prompt for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
        /// Do not wait for the long-running operation to finish.
        #[arg(long)]
        no_wait: bool,
    },
}

/// A registry named with `--name`.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// The registry's name.
    #[arg(short = 'n', long)]
    pub(crate) name: String,
    /// Its resource group (looked up when left out).
    #[arg(short = 'g', long)]
    pub(crate) resource_group: Option<String>,
}

/// The SKUs.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SkuArg {
    /// Basic.
    Basic,
    /// Standard.
    Standard,
    /// Premium.
    Premium,
}

impl SkuArg {
    fn name(self) -> &'static str {
        match self {
            Self::Basic => "Basic",
            Self::Standard => "Standard",
            Self::Premium => "Premium",
        }
    }
}

/// A policy status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Status {
    /// On.
    Enabled,
    /// Off.
    Disabled,
}

const DEPRECATION: &str = "Content Trust is being deprecated by ACR and will be removed on March 31, 2028; Berth keeps it for registries that use it.";
const DISABLE_QUESTION: &str = "Disabling content trust deletes all signatures of every repository of the registry permanently; the images remain in the registry. Are you sure you want to disable content trust?";

/// The login server of a registry and a registry refresh token for it, as `az acr login`
/// gets them: the caller's token for the registries, exchanged at the login server (at
/// the control plane when the login server is a registry run elsewhere).
pub(crate) async fn registry_refresh(
    client: &mut Client,
    sub: &str,
    registry: &RegistryArgs,
) -> Result<(String, String), CliError> {
    let RegistryArgs {
        name,
        resource_group,
    } = registry;
    let login_server = match login_server_of(client, sub, name, resource_group.as_deref()).await {
        Ok(found) => found,
        // As az does: a caller that cannot read the registry (AcrPush alone) still logs
        // in, to the name under the deployment's login-server suffix.
        Err(e) => match &client.profile.acr_suffix {
            Some(suffix) => format!("{}.{suffix}", name.to_ascii_lowercase()),
            None => return Err(e),
        },
    };
    let aad = client
        .token_for("https://containerregistry.azure.net")
        .await?;
    let tenant = client.profile.tenant.clone();
    let form = [
        ("grant_type", "access_token"),
        ("service", login_server.as_str()),
        ("tenant", tenant.as_str()),
        ("access_token", aad.as_str()),
    ];
    let exchanged = match client
        .post_form_at_login_server(&login_server, "/oauth2/exchange", &form)
        .await?
    {
        Some(exchanged) => exchanged,
        None => client.post_form("/oauth2/exchange", &form).await?,
    };
    let refresh = exchanged["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok((login_server, refresh))
}

async fn login_server_of(
    client: &mut Client,
    sub: &str,
    name: &str,
    group: Option<&str>,
) -> Result<String, CliError> {
    let id = registry_id(client, sub, name, group).await?;
    let registry = client.get(&format!("{id}?api-version={API}")).await?;
    Ok(registry["properties"]["loginServer"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

pub(crate) async fn run(command: AcrCommand, global: &Global) -> Result<Value, CliError> {
    let mut client = Client::load(global.debug)?;
    let sub = client.subscription(global.subscription.as_deref()).await?;
    match command {
        AcrCommand::Create {
            name,
            resource_group,
            sku,
            location,
            admin_enabled,
        } => {
            if name.chars().any(|c| c.is_ascii_uppercase()) {
                return Err(CliError::msg(
                    "argument error: Registry name must use only lowercase.",
                ));
            }
            let group = format!("/subscriptions/{sub}/resourceGroups/{resource_group}");
            let location = match location {
                Some(l) => l,
                None => client
                    .get(&format!("{group}?api-version=2025-04-01"))
                    .await?["location"]
                    .as_str()
                    .unwrap_or("westus")
                    .to_owned(),
            };
            let mut body = json!({"location": location, "sku": {"name": sku.name()}});
            if let Some(admin) = admin_enabled {
                body["properties"] = json!({"adminUserEnabled": admin});
            }
            let path = format!(
                "{group}/providers/Microsoft.ContainerRegistry/registries/{name}?api-version={API}"
            );
            Ok(flatten(
                client
                    .send(reqwest::Method::PUT, &path, Some(&body))
                    .await?
                    .2,
                "id",
            ))
        }
        AcrCommand::Show(RegistryArgs {
            name,
            resource_group,
        }) => {
            let id = registry_id(&mut client, &sub, &name, resource_group.as_deref()).await?;
            Ok(flatten(
                client.get(&format!("{id}?api-version={API}")).await?,
                "id",
            ))
        }
        AcrCommand::List { resource_group } => {
            let path = match resource_group {
                Some(g) => format!(
                    "/subscriptions/{sub}/resourceGroups/{g}/providers/Microsoft.ContainerRegistry/registries?api-version={API}"
                ),
                None => format!(
                    "/subscriptions/{sub}/providers/Microsoft.ContainerRegistry/registries?api-version={API}"
                ),
            };
            let mut all = Vec::new();
            let mut next = Some(path);
            while let Some(url) = next.take() {
                let page = client.get(&url).await?;
                all.extend(
                    page["value"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|r| flatten(r, "id")),
                );
                next = page["nextLink"]
                    .as_str()
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned);
            }
            Ok(Value::Array(all))
        }
        AcrCommand::Update {
            registry:
                RegistryArgs {
                    name,
                    resource_group,
                },
            sku,
            admin_enabled,
        } => {
            let id = registry_id(&mut client, &sub, &name, resource_group.as_deref()).await?;
            let mut body = Map::new();
            if let Some(sku) = sku {
                body.insert("sku".to_owned(), json!({"name": sku.name()}));
            }
            if let Some(admin) = admin_enabled {
                body.insert("properties".to_owned(), json!({"adminUserEnabled": admin}));
            }
            let path = format!("{id}?api-version={API}");
            Ok(flatten(
                client
                    .send(reqwest::Method::PATCH, &path, Some(&Value::Object(body)))
                    .await?
                    .2,
                "id",
            ))
        }
        AcrCommand::Delete {
            registry:
                RegistryArgs {
                    name,
                    resource_group,
                },
            yes,
        } => {
            let id = registry_id(&mut client, &sub, &name, resource_group.as_deref()).await?;
            confirm(
                &format!("Are you sure you want to delete the registry '{name}'?"),
                yes,
            )?;
            let (_, headers, _) = client
                .send(
                    reqwest::Method::DELETE,
                    &format!("{id}?api-version={API}"),
                    None,
                )
                .await?;
            if let Some(op) = headers
                .get("azure-asyncoperation")
                .and_then(|v| v.to_str().ok())
            {
                follow(&mut client, op).await?;
            }
            Ok(Value::Null)
        }
        AcrCommand::CheckName { name } => {
            let path = format!(
                "/subscriptions/{sub}/providers/Microsoft.ContainerRegistry/checkNameAvailability?api-version={API}"
            );
            let body = json!({"name": name, "type": "Microsoft.ContainerRegistry/registries"});
            Ok(client
                .send(reqwest::Method::POST, &path, Some(&body))
                .await?
                .2)
        }
        AcrCommand::ScopeMap(command) => super::tokens::scope_maps(command, global).await,
        AcrCommand::Token(command) => super::tokens::tokens(command, global).await,
        AcrCommand::Repository(command) => super::repository::run(&mut client, &sub, command).await,
        AcrCommand::Config(ConfigCommand::ContentTrust(command)) => {
            content_trust(&mut client, &sub, command, global).await
        }
        AcrCommand::Login {
            registry,
            expose_token,
        } => {
            let (login_server, refresh) = registry_refresh(&mut client, &sub, &registry).await?;
            if expose_token {
                warn(
                    global,
                    &format!(
                        "You can perform manual login using the provided access token below, for example: 'docker login {login_server} --username {NULL_USER} --password-stdin'"
                    ),
                );
                return Ok(
                    json!({"accessToken": refresh, "loginServer": login_server, "refreshToken": refresh, "username": NULL_USER}),
                );
            }
            store_for_docker(&login_server, &refresh)?;
            println!("Login Succeeded");
            Ok(Value::Null)
        }
        AcrCommand::Credential(CredentialCommand::Show {
            registry:
                RegistryArgs {
                    name,
                    resource_group,
                },
        }) => {
            let id = registry_id(&mut client, &sub, &name, resource_group.as_deref()).await?;
            Ok(client
                .send(
                    reqwest::Method::POST,
                    &format!("{id}/listCredentials?api-version={API}"),
                    None,
                )
                .await?
                .2)
        }
        AcrCommand::Credential(CredentialCommand::Renew {
            registry:
                RegistryArgs {
                    name,
                    resource_group,
                },
            password_name,
        }) => {
            let id = registry_id(&mut client, &sub, &name, resource_group.as_deref()).await?;
            let body = json!({"name": password_name});
            Ok(client
                .send(
                    reqwest::Method::POST,
                    &format!("{id}/regenerateCredential?api-version={API}"),
                    Some(&body),
                )
                .await?
                .2)
        }
    }
}

async fn content_trust(
    client: &mut Client,
    sub: &str,
    command: ContentTrustCommand,
    global: &Global,
) -> Result<Value, CliError> {
    warn(global, DEPRECATION);
    let (registry, status) = match &command {
        ContentTrustCommand::Show { registry } => (registry, None),
        ContentTrustCommand::Update {
            registry, status, ..
        } => (registry, Some(*status)),
    };
    let id = registry_id(
        client,
        sub,
        &registry.registry,
        registry.resource_group.as_deref(),
    )
    .await?;
    let path = format!("{id}?api-version={API}");
    let current = client.get(&path).await?;
    if current["sku"]["name"].as_str() != Some("Premium") {
        return Err(CliError::msg(
            "Policies are only supported for managed registries in Premium SKU.",
        ));
    }
    let ContentTrustCommand::Update { yes, no_wait, .. } = command else {
        return Ok(current["properties"]["policies"]["trustPolicy"].clone());
    };
    if status == Some(Status::Disabled) {
        confirm(DISABLE_QUESTION, yes)?;
    }
    let text = if status == Some(Status::Enabled) {
        "enabled"
    } else {
        "disabled"
    };
    let body =
        json!({"properties": {"policies": {"trustPolicy": {"type": "Notary", "status": text}}}});
    let (_, headers, answer) = client
        .send(reqwest::Method::PATCH, &path, Some(&body))
        .await?;
    let operation = headers
        .get("azure-asyncoperation")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match operation {
        Some(_) if no_wait => Ok(Value::Null),
        Some(op) => {
            follow(client, &op).await?;
            Ok(client.get(&path).await?["properties"]["policies"]["trustPolicy"].clone())
        }
        None => Ok(answer["properties"]["policies"]["trustPolicy"].clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_print_as_az_prints_them() {
        let arm = json!({"id": "/subscriptions/s/resourceGroups/Demo/providers/Microsoft.ContainerRegistry/registries/r1",
            "name": "r1", "properties": {"loginServer": "r1.x", "policies": {}}, "sku": {"name": "Basic"}});
        let flat = flatten(arm, "id");
        assert_eq!(flat["loginServer"], "r1.x");
        assert_eq!(flat["resourceGroup"], "Demo");
        assert!(flat.get("properties").is_none());
    }
}
