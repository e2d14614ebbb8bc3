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
    // Content trust needs a trust server: every script gets a notary-server.
    let env = vec![
        ("BERTH_BOOTSTRAP_CLIENT_ID".into(), CLIENT.into()),
        ("BERTH_BOOTSTRAP_CLIENT_SECRET".into(), SECRET.into()),
    ];
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            tls: true,
            env,
            notary: true,
            ..Default::default()
        },
    )
    .await;
    let work = tempfile::tempdir().unwrap();
    let python = python();
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
