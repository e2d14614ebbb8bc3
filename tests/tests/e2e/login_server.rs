//! Every registry's login server answers on berthd's main listener, chosen by host, as
//! ACR's `<name>.azurecr.io` does: `/v2/` challenges with ACR's exact `Bearer` header and
//! accepts an access token of that login server only; `/oauth2/exchange` and
//! `/oauth2/token` are the token server there; another host under the suffix is a
//! registry-shaped 404, and the control plane at 127.0.0.1 is unchanged.

use super::auth::ACR_PULL;
use super::token_server::{self, signed_in};
use super::*;
use berth_tests::registry::free_port;
use berth_tests::{Backend, SpawnOptions, settings, spawn_app_with};

/// A berthd whose login servers name the port it listens on, over HTTPS with the
/// development certificate (valid for `*.registry.localhost`).
async fn app_with_login_servers() -> TestApp {
    let port = free_port().to_string();
    let env = settings(&[
        ("BERTH_LISTEN", &format!("127.0.0.1:{port}")),
        ("BERTH_LOGIN_SERVER_PORT", &port),
    ]);
    let options = SpawnOptions {
        tls: true,
        env,
        ..SpawnOptions::default()
    };
    spawn_app_with(Backend::Sqlite, options).await
}

/// A registry's access token for `scope` at its login server, from the login server's own
/// token endpoint, with the refresh token of `az acr login`.
async fn access_token(app: &TestApp, login_server: &str, refresh: &str, scope: &str) -> String {
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
