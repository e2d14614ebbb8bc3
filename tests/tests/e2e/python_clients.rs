//! The official Azure SDKs (azure-mgmt-containerregistry 15.0.0, azure-mgmt-resource 26.0.0,
//! azure-mgmt-authorization 4.0.0 with a token from the built-in issuer) and a client generated from `openapi/openapi.json` by openapi-python-client, driving a
//! real `berthd` over HTTPS. `./scripts/test` creates the Python environment they need.

use berth_tests::{Backend, SpawnOptions, spawn_app_with};
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn python() -> PathBuf {
    let python = std::env::var_os("BERTH_TEST_PYTHON")
        .map_or_else(|| workspace().join(".venv/bin/python"), PathBuf::from);
    assert!(
        python.exists(),
        "{} is missing: run ./scripts/test, which creates the Python environment (tests/python/requirements.txt)",
        python.display()
    );
    python
}

/// The bootstrap owner the scripts sign in as.
const CLIENT: &str = "0b6a3a77-1d0e-4d8f-9c55-bb6d3c2f0a11";
const SECRET: &str = "a-bootstrap-secret-for-tests";

async fn run_script(backend: Backend, script: &str) {
    let app = spawn(backend).await;
    run_script_at(&app, script, &[]).await;
}

async fn spawn(backend: Backend) -> berth_tests::TestApp {
    // Content trust needs a trust server: every script gets a notary-server.
    let env = vec![
        ("BERTH_BOOTSTRAP_CLIENT_ID".into(), CLIENT.into()),
        ("BERTH_BOOTSTRAP_CLIENT_SECRET".into(), SECRET.into()),
    ];
    spawn_app_with(
        backend,
        SpawnOptions {
            tls: true,
            env,
            notary: true,
            ..Default::default()
        },
    )
    .await
}

