//! The `berth` CLI, run as a process against a real `berthd` (SQLite, plain HTTP on
//! loopback, a notary-server for content trust): login, groups, registries, content trust,
//! output formats and queries, the confirmation prompt, exit codes and error messages.

use super::*;
use berth_tests::{Backend, SpawnOptions, spawn_app_with};
use std::path::Path;

/// The result of one `berth` run.
pub(super) struct Run {
    pub(super) code: i32,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

/// Runs `berth args` with its profile in `home`, no terminal.
async fn berth(home: &Path, args: &[&str]) -> Run {
    berth_with(home, args, &[]).await
}

/// [`berth`] with extra environment.
pub(super) async fn berth_with(
    home: &Path,
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> Run {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth-e2e"))
        .args(args)
        .env("BERTH_CONFIG_DIR", home)
        .env_remove("REQUESTS_CA_BUNDLE")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `berth login --service-principal` as `(app_id, secret)` at `app`, trusting its CA; the
/// login must succeed.
pub(super) async fn berth_login_trusting_the_ca(
    home: &Path,
    app: &TestApp,
    (app_id, secret): (&str, &str),
) {
    let ca = app.ca_file.clone().unwrap();
    let args = [
        "login",
        "--service-principal",
        "-u",
        app_id,
        "-p",
        secret,
        "--endpoint",
        &app.base,
        "--ca-file",
        ca.to_str().unwrap(),
        "-o",
        "none",
    ];
    let r = berth_with(home, &args, &[]).await;
    assert_eq!(r.code, 0, "berth login: {}", r.stderr);
}

/// Runs `berth args` on a pseudo-terminal (util-linux `script`), typing `answer`.
async fn berth_on_a_terminal(home: &Path, args: &[&str], answer: &str) -> Run {
    let command = std::iter::once(env!("CARGO_BIN_EXE_berth-e2e"))
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = tokio::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("BERTH_CONFIG_DIR", home)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("util-linux `script` is needed (apt-get install bsdutils): {e}")
        });
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    if answer.is_empty() {
        // Nothing to type: the terminal stays open until the command has printed everything.
        stdout.read_to_end(&mut seen).await.unwrap();
        drop(stdin);
    } else {
        // The answer is typed once the prompt is on the terminal (30 s at most).
        let prompt = async {
            let mut chunk = [0_u8; 4096];
            while !String::from_utf8_lossy(&seen).contains(PROMPT) {
                match stdout.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&chunk[..n]),
                }
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(30), prompt).await;
        stdin.write_all(answer.as_bytes()).await.unwrap();
        drop(stdin);
        stdout.read_to_end(&mut seen).await.unwrap();
    }
    let output = child.wait_with_output().await.unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&seen).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// How `berth` asks for confirmation, at the end of its question.
const PROMPT: &str = "(y/n): ";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berth_drives_groups_registries_and_content_trust_as_az_does() {
    // Trust-data push tokens live 3 s, so a disable that follows one waits that long.
    let env = vec![
        ("BERTH_TRUST_PUSH_TOKEN_SECS".to_owned(), "3".to_owned()),
        ("BERTH_NOTARY_TOKEN_LEEWAY_SECS".to_owned(), "0".to_owned()),
    ];
    let app = spawn_app_with(
        Backend::Sqlite,
        SpawnOptions {
            notary: true,
            env,
            ..SpawnOptions::default()
        },
    )
    .await;
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let accounts = step_the_owner_signs_in_and_the_token_is_cached(&app, home).await;
    step_the_tenant_and_subscription_can_be_named(&app, home, &accounts).await;
    step_content_trust_is_enabled_as_the_documentation_says(&app, home).await;
    step_disabling_asks_first(&app, home).await;
    step_a_disable_answered_yes_waits_for_a_push_token_and_wipes(&app, home).await;
    step_yes_and_no_wait_need_no_terminal(home).await;
    step_formats_and_queries_print_as_az_prints(home).await;
    step_bad_requests_are_refused_with_azs_messages(home).await;
    step_debug_shows_the_exchange_without_secrets(home, &app.owner.1).await;
    step_deletions_follow_their_operations_and_logout_forgets(home).await;
}

