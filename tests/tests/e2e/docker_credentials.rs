//! `docker login` at a login server with every kind of credential ACR takes — a service
//! principal's appId and secret, the admin user, a repository-scoped token — and each
//! pushes what it may and nothing else, with a real Docker daemon. (The null-GUID user with
//! `az acr login`'s refresh token is `login_server.rs`'s content-trust test.)

use super::login_server::{app_serving, registry_in_rg};
use super::*;
use berth_tests::docker::DockerDaemon;
use berth_tests::roles::{ACR_PUSH, assign, principal};

/// Logs the daemon's CLI in with `user` and `password`, pushes a fresh image as `image`,
/// logs out; whether the push worked, and what Docker said.
async fn push_as(
    docker: &DockerDaemon,
    login: &str,
    user: &str,
    password: &str,
    image: &str,
) -> (bool, String) {
    let (ok, out) = docker
        .docker(&["login", login, "-u", user, "-p", password], &[])
        .await;
    assert!(ok, "docker login as {user}: {out}");
    let reference = format!("{login}/{image}");
    docker.import(&reference, image).await;
    let pushed = docker.docker(&["push", &reference], &[]).await;
    let (ok, out) = docker.docker(&["logout", login], &[]).await;
    assert!(ok, "docker logout: {out}");
    pushed
}

/// The registry's ARM URL of `tail`.
fn under(registry: &str, tail: &str) -> String {
    format!("{registry}/{tail}?api-version={API}")
}

/// A token held to `team/app` (read and write), and its generated password.
async fn scoped_token(app: &TestApp, registry: &str) -> String {
    let map = app
        .put(&under(registry, "scopeMaps/team-app"), &json!({"properties": {
            "actions": ["repositories/team/app/content/read", "repositories/team/app/content/write"]}}))
        .await;
    assert_eq!(map.status, StatusCode::CREATED, "{:?}", map.body);
    let token = app
        .put(
            &under(registry, "tokens/ci-robot"),
            &json!({"properties": {
            "scopeMapId": map.body["id"], "status": "enabled"}}),
        )
        .await;
    assert_eq!(token.status, StatusCode::CREATED, "{:?}", token.body);
    let generated = app
        .send(
            reqwest::Method::POST,
            &under(registry, "generateCredentials"),
            Some(&json!({"tokenId": token.body["id"], "name": "password1"})),
            &[],
        )
        .await;
    assert_eq!(generated.status, StatusCode::OK, "{:?}", generated.body);
    generated.body["passwords"][0]["value"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The admin user, enabled, and its first password.
pub(super) async fn admin_password(app: &TestApp, registry: &str) -> String {
    let on = app
        .patch(
            &format!("{registry}?api-version={API}"),
            &json!({"properties": {"adminUserEnabled": true}}),
        )
        .await;
    assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
    let creds = app
        .send(
            reqwest::Method::POST,
            &under(registry, "listCredentials"),
            None,
            &[],
        )
        .await;
    creds.body["passwords"][0]["value"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_login_takes_every_credential_kind_and_each_pushes_only_what_it_may() {
    let app = app_serving("embedded").await;
    let (registry, login) = registry_in_rg(&app, "dockercreds", "Premium").await;
    let mut docker = DockerDaemon::start().await;
    docker.trust_ca(&login, app.ca_file.as_ref().unwrap());

    // A service principal with AcrPush, by appId and secret.
    let (object, (app_id, secret)) = principal(&app, "docker-sp").await;
    assign(&app, &registry, ACR_PUSH, &object).await;
    let (ok, out) = push_as(&docker, &login, &app_id, &secret, "sp/app:v1").await;
    assert!(ok, "the service principal's push: {out}");

    // The admin user, by the registry's name and a password.
    let password = admin_password(&app, &registry).await;
    let (ok, out) = push_as(&docker, &login, "dockercreds", &password, "admin/app:v1").await;
    assert!(ok, "the admin user's push: {out}");

    // A scope-map token: its repository, and no other.
    let password = scoped_token(&app, &registry).await;
    let (ok, out) = push_as(&docker, &login, "ci-robot", &password, "team/app:v1").await;
    assert!(ok, "the token's push to its repository: {out}");
    let (ok, out) = push_as(&docker, &login, "ci-robot", &password, "team/other:v1").await;
    assert!(!ok, "the token pushed outside its scope map: {out}");
    assert!(
        out.contains("denied") || out.contains("unauthorized"),
        "{out}"
    );

    // A wrong password is refused at login.
    let (ok, _) = docker
        .docker(
            &[
                "login",
                &login,
                "-u",
                "dockercreds",
                "-p",
                "not-the-password",
            ],
            &[],
        )
        .await;
    assert!(!ok, "docker login took a wrong admin password");
}
