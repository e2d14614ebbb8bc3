//! The real Azure CLI (`azure-cli` from PyPI, 2.91.0 and 2.86.0, in venvs that
//! `./scripts/test` installs) drives a `berthd` over HTTPS, unchanged: the custom cloud is
//! registered from `/metadata/endpoints`, and ACR's content-trust documentation runs with
//! `az` itself against Berth, Debian's notary-server and docker-registry (HTTPS, on the
//! registry's login server). Every command's output is checked, not only its exit code.
//!
//! `az` runs with the client settings of az-cli-compat.md (telemetry and instance
//! discovery off, the version-check file written first, the CA bundle set), and with a
//! proxy that does not exist for every host but loopback's: a request to anywhere else
//! fails instead of leaving the machine.

use super::content_trust::{list, publish};
use super::*;
use berth_tests::registry::{DockerRegistry, RegistryTls, free_port, oci_layout, skopeo};
use berth_tests::roles::{NULL_USER, SIGNER};
use berth_tests::{Backend, SpawnOptions, spawn_app_with};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

const PASSWORD: &str = "Sign-with-Berth-2026!";

/// The `az` of a pinned azure-cli version.
pub(super) fn az_binary(version: &str) -> PathBuf {
    let root = std::env::var_os("BERTH_TEST_AZURE_CLI_DIR").map_or_else(
        || PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/berth-az"),
        PathBuf::from,
    );
    let az = root.join(version).join("bin/az");
    assert!(
        az.is_file(),
        "azure-cli {version} is not installed at {}: run ./scripts/test, which installs it, or \
         `python3 -m venv {dir} && {dir}/bin/pip install azure-cli=={version}`",
        az.display(),
        dir = root.join(version).display(),
    );
    az
}

/// One `az` installation with a config directory of its own.
pub(super) struct Az {
    binary: PathBuf,
    config: tempfile::TempDir,
    ca: PathBuf,
}

/// What one `az` command did.
pub(super) struct Ran {
    pub(super) code: i32,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

impl Ran {
    pub(super) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }
}

impl Az {
    pub(super) fn new(version: &str, ca: PathBuf) -> Self {
        let binary = az_binary(version);
        let config = tempfile::tempdir().unwrap();
        // Written first, so the first command does not look for a newer release.
        let now = time::OffsetDateTime::now_utc();
        let stamp = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.000000",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        std::fs::write(
            config.path().join("versionCheck.json"),
            json!({"versions": {"azure-cli": {"local": version}, "core": {"local": version},
                "telemetry": {"local": "1.1.0"}}, "update_time": stamp})
            .to_string(),
        )
        .unwrap();
        Self { binary, config, ca }
    }

    pub(super) async fn run(&self, args: &[&str]) -> Ran {
        self.run_program(&self.binary, args).await
    }

    /// Runs `program` in this az's environment, with its `az` first on PATH.
    async fn run_program(&self, program: &std::path::Path, args: &[&str]) -> Ran {
        self.run_program_with(program, args, &[]).await
    }

    /// Runs `az` with `env` on top of its environment (a `docker` to find, say).
    pub(super) async fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Ran {
        self.run_program_with(&self.binary, args, env).await
    }

    async fn run_program_with(
        &self,
        program: &std::path::Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Ran {
        let path = std::env::join_paths(
            std::iter::once(self.binary.parent().unwrap().to_owned()).chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            )),
        )
        .unwrap();
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.config.path())
            .env("AZURE_CONFIG_DIR", self.config.path())
            .env("REQUESTS_CA_BUNDLE", &self.ca)
            .env("AZURE_CORE_COLLECT_TELEMETRY", "false")
            .env("AZURE_CORE_INSTANCE_DISCOVERY", "false")
            .env("AZURE_CORE_NO_COLOR", "true")
            // Anything but loopback goes to a proxy that is not there, and fails.
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("NO_PROXY", "127.0.0.1,localhost,.registry.localhost")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let output = tokio::time::timeout(Duration::from_secs(300), command.output())
            .await
            .unwrap_or_else(|_| panic!("{program:?} {args:?} ran for more than 300 s"))
            .unwrap_or_else(|e| panic!("cannot run {program:?}: {e}"));
        Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs a command that must succeed.
    pub(super) async fn ok(&self, args: &[&str]) -> Ran {
        let ran = self.run(args).await;
        assert_eq!(
            ran.code, 0,
            "az {args:?} failed:\n{}\n{}",
            ran.stdout, ran.stderr
        );
        ran
    }
}

