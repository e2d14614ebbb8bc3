//! Every registry's login server answers on berthd's main listener, chosen by host, as
//! ACR's `<name>.azurecr.io` does: `/v2/` challenges with ACR's exact `Bearer` header and
//! accepts an access token of that login server only; `/oauth2/exchange` and
//! `/oauth2/token` are the token server there; another host under the suffix is a
//! registry-shaped 404, and the control plane at 127.0.0.1 is unchanged.

use super::token_server::{self, signed_in};
use super::*;
use berth_tests::registry::{free_port, oci_layout, skopeo, skopeo_push};
use berth_tests::roles::{ACR_PULL, ACR_PUSH, NULL_USER, OWNER, assign, principal};
use berth_tests::{Backend, SpawnOptions, settings, spawn_app_with};

/// A berthd whose login servers name the port it listens on, over HTTPS with the
/// development certificate (valid for `*.registry.localhost`), with no data plane.
async fn app_with_login_servers() -> TestApp {
    app_serving("none").await
}

/// The same with `BERTH_REGISTRY_BACKEND=<backend>`.
pub(super) async fn app_serving(backend: &str) -> TestApp {
    app_serving_with(&[("BERTH_REGISTRY_BACKEND", backend)]).await
}

/// The same with `extra` settings (the data plane's among them).
pub(super) async fn app_serving_with(extra: &[(&str, &str)]) -> TestApp {
    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let mut pairs = vec![
        ("BERTH_LISTEN", listen.as_str()),
        ("BERTH_LOGIN_SERVER_PORT", &port),
    ];
    pairs.extend_from_slice(extra);
    let env = settings(&pairs);
    let options = SpawnOptions {
        tls: true,
        env,
        ..SpawnOptions::default()
    };
    spawn_app_with(Backend::Sqlite, options).await
}

/// A resource group `rg` and a registry `name` of `sku` in it; its ARM path and its login
/// server.
pub(super) async fn registry_in_rg(app: &TestApp, name: &str, sku: &str) -> (String, String) {
    app.create_group("rg").await;
    app.create_registry("rg", name, sku).await;
    let path = app.registry_path("rg", name);
    let server = token_server::login_server(app, &path).await;
    (path, server)
}

