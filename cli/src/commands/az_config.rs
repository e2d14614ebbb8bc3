//! `berth az-config`: the one-time set-up that points the real Azure CLI (`az`) at a Berth
//! deployment — a custom cloud with every endpoint Berth serves, instance discovery and
//! telemetry off, and the CA bundle to trust (az-cli-compat.md).

use crate::client::{self, CliError};
use crate::profile;
use serde_json::{Value, json};
use std::path::PathBuf;

/// Options of `berth az-config`.
#[derive(Debug, clap::Args)]
pub struct AzConfigArgs {
    /// The deployment's URL (default: the one `berth login` remembered).
    #[arg(long)]
    endpoint: Option<String>,
    /// A PEM bundle of the CA that signed its certificate (default: the remembered one).
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// The name of the cloud in `az`.
    #[arg(long, default_value = "Berth")]
    cloud_name: String,
    /// Run the commands with the `az` on PATH instead of printing them as a script.
    #[arg(long)]
    apply: bool,
}

/// The endpoints of a deployment as `az cloud register` takes them.
struct Cloud {
    name: String,
    flags: Vec<(&'static str, String)>,
    ca_file: Option<PathBuf>,
}

impl Cloud {
    /// `az cloud <verb>`'s arguments.
    fn args(&self, verb: &str) -> Vec<String> {
        let mut args = vec![
            "cloud".to_owned(),
            verb.to_owned(),
            "--name".to_owned(),
            self.name.clone(),
            "--skip-endpoint-discovery".to_owned(),
        ];
        for (flag, value) in &self.flags {
            args.push((*flag).to_owned());
            args.push(value.clone());
        }
        args
    }
}

async fn discover(args: &AzConfigArgs) -> Result<Cloud, CliError> {
    let remembered = profile::load();
    let endpoint = args
        .endpoint
        .clone()
        .or_else(|| remembered.as_ref().map(|p| p.endpoint.clone()))
        .ok_or_else(|| {
            CliError::msg("Give the deployment with --endpoint <url>, or run 'berth login' first.")
        })?
        .trim_end_matches('/')
        .to_owned();
    let ca_file = args
        .ca_file
        .clone()
        .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
        .or_else(|| remembered.and_then(|p| p.ca_file));
    let http = client::http(ca_file.as_deref())?;
    let metadata: Value = http
        .get(format!(
            "{endpoint}/metadata/endpoints?api-version=2022-09-01"
        ))
        .send()
        .await
        .map_err(|e| CliError::msg(format!("cannot reach {endpoint}: {e}")))?
        .json()
        .await
        .map_err(|e| CliError::msg(format!("{endpoint} is not a Berth deployment: {e}")))?;
    let field = |pointer: &str| {
        metadata
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                CliError::msg(format!(
                    "{endpoint}/metadata/endpoints has no {pointer}: is it a Berth deployment?"
                ))
            })
    };
    let graph = field("/microsoftGraphResourceId")?;
    Ok(Cloud {
        name: args.cloud_name.clone(),
        flags: vec![
            ("--endpoint-resource-manager", field("/resourceManager")?),
            (
                "--endpoint-active-directory",
                field("/authentication/loginEndpoint")?,
            ),
            (
                "--endpoint-active-directory-resource-id",
                field("/authentication/audiences/0")?,
            ),
            (
                "--endpoint-active-directory-graph-resource-id",
                graph.clone(),
            ),
            ("--endpoint-microsoft-graph-resource-id", graph),
            (
                "--suffix-acr-login-server-endpoint",
                format!(".{}", field("/suffixes/acrLoginServer")?),
            ),
        ],
        ca_file,
    })
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&b))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

const SETTINGS: [&str; 4] = [
    "config",
    "set",
    "core.instance_discovery=false",
    "core.collect_telemetry=false",
];

