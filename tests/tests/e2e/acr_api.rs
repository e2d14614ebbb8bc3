//! ACR's repository API at a login server (`/acr/v1/...`) refuses what it must: a missing
//! or too narrow token, another login server's token, bad page sizes and orders, names
//! outside Distribution's grammar, and changes to attributes Berth does not enforce; and
//! deleting a repository deletes its trust data with it.

use super::login_server::{access_token, app_serving, get, notary_at, push};
use super::token_server;
use super::*;
use berth_tests::fixtures::signed_in;
use berth_tests::roles::{ACR_PULL, ACR_PUSH, OWNER};

/// The challenge of a 401, and its error code.
async fn challenged(answer: reqwest::Response) -> String {
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let challenge = answer.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
    challenge
}

/// The status and registry error code of an answer.
async fn refused(answer: reqwest::Response) -> (StatusCode, String) {
    let status = answer.status();
    let body: Value = answer.json().await.unwrap();
    (
        status,
        body["errors"][0]["code"].as_str().unwrap_or("").to_owned(),
    )
}

/// Two registries, an image pushed to the first, and its reader's refresh token.
struct Scene {
    app: TestApp,
    server: String,
    other: String,
    pusher: String,
    reader: String,
}

async fn step_two_registries_and_an_image(app: TestApp) -> Scene {
    app.create_group("rg").await;
    app.create_registry("rg", "acrapione", "Basic").await;
    app.create_registry("rg", "acrapitwo", "Basic").await;
    let (one, two) = (
        app.registry_path("rg", "acrapione"),
        app.registry_path("rg", "acrapitwo"),
    );
    let (server, other) = (
        token_server::login_server(&app, &one).await,
        token_server::login_server(&app, &two).await,
    );
    let (_, _, pusher) = signed_in(&app, &one, ACR_PUSH, "acrapi-pusher").await;
    push(&app, &server, &pusher, "team/app").await;
    let (_, _, reader) = signed_in(&app, &one, ACR_PULL, "acrapi-reader").await;
    Scene {
        app,
        server,
        other,
        pusher,
        reader,
    }
}

