//! `berth login`, `logout`, `account show|list`.

use crate::Global;
use crate::client::{self, CliError, Client};
use crate::profile::{self, Profile, Subscription};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// `berth login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Log in as a service principal.
    #[arg(long)]
    service_principal: bool,
    /// User name, or the service principal's appId.
    #[arg(short = 'u', long)]
    username: String,
    /// Password, or the service principal's secret.
    #[arg(short = 'p', long)]
    password: String,
    /// The tenant (GUID); the deployment's own when left out.
    #[arg(short = 't', long)]
    tenant: Option<String>,
    /// The Berth deployment's URL; remembered.
    #[arg(long, env = "BERTH_ENDPOINT")]
    endpoint: Option<String>,
    /// A CA bundle to trust for the deployment (e.g. berth-data/tls/dev-ca.pem); remembered.
    #[arg(long)]
    ca_file: Option<std::path::PathBuf>,
    /// Sign in even when the account sees no subscription.
    #[arg(long)]
    allow_no_subscriptions: bool,
}

/// `berth account ...`.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Show the signed-in account's subscription.
    Show,
    /// List the subscriptions of the signed-in account.
    List,
}

fn account(p: &Profile, s: &Subscription, default: bool) -> Value {
    json!({
        "cloudName": "Berth",
        "environmentName": "Berth",
        "homeTenantId": p.tenant,
        "id": s.id,
        "isDefault": default,
        "managedByTenants": [],
        "name": s.name,
        "state": s.state,
        "tenantId": p.tenant,
        "user": {"name": p.user, "type": p.user_type},
    })
}

pub(crate) async fn login(args: LoginArgs, global: &Global) -> Result<Value, CliError> {
    let endpoint = args
        .endpoint
        .or_else(|| profile::load().map(|p| p.endpoint))
        .ok_or_else(|| {
            CliError::msg("Give the deployment with --endpoint <url> (remembered afterwards).")
        })?
        .trim_end_matches('/')
        .to_owned();
    let ca_file = args.ca_file.map(|p| std::fs::canonicalize(&p).unwrap_or(p));
    let http = client::http(ca_file.as_deref())?;
    let metadata = client::cloud_metadata(&http, &endpoint).await?;
    let audience = metadata["authentication"]["audiences"][0]
        .as_str()
        .ok_or_else(|| CliError::msg(format!("{endpoint} is not a Berth deployment")))?
        .to_owned();
    let profile = Profile {
        endpoint,
        tenant: args.tenant.unwrap_or_else(|| "organizations".to_owned()),
        management_audience: audience,
        acr_suffix: metadata["suffixes"]["acrLoginServer"]
            .as_str()
            .map(str::to_owned),
        user: args.username,
        user_type: if args.service_principal {
            "servicePrincipal"
        } else {
            "user"
        }
        .to_owned(),
        secret: args.password,
        ca_file,
        subscription: None,
        tokens: std::collections::BTreeMap::new(),
    };
    let mut client = Client::new(http, profile, global.debug);
    let list = client.get("/subscriptions?api-version=2022-12-01").await?;
    let subscriptions: Vec<Subscription> = list["value"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|s| Subscription {
                    id: s["subscriptionId"].as_str().unwrap_or_default().to_owned(),
                    name: s["displayName"].as_str().unwrap_or_default().to_owned(),
                    state: s["state"].as_str().unwrap_or("Enabled").to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    if client.profile.tenant == "organizations"
        && let Some(tenant) = list["value"][0]["tenantId"].as_str()
    {
        client.profile.tenant = tenant.to_owned();
    }
    if subscriptions.is_empty() && !args.allow_no_subscriptions {
        return Err(CliError::msg(format!(
            "No subscriptions found for {}. Ask for a role in a subscription, or use --allow-no-subscriptions.",
            client.profile.user
        )));
    }
    client.profile.subscription = subscriptions.first().cloned();
    profile::save(&client.profile).map_err(CliError::msg)?;
    Ok(Value::Array(
        subscriptions
            .iter()
            .enumerate()
            .map(|(i, s)| account(&client.profile, s, i == 0))
            .collect(),
    ))
}

pub(crate) fn logout() -> Result<Value, CliError> {
    profile::remove();
    Ok(Value::Null)
}

pub(crate) fn run(command: AccountCommand, _global: &Global) -> Result<Value, CliError> {
    let p = profile::load()
        .ok_or_else(|| CliError::msg("Please run 'berth login' to setup account."))?;
    let s = p
        .subscription
        .clone()
        .ok_or_else(|| CliError::msg("No subscription found. Run 'berth login' again."))?;
    Ok(match command {
        AccountCommand::Show => account(&p, &s, true),
        AccountCommand::List => json!([account(&p, &s, true)]),
    })
}