/// The set-up as a shell script.
fn script(cloud: &Cloud) -> String {
    let line = |args: &[String]| {
        std::iter::once("az".to_owned())
            .chain(args.iter().map(|a| shell_word(a)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = String::from(
        "# Points the Azure CLI at this Berth deployment. Run once (e.g. `berth az-config | sh`);\n\
         # keep REQUESTS_CA_BUNDLE in the environment of every az command.\n",
    );
    if let Some(ca) = &cloud.ca_file {
        out.push_str(&format!(
            "export REQUESTS_CA_BUNDLE={}\n",
            shell_word(&ca.display().to_string())
        ));
    }
    out.push_str(&format!(
        "if az cloud show --name {name} >/dev/null 2>&1; then verb=update; else verb=register; fi\n",
        name = shell_word(&cloud.name)
    ));
    out.push_str(&line(&cloud.args("$verb")).replace("'$verb'", "\"$verb\""));
    out.push('\n');
    out.push_str(&line(&[
        "cloud".to_owned(),
        "set".to_owned(),
        "--name".to_owned(),
        cloud.name.clone(),
    ]));
    out.push('\n');
    out.push_str(&line(&SETTINGS.map(str::to_owned)));
    out.push('\n');
    out
}

async fn az(args: &[String], ca_file: Option<&PathBuf>) -> Result<std::process::Output, CliError> {
    let mut command = tokio::process::Command::new("az");
    command.args(args).stdin(std::process::Stdio::null());
    if let Some(ca) = ca_file {
        command.env("REQUESTS_CA_BUNDLE", ca);
    }
    command.output().await.map_err(|e| {
        CliError::msg(format!(
            "cannot run az ({e}): install the Azure CLI, or run without --apply and pipe the script to a shell"
        ))
    })
}

async fn az_ok(args: &[String], ca_file: Option<&PathBuf>) -> Result<(), CliError> {
    let output = az(args, ca_file).await?;
    if output.status.success() {
        return Ok(());
    }
    Err(CliError::msg(format!(
        "az {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    )))
}

/// Prints the set-up script, or applies it with `--apply` and returns what it set.
///
/// # Errors
/// The deployment cannot be reached, or `az` fails.
pub(crate) async fn run(args: AzConfigArgs) -> Result<Option<Value>, CliError> {
    let cloud = discover(&args).await?;
    if !args.apply {
        print!("{}", script(&cloud));
        return Ok(None);
    }
    let ca = cloud.ca_file.as_ref();
    let show = ["cloud", "show", "--name", &cloud.name].map(str::to_owned);
    let verb = if az(&show, ca).await?.status.success() {
        "update"
    } else {
        "register"
    };
    az_ok(&cloud.args(verb), ca).await?;
    az_ok(
        &["cloud", "set", "--name", &cloud.name].map(str::to_owned),
        ca,
    )
    .await?;
    az_ok(&SETTINGS.map(str::to_owned), ca).await?;
    let mut endpoints = serde_json::Map::new();
    for (flag, value) in &cloud.flags {
        endpoints.insert((*flag).trim_start_matches("--").to_owned(), json!(value));
    }
    Ok(Some(json!({
        "cloud": cloud.name,
        "registered": verb == "register",
        "endpoints": endpoints,
        "requestsCaBundle": ca.map(|p| p.display().to_string()),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_quotes_what_a_shell_would_split() {
        let cloud = Cloud {
            name: "My Berth".to_owned(),
            flags: vec![
                (
                    "--endpoint-resource-manager",
                    "https://127.0.0.1:8443/".to_owned(),
                ),
                (
                    "--suffix-acr-login-server-endpoint",
                    ".registry.localhost:5443".to_owned(),
                ),
            ],
            ca_file: Some(PathBuf::from("/etc/berth/ca's.pem")),
        };
        let text = script(&cloud);
        assert!(
            text.contains("export REQUESTS_CA_BUNDLE='/etc/berth/ca'\\''s.pem'\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "az cloud \"$verb\" --name 'My Berth' --skip-endpoint-discovery \
                 --endpoint-resource-manager https://127.0.0.1:8443/ \
                 --suffix-acr-login-server-endpoint .registry.localhost:5443\n"
            ),
            "{text}"
        );
        assert!(text.contains("az cloud set --name 'My Berth'\n"));
        assert!(text.ends_with(
            "az config set core.instance_discovery=false core.collect_telemetry=false\n"
        ));
    }
}