/// ACR's content-trust documentation, with the real `az` of `version`.
async fn az_drives_berth(version: &str) {
    let s = step_berthd_and_a_tls_registry_start(version).await;
    step_az_knows_berths_cloud(&s).await;
    let id = step_the_owner_signs_in_and_creates_a_registry(&s).await;
    step_content_trust_is_enabled(&s).await;
    let people = step_a_person_and_a_service_principal_are_made(&s).await;
    let by_upn = step_roles_are_assigned_by_upn_app_id_and_object_id(&s, &id, &people).await;
    step_signers_also_push_and_a_repeat_answers_the_existing_assignment(&s, &id, &people, &by_upn)
        .await;
    let (work, passwords) = step_the_admin_credentials_push_an_image(&s).await;
    let (gun, pull_token) =
        step_the_person_signs_a_tag_and_the_principal_reads_it(&s, &work, &people).await;
    step_the_owner_disables_content_trust_and_the_image_stays(
        &s,
        &work,
        &passwords,
        &gun,
        &pull_token,
    )
    .await;
    step_the_activity_log_tells_the_story(&s, &id, &people).await;
    drop(s.registry);
}

/// What every step of [`az_drives_berth`] works with.
struct Scene {
    app: TestApp,
    az: Az,
    version: String,
    name: &'static str,
    login_server: String,
    owner: String,
    secret: String,
    tenant: String,
    /// The registry at the login server, kept running for the whole scenario.
    registry: DockerRegistry,
    ca: PathBuf,
    port: u16,
}

/// `berthd` (HTTPS, a notary-server) and docker-registry at the login server, and `az` of
/// `version`.
async fn step_berthd_and_a_tls_registry_start(version: &str) -> Scene {
    let az_probe = az_binary(version);
    let port = free_port();
    let app = spawn_app_with(
        Backend::Sqlite,
        SpawnOptions {
            tls: true,
            notary: true,
            env: vec![
                ("BERTH_LOGIN_SERVER_PORT".into(), port.to_string()),
                // The disable waits for the last push token plus Notary's leeway.
                ("BERTH_TRUST_PUSH_TOKEN_SECS".into(), "5".into()),
            ],
            ..SpawnOptions::default()
        },
    )
    .await;
    let ca = app.ca_file.clone().unwrap();
    let name = "signedreg";
    let login_server = format!("{name}.registry.localhost:{port}");
    let resolves = tokio::net::lookup_host((format!("{name}.registry.localhost"), port)).await;
    assert!(
        resolves.is_ok_and(|mut a| a.any(|a| a.ip().is_loopback())),
        "{name}.registry.localhost does not resolve to loopback: ./scripts/test installs \
         libnss-myhostname (hosts: files myhostname dns in /etc/nsswitch.conf)"
    );
    let tls_dir = app.data_dir.path().join("tls");
    let registry = DockerRegistry::start_tls(
        &app.base,
        &login_server,
        "berth-token-server",
        &app.data_dir.path().join("registry-token-certs.pem"),
        RegistryTls {
            port,
            cert: &tls_dir.join("dev-cert.pem"),
            key: &tls_dir.join("dev-key.pem"),
            ca: &ca,
        },
    )
    .await;
    let az = Az::new(version, ca.clone());
    assert_eq!(az.binary, az_probe);
    let (owner, secret) = app.owner.clone();
    let tenant = app.get("/tenants?api-version=2022-12-01").await.1["value"][0]["tenantId"]
        .as_str()
        .unwrap()
        .to_owned();
    Scene {
        app,
        az,
        version: version.to_owned(),
        name,
        login_server,
        owner,
        secret,
        tenant,
        registry,
        ca,
        port,
    }
}

