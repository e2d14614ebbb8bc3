//! `BERTH_REGISTRY_BACKEND=<url>`: the login servers forward to a Distribution registry run
//! elsewhere (here Debian's docker-registry on loopback), which takes only the tokens
//! berthd mints for its service: a client's own token, or none, is refused there, and the
//! token server never grants a client a token for that service.

use super::login_server::{access_token, app_serving, get, pulled_digest, push, registry_in_rg};
use super::*;
use berth_tests::fixtures::signed_in;
use berth_tests::registry::{DockerRegistry, free_port};
use berth_tests::roles::{ACR_PULL, ACR_PUSH};

/// A berthd whose login servers forward to a Distribution registry on loopback that takes
/// berthd's tokens for its service (`berth-data-plane`), and that registry.
pub(super) async fn with_external_distribution() -> (TestApp, DockerRegistry) {
    let port = free_port();
    let app = app_serving(&format!("http://127.0.0.1:{port}")).await;
    let bundle = app.data_dir.path().join("registry-token-certs.pem");
    let backend =
        DockerRegistry::start_backend(port, "berth-data-plane", "berth-token-server", &bundle)
            .await;
    (app, backend)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_distribution_serves_the_login_servers_and_takes_only_berthds_tokens() {
    let (app, backend) = with_external_distribution().await;
    let (path, server) = registry_in_rg(&app, "externalone", "Basic").await;
    let (_, _, pusher) = signed_in(&app, &path, ACR_PUSH, "external-pusher").await;
    let (_, _, reader) = signed_in(&app, &path, ACR_PULL, "external-reader").await;

    // Pushed and read through the login server.
    let digest = push(&app, &server, &pusher, "team/app").await;
    let pull = access_token(&app, &server, &reader, "repository:team/app:pull").await;
    assert_eq!(
        pulled_digest(&app, &server, "team/app", &pull).await,
        Some(digest)
    );
    let catalog = access_token(&app, &server, &reader, "registry:catalog:*").await;
    let answer = get(&app, &server, "/v2/_catalog", &catalog).await;
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({"repositories": ["team/app"]})
    );

    // At the backend itself, under the registry's prefix: no token, and a client's token
    // (its audience is the login server), are refused.
    let direct = format!(
        "http://{}/v2/externalone/team/app/manifests/v1",
        backend.address
    );
    let plain = reqwest::Client::new();
    let answer = plain.get(&direct).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let answer = plain.get(&direct).bearer_auth(&pull).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);

    // The token server grants no client a token for the backend's service.
    let (_, (app_id, secret), _) = signed_in(&app, &path, ACR_PUSH, "external-asker").await;
    let asked = app
        .client
        .post(format!("{}/oauth2/token", app.base))
        .form(&[
            ("grant_type", "password"),
            ("service", "berth-data-plane"),
            ("scope", "repository:externalone/team/app:pull"),
            ("username", app_id.as_str()),
            ("password", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_ne!(
        asked.status(),
        StatusCode::OK,
        "a client got a data-plane token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_refuses_berthds_tokens_is_a_clear_bad_gateway() {
    let port = free_port();
    let app = app_serving(&format!("http://127.0.0.1:{port}")).await;
    let bundle = app.data_dir.path().join("registry-token-certs.pem");
    // Configured for another service: every berthd token is refused there.
    let _backend =
        DockerRegistry::start_backend(port, "another-service", "berth-token-server", &bundle).await;
    let (path, server) = registry_in_rg(&app, "externaltwo", "Basic").await;
    let (_, _, reader) = signed_in(&app, &path, ACR_PULL, "external-reader2").await;
    let pull = access_token(&app, &server, &reader, "repository:app:pull").await;
    let answer = get(&app, &server, "/v2/app/tags/list", &pull).await;
    assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
    let body: Value = answer.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("refused berthd's credentials"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_registry_deletes_its_manifests_in_an_external_distribution() {
    let (app, _backend) = with_external_distribution().await;
    let (path, server) = registry_in_rg(&app, "externalre", "Basic").await;
    let (_, _, pusher) = signed_in(&app, &path, ACR_PUSH, "external-re-pusher").await;
    let digest = push(&app, &server, &pusher, "team/app").await;

    super::login_server::delete_registry(&app, &path).await;

    // Made again under the name: the old tag and digest are gone from the backend.
    app.create_registry("rg", "externalre", "Basic").await;
    let (_, _, reader) = signed_in(&app, &path, ACR_PULL, "external-re-reader").await;
    let pull = access_token(&app, &server, &reader, "repository:team/app:pull").await;
    super::login_server::manifests_are_gone(&app, &server, "team/app", &pull, &["v1", &digest])
        .await;
}
