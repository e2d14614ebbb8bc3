//! `berth acr repository ...` against a registry's login server on berthd's embedded data
//! plane: list, show-tags (ordered, paged, in detail), show (a repository, a tag, a
//! digest), show-manifests, untag and delete, as `az acr repository` does them.

use super::cli::berth_with;
use super::login_server::{app_serving, registry_in_rg};
use super::*;
use berth_tests::registry::{oci_layout, skopeo_push};
use berth_tests::roles::NULL_USER;
use std::path::Path;

/// `berth <args> -o json` in `home`, which must succeed; its output as JSON.
async fn berth_json(home: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend_from_slice(&["-o", "json"]);
    let r = berth_with(home, &all, &[]).await;
    assert_eq!(r.code, 0, "berth {args:?}: {}", r.stderr);
    if r.stdout.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
    }
}

/// Pushes a fresh image as `app:<tag>` with the token `berth acr login --expose-token`
/// gives; its digest.
async fn push(app: &TestApp, home: &Path, login: &str, tag: &str) -> String {
    let token = berth_json(
        home,
        &["acr", "login", "-n", "berthrepos", "--expose-token"],
    )
    .await;
    let token = token["accessToken"].as_str().unwrap().to_owned();
    let work = tempfile::tempdir().unwrap();
    let layout = oci_layout(work.path(), tag);
    let source = format!("oci:{}:{tag}", layout.display());
    let creds = format!("{NULL_USER}:{token}");
    skopeo_push(
        app.ca_file.as_ref().unwrap(),
        &creds,
        &source,
        &format!("{login}/app:{tag}"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berth_acr_repository_lists_shows_untags_and_deletes_at_the_login_server() {
    let app = app_serving("embedded").await;
    let (_, login) = registry_in_rg(&app, "berthrepos", "Basic").await;
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let (owner, secret) = app.owner.clone();
    super::cli::berth_login_trusting_the_ca(home, &app, (&owner, &secret)).await;
    let v1 = push(&app, home, &login, "v1").await;
    let v2 = push(&app, home, &login, "v2").await;
    let repo = |args: &[&str]| {
        let mut all = vec!["acr", "repository"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-n", "berthrepos"]);
        all.iter().map(|a| (*a).to_owned()).collect::<Vec<String>>()
    };
    let run = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        berth_json(home, &args).await
    };

    assert_eq!(run(repo(&["list"])).await, json!(["app"]));
    assert_eq!(
        run(repo(&["show-tags", "--repository", "app"])).await,
        json!(["v1", "v2"])
    );
    let newest = repo(&[
        "show-tags",
        "--repository",
        "app",
        "--orderby",
        "time_desc",
        "--top",
        "1",
    ]);
    assert_eq!(run(newest).await, json!(["v2"]));
    let detail = run(repo(&["show-tags", "--repository", "app", "--detail"])).await;
    assert_eq!(detail[0]["digest"], v1.as_str(), "{detail}");
    assert_eq!(
        run(repo(&["show", "--image", "app:v1"])).await["digest"],
        v1.as_str()
    );
    let pinned = run(repo(&["show", "--image", &format!("app@{v2}")])).await;
    assert_eq!(pinned["tags"], json!(["v2"]), "{pinned}");
    let summary = run(repo(&["show", "--repository", "app"])).await;
    assert_eq!(
        (&summary["manifestCount"], &summary["tagCount"]),
        (&json!(2), &json!(2))
    );
    let manifests = run(repo(&["show-manifests", "--repository", "app"])).await;
    assert_eq!(manifests.as_array().map(Vec::len), Some(2), "{manifests}");

    run(repo(&["untag", "--image", "app:v1"])).await;
    assert_eq!(
        run(repo(&["show-tags", "--repository", "app"])).await,
        json!(["v2"])
    );
    // A delete asks first; without a terminal, --yes is needed.
    let refused = berth_with(
        home,
        &[
            "acr",
            "repository",
            "delete",
            "-n",
            "berthrepos",
            "--image",
            "app:v2",
        ],
        &[],
    )
    .await;
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("Use --yes"), "{}", refused.stderr);
    run(repo(&["delete", "--image", "app:v2", "--yes"])).await;
    assert_eq!(
        run(repo(&["show-tags", "--repository", "app"])).await,
        json!([])
    );
    let removed = run(repo(&["delete", "--repository", "app", "--yes"])).await;
    assert_eq!(removed["manifestsDeleted"], json!([v1]), "{removed}");
    assert_eq!(run(repo(&["list"])).await, json!([]));
    let missing = berth_with(
        home,
        &[
            "acr",
            "repository",
            "show",
            "-n",
            "berthrepos",
            "--repository",
            "app",
        ],
        &[],
    )
    .await;
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("NAME_UNKNOWN"),
        "{}",
        missing.stderr
    );
}