/// `az` knows Berth's cloud: registered by `berth az-config --apply` (2.86) or by hand.
async fn step_az_knows_berths_cloud(s: &Scene) {
    let Scene {
        app,
        az,
        version,
        ca,
        port,
        ..
    } = s;
    if version == "2.86.0" {
        // `berth az-config --apply` registers the cloud with every endpoint named.
        let applied = az
            .run_program(
                std::path::Path::new(env!("CARGO_BIN_EXE_berth-e2e")),
                &[
                    "az-config",
                    "--endpoint",
                    &app.base,
                    "--ca-file",
                    ca.to_str().unwrap(),
                    "--apply",
                ],
            )
            .await;
        assert_eq!(
            applied.code, 0,
            "{}
{}",
            applied.stdout, applied.stderr
        );
        let applied = applied.json();
        assert_eq!(
            (applied["cloud"].as_str(), applied["registered"].as_bool()),
            (Some("Berth"), Some(true))
        );
    } else {
        register_cloud(az, &app.base).await;
    }
    let cloud = az.ok(&["cloud", "show", "--name", "Berth"]).await.json();
    assert_eq!(cloud["isActive"], true);
    assert_eq!(
        cloud["endpoints"]["microsoftGraphResourceId"],
        format!("{}/", app.base)
    );
    assert_eq!(
        cloud["endpoints"]["activeDirectory"],
        format!("{}/adfs", app.base)
    );
    assert_eq!(
        cloud["suffixes"]["acrLoginServerEndpoint"],
        format!(".registry.localhost:{port}")
    );
}

/// Registers Berth's cloud as a user does by hand, discovered from /metadata/endpoints
/// (with the trailing slash users type).
pub(super) async fn register_cloud(az: &Az, base: &str) {
    az.ok(&[
        "cloud",
        "register",
        "--name",
        "Berth",
        "--endpoint-resource-manager",
        &format!("{base}/"),
    ])
    .await;
    az.ok(&["cloud", "set", "--name", "Berth"]).await;
    az.ok(&[
        "config",
        "set",
        "core.instance_discovery=false",
        "core.collect_telemetry=false",
    ])
    .await;
}

/// The owner signs in and creates a group and a Premium registry; returns the registry's id.
async fn step_the_owner_signs_in_and_creates_a_registry(s: &Scene) -> String {
    let Scene {
        app,
        az,
        name,
        login_server,
        owner,
        secret,
        tenant,
        ..
    } = s;
    let name: &str = name;
    // Sign in as the service principal that owns the deployment.
    let accounts = az
        .ok(&[
            "login",
            "--service-principal",
            "-u",
            owner,
            "-p",
            secret,
            "--tenant",
            tenant,
        ])
        .await
        .json();
    assert_eq!(accounts[0]["id"], app.subscription.as_str(), "{accounts}");
    assert_eq!(accounts[0]["tenantId"], tenant.as_str());
    assert_eq!(accounts[0]["user"]["type"], "servicePrincipal");

    let group = az
        .ok(&["group", "create", "-n", "trust-rg", "-l", "westus"])
        .await
        .json();
    assert_eq!(group["id"], app.rg_path("trust-rg"));
    let created = az
        .ok(&[
            "acr", "create", "-n", name, "-g", "trust-rg", "--sku", "Premium",
        ])
        .await
        .json();
    assert_eq!(
        (
            created["loginServer"].as_str(),
            created["sku"]["name"].as_str(),
            created["provisioningState"].as_str()
        ),
        (
            Some(login_server.as_str()),
            Some("Premium"),
            Some("Succeeded")
        )
    );
    let id = az
        .ok(&[
            "acr", "show", "--name", name, "--query", "id", "--output", "tsv",
        ])
        .await
        .stdout;
    let id = id.trim();
    assert_eq!(id, app.registry_path("trust-rg", name));
    id.to_owned()
}

/// Content trust is enabled: 2.87 and later refuse `--status enabled` on the client.
async fn step_content_trust_is_enabled(s: &Scene) {
    let Scene {
        az, version, name, ..
    } = s;
    let name: &str = name;
    // Enable content trust: 2.87 and later refuse `--status enabled` on the client.
    let enable = az
        .run(&[
            "acr",
            "config",
            "content-trust",
            "update",
            "--registry",
            name,
            "--status",
            "enabled",
        ])
        .await;
    let trust = if version == "2.86.0" {
        assert_eq!(enable.code, 0, "{}", enable.stderr);
        enable.json()
    } else {
        assert_eq!(enable.code, 2, "{}", enable.stderr);
        assert!(
            enable
                .stderr
                .contains("'enabled' is not a valid value for '--status'"),
            "{}",
            enable.stderr
        );
        az.ok(&[
            "acr",
            "update",
            "--name",
            name,
            "--set",
            r#"policies={"trustPolicy":{"type":"Notary","status":"enabled"}}"#,
        ])
        .await
        .json()["policies"]["trustPolicy"]
            .clone()
    };
    assert_eq!(trust, json!({"type": "Notary", "status": "enabled"}));
    let shown = az
        .ok(&["acr", "config", "content-trust", "show", "--registry", name])
        .await
        .json();
    assert_eq!(shown, json!({"type": "Notary", "status": "enabled"}));
}