/// A registry's access token for `scope` at its login server, from the login server's own
/// token endpoint, with the refresh token of `az acr login`.
pub(super) async fn access_token(
    app: &TestApp,
    login_server: &str,
    refresh: &str,
    scope: &str,
) -> String {
    let form = [
        ("grant_type", "refresh_token"),
        ("service", login_server),
        ("scope", scope),
        ("refresh_token", refresh),
    ];
    let answer = app
        .client
        .post(format!("https://{login_server}/oauth2/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn v2(app: &TestApp, login_server: &str, token: Option<&str>) -> reqwest::Response {
    let request = app.client.get(format!("https://{login_server}/v2/"));
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_registry_answers_at_its_login_server_with_acrs_challenge_and_token_server() {
    let app = app_with_login_servers().await;
    app.create_group("rg").await;
    let a = app.registry_path("rg", "loginservera");
    let b = app.registry_path("rg", "loginserverb");
    app.create_registry("rg", "loginservera", "Basic").await;
    app.create_registry("rg", "loginserverb", "Basic").await;
    let (server_a, server_b) = (
        token_server::login_server(&app, &a).await,
        token_server::login_server(&app, &b).await,
    );
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    assert_eq!(server_a, format!("loginservera.registry.localhost:{port}"));

    // The challenge, exactly as ACR sends it.
    let answer = v2(&app, &server_a, None).await;
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let challenge = answer.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        challenge,
        format!("Bearer realm=\"https://{server_a}/oauth2/token\",service=\"{server_a}\"")
    );
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");

    // The exchange at the login server (az acr login), then an access token there.
    let (_, _, refresh) = signed_in(&app, &a, ACR_PULL, "login-server-puller").await;
    let token = access_token(&app, &server_a, &refresh, "repository:hello:pull").await;
    let answer = v2(&app, &server_a, Some(&token)).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        answer.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );

    // A token of registry A is refused at B, and a broken one at A.
    assert_eq!(
        v2(&app, &server_b, Some(&token)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let tampered = format!("{}x", token);
    assert_eq!(
        v2(&app, &server_a, Some(&tampered)).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Another host under the suffix: a registry-shaped 404, not the ARM API.
    let unknown = format!("nosuchregistry.registry.localhost:{port}");
    let answer = v2(&app, &unknown, None).await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "NAME_UNKNOWN");

    // The control plane at 127.0.0.1 is unchanged, and not served at a login server.
    let (status, _) = app.get(&format!("{a}?api-version={API}")).await;
    assert_eq!(status, StatusCode::OK);
    let arm_at_login_server = app
        .client
        .get(format!("https://{server_a}{a}?api-version={API}"))
        .bearer_auth(&app.management_token)
        .send()
        .await
        .unwrap();
    assert_eq!(arm_at_login_server.status(), StatusCode::NOT_FOUND);
}

/// A directory skopeo reads the development CA from (`--dest-cert-dir`).
fn cert_dir(app: &TestApp) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(app.ca_file.as_ref().unwrap(), dir.path().join("ca.crt")).unwrap();
    dir
}

/// `skopeo copy` of a fresh one-layer image to `<login_server>/<repo>:v1`, with the
/// refresh token of `az acr login`; returns the pushed manifest's digest.
pub(super) async fn push(app: &TestApp, login_server: &str, refresh: &str, repo: &str) -> String {
    let layout = tempfile::tempdir().unwrap();
    let source = format!("oci:{}:v1", oci_layout(layout.path(), "v1").display());
    let ca = app.ca_file.as_ref().unwrap();
    let creds = format!("{NULL_USER}:{refresh}");
    skopeo_push(ca, &creds, &source, &format!("{login_server}/{repo}:v1")).await
}

/// The digest `skopeo inspect` sees at `<login_server>/<repo>:v1`, or its error.
async fn inspect(
    app: &TestApp,
    login_server: &str,
    creds: &str,
    repo: &str,
) -> Result<String, String> {
    let certs = cert_dir(app);
    let out = tempfile::tempdir().unwrap();
    let target = format!("oci:{}:v1", out.path().display());
    let (ok, err) = skopeo(&[
        "copy",
        "--src-cert-dir",
        certs.path().to_str().unwrap(),
        "--src-creds",
        creds,
        &format!("docker://{login_server}/{repo}:v1"),
        &target,
    ])
    .await;
    if !ok {
        return Err(err);
    }
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("index.json")).unwrap())
            .unwrap();
    Ok(index["manifests"][0]["digest"].as_str().unwrap().to_owned())
}

/// The digest `<login_server>/<repo>:v1` answers an OCI manifest GET with, or `None`.
pub(super) async fn pulled_digest(
    app: &TestApp,
    login_server: &str,
    repo: &str,
    token: &str,
) -> Option<String> {
    let answer = app
        .client
        .get(format!("https://{login_server}/v2/{repo}/manifests/v1"))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (answer.status() == StatusCode::OK).then(|| {
        answer.headers()["docker-content-digest"]
            .to_str()
            .unwrap()
            .to_owned()
    })
}

/// Asserts that `<login_server>/<repo>` answers 404 for each manifest reference.
pub(super) async fn manifests_are_gone(
    app: &TestApp,
    login_server: &str,
    repo: &str,
    token: &str,
    references: &[&str],
) {
    for reference in references {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let answer = get(app, login_server, &path, token).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{reference}");
    }
}