/// Runs `script` against `app`, with `extra` in its environment.
async fn run_script_at(app: &berth_tests::TestApp, script: &str, extra: &[(&str, &str)]) {
    let work = tempfile::tempdir().unwrap();
    let python = python();
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let script = workspace().join("tests/python").join(script);
    let ca = app.ca_file.clone().unwrap();
    let (base, subscription) = (app.base.clone(), app.subscription.clone());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("BERTH_URL", base)
            .env("BERTH_CA", ca)
            .env("BERTH_SUBSCRIPTION", subscription)
            .env("BERTH_OPENAPI", workspace().join("openapi/openapi.json"))
            .env("BERTH_WORKDIR", work.path())
            .env("BERTH_CLIENT_ID", CLIENT)
            .env("BERTH_CLIENT_SECRET", SECRET)
            .envs(extra)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python check failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    println!("{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_sdk_drives_registries_on_sqlite() {
    run_script(Backend::Sqlite, "sdk_registries.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_sdk_drives_registries_on_postgres() {
    run_script(Backend::Postgres, "sdk_registries.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_generated_from_the_openapi_contract_drives_registries() {
    run_script(Backend::Sqlite, "generated_client.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_sdk_manages_role_assignments_with_a_real_token() {
    run_script(Backend::Postgres, "sdk_authorization.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_signs_a_person_in_with_the_authorization_code_flow_and_pkce() {
    let app = spawn(Backend::Postgres).await;
    let (user, password) = ("kim@berth.local", "kim-password-1");
    app.create_user(user, password).await;
    let (_, tenants) = app.get("/tenants?api-version=2022-12-01").await;
    let tenant = tenants["value"][0]["tenantId"].as_str().unwrap().to_owned();
    let env = [
        ("BERTH_TENANT", tenant.as_str()),
        ("BERTH_USER", user),
        ("BERTH_PASSWORD", password),
    ];
    run_script_at(&app, "msal_auth_code.py", &env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_works_in_a_real_browser() {
    portal_in_a_real_browser(Backend::Sqlite, "portal").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_works_in_a_real_browser_on_postgres() {
    portal_in_a_real_browser(Backend::Postgres, "portal-postgres").await;
}

/// The browser test (`portal_browser.py`) on `backend`, its screenshots in
/// `target/screenshots/{shots}`.
async fn portal_in_a_real_browser(backend: Backend, shots: &str) {
    let axe = workspace().join("tests/axe/node_modules/axe-core/axe.min.js");
    assert!(
        axe.is_file(),
        "axe-core is missing: run scripts/test (it runs `npm ci --prefix tests/axe`)"
    );
    // With the embedded data plane behind the login servers (their port named), so that
    // the Repositories page has images to show.
    let port = berth_tests::registry::free_port().to_string();
    let env = [
        ("BERTH_BOOTSTRAP_CLIENT_ID", CLIENT),
        ("BERTH_BOOTSTRAP_CLIENT_SECRET", SECRET),
        ("BERTH_REGISTRY_BACKEND", "embedded"),
        ("BERTH_LISTEN", &format!("127.0.0.1:{port}")),
        ("BERTH_LOGIN_SERVER_PORT", &port),
    ];
    let options = SpawnOptions {
        tls: true,
        env: berth_tests::settings(&env),
        notary: true,
        ..Default::default()
    };
    let app = spawn_app_with(backend, options).await;
    let (user, password) = ("lee@berth.local", "lee-password-1");
    let object_id = app.create_user(user, password).await;
    // A registry with content trust (on the notary-server) and one image signed in it.
    let (signed_registry, login) =
        super::trust_contract::trusted_registry(&app, "portalsigned").await;
    let signer_refresh =
        super::trust_contract::signer_in(&app, &signed_registry, "portal-signer").await;
    let digest = super::login_server::push(&app, &login, &signer_refresh, "team/app").await;
    let gun = format!("{login}/team/app");
    let trust = super::content_trust::trust_url(&app).to_owned();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_str().unwrap();
    let hash = digest.trim().trim_start_matches("sha256:").to_owned();
    for args in [
        vec!["-d", dir, "init", "-p", &gun],
        vec![
            "-d", dir, "addhash", "-p", &gun, "v1", "4", "--sha256", &hash,
        ],
    ] {
        let (ok, out) = super::login_server::notary_at(&app, &trust, &signer_refresh, &args).await;
        assert!(ok, "notary {args:?}: {out}");
    }
    berth_tests::roles::assign(
        &app,
        &signed_registry,
        berth_tests::roles::ACR_PULL,
        &object_id,
    )
    .await;
    berth_tests::roles::assign(
        &app,
        &signed_registry,
        berth_tests::roles::READER,
        &object_id,
    )
    .await;
    app.create_group("rg").await;
    // The group the person creates a registry in (and deletes it from).
    app.create_group("lab").await;
    berth_tests::roles::assign(
        &app,
        &app.rg_path("lab"),
        berth_tests::roles::OWNER,
        &object_id,
    )
    .await;
    for (name, sku) in [
        ("portalone", "Basic"),
        ("portaltwo", "Basic"),
        ("portalthree", "Premium"),
    ] {
        app.create_registry("rg", name, sku).await;
    }
    for (name, role) in [
        ("portalone", berth_tests::roles::READER),
        ("portalthree", berth_tests::roles::OWNER),
    ] {
        let scope = app.registry_path("rg", name);
        berth_tests::roles::assign(&app, &scope, role, &object_id).await;
    }
    let signer = app
        .create_user("sam.signer@berth.local", "sam-password-1")
        .await;
    let signed_page = format!(
        "/portal/registries/{}/ctr/portalsigned/repositories?name=team%2Fapp",
        app.subscription
    );
    let shots = workspace().join("target/screenshots").join(shots);
    let shots = shots.to_str().unwrap();
    let env = [
        ("BERTH_AXE", axe.to_str().unwrap()),
        ("BERTH_NEW_REGISTRY_GROUP", "lab"),
        ("BERTH_SIGNED_REPOSITORY", &signed_page),
        ("BERTH_USER", user),
        ("BERTH_PASSWORD", password),
        ("BERTH_SCREENSHOTS", shots),
        ("BERTH_SIGNER", "sam.signer@berth.local"),
    ];
    run_script_at(&app, "portal_browser.py", &env).await;
    for page in [
        "sign-in",
        "registries",
        "registries-375",
        "overview",
        "content-trust",
        "content-trust-warning",
        "content-trust-disabled",
        "add-role-assignment",
        "access-control",
        "access-keys",
        "access-keys-shown",
        "reader-access-keys",
        "tokens",
        "token-created",
        "scope-maps",
        "repositories",
        "repositories-signed",
        "create",
        "overview-new",
        "delete",
        "deleted",
        "signed-out",
    ] {
        let file = std::path::Path::new(shots).join(format!("{page}.png"));
        assert!(file.is_file(), "no screenshot {}", file.display());
    }
    // What the browser did, read back through the API: the signer holds AcrImageSigner.
    let scope = app.registry_path("rg", "portalthree");
    let (_, list) = app
        .get(&format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope()"
        ))
        .await;
    let signers = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            a["properties"]["principalId"] == signer.as_str()
                && a["properties"]["roleDefinitionId"]
                    .as_str()
                    .is_some_and(|r| r.ends_with(berth_tests::roles::SIGNER))
        })
        .count();
    assert_eq!(signers, 1, "{list}");
    // The registry the browser made and deleted is gone.
    let (status, _) = app
        .get(&format!(
            "{}?api-version=2023-07-01",
            app.registry_path("lab", "portalmade")
        ))
        .await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
}