/// A person and a service principal, made with az's own directory commands: the person's
/// UPN and id, the principal's appId, secret and object id.
async fn step_a_person_and_a_service_principal_are_made(s: &Scene) -> People {
    let Scene {
        az,
        version,
        tenant,
        ..
    } = s;
    // A person and a service principal, made with az's own directory commands.
    let upn = format!("signer-{}@berth.local", version.replace('.', ""));
    let user = az
        .ok(&[
            "ad",
            "user",
            "create",
            "--display-name",
            "Signer",
            "--user-principal-name",
            &upn,
            "--password",
            PASSWORD,
        ])
        .await
        .json();
    let user_id = user["id"].as_str().unwrap().to_owned();
    let sp = az
        .ok(&["ad", "sp", "create-for-rbac", "-n", "ci-signer"])
        .await
        .json();
    let (app_id, sp_secret) = (
        sp["appId"].as_str().unwrap().to_owned(),
        sp["password"].as_str().unwrap().to_owned(),
    );
    assert_eq!(sp["tenant"], tenant.as_str());
    let again = az
        .ok(&["ad", "sp", "create-for-rbac", "-n", "ci-signer"])
        .await
        .json();
    assert_eq!(
        again["appId"],
        app_id.as_str(),
        "a re-run patches the same app"
    );
    let sp_secret = again["password"].as_str().map_or(sp_secret, str::to_owned);
    let sp_id = az
        .ok(&[
            "ad", "sp", "show", "--id", &app_id, "--query", "id", "-o", "tsv",
        ])
        .await
        .stdout
        .trim()
        .to_owned();
    assert_ne!(sp_id, app_id, "the object id, not the appId");
    People {
        upn,
        user_id,
        app_id,
        sp_secret,
        sp_id,
    }
}