/// No token, a pull-only token, another login server's token, and a reader's delete.
async fn step_tokens_that_do_not_grant_it_are_challenged(s: &Scene, read: &str) {
    let (app, server) = (&s.app, s.server.as_str());
    let url = format!("https://{server}/acr/v1/team/app");
    let challenge = challenged(app.client.get(&url).send().await.unwrap()).await;
    assert!(
        challenge.contains("scope=\"repository:team/app:metadata_read\""),
        "{challenge}"
    );
    let pull = access_token(app, server, &s.reader, "repository:team/app:pull").await;
    let challenge = challenged(get(app, server, "/acr/v1/team/app", &pull).await).await;
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert_eq!(
        get(app, &s.other, "/acr/v1/team/app", read).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let answer = app
        .client
        .delete(&url)
        .bearer_auth(read)
        .send()
        .await
        .unwrap();
    assert!(
        challenged(answer)
            .await
            .contains("repository:team/app:delete")
    );
}

/// Bad pages, orders, names and methods; unknown names are 404 in Distribution's codes.
async fn step_bad_input_is_refused_in_distributions_codes(s: &Scene, read: &str) {
    let (app, server) = (&s.app, s.server.as_str());
    let bad = StatusCode::BAD_REQUEST;
    let missing = StatusCode::NOT_FOUND;
    for (path, expected) in [
        (
            "/acr/v1/team/app/_tags?n=0",
            (bad, "PAGINATION_NUMBER_INVALID"),
        ),
        (
            "/acr/v1/team/app/_tags?n=many",
            (bad, "PAGINATION_NUMBER_INVALID"),
        ),
        (
            "/acr/v1/team/app/_tags?orderby=random",
            (bad, "UNSUPPORTED"),
        ),
        ("/acr/v1/Team/App", (bad, "NAME_INVALID")),
        ("/acr/v1/team%2Fapp", (missing, "UNSUPPORTED")),
        ("/acr/v1/_catalog", (missing, "UNSUPPORTED")),
        ("/acr/v1/team/app/_tags/v9", (missing, "TAG_UNKNOWN")),
        (
            "/acr/v1/team/app/_manifests/sha256:00",
            (missing, "MANIFEST_UNKNOWN"),
        ),
    ] {
        let (status, code) = refused(get(app, server, path, read).await).await;
        assert_eq!((status, code.as_str()), expected, "{path}");
    }
    let none = access_token(app, server, &s.reader, "repository:nothere:metadata_read").await;
    let (status, code) = refused(get(app, server, "/acr/v1/nothere", &none).await).await;
    assert_eq!((status, code.as_str()), (missing, "NAME_UNKNOWN"));
    let patch = app
        .client
        .patch(format!("https://{server}/acr/v1/team/app"))
        .bearer_auth(read)
        .json(&json!({"writeEnabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused(patch).await.0, StatusCode::METHOD_NOT_ALLOWED);
}

/// A page of one manifest links to the next, as ACR's Link header does (a second push of
/// v1 leaves the first manifest untagged).
async fn step_pages_link_to_the_next(s: &Scene, read: &str) {
    let (app, server) = (&s.app, s.server.as_str());
    push(app, server, &s.pusher, "team/app").await;
    let answer = get(app, server, "/acr/v1/team/app/_manifests?n=1", read).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let link = answer.headers()["link"].to_str().unwrap().to_owned();
    let page: Value = answer.json().await.unwrap();
    let first = page["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .replace(':', "%3A");
    assert_eq!(
        link,
        format!("</acr/v1/team/app/_manifests?last={first}&n=1>; rel=\"next\"")
    );
    let next = format!("/acr/v1/team/app/_manifests?last={first}&n=1");
    let rest = get(app, server, &next, read).await;
    assert!(rest.headers().get("link").is_none());
    let rest: Value = rest.json().await.unwrap();
    assert_eq!(
        rest["manifests"].as_array().map(Vec::len),
        Some(1),
        "{rest}"
    );
    assert_ne!(
        rest["manifests"][0]["digest"],
        page["manifests"][0]["digest"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acr_api_refuses_bad_input_and_tokens_that_do_not_grant_it() {
    let s = step_two_registries_and_an_image(app_serving("embedded").await).await;
    let read = access_token(
        &s.app,
        &s.server,
        &s.reader,
        "repository:team/app:metadata_read",
    )
    .await;
    step_tokens_that_do_not_grant_it_are_challenged(&s, &read).await;
    step_bad_input_is_refused_in_distributions_codes(&s, &read).await;
    step_pages_link_to_the_next(&s, &read).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_repository_deletes_its_trust_data() {
    let app = app_serving("embedded").await;
    let (registry, server) = super::trust_contract::trusted_registry(&app, "acrapitrust").await;
    let signer = super::trust_contract::signer_in(&app, &registry, "acrapi-signer").await;
    let (_, _, owner) = signed_in(&app, &registry, OWNER, "acrapi-owner").await;
    push(&app, &server, &signer, "app").await;
    let gun = format!("{server}/app");
    let url = format!("https://{server}");
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_str().unwrap();
    let (ok, out) = notary_at(&app, &url, &signer, &["-d", dir, "init", "-p", &gun]).await;
    assert!(ok, "init: {out}");
    let hash = super::trust_contract::digest(7);
    let add = [
        "-d", dir, "addhash", "-p", &gun, "v1", "4", "--sha256", &hash,
    ];
    assert!(notary_at(&app, &url, &signer, &add).await.0);
    assert!(notary_at(&app, &url, &owner, &["list", &gun]).await.0);

    let delete = access_token(&app, &server, &owner, "repository:app:delete").await;
    let answer = app
        .client
        .delete(format!("{url}/acr/v1/app"))
        .bearer_auth(&delete)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    let removed: Value = answer.json().await.unwrap();
    assert_eq!(removed["tagsDeleted"], json!(["v1"]), "{removed}");
    let (listed, out) = notary_at(&app, &url, &owner, &["list", &gun]).await;
    assert!(!listed, "the trust data outlived its repository: {out}");
    assert!(out.contains("does not have trust data"), "{out}");
}
