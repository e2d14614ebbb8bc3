//! The real az CLI's `az acr repository` commands against a registry whose login server is
//! berthd's own (the embedded data plane): images pushed with the token `az acr login
//! --expose-token` gives are listed, shown with their tags, manifests, sizes and times,
//! ordered and paged, untagged and deleted, with ACR's API at `/acr/v1/` and the registry
//! API at `/v2/`, and every answer is read from az's own output.

use super::azure_cli::{Az, register_cloud};
use super::login_server::app_serving;
use super::*;
use berth_tests::docker::DockerDaemon;
use berth_tests::registry::{oci_layout, skopeo_push};
use berth_tests::roles::NULL_USER;

/// The registry and the az signed in as its owner.
struct Scene {
    app: TestApp,
    az: Az,
    name: &'static str,
    login_server: String,
    work: tempfile::TempDir,
}

async fn step_the_owner_makes_a_registry_with_az(version: &str) -> Scene {
    let app = app_serving("embedded").await;
    let az = Az::new(version, app.ca_file.clone().unwrap());
    register_cloud(&az, &app.base).await;
    let tenant = app.get("/tenants?api-version=2022-12-01").await.1["value"][0]["tenantId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (owner, secret) = app.owner.clone();
    az.ok(&[
        "login",
        "--service-principal",
        "-u",
        &owner,
        "-p",
        &secret,
        "--tenant",
        &tenant,
    ])
    .await;
    az.ok(&["group", "create", "-n", "repos-rg", "-l", "westus"])
        .await;
    let name = "azrepos";
    let created = az
        .ok(&[
            "acr", "create", "-n", name, "-g", "repos-rg", "--sku", "Basic",
        ])
        .await
        .json();
    let login_server = created["loginServer"].as_str().unwrap().to_owned();
    Scene {
        app,
        az,
        name,
        login_server,
        work: tempfile::tempdir().unwrap(),
    }
}

/// Pushes the image made for `source` (a fresh one the first time) as `app:<tag>`, with
/// the token `az acr login --expose-token` gives; returns its digest.
async fn push(s: &Scene, source: &str, tag: &str) -> String {
    push_to(s, "app", source, tag).await
}

/// [`push`] to `repository`.
async fn push_to(s: &Scene, repository: &str, source: &str, tag: &str) -> String {
    let exposed =
        s.az.ok(&["acr", "login", "--name", s.name, "--expose-token"])
            .await
            .json();
    assert_eq!(exposed["loginServer"], s.login_server.as_str());
    let token = exposed["accessToken"].as_str().unwrap();
    let dir = s.work.path().join(source);
    let layout = if dir.join("index.json").exists() {
        dir.clone()
    } else {
        oci_layout(&dir, source)
    };
    let source = format!("oci:{}:{source}", layout.display());
    let destination = format!("{}/{repository}:{tag}", s.login_server);
    let creds = format!("{NULL_USER}:{token}");
    skopeo_push(
        s.app.ca_file.as_ref().unwrap(),
        &creds,
        &source,
        &destination,
    )
    .await
}

/// `az acr repository <args> -n <registry>`, which must succeed, as JSON.
async fn repository(s: &Scene, args: &[&str]) -> Value {
    let mut all = vec!["acr", "repository"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-n", s.name, "-o", "json"]);
    let ran = s.az.ok(&all).await;
    if ran.stdout.trim().is_empty() {
        Value::Null
    } else {
        ran.json()
    }
}

async fn step_tags_are_listed_ordered_and_paged(s: &Scene, v1: &str, v2: &str) {
    // The catalog, and a page of it (`--top` is the catalog's `n`).
    assert_eq!(repository(s, &["list"]).await, json!(["app", "zeta"]));
    assert_eq!(repository(s, &["list", "--top", "1"]).await, json!(["app"]));
    assert_eq!(
        repository(s, &["show-tags", "--repository", "app"]).await,
        json!(["latest", "v1", "v2"])
    );
    // Newest first: latest was pushed last; --top pages through ACR's Link header.
    assert_eq!(
        repository(
            s,
            &[
                "show-tags",
                "--repository",
                "app",
                "--orderby",
                "time_desc",
                "--top",
                "2"
            ]
        )
        .await,
        json!(["latest", "v2"])
    );
    let detail = repository(s, &["show-tags", "--repository", "app", "--detail"]).await;
    let by_name = |name: &str| {
        detail
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {detail}"))
            .clone()
    };
    assert_eq!(by_name("v1")["digest"], v1);
    assert_eq!(by_name("latest")["digest"], v2);
    assert!(
        by_name("v1")["lastUpdateTime"]
            .as_str()
            .unwrap()
            .ends_with('Z'),
        "{detail}"
    );
}

async fn step_the_repository_a_tag_and_manifests_are_shown(s: &Scene, v1: &str, v2: &str) {
    let summary = repository(s, &["show", "--repository", "app"]).await;
    assert_eq!(
        (
            &summary["imageName"],
            &summary["manifestCount"],
            &summary["tagCount"]
        ),
        (&json!("app"), &json!(2), &json!(3)),
        "{summary}"
    );
    assert_eq!(summary["registry"], s.login_server.as_str());
    let tag = repository(s, &["show", "--image", "app:v1"]).await;
    assert_eq!(tag["digest"], v1, "{tag}");
    let manifest = repository(s, &["show", "--image", &format!("app@{v2}")]).await;
    assert_eq!(manifest["tags"], json!(["latest", "v2"]), "{manifest}");
    assert_eq!(manifest["architecture"], "amd64");
    assert_eq!(manifest["os"], "linux");
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert!(manifest["imageSize"].as_u64().unwrap() > 0, "{manifest}");

    let manifests = repository(s, &["show-manifests", "--repository", "app"]).await;
    let mut tags: Vec<Value> = manifests
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["tags"].clone())
        .collect();
    tags.sort_by_key(ToString::to_string);
    assert_eq!(
        tags,
        [json!(["latest", "v2"]), json!(["v1"])],
        "{manifests}"
    );
}

async fn step_untag_and_delete_remove_what_they_name(s: &Scene, v1: &str) {
    repository(s, &["untag", "--image", "app:latest"]).await;
    assert_eq!(
        repository(s, &["show-tags", "--repository", "app"]).await,
        json!(["docker", "v1", "v2"])
    );
    // A manifest goes with its tags (through the registry API's DELETE).
    repository(s, &["delete", "--image", &format!("app@{v1}"), "--yes"]).await;
    assert_eq!(
        repository(s, &["show-tags", "--repository", "app"]).await,
        json!(["docker", "v2"])
    );
    let removed = repository(s, &["delete", "--repository", "app", "--yes"]).await;
    assert_eq!(removed["tagsDeleted"], json!(["docker", "v2"]), "{removed}");
    assert_eq!(repository(s, &["list"]).await, json!(["zeta"]));
    let missing =
        s.az.run(&[
            "acr",
            "repository",
            "show",
            "--repository",
            "app",
            "-n",
            s.name,
        ])
        .await;
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("NAME_UNKNOWN") || missing.stderr.contains("not found"),
        "{}",
        missing.stderr
    );
}