/// Role assignments: by UPN, by appId, by object id.
async fn step_roles_are_assigned_by_upn_app_id_and_object_id(
    s: &Scene,
    id: &str,
    people: &People,
) -> Value {
    let Scene { az, .. } = s;
    let People {
        upn,
        user_id,
        app_id,
        sp_id,
        ..
    } = people;
    // Role assignments: by UPN, by appId, by object id; a repeat answers the existing one.
    let by_upn = az
        .ok(&[
            "role",
            "assignment",
            "create",
            "--scope",
            id,
            "--role",
            "AcrImageSigner",
            "--assignee",
            upn,
        ])
        .await
        .json();
    assert_eq!(
        (
            by_upn["principalId"].as_str(),
            by_upn["principalType"].as_str(),
            by_upn["scope"].as_str()
        ),
        (Some(user_id.as_str()), Some("User"), Some(id))
    );
    assert!(
        by_upn["roleDefinitionId"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/roleDefinitions/{SIGNER}")),
        "{by_upn}"
    );
    let by_app = az
        .ok(&[
            "role",
            "assignment",
            "create",
            "--scope",
            id,
            "--role",
            "AcrImageSigner",
            "--assignee",
            app_id,
        ])
        .await
        .json();
    assert_eq!(
        (
            by_app["principalId"].as_str(),
            by_app["principalType"].as_str()
        ),
        (Some(sp_id.as_str()), Some("ServicePrincipal"))
    );
    let by_object = az
        .ok(&[
            "role",
            "assignment",
            "create",
            "--scope",
            id,
            "--role",
            "AcrPull",
            "--assignee-object-id",
            sp_id,
            "--assignee-principal-type",
            "ServicePrincipal",
        ])
        .await
        .json();
    assert_eq!(by_object["principalId"], sp_id.as_str());
    by_upn
}

/// Signing needs AcrPush beside AcrImageSigner, as in ACR; a repeat answers the existing
/// assignment, and the assignments are listed.
async fn step_signers_also_push_and_a_repeat_answers_the_existing_assignment(
    s: &Scene,
    id: &str,
    people: &People,
    by_upn: &Value,
) {
    let Scene { az, .. } = s;
    let People { upn, app_id, .. } = people;
    // Signing needs AcrPush beside AcrImageSigner, as in ACR.
    az.ok(&[
        "role",
        "assignment",
        "create",
        "--scope",
        id,
        "--role",
        "AcrPush",
        "--assignee",
        upn,
    ])
    .await;
    let repeated = az
        .ok(&[
            "role",
            "assignment",
            "create",
            "--scope",
            id,
            "--role",
            "AcrImageSigner",
            "--assignee",
            upn,
        ])
        .await
        .json();
    assert_eq!(repeated["name"], by_upn["name"], "the existing assignment");
    let listed = az
        .ok(&[
            "role",
            "assignment",
            "list",
            "--scope",
            id,
            "--query",
            "sort_by([].{who: principalName, role: roleDefinitionName}, &role)",
        ])
        .await
        .json();
    let mut listed: Vec<(String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["who"].as_str().unwrap_or_default().to_owned(),
                a["role"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    listed.sort();
    let mut expected = vec![
        (app_id.clone(), "AcrImageSigner".to_owned()),
        (app_id.clone(), "AcrPull".to_owned()),
        (upn.clone(), "AcrImageSigner".to_owned()),
        (upn.clone(), "AcrPush".to_owned()),
    ];
    expected.sort();
    assert_eq!(listed, expected);
}

/// Admin credentials work on the registry itself (HTTPS, its login server): an image is
/// pushed with them; returns the work directory and the passwords.
async fn step_the_admin_credentials_push_an_image(s: &Scene) -> (tempfile::TempDir, Vec<String>) {
    let Scene {
        az,
        name,
        login_server,
        ca,
        ..
    } = s;
    let name: &str = name;
    // Admin credentials work on the registry itself (HTTPS, its login server).
    az.ok(&["acr", "update", "-n", name, "--admin-enabled", "true"])
        .await;
    let credentials = az
        .ok(&["acr", "credential", "show", "-n", name])
        .await
        .json();
    assert_eq!(credentials["username"], name);
    let passwords: Vec<&str> = credentials["passwords"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["value"].as_str())
        .collect();
    assert_eq!(passwords.len(), 2, "{credentials}");
    let work = tempfile::tempdir().unwrap();
    let certs = work.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(ca, certs.join("ca.crt")).unwrap();
    let layout = oci_layout(work.path(), "v1");
    let (pushed, out) = skopeo(&[
        "copy",
        "--dest-cert-dir",
        certs.to_str().unwrap(),
        "--dest-creds",
        &format!("{name}:{}", passwords[0]),
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{login_server}/app:v1"),
    ])
    .await;
    assert!(pushed, "push with the admin credentials: {out}");
    (work, passwords.iter().map(|p| (*p).to_owned()).collect())
}

/// The person signs in with a password and signs a tag with the token `az acr login
/// --expose-token` gives; the service principal reads it with its own token. Returns the GUN
/// and the principal's refresh token.
async fn step_the_person_signs_a_tag_and_the_principal_reads_it(
    s: &Scene,
    work: &tempfile::TempDir,
    people: &People,
) -> (String, String) {
    let Scene {
        app,
        az,
        name,
        login_server,
        tenant,
        ..
    } = s;
    let name: &str = name;
    let People {
        upn,
        app_id,
        sp_secret,
        ..
    } = people;
    // The person signs in with a password (the ADFS-style authority) and signs a tag with
    // the token `az acr login --expose-token` gives.
    az.ok(&["login", "-u", upn, "-p", PASSWORD]).await;
    let exposed = az
        .ok(&["acr", "login", "--name", name, "--expose-token"])
        .await
        .json();
    assert_eq!(
        (
            exposed["loginServer"].as_str(),
            exposed["username"].as_str()
        ),
        (Some(login_server.as_str()), Some(NULL_USER))
    );
    let refresh = exposed["refreshToken"].as_str().unwrap().to_owned();
    assert_eq!(exposed["accessToken"], refresh.as_str());
    let gun = format!("{login_server}/app");
    let trust_dir = work.path().join("trust");
    let (signed, out) = publish(app, &gun, "v1", &refresh, &trust_dir).await;
    assert!(signed, "{out}");

    // The service principal reads the signed tag with its own token.
    az.ok(&[
        "login",
        "--service-principal",
        "-u",
        app_id,
        "-p",
        sp_secret,
        "--tenant",
        tenant,
    ])
    .await;
    let pull = az
        .ok(&["acr", "login", "--name", name, "--expose-token"])
        .await
        .json();
    let pull_token = pull["refreshToken"].as_str().unwrap().to_owned();
    let tags = list(app, &gun, &pull_token).await;
    assert!(
        tags.as_deref().is_some_and(|t| t.contains("v1")),
        "{tags:?}"
    );
    (gun, pull_token)
}

/// The owner disables content trust; az follows the wipe to its end; the image stays.
async fn step_the_owner_disables_content_trust_and_the_image_stays(
    s: &Scene,
    work: &tempfile::TempDir,
    passwords: &[String],
    gun: &str,
    pull_token: &str,
) {
    let Scene {
        app,
        az,
        version,
        name,
        login_server,
        owner,
        secret,
        tenant,
        ..
    } = s;
    let name: &str = name;
    let certs = work.path().join("certs");
    // The owner disables content trust; az follows the wipe to its end.
    az.ok(&[
        "login",
        "--service-principal",
        "-u",
        owner,
        "-p",
        secret,
        "--tenant",
        tenant,
    ])
    .await;
    let mut disable = vec![
        "acr",
        "config",
        "content-trust",
        "update",
        "--registry",
        name,
        "--status",
        "disabled",
    ];
    if version != "2.86.0" {
        let refused = az.run(&disable).await;
        assert_ne!(refused.code, 0);
        assert!(
            refused
                .stderr
                .contains("Unable to prompt for confirmation as no tty available. Use --yes."),
            "{}",
            refused.stderr
        );
        disable.push("--yes");
    }
    let disabled = az.ok(&disable).await.json();
    assert_eq!(disabled, json!({"type": "Notary", "status": "disabled"}));
    assert_eq!(
        list(app, gun, pull_token).await,
        None,
        "the trust data is gone"
    );
    let state = az
        .ok(&[
            "acr",
            "show",
            "-n",
            name,
            "--query",
            "[provisioningState, policies.trustPolicy.status]",
            "-o",
            "tsv",
        ])
        .await
        .stdout;
    assert_eq!(
        state.split_whitespace().collect::<Vec<_>>(),
        ["Succeeded", "disabled"]
    );
    let (pulled, out) = skopeo(&[
        "inspect",
        "--cert-dir",
        certs.to_str().unwrap(),
        "--creds",
        &format!("{name}:{}", passwords[1]),
        &format!("docker://{login_server}/app:v1"),
    ])
    .await;
    assert!(pulled, "the image stays: {out}");
}

/// `az monitor activity-log list` tells the seed page's story with each of its filters: the
/// registry created, content trust enabled, AcrImageSigner assigned, content trust disabled
/// and its wipe, each event by the owner who did it.
async fn step_the_activity_log_tells_the_story(s: &Scene, id: &str, people: &People) {
    let Scene { az, owner, .. } = s;
    let list = |filter: &[&str]| {
        let mut args = vec!["monitor", "activity-log", "list", "--offset", "1h"];
        args.extend_from_slice(filter);
        args.extend_from_slice(&["--max-events", "500"]);
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            az.ok(&args).await.json().as_array().unwrap().clone()
        }
    };
    let text = |e: &Value, key: &str| e[key].as_str().unwrap_or_default().to_owned();
    let value = |e: &Value, key: &str| e[key]["value"].as_str().unwrap_or_default().to_owned();
    let events = list(&["--resource-group", "trust-rg"]).await;
    // Newest first: the story reads from the end.
    let story: Vec<(String, String, String)> = events
        .iter()
        .rev()
        .filter(|e| value(e, "status") != "Started" || text(e, "description").contains("wipe"))
        .map(|e| {
            (
                value(e, "operationName"),
                value(e, "status"),
                text(e, "description"),
            )
        })
        .collect();
    let position = |what: &dyn Fn(&(String, String, String)) -> bool| {
        story
            .iter()
            .position(what)
            .unwrap_or_else(|| panic!("not in the activity log: {story:#?}"))
    };
    const WRITE: &str = "Microsoft.ContainerRegistry/registries/write";
    let created = position(&|(op, status, d)| op == WRITE && status == "Succeeded" && d.is_empty());
    let enabled = position(&|(op, status, d)| {
        op == WRITE && status == "Succeeded" && d.starts_with("Content trust enabled")
    });
    let signer = position(&|(op, status, d)| {
        op == "Microsoft.Authorization/roleAssignments/write"
            && status == "Succeeded"
            && d.contains(SIGNER)
            && d.contains(&people.user_id)
    });
    let disabled = position(&|(op, status, d)| {
        op == WRITE && status == "Accepted" && d.starts_with("Content trust disabled")
    });
    let wipe_started = position(&|(_, status, d)| {
        status == "Started" && d.contains("wipe") && d.ends_with("started.")
    });
    let wipe_ended = position(&|(_, status, d)| {
        status == "Succeeded" && d.contains("wipe") && d.ends_with("ended: Succeeded.")
    });
    assert!(
        created < enabled
            && enabled < signer
            && signer < disabled
            && disabled < wipe_started
            && wipe_started < wipe_ended,
        "{story:#?}"
    );
    for e in &events {
        assert_eq!(
            text(e, "caller"),
            *owner,
            "every change was the owner's: {e}"
        );
        assert_eq!(text(e, "resourceGroupName").to_lowercase(), "trust-rg");
    }
    // The disable's correlation id gathers the request and its wipe.
    let disable = events
        .iter()
        .find(|e| value(e, "status") == "Accepted")
        .unwrap();
    let correlation = text(disable, "correlationId");
    let operation = list(&["--correlation-id", &correlation]).await;
    let mut statuses: Vec<String> = operation.iter().map(|e| value(e, "status")).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        ["Accepted", "Started", "Started", "Succeeded"],
        "{operation:#?}"
    );
    assert!(
        operation
            .iter()
            .all(|e| text(e, "operationId") == text(disable, "operationId"))
    );
    // The registry's own events, the owner's, the provider's; a person who changed nothing.
    let registry = list(&["--resource-id", id]).await;
    assert!(registry.len() >= 8, "{registry:#?}");
    assert!(
        registry
            .iter()
            .all(|e| text(e, "resourceId").eq_ignore_ascii_case(id))
    );
    let owners = list(&["--caller", owner]).await;
    assert!(owners.len() >= events.len());
    assert!(owners.iter().all(|e| text(e, "caller") == *owner));
    assert!(list(&["--caller", &people.upn]).await.is_empty());
    let provider = list(&["--namespace", "Microsoft.ContainerRegistry"]).await;
    assert!(!provider.is_empty());
    assert!(
        provider
            .iter()
            .all(|e| value(e, "resourceProviderName") == "Microsoft.ContainerRegistry")
    );
    let two = az
        .ok(&[
            "monitor",
            "activity-log",
            "list",
            "--offset",
            "1h",
            "--max-events",
            "2",
        ])
        .await
        .json();
    assert_eq!(two.as_array().map(Vec::len), Some(2));
    let selected = az
        .ok(&[
            "monitor",
            "activity-log",
            "list",
            "--resource-group",
            "trust-rg",
            "--offset",
            "1h",
            "--select",
            "caller",
            "operationName",
        ])
        .await
        .json();
    let first = selected[0].as_object().unwrap();
    assert_eq!(first["caller"], owner.as_str(), "{first:?}");
    assert!(
        first.get("eventTimestamp").is_none_or(Value::is_null),
        "{first:?}"
    );
}

/// The person and the service principal the scenario grants roles to.
struct People {
    upn: String,
    user_id: String,
    app_id: String,
    sp_secret: String,
    sp_id: String,
}

#[tokio::test]
async fn azure_cli_2_91_drives_berth() {
    az_drives_berth("2.91.0").await;
}

#[tokio::test]
async fn azure_cli_2_86_drives_berth() {
    az_drives_berth("2.86.0").await;
}