/// Starts a blob upload to `<login_server>/<repo>`; returns its `Location`.
pub(super) async fn start_upload(
    app: &TestApp,
    login_server: &str,
    repo: &str,
    token: &str,
) -> String {
    let answer = app
        .client
        .post(format!("https://{login_server}/v2/{repo}/blobs/uploads/"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    answer.headers()["location"].to_str().unwrap().to_owned()
}

/// GET `https://<login_server><path>` with a bearer token.
pub(super) async fn get(
    app: &TestApp,
    login_server: &str,
    path: &str,
    token: &str,
) -> reqwest::Response {
    app.client
        .get(format!("https://{login_server}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_pushed_at_a_login_server_stay_in_their_registry() {
    let app = app_serving("embedded").await;
    app.create_group("rg").await;
    let (a, b) = (
        app.registry_path("rg", "dataplanea"),
        app.registry_path("rg", "dataplaneb"),
    );
    app.create_registry("rg", "dataplanea", "Basic").await;
    app.create_registry("rg", "dataplaneb", "Basic").await;
    let (server_a, server_b) = (
        token_server::login_server(&app, &a).await,
        token_server::login_server(&app, &b).await,
    );
    let (_, _, push_a) = signed_in(&app, &a, ACR_PUSH, "dp-pusher-a").await;
    let (_, _, push_b) = signed_in(&app, &b, ACR_PUSH, "dp-pusher-b").await;
    let (_, pull_a, pull_refresh_a) = signed_in(&app, &a, ACR_PULL, "dp-puller-a").await;

    // The same repository name in two registries holds two different images.
    let digest_a = push(&app, &server_a, &push_a, "team/app").await;
    let digest_b = push(&app, &server_b, &push_b, "team/app").await;
    assert_ne!(digest_a, digest_b);
    let basic_a = format!("{}:{}", pull_a.0, pull_a.1);
    assert_eq!(
        inspect(&app, &server_a, &basic_a, "team/app").await,
        Ok(digest_a.clone())
    );
    let err = inspect(&app, &server_b, &basic_a, "team/app")
        .await
        .unwrap_err();
    assert!(
        err.contains("unauthorized") || err.contains("denied"),
        "{err}"
    );

    // The tags list and the catalog name the client's repositories, never the backend's.
    let pull = access_token(&app, &server_a, &pull_refresh_a, "repository:team/app:pull").await;
    let answer = get(&app, &server_a, "/v2/team/app/tags/list", &pull).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let tags: Value = answer.json().await.unwrap();
    assert_eq!(tags, json!({"name": "team/app", "tags": ["v1"]}));
    assert_eq!(
        pulled_digest(&app, &server_a, "team/app", &pull).await,
        Some(digest_a.clone())
    );
    let catalog = access_token(&app, &server_a, &pull_refresh_a, "registry:catalog:*").await;
    let answer = get(&app, &server_a, "/v2/_catalog", &catalog).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({"repositories": ["team/app"]})
    );

    // A token of A is refused at B, and a pull token cannot write.
    let answer = get(&app, &server_b, "/v2/team/app/manifests/v1", &pull).await;
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let answer = app
        .client
        .delete(format!(
            "https://{server_a}/v2/team/app/manifests/{digest_a}"
        ))
        .bearer_auth(&pull)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let challenge = answer.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("scope=\"repository:team/app:delete\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    // The catalog needs its own scope.
    assert_eq!(
        get(&app, &server_a, "/v2/_catalog", &pull).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // An unknown manifest: Distribution's error, without the backend's prefix.
    let answer = get(&app, &server_a, "/v2/team/app/manifests/nosuchtag", &pull).await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let body = answer.text().await.unwrap();
    assert!(body.contains("MANIFEST_UNKNOWN"), "{body}");
    assert!(!body.contains("dataplanea/"), "{body}");

    // Each push and pull of a manifest is a repository event, by its client's identity.
    let events = berth_tests::poll(
        std::time::Duration::from_secs(10),
        std::time::Duration::from_millis(100),
        || async {
            let events = app.audit_events();
            events
                .iter()
                .any(|e| e["OperationName"] == "Pull" && e["ResultType"] == "404")
                .then_some(events)
        },
    )
    .await
    .unwrap_or_else(|| panic!("no repository events: {:#?}", app.audit_events()));
    let of = |op: &str, server: &str, status: &str| {
        events
            .iter()
            .filter(|e| {
                e["Category"] == "ContainerRegistryRepositoryEvents"
                    && e["OperationName"] == op
                    && e["LoginServer"] == server
                    && e["ResultType"] == status
                    && e["Repository"] == "team/app"
            })
            .count()
    };
    assert!(of("Push", &server_a, "201") >= 1, "{events:#?}");
    assert!(of("Push", &server_b, "201") >= 1, "{events:#?}");
    assert!(of("Pull", &server_a, "200") >= 1, "{events:#?}");
    let pushed = events
        .iter()
        .find(|e| e["OperationName"] == "Push" && e["LoginServer"] == server_a.as_str())
        .unwrap();
    assert_eq!(pushed["Digest"], digest_a.as_str(), "{pushed}");
    assert!(
        pushed["Identity"].as_str().is_some_and(|i| !i.is_empty()),
        "{pushed}"
    );

    // The login servers' requests are counted by the registry API's route templates; no
    // repository, tag, digest or login server name becomes a label.
    let text = app.metrics_text(Some(&app.management_token)).await;
    let count = |labels: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(&format!("berth_http_requests_total{{{labels}")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert!(
        count(
            r#"server="login",route="/v2/{name}/manifests/{reference}",method="PUT",status="201""#
        ) >= 2.0,
        "{text}"
    );
    assert!(
        count(
            r#"server="login",route="/v2/{name}/manifests/{reference}",method="GET",status="404""#
        ) >= 1.0,
        "{text}"
    );
    assert!(
        count(r#"server="login",route="/v2/{name}/blobs/uploads/""#) >= 2.0,
        "{text}"
    );
    assert!(count(r#"server="control",route="#) >= 1.0, "{text}");
    for secret in [
        "team/app",
        digest_a.as_str(),
        server_a.as_str(),
        server_b.as_str(),
    ] {
        assert!(!text.contains(secret), "{secret} in the metrics");
    }
}

/// Deletes the registry at `path` and waits for its operation to succeed.
pub(super) async fn delete_registry(app: &TestApp, path: &str) {
    let deleted = app.delete(&format!("{path}?api-version={API}")).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{:?}", deleted.body);
    let status_url = deleted.header("azure-asyncoperation").unwrap().to_owned();
    let done = app.wait_for_operation(&status_url).await;
    assert_eq!(done["status"], "Succeeded", "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_registry_takes_its_images_and_a_new_one_of_its_name_starts_empty() {
    let app = app_serving("embedded").await;
    app.create_group("rg").await;
    let path = app.registry_path("rg", "reborn");
    app.create_registry("rg", "reborn", "Basic").await;
    let server = token_server::login_server(&app, &path).await;
    let (_, _, pusher) = signed_in(&app, &path, ACR_PUSH, "reborn-pusher").await;
    let digest = push(&app, &server, &pusher, "team/app").await;
    let repos = app
        .data_dir
        .path()
        .join("registry/storage/docker/registry/v2/repositories");
    assert!(repos.join("reborn/team/app/_manifests").is_dir());
    let old_access = access_token(&app, &server, &pusher, "repository:team/app:pull,push").await;
    let old_issued = time::OffsetDateTime::now_utc().unix_timestamp();

    delete_registry(&app, &path).await;
    assert!(
        !repos.join("reborn").exists(),
        "the namespace outlived its registry"
    );
    // Reads may be served from what the login server remembers for a second.
    let gone = berth_tests::poll(
        std::time::Duration::from_secs(5),
        std::time::Duration::from_millis(100),
        || async {
            (v2(&app, &server, None).await.status() == StatusCode::NOT_FOUND).then_some(())
        },
    )
    .await;
    assert!(
        gone.is_some(),
        "a deleted registry's login server still answers"
    );

    // Made again under the same name, by someone else: nothing of the old one shows, and
    // the old one's tokens (same login server) grant nothing. Tokens carry whole seconds:
    // the new registry is made in a later second than they were issued.
    let later = berth_tests::poll(
        std::time::Duration::from_secs(3),
        std::time::Duration::from_millis(50),
        || async { (time::OffsetDateTime::now_utc().unix_timestamp() > old_issued).then_some(()) },
    )
    .await;
    assert!(later.is_some());
    // A request of the old registry still streaming when its repositories were removed
    // writes after the removal: such leftovers are cleared when the name is used again.
    let late = repos.join("reborn/team/late/_manifests/tags/v1/current");
    std::fs::create_dir_all(&late).unwrap();
    std::fs::write(late.join("link"), &digest).unwrap();
    app.create_registry("rg", "reborn", "Basic").await;
    assert!(
        !repos.join("reborn/team/late").exists(),
        "a leftover outlived the new registry's creation"
    );
    assert_eq!(
        v2(&app, &server, Some(&old_access)).await.status(),
        StatusCode::UNAUTHORIZED,
        "an earlier registry's access token"
    );
    let refreshed = app
        .client
        .post(format!("https://{server}/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("service", server.as_str()),
            ("scope", "repository:team/app:pull"),
            ("refresh_token", pusher.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        refreshed.status(),
        StatusCode::UNAUTHORIZED,
        "an earlier registry's refresh token"
    );
    let (_, _, puller) = signed_in(&app, &path, ACR_PULL, "reborn-puller").await;
    let catalog = access_token(&app, &server, &puller, "registry:catalog:*").await;
    let answer = get(&app, &server, "/v2/_catalog", &catalog).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({"repositories": []})
    );
    let pull = access_token(&app, &server, &puller, "repository:team/app:pull").await;
    manifests_are_gone(&app, &server, "team/app", &pull, &["v1", &digest]).await;
    let answer = get(&app, &server, "/v2/team/app/tags/list", &pull).await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn path_tricks_and_bad_names_are_refused_before_the_data_plane() {
    let app = app_serving("embedded").await;
    app.create_group("rg").await;
    let a = app.registry_path("rg", "pathtricks");
    app.create_registry("rg", "pathtricks", "Basic").await;
    let server = token_server::login_server(&app, &a).await;
    let (_, _, refresh) = signed_in(&app, &a, ACR_PUSH, "tricks-pusher").await;
    let token = access_token(&app, &server, &refresh, "repository:app:pull,push").await;
    let long = "a".repeat(250);
    for (path, status, code) in [
        (
            "/v2/a%2fb/tags/list",
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
        ),
        ("/v2/App/tags/list", StatusCode::BAD_REQUEST, "NAME_INVALID"),
        (
            "/v2/a..b/tags/list",
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
        ),
        (
            &format!("/v2/{long}/tags/list"),
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
        ),
        (
            "/v2/app/manifests/-bad",
            StatusCode::BAD_REQUEST,
            "TAG_INVALID",
        ),
        (
            "/v2/app/blobs/sha256:00",
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
        ),
        ("/v2/app/whatever", StatusCode::NOT_FOUND, "UNSUPPORTED"),
    ] {
        let answer = get(&app, &server, path, &token).await;
        assert_eq!(answer.status(), status, "{path}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], code, "{path}");
    }
    // A mount names its source in the same registry: another registry cannot be named.
    let answer = app
        .client
        .post(format!(
            "https://{server}/v2/app/blobs/uploads/?mount=sha256:{}&from=../other/app",
            "0".repeat(64)
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    // An upload with a wrong digest: Distribution's error, relayed in its shape.
    let location = start_upload(&app, &server, "app", &token).await;
    assert!(location.starts_with("/v2/app/blobs/uploads/"), "{location}");
    let separator = if location.contains('?') { '&' } else { '?' };
    let answer = app
        .client
        .put(format!(
            "https://{server}{location}{separator}digest=sha256:{}",
            "0".repeat(64)
        ))
        .bearer_auth(&token)
        .body("not the content of that digest")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "DIGEST_INVALID");
    // Nothing half-written: the repository does not exist.
    let answer = get(&app, &server, "/v2/app/tags/list", &token).await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_missing_data_plane_is_a_clear_answer_and_the_control_plane_still_works() {
    for (backend, binary, status, code, says) in [
        (
            "none",
            "docker-registry",
            StatusCode::NOT_FOUND,
            "UNSUPPORTED",
            "BERTH_REGISTRY_BACKEND=none",
        ),
        (
            "embedded",
            "/nonexistent/docker-registry",
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "apt-get install docker-registry",
        ),
    ] {
        let app = app_serving_with(&[
            ("BERTH_REGISTRY_BACKEND", backend),
            ("BERTH_REGISTRY_BINARY", binary),
        ])
        .await;
        let (a, server) = registry_in_rg(&app, "noplane01", "Basic").await;
        let (_, _, refresh) = signed_in(&app, &a, ACR_PULL, "noplane-puller").await;
        let token = access_token(&app, &server, &refresh, "repository:app:pull").await;
        assert_eq!(
            v2(&app, &server, Some(&token)).await.status(),
            StatusCode::OK
        );
        let answer = get(&app, &server, "/v2/app/tags/list", &token).await;
        assert_eq!(answer.status(), status, "{backend}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], code, "{backend}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
}

/// `notary` at `url` as the holder of `refresh`, trusting berthd's CA.
pub(super) async fn notary_at(
    app: &TestApp,
    url: &str,
    refresh: &str,
    args: &[&str],
) -> (bool, String) {
    let auth = berth_tests::notary::notary_auth(NULL_USER, refresh);
    let ca = app.ca_file.as_ref().unwrap().to_str().unwrap();
    let mut all = vec!["-s", url];
    all.extend_from_slice(args);
    let (ok, out, err) =
        berth_tests::notary::notary_cli(&all, &[("NOTARY_AUTH", &auth), ("SSL_CERT_FILE", ca)])
            .await;
    (ok, format!("{out}{err}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notary_cli_signs_and_reads_at_the_login_server_itself() {
    let app = app_serving("embedded").await;
    let (registry, login) = super::trust_contract::trusted_registry(&app, "lstrust01").await;
    assert_eq!(login, token_server::login_server(&app, &registry).await);
    let gun = format!("{login}/app");
    let url = format!("https://{login}");
    let signer = super::trust_contract::signer_in(&app, &registry, "ls-signer").await;
    let (_, _, reader) = signed_in(&app, &registry, ACR_PULL, "ls-reader").await;

    // Signed at the login server, as Docker signs with no DOCKER_CONTENT_TRUST_SERVER.
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_str().unwrap();
    let (ok, out) = notary_at(&app, &url, &signer, &["-d", dir, "init", "-p", &gun]).await;
    assert!(ok, "init: {out}");
    let hash = super::trust_contract::digest(7);
    let add = [
        "-d", dir, "addhash", "-p", &gun, "v1", "4", "--sha256", &hash,
    ];
    let (ok, out) = notary_at(&app, &url, &signer, &add).await;
    assert!(ok, "addhash: {out}");

    // A fresh AcrPull reader sees it there, and on the trust listener: one store, two doors.
    let (ok, out) = notary_at(&app, &url, &reader, &["list", &gun]).await;
    assert!(ok, "list at the login server: {out}");
    assert_eq!(
        super::trust_contract::tags(&out),
        [("v1".to_owned(), "targets".to_owned())]
    );
    let listener = super::content_trust::trust_url(&app).to_owned();
    let (ok, out) = notary_at(&app, &listener, &reader, &["list", &gun]).await;
    assert!(ok, "list at the trust listener: {out}");

    // A reader cannot sign; another login server's GUN is not served here.
    let add = [
        "-d", dir, "addhash", "-p", &gun, "v2", "4", "--sha256", &hash,
    ];
    let (ok, _) = notary_at(&app, &url, &reader, &add).await;
    assert!(!ok, "an AcrPull reader signed");
    let other = format!("{url}/v2/otherregistry.registry.localhost/app/_trust/tuf/root.json");
    let answer = app.client.get(other).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "NAME_UNKNOWN");
}

/// The passphrases Docker's content trust reads instead of prompting.
const DCT_PASSPHRASES: [(&str, &str); 2] = [
    ("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "berth-dct-root"),
    (
        "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
        "berth-dct-repository",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_pushes_signs_and_verifies_at_the_login_server_with_no_override() {
    use berth_tests::docker::DockerDaemon;
    let app = app_serving("embedded").await;
    let (registry, login) = super::trust_contract::trusted_registry(&app, "dockerls01").await;
    let signer = super::trust_contract::signer_in(&app, &registry, "docker-signer").await;
    let (_, _, reader) = signed_in(&app, &registry, ACR_PULL, "docker-reader").await;
    let ca = app.ca_file.clone().unwrap();

    // The signer's daemon: docker login with az acr login's refresh token, then an
    // unsigned push, a signed push (DOCKER_CONTENT_TRUST=1, no trust server named).
    let mut pusher = DockerDaemon::start().await;
    pusher.trust_ca(&login, &ca);
    let (ok, out) = pusher
        .docker(&["login", &login, "-u", NULL_USER, "-p", &signer], &[])
        .await;
    assert!(ok, "docker login: {out}");
    let (unsigned, signed) = (
        format!("{login}/app:unsigned"),
        format!("{login}/app:signed"),
    );
    pusher.import(&unsigned, "unsigned").await;
    let (ok, out) = pusher.docker(&["push", &unsigned], &[]).await;
    assert!(ok, "docker push: {out}");
    pusher.import(&signed, "signed").await;
    let mut trust = vec![("DOCKER_CONTENT_TRUST", "1")];
    trust.extend(DCT_PASSPHRASES);
    let (ok, out) = pusher.docker(&["push", &signed], &trust).await;
    assert!(ok, "DOCKER_CONTENT_TRUST=1 docker push: {out}");
    assert!(out.contains("Signing and pushing trust metadata"), "{out}");

    // A reader's fresh daemon: the signed tag pulls verified, the unsigned one is refused.
    let mut puller = DockerDaemon::start().await;
    puller.trust_ca(&login, &ca);
    let (ok, out) = puller
        .docker(&["login", &login, "-u", NULL_USER, "-p", &reader], &[])
        .await;
    assert!(ok, "docker login: {out}");
    let verify = [("DOCKER_CONTENT_TRUST", "1")];
    let (ok, out) = puller.docker(&["pull", &signed], &verify).await;
    assert!(ok, "verified pull: {out}");
    assert!(out.contains("Pull (1 of 1)"), "{out}");
    let (ok, out) = puller.docker(&["pull", &unsigned], &verify).await;
    assert!(!ok, "an unsigned tag pulled with content trust on: {out}");
    assert!(out.contains("No valid trust data for unsigned"), "{out}");
    let (ok, out) = puller.docker(&["pull", &unsigned], &[]).await;
    assert!(ok, "the unsigned tag pulls without content trust: {out}");

    // The reader cannot push.
    let (ok, out) = puller.docker(&["push", &unsigned], &[]).await;
    assert!(!ok, "an AcrPull reader pushed: {out}");

    // Content trust off: every signature goes, every image stays.
    let off = berth_tests::fixtures::set_trust(&app, &registry, "disabled").await;
    assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
    let status_url = off.header("azure-asyncoperation").unwrap().to_owned();
    assert_eq!(
        app.wait_for_operation(&status_url).await["status"],
        "Succeeded"
    );
    // Docker falls back to the trust data it cached: read with an empty cache.
    let _ = std::fs::remove_dir_all(puller.config_dir().join("trust"));
    let (ok, out) = puller.docker(&["pull", &signed], &verify).await;
    assert!(!ok, "a verified pull after the wipe: {out}");
    for image in [&signed, &unsigned] {
        puller.docker(&["rmi", image], &[]).await;
        let (ok, out) = puller.docker(&["pull", image], &[]).await;
        assert!(ok, "{image} is gone with its signature: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berth_acr_login_logs_docker_in_at_the_login_server() {
    use super::cli::berth_with;
    use berth_tests::docker::DockerDaemon;
    use std::ffi::OsStr;
    let app = app_serving("embedded").await;
    app.create_group("rg").await;
    let registry = app.registry_path("rg", "berthlogin1");
    app.create_registry("rg", "berthlogin1", "Basic").await;
    let login = token_server::login_server(&app, &registry).await;
    let (object, (app_id, secret)) = principal(&app, "cli-pusher").await;
    assign(&app, &registry, ACR_PUSH, &object).await;
    let home = tempfile::tempdir().unwrap();
    super::cli::berth_login_trusting_the_ca(home.path(), &app, (&app_id, &secret)).await;

    // `berth acr login` runs `docker login` against this daemon, with nothing else named.
    let mut docker = DockerDaemon::start().await;
    docker.trust_ca(&login, app.ca_file.as_ref().unwrap());
    let socket = format!("unix://{}", docker.socket().display());
    let config = docker.config_dir();
    let r = berth_with(
        home.path(),
        &["acr", "login", "-n", "berthlogin1", "--debug"],
        &[
            ("DOCKER_HOST", OsStr::new(&socket)),
            ("DOCKER_CONFIG", config.as_os_str()),
            ("PATH", OsStr::new("/usr/bin:/bin")),
        ],
    )
    .await;
    let out = format!("{}{}", r.stdout, r.stderr);
    assert_eq!(r.code, 0, "berth acr login: {out}");
    assert!(out.contains("Login Succeeded"), "{out}");
    let exchange = format!("Request URL: 'https://{login}/oauth2/exchange'");
    assert!(
        out.contains(&exchange),
        "the exchange went elsewhere: {out}"
    );
    let elsewhere = format!("'{}/oauth2/exchange'", app.base);
    assert!(
        !out.contains(&elsewhere),
        "the control plane exchanged: {out}"
    );
    let image = format!("{login}/hello:v1");
    docker.import(&image, "hello").await;
    let (ok, out) = docker.docker(&["push", &image], &[]).await;
    assert!(ok, "docker push after berth acr login: {out}");
}

/// The sha-256 digest of `bytes`, as a registry names it.
fn sha256_digest(bytes: &[u8]) -> String {
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_are_read_whole_or_by_range_and_only_from_repositories_that_link_them() {
    let app = app_serving("embedded").await;
    let (path, server) = registry_in_rg(&app, "blobreads", "Basic").await;
    let (_, _, pusher) = signed_in(&app, &path, ACR_PUSH, "blob-pusher").await;
    push(&app, &server, &pusher, "team/app").await;
    let token = access_token(&app, &server, &pusher, "repository:team/app:pull").await;
    let manifest = app
        .client
        .get(format!("https://{server}/v2/team/app/manifests/v1"))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let manifest: Value = manifest.json().await.unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap().to_owned();
    let blob = format!("/v2/team/app/blobs/{layer}");

    // Whole: the stored bytes, with Distribution's headers.
    let answer = get(&app, &server, &blob, &token).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["docker-content-digest"], layer.as_str());
    assert_eq!(answer.headers()["content-type"], "application/octet-stream");
    let bytes = answer.bytes().await.unwrap();
    assert_eq!(sha256_digest(&bytes), layer);
    let head = app
        .client
        .head(format!("https://{server}{blob}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.headers()["content-length"],
        bytes.len().to_string().as_str()
    );

    // A range: Distribution's 206.
    let ranged = app
        .client
        .get(format!("https://{server}{blob}"))
        .bearer_auth(&token)
        .header("range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), &bytes[..4]);

    // Another repository of the same registry does not link it: Distribution's 404.
    let other = access_token(&app, &server, &pusher, "repository:team/other:pull").await;
    let answer = get(
        &app,
        &server,
        &format!("/v2/team/other/blobs/{layer}"),
        &other,
    )
    .await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "BLOB_UNKNOWN");
}

/// A request: method, path and headers.
type Case<'a> = (reqwest::Method, &'a str, Vec<(&'a str, &'a str)>);

/// What a login server answered, as far as clients read it.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: StatusCode,
    headers: Vec<(&'static str, Option<String>)>,
    body: Vec<u8>,
}

/// `method https://<login_server><path>` with `headers`, read into a [`Seen`].
async fn seen(
    app: &TestApp,
    login_server: &str,
    (method, path): (reqwest::Method, &str),
    token: &str,
    headers: &[(&str, &str)],
) -> Seen {
    let mut request = app
        .client
        .request(method, format!("https://{login_server}{path}"))
        .bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = request.send().await.unwrap();
    let read = [
        "content-type",
        "content-length",
        "docker-content-digest",
        "etag",
    ]
    .map(|name| {
        let value = answer.headers().get(name);
        (name, value.map(|v| v.to_str().unwrap().to_owned()))
    });
    Seen {
        status: answer.status(),
        headers: read.to_vec(),
        body: answer.bytes().await.unwrap().to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_read_from_storage_answer_exactly_as_the_registry_does() {
    let app = app_serving("embedded").await;
    let (path, server) = registry_in_rg(&app, "manifestreads", "Basic").await;
    let (_, _, owner) = signed_in(&app, &path, OWNER, "manifest-owner").await;
    let digest = push(&app, &server, &owner, "team/app").await;
    let token = access_token(&app, &server, &owner, "repository:team/app:pull,delete").await;
    let oci = "application/vnd.oci.image.manifest.v1+json";
    let docker = "application/vnd.docker.distribution.manifest.v2+json";
    let by_tag = "/v2/team/app/manifests/v1".to_owned();
    let by_digest = format!("/v2/team/app/manifests/{digest}");
    let quoted = format!("\"{digest}\"");
    let cases: Vec<Case<'_>> = vec![
        (reqwest::Method::GET, &by_tag, vec![("accept", oci)]),
        (reqwest::Method::GET, &by_digest, vec![("accept", oci)]),
        (
            reqwest::Method::GET,
            &by_tag,
            vec![("accept", docker), ("accept", oci)],
        ),
        (reqwest::Method::HEAD, &by_tag, vec![("accept", oci)]),
        (
            reqwest::Method::GET,
            &by_tag,
            vec![("accept", oci), ("if-none-match", &quoted)],
        ),
        (reqwest::Method::GET, &by_tag, vec![("accept", docker)]),
        (
            reqwest::Method::GET,
            "/v2/team/app/manifests/v2",
            vec![("accept", oci)],
        ),
    ];
    // A Range header sends a manifest read to the registry itself: the two answers match.
    for (method, path, headers) in &cases {
        let local = seen(&app, &server, (method.clone(), path), &token, headers).await;
        let mut relayed_headers = headers.clone();
        relayed_headers.push(("range", "bytes=0-"));
        let relayed = seen(
            &app,
            &server,
            (method.clone(), path),
            &token,
            &relayed_headers,
        )
        .await;
        assert_eq!(local, relayed, "{method} {path} {headers:?}");
    }
    let first = seen(
        &app,
        &server,
        (reqwest::Method::GET, &by_tag),
        &token,
        &cases[0].2,
    )
    .await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(sha256_digest(&first.body), digest);
    let conditional = &cases[4];
    let not_modified = seen(
        &app,
        &server,
        (conditional.0.clone(), conditional.1),
        &token,
        &conditional.2,
    )
    .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);

    // Deleted, it is gone from the files' answer too.
    let deleted = app
        .client
        .delete(format!("https://{server}{by_digest}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    for path in [&by_tag, &by_digest] {
        let gone = seen(
            &app,
            &server,
            (reqwest::Method::GET, path),
            &token,
            &cases[0].2,
        )
        .await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "{path}");
    }
}