/// `az acr manifest list-metadata`, newest first and paged with `--top`.
async fn step_manifest_metadata_is_listed(s: &Scene, v2: &str) {
    let mut args = vec![
        "acr",
        "manifest",
        "list-metadata",
        "-r",
        s.name,
        "-n",
        "app",
    ];
    args.extend_from_slice(&["--orderby", "time_desc", "--top", "1", "-o", "json"]);
    let listed = s.az.ok(&args).await.json();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["digest"], v2);
    assert_eq!(listed[0]["tags"], json!(["latest", "v2"]));
    assert!(listed[0]["imageSize"].as_u64().unwrap() > 0);
}

/// `az acr login` (no `--expose-token`) logs the Docker CLI in at the login server, and
/// Docker pushes with what it stored.
async fn step_az_acr_login_logs_docker_in_and_docker_pushes(s: &Scene) {
    let mut docker = DockerDaemon::start().await;
    docker.trust_ca(&s.login_server, s.app.ca_file.as_ref().unwrap());
    let host = format!("unix://{}", docker.socket().display());
    let config = docker.config_dir();
    let env = [
        ("DOCKER_HOST", host.as_str()),
        ("DOCKER_CONFIG", config.to_str().unwrap()),
        ("PATH", "/usr/bin:/bin"),
    ];
    let login =
        s.az.run_with(&["acr", "login", "--name", s.name], &env)
            .await;
    assert_eq!(
        login.code, 0,
        "az acr login:\n{}\n{}",
        login.stdout, login.stderr
    );
    assert!(
        format!("{}{}", login.stdout, login.stderr).contains("Login Succeeded"),
        "{}\n{}",
        login.stdout,
        login.stderr
    );
    let image = format!("{}/app:docker", s.login_server);
    docker
        .import(&image, "pushed by docker after az acr login")
        .await;
    let (pushed, out) = docker.docker(&["push", &image], &[]).await;
    assert!(pushed, "docker push after az acr login: {out}");
    let tags = repository(s, &["show-tags", "--repository", "app"]).await;
    assert!(
        tags.as_array().unwrap().contains(&json!("docker")),
        "{tags}"
    );
}

async fn az_acr_repository_commands_work_at_the_login_server(version: &str) {
    let s = step_the_owner_makes_a_registry_with_az(version).await;
    let v1 = push(&s, "v1", "v1").await;
    let v2 = push(&s, "v2", "v2").await;
    assert_ne!(v1, v2, "each image is a fresh one");
    // latest names v2's manifest, as `docker tag` and a push make it.
    assert_eq!(push(&s, "v2", "latest").await, v2);
    push_to(&s, "zeta", "zeta", "v1").await;
    step_tags_are_listed_ordered_and_paged(&s, &v1, &v2).await;
    step_the_repository_a_tag_and_manifests_are_shown(&s, &v1, &v2).await;
    step_manifest_metadata_is_listed(&s, &v2).await;
    step_az_acr_login_logs_docker_in_and_docker_pushes(&s).await;
    step_untag_and_delete_remove_what_they_name(&s, &v1).await;
}

#[tokio::test]
async fn azure_cli_2_91_lists_shows_untags_and_deletes_repositories() {
    az_acr_repository_commands_work_at_the_login_server("2.91.0").await;
}

#[tokio::test]
async fn azure_cli_2_86_lists_shows_untags_and_deletes_repositories() {
    az_acr_repository_commands_work_at_the_login_server("2.86.0").await;
}
