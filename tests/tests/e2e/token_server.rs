//! The registry token server: `az acr login`'s exchange, Docker's token requests, access
//! computed from role assignments at issue time, and a real Distribution registry (Debian's
//! `docker-registry`) driven by `skopeo` that accepts or refuses what the tokens grant.

use super::auth::{ACR_PUSH, assign, principal};
use super::*;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use berth_tests::registry::{DockerRegistry, oci_layout, skopeo};
use berth_tests::{Backend, spawn_app};

const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
const NULL_USER: &str = "00000000-0000-0000-0000-000000000000";

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> berth_tests::Reply {
    let body: String = form_urlencoded(fields);
    let response = app
        .client
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
    berth_tests::Reply {
        status,
        headers,
        body,
    }
}

fn form_urlencoded(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencoding::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A service principal holding `role` at the registry, and its refresh token from the
/// exchange (as `az acr login` gets it).
async fn signed_in(
    app: &TestApp,
    registry: &str,
    role: &str,
    name: &str,
) -> (String, (String, String), String) {
    let (object, creds) = principal(app, name).await;
    if !role.is_empty() {
        assign(app, registry, role, &object).await;
    }
    let aad = berth_tests::client_token(
        &app.client,
        &app.base,
        &creds,
        "https://containerregistry.azure.net/.default",
    )
    .await;
    let login_server = login_server(app, registry).await;
    let exchanged = form(
        app,
        "/oauth2/exchange",
        &[
            ("grant_type", "access_token"),
            ("service", &login_server),
            ("access_token", &aad),
        ],
    )
    .await;
    assert_eq!(exchanged.status, StatusCode::OK, "{:?}", exchanged.body);
    (
        object,
        creds,
        exchanged.body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn login_server(app: &TestApp, registry: &str) -> String {
    let (_, body) = app.get(&format!("{registry}?api-version={API}")).await;
    body["properties"]["loginServer"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn access(app: &TestApp, service: &str, scope: &str, refresh: &str) -> berth_tests::Reply {
    form(
        app,
        "/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("service", service),
            ("scope", scope),
            ("refresh_token", refresh),
        ],
    )
    .await
}

both_backends! {
    async fn access_is_computed_from_role_assignments_when_the_token_is_issued(app) {
        app.create_group("tok").await;
        app.create_registry("tok", "tokreg01", "Basic").await;
        let registry = app.registry_path("tok", "tokreg01");
        let service = login_server(&app, &registry).await;
        let (pusher, _, refresh) = signed_in(&app, &registry, ACR_PUSH, "pusher").await;
        let refresh_claims = claims(&refresh);
        assert_eq!(refresh_claims["aud"], service.as_str());
        assert_eq!(refresh_claims["grant_type"], "refresh_token");
        assert!(refresh_claims["exp"].as_i64().unwrap() - refresh_claims["iat"].as_i64().unwrap() <= 3 * 3600);

        let t = access(&app, &service, "repository:team/app:pull,push registry:catalog:*", &refresh).await;
        assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
        assert_eq!(t.body["access_token"], t.body["token"]);
        let c = claims(t.body["access_token"].as_str().unwrap());
        assert_eq!(c["aud"], service.as_str());
        assert_eq!(c["iss"], "berth-token-server");
        assert_eq!(c["access"], json!([
            {"type": "repository", "name": "team/app", "actions": ["pull", "push"]},
            {"type": "registry", "name": "catalog", "actions": ["*"]}
        ]));
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(t.body["access_token"].as_str().unwrap().split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"].as_str().unwrap().split(':').count(), 12, "a libtrust key id");

        // AcrPull: push is dropped, not failed.
        let (_, puller_creds, puller) = signed_in(&app, &registry, ACR_PULL, "puller").await;
        let t = access(&app, &service, "repository:team/app:pull,push,delete", &puller).await;
        assert_eq!(claims(t.body["access_token"].as_str().unwrap())["access"], json!([{"type": "repository", "name": "team/app", "actions": ["pull"]}]));
        // Basic with the service principal's own credentials works too (GET, as Docker does).
        let basic = STANDARD.encode(format!("{}:{}", puller_creds.0, puller_creds.1));
        let r = app.send_as(reqwest::Method::GET, &format!("/oauth2/token?service={service}&scope=repository:team/app:pull"), None, &[("authorization", &format!("Basic {basic}"))]).await;
        assert_eq!(claims(r.body["token"].as_str().unwrap())["access"][0]["actions"], json!(["pull"]));

        // The role is removed: the same refresh token's next access token grants nothing.
        let (_, listed) = app.get(&format!("{registry}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=principalId%20eq%20%27{pusher}%27")).await;
        let id = listed["value"][0]["id"].as_str().unwrap();
        assert_eq!(app.delete(&format!("{id}?api-version=2022-04-01")).await.status, StatusCode::OK);
        let t = access(&app, &service, "repository:team/app:pull,push", &refresh).await;
        assert_eq!(t.status, StatusCode::OK);
        assert_eq!(claims(t.body["access_token"].as_str().unwrap())["access"], json!([]));

        // Anonymous: a token that grants nothing, never a 401 (Notary and Docker ask so first).
        let anon = app.send_as(reqwest::Method::GET, &format!("/oauth2/token?service={service}&scope=repository:team/app:pull"), None, &[]).await;
        assert_eq!(anon.status, StatusCode::OK);
        assert_eq!(claims(anon.body["token"].as_str().unwrap())["access"], json!([]));
        // ... unless the registry allows anonymous pull (Standard and up).
        let up = app.patch(&format!("{registry}?api-version={API}"), &json!({"sku": {"name": "Standard"}, "properties": {"anonymousPullEnabled": true}})).await;
        assert_eq!(up.status, StatusCode::OK, "{:?}", up.body);
        let anon = app.send_as(reqwest::Method::GET, &format!("/oauth2/token?service={service}&scope=repository:team/app:pull,push"), None, &[]).await;
        assert_eq!(claims(anon.body["token"].as_str().unwrap())["access"][0]["actions"], json!(["pull"]));

        // Deleting the principal revokes its refresh token.
        assert_eq!(app.delete(&format!("/v1.0/servicePrincipals/{pusher}")).await.status, StatusCode::NO_CONTENT);
        let gone = access(&app, &service, "repository:team/app:pull", &refresh).await;
        assert_eq!((gone.status, gone.body["errors"][0]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("UNAUTHORIZED")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_requests_get_docker_errors() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_group("bad").await;
    app.create_registry("bad", "badreg01", "Basic").await;
    app.create_registry("bad", "otherreg1", "Basic").await;
    let registry = app.registry_path("bad", "badreg01");
    let service = login_server(&app, &registry).await;
    let other = login_server(&app, &app.registry_path("bad", "otherreg1")).await;
    let (_, creds, refresh) = signed_in(&app, &registry, ACR_PULL, "badcaller").await;
    let check = |r: &berth_tests::Reply, status: StatusCode, code: &str| {
        assert_eq!(r.status, status, "{:?}", r.body);
        assert_eq!(r.body["errors"][0]["code"], code, "{:?}", r.body);
    };
    let long = format!("repository:{}:pull", "a".repeat(600));
    for (fields, status, code) in [
        (
            vec![
                ("grant_type", "magic"),
                ("service", service.as_str()),
                ("refresh_token", refresh.as_str()),
            ],
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
            ],
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("service", "nowhere.example"),
                ("refresh_token", refresh.as_str()),
            ],
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("service", service.as_str()),
                ("scope", "repository:app"),
                ("refresh_token", refresh.as_str()),
            ],
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("service", service.as_str()),
                ("scope", long.as_str()),
                ("refresh_token", refresh.as_str()),
            ],
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("service", other.as_str()),
                ("refresh_token", refresh.as_str()),
            ],
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("service", service.as_str()),
                ("refresh_token", &format!("{refresh}x")),
            ],
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("service", service.as_str()),
                ("username", creds.0.as_str()),
                ("password", "wrong-secret"),
            ],
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
        ),
    ] {
        let r = form(&app, "/oauth2/token", &fields).await;
        check(&r, status, code);
    }
    // An access token is no refresh token.
    let t = access(&app, &service, "repository:app:pull", &refresh).await;
    let access_token = t.body["access_token"].as_str().unwrap().to_owned();
    check(
        &access(&app, &service, "repository:app:pull", &access_token).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    // A refresh token that has expired, made with the server's own key.
    let db = app.database().await;
    let row =
        <berth_infra::persistence::entities::token_server_key::Entity as sea_orm::EntityTrait>::find()
            .all(db.writer())
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.purpose == "refresh-hs256")
            .unwrap();
    let mut expired = claims(&refresh);
    expired["exp"] = json!(expired["iat"].as_i64().unwrap() - 3600);
    expired["nbf"] = json!(expired["iat"].as_i64().unwrap() - 7200);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(row.kid.clone());
    let forged = jsonwebtoken::encode(
        &header,
        &expired,
        &jsonwebtoken::EncodingKey::from_secret(&STANDARD.decode(&row.material).unwrap()),
    )
    .unwrap();
    check(
        &access(&app, &service, "repository:app:pull", &forged).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    // The same forgery, unexpired, is accepted: the expiry is what refused it.
    expired["exp"] = json!(expired["iat"].as_i64().unwrap() + 3600);
    let fresh = jsonwebtoken::encode(
        &header,
        &expired,
        &jsonwebtoken::EncodingKey::from_secret(&STANDARD.decode(&row.material).unwrap()),
    )
    .unwrap();
    assert_eq!(
        access(&app, &service, "repository:app:pull", &fresh)
            .await
            .status,
        StatusCode::OK
    );

    // The exchange refuses what is not a valid access token, and the wrong tenant.
    let bad = form(
        &app,
        "/oauth2/exchange",
        &[
            ("grant_type", "access_token"),
            ("service", &service),
            ("access_token", "garbage"),
        ],
    )
    .await;
    check(&bad, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let aad = berth_tests::client_token(
        &app.client,
        &app.base,
        &creds,
        "https://containerregistry.azure.net/.default",
    )
    .await;
    let wrong_tenant = form(
        &app,
        "/oauth2/exchange",
        &[
            ("grant_type", "access_token"),
            ("service", &service),
            ("tenant", "11111111-1111-1111-1111-111111111111"),
            ("access_token", &aad),
        ],
    )
    .await;
    check(&wrong_tenant, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let graph = form(
        &app,
        "/oauth2/exchange",
        &[
            ("grant_type", "access_token"),
            ("service", &service),
            ("access_token", &app.graph_token),
        ],
    )
    .await;
    check(&graph, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let json_body = app
        .send_as(
            reqwest::Method::POST,
            "/oauth2/token",
            Some(&json!({"grant_type": "refresh_token"})),
            &[],
        )
        .await;
    check(&json_body, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_registry_accepts_pushes_and_pulls_only_as_roles_allow() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_group("data").await;
    app.create_registry("data", "datareg01", "Basic").await;
    let registry = app.registry_path("data", "datareg01");
    let service = login_server(&app, &registry).await;
    let distribution = DockerRegistry::start(
        &app.base,
        &service,
        "berth-token-server",
        &app.data_dir.path().join("registry-token-certs.pem"),
    )
    .await;
    let (pusher, _, push_refresh) = signed_in(&app, &registry, ACR_PUSH, "dp-pusher").await;
    let (_, puller_creds, pull_refresh) = signed_in(&app, &registry, ACR_PULL, "dp-puller").await;
    let layout = tempfile::tempdir().unwrap();
    let source = format!("oci:{}:v1", oci_layout(layout.path(), "v1").display());
    let target = |repo: &str| format!("docker://{}/{repo}:v1", distribution.address);
    let creds = |refresh: &str| format!("{NULL_USER}:{refresh}");

    let (ok, err) = skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds(&push_refresh),
        &source,
        &target("team/app"),
    ])
    .await;
    assert!(ok, "AcrPush pushes: {err}");
    let out = tempfile::tempdir().unwrap();
    let pulled = format!("oci:{}:v1", out.path().display());
    let (ok, err) = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        &creds(&pull_refresh),
        &target("team/app"),
        &pulled,
    ])
    .await;
    assert!(ok, "AcrPull pulls: {err}");
    // The service principal's own appId and secret work as Basic credentials too.
    let (ok, err) = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--creds",
        &format!("{}:{}", puller_creds.0, puller_creds.1),
        &target("team/app"),
    ])
    .await;
    assert!(ok, "Basic appId:secret pulls: {err}");
    let (ok, _) = skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds(&pull_refresh),
        &source,
        &target("team/other"),
    ])
    .await;
    assert!(!ok, "AcrPull cannot push");
    let (ok, _) = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--no-creds",
        &target("team/app"),
    ])
    .await;
    assert!(!ok, "anonymous pull is off");

    // AcrPush is taken away: the next skopeo run, with the same refresh token, is refused.
    let (_, listed) = app.get(&format!("{registry}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=principalId%20eq%20%27{pusher}%27")).await;
    let id = listed["value"][0]["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("{id}?api-version=2022-04-01"))
            .await
            .status,
        StatusCode::OK
    );
    let (ok, _) = skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds(&push_refresh),
        &source,
        &target("team/app2"),
    ])
    .await;
    assert!(!ok, "a removed role takes effect at the next token");
}
