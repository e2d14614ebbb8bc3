//! Content trust against a real Notary v1 server: Debian's `notary-server` on PostgreSQL, with
//! token auth pointing at `berthd`, accepts Berth's tokens for reads exactly as far as the
//! caller's roles go, over raw HTTP and through the `notary` CLI.

use super::token_server::{access, claims, login_server, signed_in};
use super::*;
use berth_tests::notary::{NotaryServer, notary_auth, notary_cli};
use berth_tests::{Backend, SpawnOptions, spawn_app_with};

const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
const NULL_USER: &str = "00000000-0000-0000-0000-000000000000";
const SERVICE: &str = "notary-berth";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_notary_server_accepts_berth_tokens_for_reads_as_roles_allow() {
    let app = spawn_app_with(
        Backend::Sqlite,
        SpawnOptions {
            env: vec![("BERTH_NOTARY_SERVICE".into(), SERVICE.into())],
            ..SpawnOptions::default()
        },
    )
    .await;
    app.create_group("ntry").await;
    app.create_registry("ntry", "trustreg1", "Premium").await;
    let registry = app.registry_path("ntry", "trustreg1");
    let on = app.patch(&format!("{registry}?api-version={API}"), &json!({"properties": {"policies": {"trustPolicy": {"type": "Notary", "status": "enabled"}}}})).await;
    assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
    let gun = format!("{}/app", login_server(&app, &registry).await);
    let notary = NotaryServer::start(
        &app.base,
        SERVICE,
        "berth-token-server",
        &app.data_dir.path().join("registry-token-certs.pem"),
        &berth_tests::postgres_url(),
    )
    .await;
    let (_, _, reader) = signed_in(&app, &registry, ACR_PULL, "notary-reader").await;
    let (_, _, stranger) = signed_in(&app, &registry, "", "notary-stranger").await;
    let scope = format!("repository:{gun}:pull");
    let root = format!("{}/v2/{gun}/_trust/tuf/root.json", notary.url);
    let get_root = |token: Option<String>| {
        let (app, root) = (&app, &root);
        async move {
            let bearer = token.map(|t| format!("Bearer {t}"));
            let headers: Vec<(&str, &str)> = bearer
                .iter()
                .map(|b| ("authorization", b.as_str()))
                .collect();
            app.send_as(reqwest::Method::GET, root, None, &headers)
                .await
        }
    };

    // No token: notary's challenge names Berth's realm, the notary service and the scope.
    let challenge = get_root(None).await;
    assert_eq!(challenge.status, StatusCode::UNAUTHORIZED);
    let expected = format!(
        "Bearer realm=\"{}/oauth2/token\",service=\"{SERVICE}\",scope=\"{scope}\"",
        app.base
    );
    assert_eq!(
        challenge.header("www-authenticate"),
        Some(expected.as_str())
    );

    // (a) AcrPull: a pull token notary accepts. Nothing is published, hence 404, not 401.
    let t = access(&app, SERVICE, &scope, &reader).await;
    assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
    let token = t.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        claims(&token)["access"],
        json!([{"type": "repository", "name": gun, "actions": ["pull"]}])
    );
    let read = get_root(Some(token)).await;
    assert_ne!(
        read.status,
        StatusCode::UNAUTHORIZED,
        "notary refused Berth's token:\n{}",
        notary.log()
    );
    assert_eq!(
        (read.status, read.body["errors"][0]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("METADATA_NOT_FOUND")),
        "{:?}",
        read.body
    );

    // (b) No role: a valid token that grants nothing, which notary refuses.
    let t = access(&app, SERVICE, &scope, &stranger).await;
    assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
    let token = t.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&token)["access"], json!([]));
    let refused = get_root(Some(token)).await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{:?}",
        refused.body
    );
    assert!(
        refused
            .header("www-authenticate")
            .is_some_and(|h| h.contains("error=\"insufficient_scope\"")),
        "{:?}",
        refused.headers
    );

    // (c) Anonymous, as the notary CLI asks first: 200 with empty access, never a 401.
    let anonymous = app
        .send_as(
            reqwest::Method::GET,
            &format!(
                "/oauth2/token?service={SERVICE}&scope={}",
                urlencoding::encode(&scope)
            ),
            None,
            &[],
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::OK, "{:?}", anonymous.body);
    let token = anonymous.body["token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&token)["access"], json!([]));
    assert_eq!(get_root(Some(token)).await.status, StatusCode::UNAUTHORIZED);

    // The notary CLI, with the refresh token as `az acr login` hands it to Docker: it gets
    // past auth (anonymous first, then with NOTARY_AUTH) and finds no trust data.
    let (ok, out, err) = notary_cli(
        &["-s", &notary.url, "list", &gun],
        &[("NOTARY_AUTH", &notary_auth(NULL_USER, &reader))],
    )
    .await;
    assert!(!ok, "nothing is published: {out}{err}");
    assert!(
        out.contains(&format!("does not have trust data for {gun}")),
        "{out}{err}\n{}",
        notary.log()
    );
    assert!(!out.contains("not authorized"), "{out}{err}");
    // Without a role, the same command is refused.
    let (ok, out, err) = notary_cli(
        &["-s", &notary.url, "list", &gun],
        &[("NOTARY_AUTH", &notary_auth(NULL_USER, &stranger))],
    )
    .await;
    assert!(!ok);
    assert!(out.contains("not authorized"), "{out}{err}");
}
