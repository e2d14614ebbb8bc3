//! Bad input at a login server that the path checks of `login_server.rs` do not cover: a
//! `_trust` segment inside a repository name, another login server's token at the trust
//! store, and oversized headers. Each answer has the registry's error shape, and nothing
//! reaches the data plane or the trust store.

use super::login_server::{access_token, app_serving, get};
use super::token_server;
use super::*;
use berth_tests::fixtures::signed_in;
use berth_tests::roles::ACR_PUSH;

/// The status and registry error code of an answer.
async fn refusal(answer: reqwest::Response) -> (StatusCode, String) {
    let status = answer.status();
    let body: Value = answer.json().await.unwrap();
    let code = body["errors"][0]["code"].as_str().unwrap_or("").to_owned();
    (status, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_segments_foreign_tokens_and_oversized_headers_are_refused_in_the_registrys_shape() {
    let app = app_serving("embedded").await;
    let (registry, server) = super::trust_contract::trusted_registry(&app, "badinput01").await;
    app.create_registry("ctr", "badinput02", "Premium").await;
    let other_path = app.registry_path("ctr", "badinput02");
    let other = token_server::login_server(&app, &other_path).await;
    let (_, _, pusher) = signed_in(&app, &registry, ACR_PUSH, "badinput-pusher").await;
    let (_, _, foreigner) = signed_in(&app, &other_path, ACR_PUSH, "badinput-foreigner").await;
    let token = access_token(&app, &server, &pusher, "repository:app:pull,push").await;

    // A `_trust` segment inside a repository name names no trust collection here.
    for path in [
        "/v2/app/_trust/x/tags/list",
        "/v2/team/_trust/tuf/root.json",
    ] {
        let (status, code) = refusal(get(&app, &server, path, &token).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::NOT_FOUND, "NAME_UNKNOWN"),
            "{path}"
        );
    }

    // Another login server's token, even for its own GUN, opens nothing here.
    let foreign = access_token(
        &app,
        &other,
        &foreigner,
        &format!("repository:{other}/app:pull"),
    )
    .await;
    for (path, expected) in [
        (
            format!("/v2/{server}/app/_trust/tuf/root.json"),
            (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
        ),
        (
            format!("/v2/{other}/app/_trust/tuf/root.json"),
            (StatusCode::NOT_FOUND, "NAME_UNKNOWN"),
        ),
        (
            "/v2/app/tags/list".to_owned(),
            (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
        ),
    ] {
        let (status, code) = refusal(get(&app, &server, &path, &foreign).await).await;
        assert_eq!((status, code.as_str()), expected, "{path}");
    }

    // Oversized headers: 431 in the registry's shape, before any token is read.
    let answer = app
        .client
        .get(format!("https://{server}/v2/app/tags/list"))
        .bearer_auth(&token)
        .header("x-padding", "a".repeat(40 * 1024))
        .send()
        .await
        .unwrap();
    let (status, code) = refusal(answer).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "UNSUPPORTED")
    );
    // The same request with ordinary headers is served.
    assert_eq!(
        get(&app, &server, "/v2/app/tags/list", &token)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}