/// Not signed in, then signed in as the owner: the account is listed, the profile is the
/// owner's only, and a cached token about to expire is renewed without asking; returns the
/// accounts `login` printed.
async fn step_the_owner_signs_in_and_the_token_is_cached(app: &TestApp, home: &Path) -> Value {
    let (app_id, secret) = app.owner.clone();
    // Not signed in yet.
    let r = berth(home, &["acr", "list"]).await;
    assert_eq!(
        (r.code, r.stderr.trim()),
        (1, "ERROR: Please run 'berth login' to setup account.")
    );

    let r = berth(
        home,
        &[
            "login",
            "--service-principal",
            "-u",
            &app_id,
            "-p",
            &secret,
            "--endpoint",
            &app.base,
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let accounts: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(accounts[0]["id"], app.subscription.as_str());
    assert_eq!(
        (
            accounts[0]["isDefault"].as_bool(),
            accounts[0]["user"]["type"].as_str()
        ),
        (Some(true), Some("servicePrincipal"))
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.join("profile.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the cached credentials are the owner's only"
        );
    }
    let r = berth(
        home,
        &["account", "show", "--query", "user.name", "-o", "tsv"],
    )
    .await;
    assert_eq!(r.stdout, format!("{app_id}\n"));
    // The cached token is renewed when it is about to expire (here: a broken one, due in a
    // minute), without asking the user anything.
    let profile_file = home.join("profile.json");
    let mut profile: Value =
        serde_json::from_slice(&std::fs::read(&profile_file).unwrap()).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for token in profile["tokens"].as_object_mut().unwrap().values_mut() {
        *token = json!({"accessToken": "not-a-token", "expiresOn": now + 60});
    }
    std::fs::write(&profile_file, profile.to_string()).unwrap();
    let r = berth(home, &["group", "list", "-o", "none"]).await;
    assert_eq!(r.code, 0, "the token was not renewed: {}", r.stderr);
    accounts
}

/// The tenant can be named and must be this deployment's; `--subscription` takes an id or a name.
async fn step_the_tenant_and_subscription_can_be_named(
    app: &TestApp,
    home: &Path,
    accounts: &Value,
) {
    let (app_id, secret) = app.owner.clone();
    // The tenant can be named, and must be this deployment's.
    let tenant = accounts[0]["tenantId"].as_str().unwrap().to_owned();
    let elsewhere = tempfile::tempdir().unwrap();
    let r = berth(
        elsewhere.path(),
        &[
            "login",
            "--service-principal",
            "-u",
            &app_id,
            "-p",
            &secret,
            "--tenant",
            &tenant,
            "--endpoint",
            &app.base,
            "-o",
            "none",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = berth(
        elsewhere.path(),
        &[
            "login",
            "--service-principal",
            "-u",
            &app_id,
            "-p",
            &secret,
            "--tenant",
            "00000000-0000-0000-0000-00000000dead",
            "--endpoint",
            &app.base,
        ],
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    // --subscription takes an id or a name.
    let r = berth(home, &["group", "list", "--subscription", "Berth"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = berth(home, &["group", "list", "--subscription", "nosuchsub"]).await;
    assert_eq!(
        (r.code, r.stderr.trim()),
        (
            1,
            "ERROR: Subscription 'nosuchsub' not found. Check the spelling and casing and try again."
        )
    );
}

/// A group and a Premium registry, then the documentation's commands with az replaced by
/// berth: content trust enabled and shown.
async fn step_content_trust_is_enabled_as_the_documentation_says(app: &TestApp, home: &Path) {
    let r = berth(
        home,
        &[
            "group", "create", "-n", "demo", "-l", "westus", "-o", "table",
        ],
    )
    .await;
    assert_eq!(
        r.stdout, "Location    Name\n----------  ------\nwestus      demo\n",
        "{}",
        r.stderr
    );
    let r = berth(
        home,
        &[
            "acr",
            "create",
            "-n",
            "myregistry",
            "-g",
            "demo",
            "--sku",
            "Premium",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let created: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (
            created["loginServer"].as_str(),
            created["resourceGroup"].as_str()
        ),
        (Some("myregistry.registry.localhost"), Some("demo")),
        "properties are hoisted, as az prints them"
    );

    // The documentation's commands, with az replaced by berth.
    let r = berth(
        home,
        &[
            "acr",
            "show",
            "--name",
            "myregistry",
            "--query",
            "id",
            "--output",
            "tsv",
        ],
    )
    .await;
    assert_eq!(r.stdout.trim(), app.registry_path("demo", "myregistry"));
    let r = berth(
        home,
        &[
            "acr",
            "config",
            "content-trust",
            "update",
            "--registry",
            "myregistry",
            "--status",
            "enabled",
        ],
    )
    .await;
    assert_eq!(
        (r.code, serde_json::from_str::<Value>(&r.stdout).ok()),
        (0, Some(json!({"status": "enabled", "type": "Notary"}))),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("WARNING: Content Trust is being deprecated")
    );
    let r = berth(
        home,
        &[
            "acr",
            "config",
            "content-trust",
            "show",
            "-r",
            "myregistry",
            "--only-show-errors",
            "-o",
            "tsv",
        ],
    )
    .await;
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str()),
        ("enabled\tNotary\n", "")
    );
}

/// Disabling asks first: no terminal and no --yes is refused, naming --yes; answered no on a
/// terminal, it is cancelled and nothing changes.
async fn step_disabling_asks_first(app: &TestApp, home: &Path) {
    // Disabling asks first: no terminal and no --yes is refused, naming --yes.
    let r = berth(
        home,
        &[
            "acr",
            "config",
            "content-trust",
            "update",
            "-r",
            "myregistry",
            "--status",
            "disabled",
        ],
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("Unable to prompt for confirmation as no tty available. Use --yes."),
        "{}",
        r.stderr
    );
    // Answered no on a terminal: cancelled, nothing changes.
    let r = berth_on_a_terminal(
        home,
        &[
            "acr",
            "config",
            "content-trust",
            "update",
            "-r",
            "myregistry",
            "--status",
            "disabled",
        ],
        "n\n",
    )
    .await;
    assert!(
        r.stdout.contains("the images remain in the registry")
            && r.stdout.contains("Operation cancelled."),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let (_, current) = app
        .get(&format!(
            "{}?api-version={API}",
            app.registry_path("demo", "myregistry")
        ))
        .await;
    assert_eq!(
        current["properties"]["policies"]["trustPolicy"]["status"],
        "enabled"
    );
}

/// A signer's push token is issued just now; answered yes on a terminal, the disable runs the
/// wipe, which waits for that token to expire, with progress, to its end.
async fn step_a_disable_answered_yes_waits_for_a_push_token_and_wipes(app: &TestApp, home: &Path) {
    let app_id = app.owner.0.clone();
    // A signer's push token was issued just now: the wipe will wait for it to expire.
    let registry_id = app.registry_path("demo", "myregistry");
    for role in ["AcrPush", "AcrImageSigner"] {
        let r = berth(
            home,
            &[
                "role",
                "assignment",
                "create",
                "--scope",
                &registry_id,
                "--role",
                role,
                "--assignee",
                &app_id,
                "-o",
                "none",
            ],
        )
        .await;
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let refresh = berth(
        home,
        &[
            "acr",
            "login",
            "-n",
            "myregistry",
            "--expose-token",
            "--query",
            "refreshToken",
            "-o",
            "tsv",
            "--only-show-errors",
        ],
    )
    .await
    .stdout
    .trim()
    .to_owned();
    let push = berth_tests::fixtures::access(
        app,
        berth_tests::notary::SERVICE,
        "repository:myregistry.registry.localhost/app:push,pull",
        &refresh,
    )
    .await;
    let granted = berth_tests::jwt_claims(push.body["access_token"].as_str().unwrap());
    assert_eq!(granted["access"][0]["actions"], json!(["push", "pull"]));
    // Answered yes on a terminal: the wipe runs, with progress, to its end.
    let r = berth_on_a_terminal(
        home,
        &[
            "acr",
            "config",
            "content-trust",
            "update",
            "-r",
            "myregistry",
            "--status",
            "disabled",
        ],
        "y\n",
    )
    .await;
    assert!(
        r.stdout.contains("\"status\": \"disabled\""),
        "{}{}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stdout.contains("Running .."),
        "progress is shown on the terminal: {}",
        r.stdout
    );
    let (_, current) = app
        .get(&format!(
            "{}?api-version={API}",
            app.registry_path("demo", "myregistry")
        ))
        .await;
    assert_eq!(
        current["properties"]["policies"]["trustPolicy"]["status"],
        "disabled"
    );
}

/// --yes without a terminal, and --no-wait returns at once.
async fn step_yes_and_no_wait_need_no_terminal(home: &Path) {
    // --yes without a terminal, and --no-wait returns at once.
    berth(
        home,
        &[
            "acr",
            "config",
            "content-trust",
            "update",
            "-r",
            "myregistry",
            "--status",
            "enabled",
        ],
    )
    .await;
    let r = berth(
        home,
        &[
            "acr",
            "config",
            "content-trust",
            "update",
            "-r",
            "myregistry",
            "--status",
            "disabled",
            "--yes",
            "--no-wait",
        ],
    )
    .await;
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
}

/// Formats and queries: jsonc colored only on a terminal, tsv, yaml, JMESPath.
async fn step_formats_and_queries_print_as_az_prints(home: &Path) {
    // Formats and queries.
    let r = berth_on_a_terminal(
        home,
        &[
            "acr",
            "config",
            "content-trust",
            "show",
            "-r",
            "myregistry",
            "-o",
            "jsonc",
            "--only-show-errors",
        ],
        "",
    )
    .await;
    assert!(
        r.stdout.contains("\x1b[94m\"status\"\x1b[39m"),
        "jsonc is colored on a terminal: {:?}",
        r.stdout
    );
    let r = berth(
        home,
        &[
            "acr",
            "config",
            "content-trust",
            "show",
            "-r",
            "myregistry",
            "-o",
            "jsonc",
            "--only-show-errors",
        ],
    )
    .await;
    assert!(
        !r.stdout.contains('\x1b') && r.stdout.contains("\"status\""),
        "and plain otherwise: {:?}",
        r.stdout
    );
    let r = berth(
        home,
        &[
            "acr",
            "list",
            "--query",
            "[].{name:name, sku:sku.name}",
            "-o",
            "tsv",
        ],
    )
    .await;
    assert_eq!(r.stdout, "myregistry\tPremium\n");
    let r = berth(home, &["acr", "list", "-o", "yaml", "--query", "[0].sku"]).await;
    assert_eq!(r.stdout, "name: Premium\ntier: Premium\n");
    let r = berth(
        home,
        &["acr", "check-name", "-n", "myregistry", "-o", "json"],
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&r.stdout).unwrap()["nameAvailable"],
        false
    );
}

/// A non-Premium registry gets az's message before anything is sent; bad input exits 1 with
/// the error, bad usage exits 2.
async fn step_bad_requests_are_refused_with_azs_messages(home: &Path) {
    // A non-Premium registry gets az's message before anything is sent.
    let r = berth(
        home,
        &[
            "acr",
            "create",
            "-n",
            "basicreg1",
            "-g",
            "demo",
            "--sku",
            "basic",
            "-o",
            "none",
        ],
    )
    .await;
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
    let r = berth(
        home,
        &[
            "acr",
            "config",
            "content-trust",
            "update",
            "-r",
            "basicreg1",
            "--status",
            "enabled",
        ],
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("ERROR: Policies are only supported for managed registries in Premium SKU."),
        "{}",
        r.stderr
    );

    // Bad input: exit 1 with the error, exit 2 for bad usage.
    let r = berth(home, &["acr", "show", "-n", "nosuchreg"]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("could not be found"), "{}", r.stderr);
    let r = berth(
        home,
        &["acr", "show", "-n", "myregistry", "-g", "nosuchgroup"],
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("ERROR: (ResourceGroupNotFound)"),
        "{}",
        r.stderr
    );
    let r = berth(
        home,
        &[
            "acr",
            "create",
            "-n",
            "MyRegistry",
            "-g",
            "demo",
            "--sku",
            "Basic",
        ],
    )
    .await;
    assert_eq!(
        (r.code, r.stderr.trim()),
        (
            1,
            "ERROR: argument error: Registry name must use only lowercase."
        )
    );
    let r = berth(home, &["acr", "create", "-n", "x"]).await;
    assert_eq!(r.code, 2, "a missing flag is bad usage: {}", r.stderr);
    let r = berth(
        home,
        &[
            "acr",
            "config",
            "content-trust",
            "update",
            "-r",
            "myregistry",
            "--status",
            "maybe",
        ],
    )
    .await;
    assert_eq!(r.code, 2);
    let r = berth(home, &["acr", "list", "--query", "[?"]).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--query"), "{}", r.stderr);
}

/// --debug shows the HTTP exchange without tokens or secrets.
async fn step_debug_shows_the_exchange_without_secrets(home: &Path, secret: &str) {
    // --debug shows the HTTP exchange without tokens or secrets.
    let r = berth(
        home,
        &["acr", "show", "-n", "myregistry", "--debug", "-o", "none"],
    )
    .await;
    assert!(r.stderr.contains("DEBUG: Request URL"), "{}", r.stderr);
    assert!(
        !r.stderr.contains(secret) && !r.stderr.contains("eyJ"),
        "a secret or token leaked:\n{}",
        r.stderr
    );
}

/// Deletions ask too, and follow their operations; logout removes the profile.
async fn step_deletions_follow_their_operations_and_logout_forgets(home: &Path) {
    // Deletions ask too, and follow their operations.
    let r = berth(home, &["acr", "delete", "-n", "basicreg1", "--yes"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = berth(home, &["group", "delete", "-n", "demo", "--yes"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = berth(home, &["group", "list", "-o", "tsv", "--query", "[].name"]).await;
    assert_eq!(r.stdout, "");
    let r = berth(home, &["logout"]).await;
    assert_eq!(r.code, 0);
    assert!(!home.join("profile.json").exists());
}

/// Writes a shell script that may be run.
fn executable(path: &Path, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, script).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", run.stdout, run.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berth_grants_roles_and_logs_in_to_registries() {
    let app = berth_tests::spawn_app(Backend::Sqlite).await;
    let owner_home = tempfile::tempdir().unwrap();
    let home = owner_home.path();
    let registry_id = step_the_owner_signs_in_and_creates_a_premium_registry(&app, home).await;
    let (sp_app, sp_secret, alice) = step_a_service_principal_and_a_user_are_made(home).await;
    step_the_documented_command_assigns_a_role_to_a_user_and_a_principal(
        home,
        &registry_id,
        &alice,
        &sp_app,
    )
    .await;
    let sp_object = step_an_object_id_is_an_assignee_too(home, &registry_id, &sp_app).await;
    step_assignments_and_definitions_are_listed_and_queried(
        home,
        &registry_id,
        &sp_app,
        &sp_object,
    )
    .await;
    step_bad_assignments_are_refused_and_one_is_deleted(home, &registry_id, &sp_app).await;
    step_the_service_principal_joins_a_group(home, &sp_object).await;
    let sp_home =
        step_the_service_principal_exposes_a_registry_token(&app, &sp_app, &sp_secret).await;
    step_acr_login_stores_the_token_for_docker(&sp_home).await;
    step_the_admin_users_credentials_are_shown_and_renewed(home).await;
    step_repository_scoped_tokens_are_made(home).await;
    step_repository_scoped_tokens_are_listed_checked_and_deleted(home).await;

    let r = berth(home, &["completion", "bash"]).await;
    assert!(r.code == 0 && r.stdout.contains("berth"), "{}", r.stderr);
}

/// The owner signs in and creates `rbacreg01` (Premium) in `rbac`; returns the registry's id.
async fn step_the_owner_signs_in_and_creates_a_premium_registry(
    app: &TestApp,
    home: &Path,
) -> String {
    let (app_id, secret) = app.owner.clone();
    assert_eq!(
        berth(
            home,
            &[
                "login",
                "--service-principal",
                "-u",
                &app_id,
                "-p",
                &secret,
                "--endpoint",
                &app.base
            ]
        )
        .await
        .code,
        0
    );
    assert_eq!(
        berth(home, &["group", "create", "-n", "rbac", "-l", "westus"])
            .await
            .code,
        0
    );
    assert_eq!(
        berth(
            home,
            &[
                "acr",
                "create",
                "-n",
                "rbacreg01",
                "-g",
                "rbac",
                "--sku",
                "Premium"
            ]
        )
        .await
        .code,
        0
    );

    berth(
        home,
        &[
            "acr",
            "show",
            "--name",
            "rbacreg01",
            "--query",
            "id",
            "--output",
            "tsv",
        ],
    )
    .await
    .stdout
    .trim()
    .to_owned()
}

/// A service principal and a user to grant roles to: the principal's appId and password, and
/// the user's object id.
async fn step_a_service_principal_and_a_user_are_made(home: &Path) -> (String, String, String) {
    let sp = json_of(&berth(home, &["ad", "sp", "create-for-rbac", "-n", "cli-signer"]).await);
    let (sp_app, sp_secret) = (
        sp["appId"].as_str().unwrap().to_owned(),
        sp["password"].as_str().unwrap().to_owned(),
    );
    let user = json_of(
        &berth(
            home,
            &[
                "ad",
                "user",
                "create",
                "--display-name",
                "Alice",
                "--user-principal-name",
                "alice@contoso.com",
                "--password",
                "a-long-Passw0rd-for-alice",
            ],
        )
        .await,
    );
    let alice = user["id"].as_str().unwrap().to_owned();
    (sp_app, sp_secret, alice)
}

/// The documentation's `role assignment create`, for a user and for a service principal; the
/// same assignment again prints the existing one.
async fn step_the_documented_command_assigns_a_role_to_a_user_and_a_principal(
    home: &Path,
    registry_id: &str,
    alice: &str,
    sp_app: &str,
) {
    let r = berth(
        home,
        &[
            "role",
            "assignment",
            "create",
            "--scope",
            registry_id,
            "--role",
            "AcrImageSigner",
            "--assignee",
            "alice@contoso.com",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first = json_of(&r);
    assert_eq!(
        (
            first["principalId"].as_str(),
            first["principalType"].as_str(),
            first["resourceGroup"].as_str()
        ),
        (Some(alice), Some("User"), Some("rbac"))
    );
    assert!(
        first["roleDefinitionId"]
            .as_str()
            .unwrap()
            .ends_with("6cef56e8-d556-48e5-a04f-b8e64114680f")
    );
    let r = berth(
        home,
        &[
            "role",
            "assignment",
            "create",
            "--scope",
            registry_id,
            "--role",
            "AcrImageSigner",
            "--assignee",
            sp_app,
        ],
    )
    .await;
    assert_eq!(
        json_of(&r)["principalType"],
        "ServicePrincipal",
        "{}",
        r.stderr
    );
    // The same assignment again is a success that prints the existing one.
    let again = json_of(
        &berth(
            home,
            &[
                "role",
                "assignment",
                "create",
                "--scope",
                registry_id,
                "--role",
                "AcrImageSigner",
                "--assignee",
                "alice@contoso.com",
            ],
        )
        .await,
    );
    assert_eq!(again["id"], first["id"]);
}

/// An object id as `--assignee` is found with getByIds; returns the principal's object id.
async fn step_an_object_id_is_an_assignee_too(
    home: &Path,
    registry_id: &str,
    sp_app: &str,
) -> String {
    let sp_object = json_of(
        &berth(
            home,
            &[
                "role",
                "assignment",
                "list",
                "--scope",
                registry_id,
                "--assignee",
                sp_app,
            ],
        )
        .await,
    )[0]["principalId"]
        .as_str()
        .unwrap()
        .to_owned();
    // An object id as --assignee is found with getByIds.
    let r = berth(
        home,
        &[
            "role",
            "assignment",
            "create",
            "--scope",
            registry_id,
            "--role",
            "AcrPull",
            "--assignee",
            &sp_object,
        ],
    )
    .await;
    assert_eq!(
        (r.code, json_of(&r)["principalType"].as_str()),
        (0, Some("ServicePrincipal")),
        "{}",
        r.stderr
    );
    let r = berth(
        home,
        &[
            "role",
            "assignment",
            "delete",
            "--ids",
            json_of(&r)["id"].as_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    sp_object
}

/// Groups, registries, assignments (one made by role GUID and object id) and role
/// definitions, listed and queried.
async fn step_assignments_and_definitions_are_listed_and_queried(
    home: &Path,
    registry_id: &str,
    sp_app: &str,
    sp_object: &str,
) {
    let r = berth(
        home,
        &[
            "group",
            "show",
            "-n",
            "rbac",
            "--query",
            "properties.provisioningState",
            "-o",
            "tsv",
        ],
    )
    .await;
    assert_eq!(r.stdout, "Succeeded\n");
    let r = berth(
        home,
        &[
            "acr",
            "list",
            "-g",
            "rbac",
            "--query",
            "[].loginServer",
            "-o",
            "tsv",
        ],
    )
    .await;
    assert_eq!(r.stdout, "rbacreg01.registry.localhost\n");
    let r = berth(
        home,
        &[
            "role",
            "assignment",
            "create",
            "--scope",
            registry_id,
            "--role",
            "8311e382-0749-4cb8-b61a-304f252e45ec",
            "--assignee-object-id",
            sp_object,
            "--assignee-principal-type",
            "ServicePrincipal",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = berth(
        home,
        &[
            "role",
            "assignment",
            "list",
            "--scope",
            registry_id,
            "--assignee",
            sp_app,
            "--query",
            "length(@)",
            "-o",
            "tsv",
        ],
    )
    .await;
    assert_eq!(r.stdout, "2\n");
    let r = berth(
        home,
        &[
            "role",
            "definition",
            "list",
            "--name",
            "AcrImageSigner",
            "--query",
            "[0].permissions[0].dataActions",
            "-o",
            "tsv",
        ],
    )
    .await;
    assert_eq!(
        r.stdout,
        "Microsoft.ContainerRegistry/registries/trustedCollections/write\n"
    );
}

/// Bad input is refused with az's messages; then the user's assignment is deleted.
async fn step_bad_assignments_are_refused_and_one_is_deleted(
    home: &Path,
    registry_id: &str,
    sp_app: &str,
) {
    let r = berth(
        home,
        &[
            "role",
            "assignment",
            "create",
            "--scope",
            registry_id,
            "--role",
            "NoSuchRole",
            "--assignee",
            sp_app,
        ],
    )
    .await;
    assert_eq!(
        (r.code, r.stderr.trim()),
        (1, "ERROR: Role 'NoSuchRole' doesn't exist.")
    );
    let r = berth(
        home,
        &[
            "role",
            "assignment",
            "create",
            "--scope",
            registry_id,
            "--role",
            "AcrPull",
            "--assignee",
            "nobody@contoso.com",
        ],
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "Cannot find user or service principal in graph database for 'nobody@contoso.com'"
        ),
        "{}",
        r.stderr
    );
    let r = berth(
        home,
        &[
            "role",
            "assignment",
            "create",
            "--scope",
            registry_id,
            "--role",
            "AcrPull",
        ],
    )
    .await;
    assert_eq!(r.code, 2, "an assignee is required: {}", r.stderr);

    let r = berth(
        home,
        &[
            "role",
            "assignment",
            "delete",
            "--scope",
            registry_id,
            "--assignee",
            "alice@contoso.com",
            "--role",
            "AcrImageSigner",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = berth(
        home,
        &[
            "role",
            "assignment",
            "list",
            "--scope",
            registry_id,
            "--assignee",
            "alice@contoso.com",
            "-o",
            "tsv",
        ],
    )
    .await;
    assert_eq!(r.stdout, "");
}

/// A directory group with the service principal as a member.
async fn step_the_service_principal_joins_a_group(home: &Path, sp_object: &str) {
    let group = json_of(
        &berth(
            home,
            &[
                "ad",
                "group",
                "create",
                "--display-name",
                "signers",
                "--mail-nickname",
                "signers",
            ],
        )
        .await,
    );
    let r = berth(
        home,
        &[
            "ad",
            "group",
            "member",
            "add",
            "-g",
            group["id"].as_str().unwrap(),
            "--member-id",
            sp_object,
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// The service principal logs in and gets a registry token, as `az acr login` does; returns
/// its profile directory.
async fn step_the_service_principal_exposes_a_registry_token(
    app: &TestApp,
    sp_app: &str,
    sp_secret: &str,
) -> tempfile::TempDir {
    let sp_home = tempfile::tempdir().unwrap();
    assert_eq!(
        berth(
            sp_home.path(),
            &[
                "login",
                "--service-principal",
                "-u",
                sp_app,
                "-p",
                sp_secret,
                "--endpoint",
                &app.base
            ]
        )
        .await
        .code,
        0
    );
    let r = berth(
        sp_home.path(),
        &["acr", "login", "--name", "rbacreg01", "--expose-token"],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let exposed = json_of(&r);
    assert_eq!(
        (
            exposed["loginServer"].as_str(),
            exposed["username"].as_str()
        ),
        (
            Some("rbacreg01.registry.localhost"),
            Some("00000000-0000-0000-0000-000000000000")
        )
    );
    assert_eq!(exposed["accessToken"], exposed["refreshToken"]);
    let token = exposed["accessToken"].as_str().unwrap();
    let payload = berth_tests::jwt_claims(token);
    assert_eq!(payload["aud"], "rbacreg01.registry.localhost");
    sp_home
}

/// Without --expose-token (and no Docker) the token goes into the Docker config file, or
/// through the configured credential helper; with Docker installed, `docker login` gets it on
/// stdin (as az does).
async fn step_acr_login_stores_the_token_for_docker(sp_home: &tempfile::TempDir) {
    use base64::Engine;
    let docker = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let env = [
        ("DOCKER_CONFIG", docker.path().as_os_str()),
        ("PATH", bin.path().as_os_str()),
    ];
    let r = berth_with(
        sp_home.path(),
        &["acr", "login", "--name", "rbacreg01"],
        &env,
    )
    .await;
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "Login Succeeded\n"),
        "{}",
        r.stderr
    );
    let config: Value =
        serde_json::from_slice(&std::fs::read(docker.path().join("config.json")).unwrap()).unwrap();
    let auth = base64::engine::general_purpose::STANDARD
        .decode(
            config["auths"]["rbacreg01.registry.localhost"]["auth"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let auth = String::from_utf8(auth).unwrap();
    assert!(
        auth.starts_with("00000000-0000-0000-0000-000000000000:ey"),
        "{auth}"
    );
    // ...or through the configured credential helper.
    std::fs::write(
        docker.path().join("config.json"),
        r#"{"credsStore": "berthtest"}"#,
    )
    .unwrap();
    let stored = bin.path().join("stored.json");
    let helper = bin.path().join("docker-credential-berthtest");
    executable(
        &helper,
        &format!(
            "#!/bin/sh\n[ \"$1\" = store ] && /bin/cat > {}\n",
            stored.display()
        ),
    );
    let r = berth_with(
        sp_home.path(),
        &["acr", "login", "--name", "rbacreg01"],
        &env,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let entry: Value = serde_json::from_slice(&std::fs::read(&stored).unwrap()).unwrap();
    assert_eq!(
        (entry["ServerURL"].as_str(), entry["Username"].as_str()),
        (
            Some("rbacreg01.registry.localhost"),
            Some("00000000-0000-0000-0000-000000000000")
        )
    );
    assert!(entry["Secret"].as_str().unwrap().starts_with("ey"));
    // With Docker installed, `docker login` gets the token on stdin (as az does). No Docker
    // daemon runs here: a `docker` on PATH records how it is called.
    let called = bin.path().join("docker-call");
    let docker_bin = bin.path().join("docker");
    executable(
        &docker_bin,
        &format!(
            "#!/bin/sh\necho \"$@\" > {0}\n/bin/cat >> {0}\n",
            called.display()
        ),
    );
    let r = berth_with(
        sp_home.path(),
        &["acr", "login", "--name", "rbacreg01"],
        &env,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let call = std::fs::read_to_string(&called).unwrap();
    let (args, token) = call.split_once('\n').unwrap();
    assert_eq!(
        args,
        "login --username 00000000-0000-0000-0000-000000000000 --password-stdin rbacreg01.registry.localhost"
    );
    assert!(token.starts_with("ey") && !token.contains('\n'), "{call}");
}

/// The admin user's credentials: refused while it is disabled, then shown and renewed.
async fn step_the_admin_users_credentials_are_shown_and_renewed(home: &Path) {
    let r = berth(home, &["acr", "credential", "show", "-n", "rbacreg01"]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("(AdminUserDisabled)"), "{}", r.stderr);
    assert_eq!(
        berth(
            home,
            &[
                "acr",
                "update",
                "-n",
                "rbacreg01",
                "--admin-enabled",
                "true",
                "-o",
                "none"
            ]
        )
        .await
        .code,
        0
    );
    let creds = json_of(&berth(home, &["acr", "credential", "show", "-n", "rbacreg01"]).await);
    assert_eq!(creds["username"], "rbacreg01");
    let renewed = json_of(
        &berth(
            home,
            &[
                "acr",
                "credential",
                "renew",
                "-n",
                "rbacreg01",
                "--password-name",
                "password2",
            ],
        )
        .await,
    );
    assert_eq!(
        renewed["passwords"][0]["value"],
        creds["passwords"][0]["value"]
    );
    assert_ne!(
        renewed["passwords"][1]["value"],
        creds["passwords"][1]["value"]
    );
}

/// Repository-scoped tokens: a scope map and a token with passwords, and a quick one without.
async fn step_repository_scoped_tokens_are_made(home: &Path) {
    let map = json_of(
        &berth(
            home,
            &[
                "acr",
                "scope-map",
                "create",
                "-n",
                "hello-rw",
                "-r",
                "rbacreg01",
                "--repository",
                "samples/hello",
                "content/read",
                "content/write",
                "--repository",
                "samples/other",
                "content/read",
            ],
        )
        .await,
    );
    assert_eq!(
        map["actions"],
        json!([
            "repositories/samples/hello/content/read",
            "repositories/samples/hello/content/write",
            "repositories/samples/other/content/read"
        ])
    );
    let token = json_of(
        &berth(
            home,
            &[
                "acr",
                "token",
                "create",
                "-n",
                "ci-token",
                "-r",
                "rbacreg01",
                "--scope-map",
                "hello-rw",
            ],
        )
        .await,
    );
    assert_eq!(
        (
            token["status"].as_str(),
            token["credentials"]["username"].as_str()
        ),
        (Some("enabled"), Some("ci-token"))
    );
    assert!(
        token["credentials"]["passwords"][0]["value"].is_string(),
        "{token}"
    );
    let quick = json_of(
        &berth(
            home,
            &[
                "acr",
                "token",
                "create",
                "-n",
                "pull-token",
                "-r",
                "rbacreg01",
                "--repository",
                "samples/hello",
                "content/read",
                "--no-passwords",
            ],
        )
        .await,
    );
    assert!(
        quick["scopeMapId"]
            .as_str()
            .unwrap()
            .ends_with("/scopeMaps/pull-token-scope-map"),
        "{quick}"
    );
    assert!(
        quick["credentials"]["passwords"]
            .as_array()
            .is_none_or(|p| p.iter().all(|x| x.get("value").is_none())),
        "--no-passwords makes none: {quick}"
    );
}

/// Tokens are listed, a misspelt action is refused, and a token and its map are deleted.
async fn step_repository_scoped_tokens_are_listed_checked_and_deleted(home: &Path) {
    let r = berth(
        home,
        &[
            "acr",
            "token",
            "list",
            "-r",
            "rbacreg01",
            "--query",
            "[].name",
            "-o",
            "tsv",
        ],
    )
    .await;
    assert_eq!(r.stdout, "ci-token\npull-token\n");
    let r = berth(
        home,
        &[
            "acr",
            "scope-map",
            "create",
            "-n",
            "typo",
            "-r",
            "rbacreg01",
            "--repository",
            "samples/hello",
            "content/reed",
        ],
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("--repository samples/hello needs actions from"),
        "{}",
        r.stderr
    );
    assert_eq!(
        berth(
            home,
            &[
                "acr",
                "token",
                "delete",
                "-n",
                "ci-token",
                "-r",
                "rbacreg01",
                "--yes"
            ]
        )
        .await
        .code,
        0
    );
    assert_eq!(
        berth(
            home,
            &[
                "acr",
                "scope-map",
                "delete",
                "-n",
                "hello-rw",
                "-r",
                "rbacreg01",
                "--yes"
            ]
        )
        .await
        .code,
        0
    );
    let r = berth(
        home,
        &[
            "acr",
            "scope-map",
            "list",
            "-r",
            "rbacreg01",
            "--query",
            "[?name=='hello-rw']",
            "-o",
            "tsv",
        ],
    )
    .await;
    assert_eq!(r.stdout, "");
}

/// README's "Content trust in five minutes", run as written against berthd as
/// `scripts/dev-stack` starts it: HTTPS with the development certificate, the login server
/// serving the image, its tokens and its trust data. The disable ends in seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walkthrough_runs_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = &readme[readme.find("### Content trust in five minutes").unwrap()..];
    let start = section.find("```sh\n").unwrap() + "```sh\n".len();
    let script = &section[start..start + section[start..].find("```").unwrap()];

    let app = super::login_server::app_serving("embedded").await;
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    let login = format!("myregistry.registry.localhost:{port}");
    let ca = app.ca_file.clone().unwrap();
    let layout = tempfile::tempdir().unwrap();
    let image = format!(
        "oci:{}:v1",
        berth_tests::registry::oci_layout(layout.path(), "v1").display()
    );
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_berth-e2e"), bin.path().join("berth")).unwrap();
    let home = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .env("HOME", home.path())
        .env("PATH", path)
        .env("B", &app.base)
        .env("LOGIN", &login)
        .env("NOTARY", format!("https://{login}"))
        .env("CURL_CA_BUNDLE", &ca)
        .env("SSL_CERT_FILE", &ca)
        .env("REQUESTS_CA_BUNDLE", &ca)
        .env("OWNER", app.data_dir.path().join("bootstrap-owner.json"))
        .env("IMAGE", &image)
        .env_remove("BERTH_CONFIG_DIR")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        output.status.success(),
        "the walkthrough failed:\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    let enabled = stdout
        .find("\"status\": \"enabled\"")
        .unwrap_or_else(|| panic!("{stdout}"));
    let listed = stdout
        .find("targets")
        .unwrap_or_else(|| panic!("the reader saw no signed tag:\n{stdout}"));
    let disabled = stdout
        .find("\"status\": \"disabled\"")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(enabled < listed && listed < disabled, "{stdout}");
    assert!(
        stdout.contains(&format!("does not have trust data for {login}/hello")),
        "{stdout}{stderr}"
    );
    assert!(
        stdout.trim_end().ends_with("/hello"),
        "the image stays:\n{stdout}"
    );
}

/// berth's `--query` and `--output` give what the Azure CLI's own formatters (knack 0.11,
/// from PyPI) print for the same documents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_formats_match_the_azure_clis() {
    use berth_cli::output::{Format, query, render};
    let registry = json!({
        "id": "/subscriptions/s/resourceGroups/demo/providers/Microsoft.ContainerRegistry/registries/myregistry",
        "name": "myregistry", "type": "Microsoft.ContainerRegistry/registries", "location": "westus",
        "adminUserEnabled": false, "anonymousPullEnabled": false, "loginServer": "myregistry.registry.localhost",
        "policies": {"trustPolicy": {"status": "enabled", "type": "Notary"}, "retentionPolicy": {"days": 7, "status": "disabled"}},
        "sku": {"name": "Premium", "tier": "Premium"}, "tags": {}, "zoneRedundancy": "Disabled", "encryption": null,
        "networkRuleSet": {"defaultAction": "Allow", "ipRules": []}, "resourceGroup": "demo"
    });
    let list = json!([registry.clone(), {"id": "/x", "name": "other", "location": "eastus", "sku": {"name": "Basic"}, "adminUserEnabled": true, "tags": {"env": "dev"}}]);
    let cases: Vec<(Value, Option<&str>, &str)> = vec![
        (registry.clone(), None, "json"),
        (registry.clone(), None, "tsv"),
        (registry.clone(), None, "table"),
        (registry.clone(), None, "yaml"),
        (list.clone(), None, "json"),
        (list.clone(), None, "tsv"),
        (list.clone(), None, "table"),
        (list.clone(), None, "yaml"),
        (registry.clone(), Some("id"), "tsv"),
        (registry.clone(), Some("policies.trustPolicy"), "json"),
        (registry.clone(), Some("policies.trustPolicy"), "tsv"),
        (registry.clone(), Some("sku"), "yaml"),
        (registry.clone(), Some("encryption"), "tsv"),
        (registry.clone(), Some("adminUserEnabled"), "tsv"),
        (registry.clone(), Some("[name, location]"), "tsv"),
        (list.clone(), Some("[].name"), "tsv"),
        (list.clone(), Some("[?adminUserEnabled].name"), "json"),
        (
            list.clone(),
            Some("[].{location: location, name: name}"),
            "tsv",
        ),
        (
            list.clone(),
            Some("[].{location: location, name: name}"),
            "table",
        ),
        (list.clone(), Some("length(@)"), "tsv"),
        (list.clone(), Some("[0].tags"), "json"),
        // Out of key order: knack keeps the query's order in TSV and tables, sorts in JSON.
        (
            list.clone(),
            Some("[].{name: name, sku: sku.name, loc: location}"),
            "tsv",
        ),
        (
            list.clone(),
            Some("[].{name: name, sku: sku.name, loc: location}"),
            "table",
        ),
        (list.clone(), Some("[].{name: name, loc: location}"), "json"),
        (registry.clone(), Some("{z: name, a: loginServer}"), "tsv"),
        (
            registry.clone(),
            Some("policies.{trust: trustPolicy.status, days: retentionPolicy.days}"),
            "tsv",
        ),
    ];
    let input: Vec<Value> = cases
        .iter()
        .map(|(v, q, f)| json!({"value": v, "query": q, "format": f}))
        .collect();
    let python = std::env::var("BERTH_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let mut child = tokio::process::Command::new(&python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/python/knack_output.py"
        ))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(Value::Array(input).to_string().as_bytes())
            .await
            .unwrap();
    }
    let output = child.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "knack is needed (./scripts/test installs tests/python/requirements.txt in a venv and sets BERTH_TEST_PYTHON): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected: Vec<String> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(expected.len(), cases.len());
    assert!(
        expected.iter().filter(|t| !t.is_empty()).count() >= cases.len() - 1,
        "{expected:?}"
    );
    for ((value, q, format), want) in cases.iter().zip(expected) {
        let (value, order) = match q {
            Some(q) => {
                let found = query(value, q).unwrap();
                (found.value, found.key_order)
            }
            None => (value.clone(), None),
        };
        let format = match *format {
            "json" => Format::Json,
            "tsv" => Format::Tsv,
            "table" => Format::Table,
            _ => Format::Yaml,
        };
        let got = render(&value, format, q.is_some(), order.as_deref());
        // tabulate pads every cell, the last one too; berth trims the lines' ends.
        let want = if format == Format::Table {
            want.lines()
                .map(str::trim_end)
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        } else {
            want
        };
        assert_eq!(got, want, "{format:?} of {q:?}");
    }
}

/// `berth monitor activity-log list` reads the activity log with az's flags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berth_lists_the_activity_log_as_az_does() {
    let app = berth_tests::spawn_app(Backend::Sqlite).await;
    let home = tempfile::tempdir().unwrap();
    let (app_id, secret) = app.owner.clone();
    let r = berth(
        home.path(),
        &[
            "login",
            "--service-principal",
            "-u",
            &app_id,
            "-p",
            &secret,
            "--endpoint",
            &app.base,
            "-o",
            "none",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    app.create_group("told").await;
    app.create_registry("told", "toldreg01", "Basic").await;
    let list = |args: &[&str]| {
        let mut all = vec!["monitor", "activity-log", "list", "--offset", "1h"];
        all.extend_from_slice(args);
        let all: Vec<String> = all.into_iter().map(str::to_owned).collect();
        let home = home.path().to_owned();
        async move {
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            let r = berth(&home, &all).await;
            assert_eq!(r.code, 0, "berth {all:?}: {}", r.stderr);
            serde_json::from_str::<Value>(&r.stdout).unwrap()
        }
    };
    let events = list(&["-g", "told"]).await;
    let story: Vec<(&str, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["operationName"]["value"].as_str().unwrap(),
                e["status"]["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        story,
        [
            (
                "Microsoft.Resources/subscriptions/resourceGroups/write",
                "Started"
            ),
            (
                "Microsoft.Resources/subscriptions/resourceGroups/write",
                "Succeeded"
            ),
            ("Microsoft.ContainerRegistry/registries/write", "Started"),
            ("Microsoft.ContainerRegistry/registries/write", "Succeeded"),
        ]
    );
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["caller"] == *app_id)
    );
    let registry = app.registry_path("told", "toldreg01");
    assert_eq!(
        list(&["--resource-id", &registry])
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        list(&["--namespace", "Microsoft.Resources"])
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        list(&["--caller", &app_id, "--status", "Succeeded"])
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        list(&["--max-events", "1"]).await.as_array().unwrap().len(),
        1
    );
    let selected = list(&["-g", "told", "--select", "caller", "status"]).await;
    let keys: Vec<&String> = selected[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["caller", "status"]);
    let refused = berth(
        home.path(),
        &["monitor", "activity-log", "list", "--offset", "91d"],
    )
    .await;
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("at most 90 days"),
        "{}",
        refused.stderr
    );
    let bad = berth(
        home.path(),
        &["monitor", "activity-log", "list", "--offset", "soon"],
    )
    .await;
    assert!(
        bad.code != 0 && bad.stderr.contains("is not a period"),
        "{}",
        bad.stderr
    );
}
