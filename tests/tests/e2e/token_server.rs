//! The registry token server: `az acr login`'s exchange, Docker's token requests, access
//! computed from role assignments at issue time, and a real Distribution registry (Debian's
//! `docker-registry`) driven by `skopeo` that accepts or refuses what the tokens grant.

use super::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
/// Kept under this path for the modules that name them here.
pub(super) use berth_tests::fixtures::{access, login_server, signed_in};
use berth_tests::jwt_claims;
use berth_tests::registry::{DockerRegistry, oci_layout, skopeo};
use berth_tests::roles::{ACR_PULL, ACR_PUSH, NULL_USER, assign};
use berth_tests::{Backend, Reply, spawn_app};

both_backends! {
    async fn access_is_computed_from_role_assignments_when_the_token_is_issued(app) {
        app.create_group("tok").await;
        app.create_registry("tok", "tokreg01", "Basic").await;
        let registry = app.registry_path("tok", "tokreg01");
        let service = login_server(&app, &registry).await;
        let (pusher, _, refresh) = signed_in(&app, &registry, ACR_PUSH, "pusher").await;
        let refresh_claims = jwt_claims(&refresh);
        assert_eq!(refresh_claims["aud"], service.as_str());
        assert_eq!(refresh_claims["grant_type"], "refresh_token");
        assert!(refresh_claims["exp"].as_i64().unwrap() - refresh_claims["iat"].as_i64().unwrap() <= 3 * 3600);

        let t = access(&app, &service, "repository:team/app:pull,push registry:catalog:*", &refresh).await;
        assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
        assert_eq!(t.body["access_token"], t.body["token"]);
        let c = jwt_claims(t.body["access_token"].as_str().unwrap());
        assert_eq!(c["aud"], service.as_str());
        assert_eq!(c["iss"], "berth-token-server");
        assert_eq!(c["access"], json!([
            {"type": "repository", "name": "team/app", "actions": ["pull", "push"]},
            {"type": "registry", "name": "catalog", "actions": ["*"]}
        ]));
        let header = berth_tests::jwt_part(t.body["access_token"].as_str().unwrap(), 0);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"].as_str().unwrap().split(':').count(), 12, "a libtrust key id");

        // AcrPull: push is dropped, not failed.
        let (_, puller_creds, puller) = signed_in(&app, &registry, ACR_PULL, "puller").await;
        let t = access(&app, &service, "repository:team/app:pull,push,delete", &puller).await;
        assert_eq!(jwt_claims(t.body["access_token"].as_str().unwrap())["access"], json!([{"type": "repository", "name": "team/app", "actions": ["pull"]}]));
        // Basic with the service principal's own credentials works too (GET, as Docker does);
        // with offline_token=true Docker also gets a refresh token, which it keeps.
        let basic = STANDARD.encode(format!("{}:{}", puller_creds.0, puller_creds.1));
        let r = app.send_as(reqwest::Method::GET, &format!("/oauth2/token?service={service}&scope=repository:team/app:pull&offline_token=true&client_id=docker"), None, &[("authorization", &format!("Basic {basic}"))]).await;
        assert_eq!(jwt_claims(r.body["token"].as_str().unwrap())["access"][0]["actions"], json!(["pull"]));
        let kept = r.body["refresh_token"].as_str().unwrap().to_owned();
        // Docker refreshes with a POST whose scopes are space-joined and which names its client.
        let again = app.post_form("/oauth2/token", &[("grant_type", "refresh_token"), ("service", &service), ("client_id", "docker"),
            ("scope", "repository:team/app:pull repository:team/base:pull"), ("refresh_token", &kept)]).await;
        assert_eq!(jwt_claims(again.body["access_token"].as_str().unwrap())["access"].as_array().unwrap().len(), 2);
        let without = app.send_as(reqwest::Method::GET, &format!("/oauth2/token?service={service}&scope=repository:team/app:pull"), None, &[("authorization", &format!("Basic {basic}"))]).await;
        assert!(without.body["refresh_token"].is_null(), "no refresh token unless asked");

        // The role is removed: the same refresh token's next access token grants nothing.
        let (_, listed) = app.get(&format!("{registry}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=principalId%20eq%20%27{pusher}%27")).await;
        let id = listed["value"][0]["id"].as_str().unwrap();
        assert_eq!(app.delete(&format!("{id}?api-version=2022-04-01")).await.status, StatusCode::OK);
        let t = access(&app, &service, "repository:team/app:pull,push", &refresh).await;
        assert_eq!(t.status, StatusCode::OK);
        assert_eq!(jwt_claims(t.body["access_token"].as_str().unwrap())["access"], json!([]));

        // Anonymous: a token that grants nothing, never a 401 (Notary and Docker ask so first).
        let anon = app.send_as(reqwest::Method::GET, &format!("/oauth2/token?service={service}&scope=repository:team/app:pull"), None, &[]).await;
        assert_eq!(anon.status, StatusCode::OK);
        assert_eq!(jwt_claims(anon.body["token"].as_str().unwrap())["access"], json!([]));
        // ... unless the registry allows anonymous pull (Standard and up).
        let up = app.patch(&format!("{registry}?api-version={API}"), &json!({"sku": {"name": "Standard"}, "properties": {"anonymousPullEnabled": true}})).await;
        assert_eq!(up.status, StatusCode::OK, "{:?}", up.body);
        let anon = app.send_as(reqwest::Method::GET, &format!("/oauth2/token?service={service}&scope=repository:team/app:pull,push"), None, &[]).await;
        assert_eq!(jwt_claims(anon.body["token"].as_str().unwrap())["access"][0]["actions"], json!(["pull"]));

        // Deleting the principal revokes its refresh token.
        assert_eq!(app.delete(&format!("/v1.0/servicePrincipals/{pusher}")).await.status, StatusCode::NO_CONTENT);
        let gone = access(&app, &service, "repository:team/app:pull", &refresh).await;
        assert_eq!((gone.status, gone.body["errors"][0]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("UNAUTHORIZED")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_requests_get_docker_errors() {
    let app = spawn_app(Backend::Sqlite).await;
    let caller = step_a_puller_of_one_of_two_registries(&app).await;
    step_malformed_token_requests_are_bad_requests(&app, &caller).await;
    step_foreign_or_wrong_credentials_are_unauthorized(&app, &caller).await;
    step_an_access_token_is_no_refresh_token(&app, &caller).await;
    step_an_expired_refresh_token_is_refused_for_its_expiry_alone(&app, &caller).await;
    step_the_exchange_refuses_bad_access_tokens_and_the_wrong_tenant(&app, &caller).await;
    step_a_json_body_is_no_token_request(&app).await;
}

/// What the steps of [`bad_token_requests_get_docker_errors`] share: the login servers of
/// the caller's registry and of another one, and the caller's credentials and refresh token.
struct BadCaller {
    service: String,
    other: String,
    creds: (String, String),
    refresh: String,
}

/// Asserts a Docker token error: its status, and the code of its first error.
fn docker_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.body["errors"][0]["code"], code, "{:?}", r.body);
}

/// Two Basic registries, and an AcrPull service principal of the first signed in to it.
async fn step_a_puller_of_one_of_two_registries(app: &TestApp) -> BadCaller {
    app.create_group("bad").await;
    app.create_registry("bad", "badreg01", "Basic").await;
    app.create_registry("bad", "otherreg1", "Basic").await;
    let registry = app.registry_path("bad", "badreg01");
    let service = login_server(app, &registry).await;
    let other = login_server(app, &app.registry_path("bad", "otherreg1")).await;
    let (_, creds, refresh) = signed_in(app, &registry, ACR_PULL, "badcaller").await;
    BadCaller {
        service,
        other,
        creds,
        refresh,
    }
}

/// An unknown grant, a missing or unknown service, a scope without actions and one too
/// long: 400, as Docker's token errors.
async fn step_malformed_token_requests_are_bad_requests(app: &TestApp, caller: &BadCaller) {
    let BadCaller {
        service, refresh, ..
    } = caller;
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
    ] {
        let r = app.post_form("/oauth2/token", &fields).await;
        docker_error(&r, status, code);
    }
}

/// Another registry's login server, a refresh token tampered with, and a wrong secret: 401.
async fn step_foreign_or_wrong_credentials_are_unauthorized(app: &TestApp, caller: &BadCaller) {
    let BadCaller {
        service,
        other,
        creds,
        refresh,
    } = caller;
    for (fields, status, code) in [
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
        let r = app.post_form("/oauth2/token", &fields).await;
        docker_error(&r, status, code);
    }
}

/// An access token is no refresh token.
async fn step_an_access_token_is_no_refresh_token(app: &TestApp, caller: &BadCaller) {
    let t = access(app, &caller.service, "repository:app:pull", &caller.refresh).await;
    let access_token = t.body["access_token"].as_str().unwrap().to_owned();
    docker_error(
        &access(app, &caller.service, "repository:app:pull", &access_token).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
}

/// The server's refresh-token key: its kid and its secret, unsealed. The secret is sealed
/// at rest: only a holder of the secrets key (here, in the data directory) can forge with it.
async fn refresh_token_key(app: &TestApp) -> (String, Vec<u8>) {
    use berth_domain::registry::SecretBox as _;
    let db = app.database().await;
    let row =
        <berth_infra::persistence::entities::token_server_key::Entity as sea_orm::EntityTrait>::find()
            .all(db.writer())
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.purpose == "refresh-hs256")
            .unwrap();
    let sealing = berth_infra::sealing::AesGcmBox::from_config(None, app.data_dir.path()).unwrap();
    let secret = STANDARD
        .decode(
            sealing
                .open(
                    &row.material,
                    &berth_infra::sealing::token_server_key_aad(&row.purpose, &row.kid),
                )
                .unwrap(),
        )
        .unwrap();
    (row.kid, secret)
}

/// A refresh token that has expired, made with the server's own key, is refused; the same
/// forgery, unexpired, is accepted.
async fn step_an_expired_refresh_token_is_refused_for_its_expiry_alone(
    app: &TestApp,
    caller: &BadCaller,
) {
    let (kid, secret) = refresh_token_key(app).await;
    let mut expired = jwt_claims(&caller.refresh);
    expired["exp"] = json!(expired["iat"].as_i64().unwrap() - 3600);
    expired["nbf"] = json!(expired["iat"].as_i64().unwrap() - 7200);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid);
    let key = jsonwebtoken::EncodingKey::from_secret(&secret);
    let forged = jsonwebtoken::encode(&header, &expired, &key).unwrap();
    docker_error(
        &access(app, &caller.service, "repository:app:pull", &forged).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    // The same forgery, unexpired, is accepted: the expiry is what refused it.
    expired["exp"] = json!(expired["iat"].as_i64().unwrap() + 3600);
    let fresh = jsonwebtoken::encode(&header, &expired, &key).unwrap();
    assert_eq!(
        access(app, &caller.service, "repository:app:pull", &fresh)
            .await
            .status,
        StatusCode::OK
    );
}

/// `az acr login`'s exchange of an access token at `service`.
async fn exchange(app: &TestApp, service: &str, access_token: &str) -> Reply {
    app.post_form(
        "/oauth2/exchange",
        &[
            ("grant_type", "access_token"),
            ("service", service),
            ("access_token", access_token),
        ],
    )
    .await
}

/// A service principal's access token for the registry's resource, as `az acr login` gets it.
async fn registry_aad_token(app: &TestApp, creds: &(String, String)) -> String {
    berth_tests::client_token(
        &app.client,
        &app.base,
        creds,
        "https://containerregistry.azure.net/.default",
    )
    .await
}

/// The exchange refuses what is not a valid access token, and the wrong tenant.
async fn step_the_exchange_refuses_bad_access_tokens_and_the_wrong_tenant(
    app: &TestApp,
    caller: &BadCaller,
) {
    let service = &caller.service;
    let bad = exchange(app, service, "garbage").await;
    docker_error(&bad, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let aad = registry_aad_token(app, &caller.creds).await;
    let wrong_tenant = app
        .post_form(
            "/oauth2/exchange",
            &[
                ("grant_type", "access_token"),
                ("service", service),
                ("tenant", "11111111-1111-1111-1111-111111111111"),
                ("access_token", &aad),
            ],
        )
        .await;
    docker_error(&wrong_tenant, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let graph = exchange(app, service, &app.graph_token).await;
    docker_error(&graph, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

/// A token request must be a form: a JSON body is an invalid request.
async fn step_a_json_body_is_no_token_request(app: &TestApp) {
    let json_body = app
        .send_as(
            reqwest::Method::POST,
            "/oauth2/token",
            Some(&json!({"grant_type": "refresh_token"})),
            &[],
        )
        .await;
    docker_error(&json_body, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_user_works_only_while_enabled_and_with_its_current_passwords() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_group("adm").await;
    app.create_registry("adm", "admreg01", "Basic").await;
    let registry = app.registry_path("adm", "admreg01");
    let service = login_server(&app, &registry).await;
    let (first, second) = step_the_admin_user_has_two_passwords_once_enabled(&app, &registry).await;
    step_the_passwords_are_sealed_at_rest(&app, &first, &second).await;
    step_either_password_gets_a_token_with_every_action(&app, &service, &first, &second).await;
    let distribution =
        step_a_real_registry_takes_the_admin_users_pushes(&app, &service, &first).await;
    let new_first =
        step_regenerating_one_password_retires_it_alone(&app, &registry, &service, &first, &second)
            .await;
    step_disabled_the_admin_user_is_refused(&app, &registry, &service, &new_first, &distribution)
        .await;
}

/// `Basic` credentials.
fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// A token for every action on `app` from `service`, asked with `auth` as Docker does (GET).
async fn admin_token(app: &TestApp, service: &str, auth: &str) -> Reply {
    app.send_as(
        reqwest::Method::GET,
        &format!("/oauth2/token?service={service}&scope=repository:app:pull,push,delete"),
        None,
        &[("authorization", auth)],
    )
    .await
}

/// The admin user's credentials are refused while it is off; enabled, it has two
/// passwords, which are kept, not made anew. Returns them.
async fn step_the_admin_user_has_two_passwords_once_enabled(
    app: &TestApp,
    registry: &str,
) -> (String, String) {
    let list = format!("{registry}/listCredentials?api-version={API}");
    let disabled = app.send(reqwest::Method::POST, &list, None, &[]).await;
    assert_eq!(
        (disabled.status, disabled.error_code()),
        (StatusCode::BAD_REQUEST, "AdminUserDisabled")
    );
    let on = app
        .patch(
            &format!("{registry}?api-version={API}"),
            &json!({"properties": {"adminUserEnabled": true}}),
        )
        .await;
    assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
    let creds = app.send(reqwest::Method::POST, &list, None, &[]).await;
    assert_eq!(creds.status, StatusCode::OK, "{:?}", creds.body);
    assert_eq!(creds.body["username"], "admreg01");
    let names: Vec<&str> = creds.body["passwords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["password", "password2"]);
    let value = |n: usize| {
        creds.body["passwords"][n]["value"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (first, second) = (value(0), value(1));
    let again = app.send(reqwest::Method::POST, &list, None, &[]).await;
    assert_eq!(
        again.body, creds.body,
        "the passwords are kept, not made anew"
    );
    (first, second)
}

/// Sealed at rest: the database never holds a password in clear.
async fn step_the_passwords_are_sealed_at_rest(app: &TestApp, first: &str, second: &str) {
    let db = app.database().await;
    let rows =
        <berth_infra::persistence::entities::admin_password::Entity as sea_orm::EntityTrait>::find(
        )
        .all(db.writer())
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| !r.sealed.contains(first) && !r.sealed.contains(second))
    );
}

/// Either password, with the registry's name in any case, gets a token for every action;
/// a wrong one gets none.
async fn step_either_password_gets_a_token_with_every_action(
    app: &TestApp,
    service: &str,
    first: &str,
    second: &str,
) {
    let t = admin_token(app, service, &basic("admreg01", first)).await;
    assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
    assert_eq!(
        jwt_claims(t.body["token"].as_str().unwrap())["access"][0]["actions"],
        json!(["pull", "push", "delete"])
    );
    assert_eq!(
        admin_token(app, service, &basic("ADMREG01", second))
            .await
            .status,
        StatusCode::OK,
        "the user name is the registry's, any case"
    );
    assert_eq!(
        admin_token(app, service, &basic("admreg01", "wrong"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

/// A real registry takes the admin user's pushes; it is returned to serve the later steps.
async fn step_a_real_registry_takes_the_admin_users_pushes(
    app: &TestApp,
    service: &str,
    first: &str,
) -> DockerRegistry {
    let distribution = DockerRegistry::start(
        &app.base,
        service,
        "berth-token-server",
        &app.data_dir.path().join("registry-token-certs.pem"),
    )
    .await;
    let layout = tempfile::tempdir().unwrap();
    let source = format!("oci:{}:v1", oci_layout(layout.path(), "v1").display());
    let (ok, err) = skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &format!("admreg01:{first}"),
        &source,
        &format!("docker://{}/app:v1", distribution.address),
    ])
    .await;
    assert!(ok, "the admin user pushes: {err}");
    distribution
}

/// Regenerating one password retires it at once; the other keeps working, and there is no
/// third to regenerate. Returns the new first password.
async fn step_regenerating_one_password_retires_it_alone(
    app: &TestApp,
    registry: &str,
    service: &str,
    first: &str,
    second: &str,
) -> String {
    let regenerate = |name: &str| {
        let body = json!({"name": name});
        async move {
            app.send(
                reqwest::Method::POST,
                &format!("{registry}/regenerateCredential?api-version={API}"),
                Some(&body),
                &[],
            )
            .await
        }
    };
    let renewed = regenerate("password").await;
    assert_eq!(renewed.status, StatusCode::OK, "{:?}", renewed.body);
    let new_first = renewed.body["passwords"][0]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_first, first);
    assert_eq!(renewed.body["passwords"][1]["value"], second);
    assert_eq!(
        admin_token(app, service, &basic("admreg01", first))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        admin_token(app, service, &basic("admreg01", &new_first))
            .await
            .status,
        StatusCode::OK
    );
    let bad = regenerate("password3").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    new_first
}

/// Disabled: its credentials fail at once, and the real registry refuses it.
async fn step_disabled_the_admin_user_is_refused(
    app: &TestApp,
    registry: &str,
    service: &str,
    password: &str,
    distribution: &DockerRegistry,
) {
    let off = app
        .patch(
            &format!("{registry}?api-version={API}"),
            &json!({"properties": {"adminUserEnabled": false}}),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK);
    assert_eq!(
        admin_token(app, service, &basic("admreg01", password))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let (ok, _) = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--creds",
        &format!("admreg01:{password}"),
        &format!("docker://{}/app:v1", distribution.address),
    ])
    .await;
    assert!(!ok, "a disabled admin user is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_scopes_need_content_trust_push_rights_and_the_signer_role() {
    let app = berth_tests::spawn_app_with(
        Backend::Sqlite,
        berth_tests::SpawnOptions {
            notary: true,
            ..berth_tests::SpawnOptions::default()
        },
    )
    .await;
    app.create_group("trust").await;
    app.create_registry("trust", "trustreg1", "Premium").await;
    let registry = app.registry_path("trust", "trustreg1");
    let gun = format!("{}/app", login_server(&app, &registry).await);
    let scope = format!("repository:{gun}:push,pull");
    let (signer, _, signer_refresh) = signed_in(&app, &registry, ACR_PUSH, "trust-signer").await;
    assign(
        &app,
        &registry,
        "6cef56e8-d556-48e5-a04f-b8e64114680f",
        &signer,
    )
    .await;
    let (_, _, pusher_refresh) = signed_in(&app, &registry, ACR_PUSH, "trust-pusher").await;
    let granted = |r: berth_tests::Reply| {
        jwt_claims(r.body["access_token"].as_str().unwrap())["access"].clone()
    };

    // Content trust off: nobody may push trust data.
    assert_eq!(
        granted(access(&app, berth_tests::notary::SERVICE, &scope, &signer_refresh).await),
        json!([{"type": "repository", "name": gun, "actions": ["pull"]}])
    );
    let on = app.patch(&format!("{registry}?api-version={API}"), &json!({"properties": {"policies": {"trustPolicy": {"type": "Notary", "status": "enabled"}}}})).await;
    assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
    assert_eq!(
        granted(access(&app, berth_tests::notary::SERVICE, &scope, &signer_refresh).await),
        json!([{"type": "repository", "name": gun, "actions": ["push", "pull"]}])
    );
    // AcrPush without AcrImageSigner: pull only.
    assert_eq!(
        granted(access(&app, berth_tests::notary::SERVICE, &scope, &pusher_refresh).await),
        json!([{"type": "repository", "name": gun, "actions": ["pull"]}])
    );
    // The admin user never pushes trust data.
    let password = super::docker_credentials::admin_password(&app, &registry).await;
    let admin = app
        .send_as(
            reqwest::Method::GET,
            &format!(
                "/oauth2/token?service={}&scope={}",
                berth_tests::notary::SERVICE,
                urlencoding::encode(&scope)
            ),
            None,
            &[(
                "authorization",
                &format!("Basic {}", STANDARD.encode(format!("trustreg1:{password}"))),
            )],
        )
        .await;
    assert_eq!(
        jwt_claims(admin.body["token"].as_str().unwrap())["access"],
        json!([{"type": "repository", "name": gun, "actions": ["pull"]}])
    );
    // A refresh token of one registry reaches no other registry's trust data.
    let elsewhere = access(
        &app,
        berth_tests::notary::SERVICE,
        "repository:otherreg.registry.localhost/app:pull",
        &signer_refresh,
    )
    .await;
    assert_eq!(granted(elsewhere), json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_map_token_reaches_only_its_repositories() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_group("scoped").await;
    app.create_registry("scoped", "scopedreg1", "Basic").await;
    let registry = app.registry_path("scoped", "scopedreg1");
    let scoped = Scoped {
        service: login_server(&app, &registry).await,
        registry,
    };
    let map_id = step_a_user_defined_scope_map_is_made_beside_the_system_ones(&app, &scoped).await;
    let token_id = step_a_token_is_made_with_that_scope_map(&app, &scoped, &map_id).await;
    let password = step_the_tokens_password_is_shown_once(&app, &scoped, &token_id).await;
    step_the_token_is_granted_only_what_its_scope_map_allows(&app, &scoped, &password).await;
    let _distribution = step_a_real_registry_agrees(&app, &scoped, &password).await;
    step_a_disabled_token_is_refused_and_frees_its_scope_map(&app, &scoped, &password).await;
}

/// The registry of [`a_scope_map_token_reaches_only_its_repositories`] and its login server.
struct Scoped {
    registry: String,
    service: String,
}

impl Scoped {
    /// The ARM URL of `tail` under the registry.
    fn url(&self, tail: &str) -> String {
        format!("{}/{tail}?api-version={API}", self.registry)
    }
}

/// The system scope maps are there; a user-defined one is made and listed after them, a
/// bad one is refused, and the system ones cannot change. Returns the new map's id.
async fn step_a_user_defined_scope_map_is_made_beside_the_system_ones(
    app: &TestApp,
    scoped: &Scoped,
) -> String {
    let (_, maps) = app.get(&scoped.url("scopeMaps")).await;
    let names: Vec<&str> = maps["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"_repositories_pull") && names.contains(&"_repositories_admin"),
        "{names:?}"
    );
    let made = app.put(&scoped.url("scopeMaps/team-app-rw"), &json!({"properties": {"description": "team/app read-write",
        "actions": ["repositories/team/app/content/read", "repositories/team/app/content/write", "repositories/samples/*/content/read"]}})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    assert_eq!(made.body["properties"]["type"], "UserDefined");
    for (body, why) in [
        (
            json!({"properties": {"actions": ["repositories/team/app/content/run"]}}),
            "an unknown permission",
        ),
        (json!({"properties": {"actions": []}}), "no action"),
    ] {
        let r = app.put(&scoped.url("scopeMaps/badmap01"), &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}: {:?}", r.body);
    }
    let system = app
        .put(
            &scoped.url("scopeMaps/_repositories_pull"),
            &json!({"properties": {"actions": ["repositories/x/content/read"]}}),
        )
        .await;
    assert_eq!(
        system.status,
        StatusCode::BAD_REQUEST,
        "system scope maps cannot change"
    );
    made.body["id"].as_str().unwrap().to_owned()
}

/// A token with that scope map is made; one with a scope map that does not exist is not.
/// Returns the token's id.
async fn step_a_token_is_made_with_that_scope_map(
    app: &TestApp,
    scoped: &Scoped,
    map_id: &str,
) -> Value {
    let token = app
        .put(
            &scoped.url("tokens/ci-robot"),
            &json!({"properties": {"scopeMapId": map_id, "status": "enabled"}}),
        )
        .await;
    assert_eq!(token.status, StatusCode::CREATED, "{:?}", token.body);
    let unknown_map = app
        .put(
            &scoped.url("tokens/ci-robot2"),
            &json!({"properties": {"scopeMapId": format!("{}/scopeMaps/nosuchmap", scoped.registry)}}),
        )
        .await;
    assert_eq!(unknown_map.status, StatusCode::BAD_REQUEST);
    token.body["id"].clone()
}

/// A password is generated for the token, and shown once: reading the token again shows
/// its name, not its value. Returns it.
async fn step_the_tokens_password_is_shown_once(
    app: &TestApp,
    scoped: &Scoped,
    token_id: &Value,
) -> String {
    let generated = app
        .send(
            reqwest::Method::POST,
            &scoped.url("generateCredentials"),
            Some(&json!({"tokenId": token_id, "name": "password1"})),
            &[],
        )
        .await;
    assert_eq!(generated.status, StatusCode::OK, "{:?}", generated.body);
    assert_eq!(generated.body["username"], "ci-robot");
    let password = generated.body["passwords"][0]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, shown) = app.get(&scoped.url("tokens/ci-robot")).await;
    assert!(
        shown["properties"]["credentials"]["passwords"][0]["value"].is_null(),
        "a password is shown once"
    );
    assert_eq!(
        shown["properties"]["credentials"]["passwords"][0]["name"],
        "password1"
    );
    password
}

/// What a token for `scope` asked with `auth` (GET, as Docker does) grants.
async fn granted_to(app: &TestApp, service: &str, scope: &str, auth: &str) -> Value {
    let r = app
        .send_as(
            reqwest::Method::GET,
            &format!(
                "/oauth2/token?service={service}&scope={}",
                urlencoding::encode(scope)
            ),
            None,
            &[("authorization", auth)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    jwt_claims(r.body["token"].as_str().unwrap())["access"].clone()
}

/// The token is granted what its scope map allows of each scope, and nothing else.
async fn step_the_token_is_granted_only_what_its_scope_map_allows(
    app: &TestApp,
    scoped: &Scoped,
    password: &str,
) {
    let auth = basic("ci-robot", password);
    let granted = |scope: &'static str| granted_to(app, &scoped.service, scope, &auth);
    assert_eq!(
        granted("repository:team/app:pull,push,delete").await,
        json!([{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}])
    );
    assert_eq!(granted("repository:team/other:pull").await, json!([]));
    assert_eq!(
        granted("repository:samples/x/y:pull,push").await,
        json!([{"type": "repository", "name": "samples/x/y", "actions": ["pull"]}])
    );
    assert_eq!(granted("registry:catalog:*").await, json!([]));
}

/// A real registry agrees: the token pushes to its repository and to no other. The registry
/// is returned to live as long as the test, as before.
async fn step_a_real_registry_agrees(
    app: &TestApp,
    scoped: &Scoped,
    password: &str,
) -> DockerRegistry {
    let distribution = DockerRegistry::start(
        &app.base,
        &scoped.service,
        "berth-token-server",
        &app.data_dir.path().join("registry-token-certs.pem"),
    )
    .await;
    let layout = tempfile::tempdir().unwrap();
    let source = format!("oci:{}:v1", oci_layout(layout.path(), "v1").display());
    let creds = format!("ci-robot:{password}");
    let (ok, err) = skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds,
        &source,
        &format!("docker://{}/team/app:v1", distribution.address),
    ])
    .await;
    assert!(ok, "the token pushes to its repository: {err}");
    let (ok, _) = skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds,
        &source,
        &format!("docker://{}/team/other:v1", distribution.address),
    ])
    .await;
    assert!(!ok, "and to no other");
    distribution
}

/// Disabled, or its scope map in use: refused. Once the token is deleted, its scope map can
/// be deleted, once.
async fn step_a_disabled_token_is_refused_and_frees_its_scope_map(
    app: &TestApp,
    scoped: &Scoped,
    password: &str,
) {
    let in_use = app.delete(&scoped.url("scopeMaps/team-app-rw")).await;
    assert_eq!(in_use.status, StatusCode::CONFLICT, "{:?}", in_use.body);
    let off = app
        .patch(
            &scoped.url("tokens/ci-robot"),
            &json!({"properties": {"status": "disabled"}}),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
    let r = app
        .send_as(
            reqwest::Method::GET,
            &format!(
                "/oauth2/token?service={}&scope=repository:team/app:pull",
                scoped.service
            ),
            None,
            &[("authorization", &basic("ci-robot", password))],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.delete(&scoped.url("tokens/ci-robot")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.delete(&scoped.url("scopeMaps/team-app-rw"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.delete(&scoped.url("scopeMaps/team-app-rw"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_credential_revokes_the_sessions_opened_before() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_group("rev").await;
    app.create_registry("rev", "revreg01", "Basic").await;
    let registry = app.registry_path("rev", "revreg01");
    let service = login_server(&app, &registry).await;
    let (_, creds, refresh) = signed_in(&app, &registry, ACR_PULL, "revoked-sp").await;
    let aad = registry_aad_token(&app, &creds).await;
    let (app_id, _) = &creds;
    let second_secret = step_a_second_password_is_added(&app, app_id).await;
    assert_eq!(
        access(&app, &service, "repository:app:pull", &refresh)
            .await
            .status,
        StatusCode::OK
    );
    step_the_first_password_is_removed(&app, app_id).await;
    step_the_sessions_opened_before_the_removal_are_refused(&app, &service, &refresh, &aad).await;
    step_the_password_that_stays_opens_a_new_session(&app, &service, app_id, second_secret).await;
}

/// A second password for the application `app_id`, which stays.
async fn step_a_second_password_is_added(app: &TestApp, app_id: &str) -> String {
    let second = app
        .send(
            reqwest::Method::POST,
            &format!("/v1.0/applications/{app_id}/addPassword"),
            Some(&json!({})),
            &[],
        )
        .await;
    second.body["secretText"].as_str().unwrap().to_owned()
}

/// The application's first password is removed.
async fn step_the_first_password_is_removed(app: &TestApp, app_id: &str) {
    let (_, sp) = app.get(&format!("/v1.0/servicePrincipals/{app_id}")).await;
    let first_key = sp["passwordCredentials"][0]["keyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let removed = app
        .send(
            reqwest::Method::POST,
            &format!("/v1.0/applications/{app_id}/removePassword"),
            Some(&json!({"keyId": first_key})),
            &[],
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{:?}", removed.body);
}

/// The refresh token and the access token from before the removal are both refused.
async fn step_the_sessions_opened_before_the_removal_are_refused(
    app: &TestApp,
    service: &str,
    refresh: &str,
    aad: &str,
) {
    let stale = access(app, service, "repository:app:pull", refresh).await;
    assert_eq!(
        stale.status,
        StatusCode::UNAUTHORIZED,
        "a refresh token from before the removal"
    );
    let exchanged = exchange(app, service, aad).await;
    assert_eq!(
        exchanged.status,
        StatusCode::UNAUTHORIZED,
        "an access token from before the removal"
    );
}

/// Signing in again with the password that stays opens a new session.
async fn step_the_password_that_stays_opens_a_new_session(
    app: &TestApp,
    service: &str,
    app_id: &str,
    second_secret: String,
) {
    // Tokens carry whole seconds: the next session opens in the second after the removal.
    berth_tests::clock::next_second().await;
    let fresh_aad = registry_aad_token(app, &(app_id.to_owned(), second_secret)).await;
    let again = exchange(app, service, &fresh_aad).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    let t = access(
        app,
        service,
        "repository:app:pull",
        again.body["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        jwt_claims(t.body["access_token"].as_str().unwrap())["access"][0]["actions"],
        json!(["pull"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_maps_and_tokens_keep_to_the_sku_limits() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_group("lim").await;
    app.create_registry("lim", "limreg001", "Basic").await;
    let registry = app.registry_path("lim", "limreg001");
    let url = |tail: &str| format!("{registry}/{tail}?api-version={API}");
    // Basic: 100 scope maps and 100 tokens.
    for n in 0..100 {
        let r = app
            .put(
                &url(&format!("scopeMaps/map-{n:03}")),
                &json!({"properties": {"actions": [format!("repositories/r{n}/content/read")]}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "map {n}: {:?}", r.body);
        let t = app
            .put(
                &url(&format!("tokens/token-{n:03}")),
                &json!({"properties": {"scopeMapId": "_repositories_pull"}}),
            )
            .await;
        assert_eq!(t.status, StatusCode::CREATED, "token {n}: {:?}", t.body);
    }
    let map = app
        .put(
            &url("scopeMaps/map-100"),
            &json!({"properties": {"actions": ["repositories/x/content/read"]}}),
        )
        .await;
    assert_eq!(map.status, StatusCode::BAD_REQUEST, "{:?}", map.body);
    assert!(
        map.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 100 scope maps")
    );
    let token = app
        .put(
            &url("tokens/token-100"),
            &json!({"properties": {"scopeMapId": "_repositories_pull"}}),
        )
        .await;
    assert_eq!(token.status, StatusCode::BAD_REQUEST, "{:?}", token.body);
    // Replacing an existing one is no new one.
    let replaced = app
        .put(
            &url("scopeMaps/map-000"),
            &json!({"properties": {"actions": ["repositories/y/content/read"]}}),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK);
    // Standard has room for more.
    let up = app
        .patch(
            &format!("{registry}?api-version={API}"),
            &json!({"sku": {"name": "Standard"}}),
        )
        .await;
    assert_eq!(up.status, StatusCode::OK);
    assert_eq!(
        app.put(
            &url("scopeMaps/map-100"),
            &json!({"properties": {"actions": ["repositories/x/content/read"]}})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    // At most 500 repositories in one map.
    let many: Vec<String> = (0..501)
        .map(|n| format!("repositories/r{n}/content/read"))
        .collect();
    let wide = app
        .put(
            &url("scopeMaps/too-wide"),
            &json!({"properties": {"actions": many}}),
        )
        .await;
    assert_eq!(wide.status, StatusCode::BAD_REQUEST, "{:?}", wide.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditioned_repository_role_reaches_only_the_repositories_its_condition_names() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_group("abac").await;
    app.create_registry("abac", "abacreg01", "Basic").await;
    let registry = app.registry_path("abac", "abacreg01");
    let service = login_server(&app, &registry).await;
    let (object, _, refresh) = signed_in(&app, &registry, "", "abac-reader").await;
    let condition = "((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}) AND !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})) OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'team-a/'))";
    let put = |condition: &str| {
        let app = &app;
        let body = json!({"properties": {"roleDefinitionId": "b93aa761-3e63-49ed-ac28-beffa264f7ac", "principalId": object,
            "condition": condition, "conditionVersion": "2.0"}});
        let url = format!(
            "{registry}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
            uuid::Uuid::new_v4()
        );
        async move { app.put(&url, &body).await }
    };
    let bad =
        put("@Request[Microsoft.ContainerRegistry/registries/repositories:name] NumericEquals '1'")
            .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{:?}", bad.body);
    let made = put(condition).await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    assert_eq!(made.body["properties"]["condition"], condition);

    let granted = |scope: &str| {
        let (app, service, refresh, scope) =
            (&app, service.clone(), refresh.clone(), scope.to_owned());
        async move {
            jwt_claims(
                access(app, &service, &scope, &refresh).await.body["access_token"]
                    .as_str()
                    .unwrap(),
            )["access"]
                .clone()
        }
    };
    assert_eq!(
        granted("repository:team-a/app:pull,push").await,
        json!([{"type": "repository", "name": "team-a/app", "actions": ["pull"]}])
    );
    assert_eq!(
        granted("repository:team-b/app:pull").await,
        json!([]),
        "the condition names team-a/ only"
    );
}
