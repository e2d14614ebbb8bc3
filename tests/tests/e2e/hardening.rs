//! Findings of the outside audit that are not escalations of roles: a removed secret revokes
//! the ARM and Graph tokens issued before, absolute URLs never follow a forged `Host`, the
//! `password` grant takes only a known client, and a refresh token stays with its client.

use super::*;
use berth_tests::jwt_claims;
use berth_tests::roles::{READER, as_token, assign, principal};
use berth_tests::{Backend, client_token, spawn_app};

const MANAGEMENT: &str = "https://management.berth.local";
const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

async fn token_form(app: &TestApp, fields: &[(&str, &str)]) -> berth_tests::Reply {
    app.post_form("/organizations/oauth2/v2.0/token", fields)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_secret_revokes_the_arm_and_graph_tokens_issued_before() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_group("leave").await;
    let group = format!("{}?api-version={RG_API}", app.rg_path("leave"));
    let (object_id, (app_id, secret)) = principal(&app, "leaver").await;
    assign(&app, &app.rg_path("leave"), READER, &object_id).await;
    let credentials = (app_id.clone(), secret);
    let arm = client_token(
        &app.client,
        &app.base,
        &credentials,
        &format!("{MANAGEMENT}/.default"),
    )
    .await;
    let graph = client_token(
        &app.client,
        &app.base,
        &credentials,
        &format!("{}/.default", app.base),
    )
    .await;
    let users = "/v1.0/users?$top=1";
    assert_eq!(
        as_token(&app, &arm, reqwest::Method::GET, &group, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        as_token(&app, &graph, reqwest::Method::GET, users, None)
            .await
            .status,
        StatusCode::OK
    );

    let second = app
        .send(
            reqwest::Method::POST,
            &format!("/v1.0/applications/{app_id}/addPassword"),
            Some(&json!({})),
            &[],
        )
        .await;
    let second_secret = second.body["secretText"].as_str().unwrap().to_owned();
    let (_, sp) = app.get(&format!("/v1.0/servicePrincipals/{app_id}")).await;
    let first_key = sp["passwordCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["keyId"] != second.body["keyId"])
        .and_then(|c| c["keyId"].as_str())
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

    for (token, path) in [(&arm, group.as_str()), (&graph, users)] {
        let stale = as_token(&app, token, reqwest::Method::GET, path, None).await;
        assert_eq!(
            (stale.status, stale.error_code()),
            (StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken"),
            "a token issued before the removal, on {path}"
        );
    }
    // Tokens carry whole seconds: one issued in the second of the removal is refused too,
    // so the next session opens in the next second.
    berth_tests::clock::next_second().await;
    let fresh = client_token(
        &app.client,
        &app.base,
        &(app_id, second_secret),
        &format!("{MANAGEMENT}/.default"),
    )
    .await;
    let read = as_token(&app, &fresh, reqwest::Method::GET, &group, None).await;
    assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_urls_never_follow_a_forged_host_header() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_group("hosts").await;
    app.create_registry("hosts", "hostsreg01", "Basic").await;
    let registry = format!(
        "{}?api-version={API}",
        app.registry_path("hosts", "hostsreg01")
    );
    let deleted = app
        .send(
            reqwest::Method::DELETE,
            &registry,
            None,
            &[("host", "attacker.example")],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{:?}", deleted.body);
    for name in ["location", "azure-asyncoperation"] {
        let url = deleted.header(name).unwrap_or_default();
        assert!(
            url.starts_with(&format!("{}/", app.base)),
            "{name} must name this server, not the forged host: {url}"
        );
    }
    app.wait_for_operation(deleted.header("azure-asyncoperation").unwrap())
        .await;

    for _ in 0..2 {
        app.send(
            reqwest::Method::POST,
            "/v1.0/users",
            Some(&json!({"userPrincipalName": format!("u{}@berth.local", uuid::Uuid::new_v4().simple()), "passwordProfile": {"password": "a-password-1"}})),
            &[],
        )
        .await;
    }
    let port = app.base.rsplit(':').next().unwrap();
    for (host, expected) in [
        ("attacker.example".to_owned(), app.base.clone()),
        (format!("attacker.example:{port}"), app.base.clone()),
        // A loopback name of this listener is one of ours, and is kept.
        (
            format!("LOCALHOST:{port}"),
            format!("http://localhost:{port}"),
        ),
    ] {
        let page = app
            .send(
                reqwest::Method::GET,
                "/v1.0/users?$top=1",
                None,
                &[("host", &host)],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        let next = page.body["@odata.nextLink"].as_str().unwrap_or_default();
        assert!(
            next.starts_with(&format!("{expected}/v1.0/users?")),
            "Host {host}: {next}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_grant_takes_only_a_known_client_and_its_refresh_token_stays_with_it() {
    let app = spawn_app(Backend::Sqlite).await;
    let user = app
        .send(
            reqwest::Method::POST,
            "/v1.0/users",
            Some(&json!({"userPrincipalName": "ivan@berth.local", "passwordProfile": {"password": "ivan-password-1"}})),
            &[],
        )
        .await;
    assert_eq!(user.status, StatusCode::CREATED, "{:?}", user.body);
    let (_, (registered, _)) = principal(&app, "registered-client").await;
    let scope = format!("{MANAGEMENT}/.default offline_access openid profile");
    let sign_in = |client: String| {
        let scope = scope.clone();
        let app = &app;
        async move {
            token_form(
                app,
                &[
                    ("grant_type", "password"),
                    ("client_id", &client),
                    ("username", "ivan@berth.local"),
                    ("password", "ivan-password-1"),
                    ("scope", &scope),
                ],
            )
            .await
        }
    };

    // A made-up client id would become the id token's audience: it is refused.
    for made_up in [
        "https://attacker.example".to_owned(),
        uuid::Uuid::new_v4().to_string(),
    ] {
        let refused = sign_in(made_up.clone()).await;
        assert_eq!(
            (refused.status, refused.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("unauthorized_client")),
            "{made_up}: {:?}",
            refused.body
        );
        assert!(
            refused.body["error_description"]
                .as_str()
                .unwrap_or_default()
                .starts_with("AADSTS700016"),
            "{:?}",
            refused.body
        );
    }

    // A registered application and the Azure CLI are known clients.
    let through_app = sign_in(registered.clone()).await;
    assert_eq!(through_app.status, StatusCode::OK, "{:?}", through_app.body);
    let id_token = jwt_claims(through_app.body["id_token"].as_str().unwrap());
    assert_eq!(id_token["aud"], registered.as_str());
    let through_cli = sign_in(AZURE_CLI.to_owned()).await;
    assert_eq!(through_cli.status, StatusCode::OK, "{:?}", through_cli.body);
    assert_eq!(
        jwt_claims(through_cli.body["id_token"].as_str().unwrap())["aud"],
        AZURE_CLI
    );

    // The CLI's refresh token is refused to another client, and to a request naming none.
    let refresh = through_cli.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let graph = format!("{}/.default", app.base);
    for client in [Some(registered.as_str()), None] {
        let mut fields = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("scope", graph.as_str()),
        ];
        if let Some(client) = client {
            fields.push(("client_id", client));
        }
        let stolen = token_form(&app, &fields).await;
        assert_eq!(
            (stolen.status, stolen.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "redeemed by {client:?}: {:?}",
            stolen.body
        );
    }
    let redeemed = token_form(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", AZURE_CLI),
            ("refresh_token", &refresh),
            ("scope", &graph),
        ],
    )
    .await;
    assert_eq!(redeemed.status, StatusCode::OK, "{:?}", redeemed.body);
    assert_eq!(
        jwt_claims(redeemed.body["access_token"].as_str().unwrap())["azp"],
        AZURE_CLI
    );
}

both_backends! {
    async fn a_push_token_from_before_a_disable_makes_no_server_key_for_the_wiped_collection(app) {
        use crate::content_trust::{operation_url, service, trust_url};
        use berth_tests::fixtures::set_trust;
        use berth_tests::fixtures::access;
        use crate::trust_contract::{signer_in, trusted_registry};
        use berth_infra::persistence::entities::tuf_server_key;
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

        let (registry, login) = trusted_registry(&app, "keygate01").await;
        let refresh = signer_in(&app, &registry, "key-maker").await;
        let gun = format!("{login}/app");
        let keys_of = |gun: String| {
            let app = &app;
            async move {
                tuf_server_key::Entity::find()
                    .filter(tuf_server_key::Column::Gun.eq(gun))
                    .count(app.database().await.writer())
                    .await
                    .unwrap()
            }
        };
        let push = access(&app, service(&app), &format!("repository:{gun}:pull,push"), &refresh).await;
        let token = push.body["access_token"].as_str().unwrap().to_owned();
        let bearer = format!("Bearer {token}");
        let key_url = |role: &str| format!("{}/v2/{gun}/_trust/tuf/{role}.key", trust_url(&app));
        // While content trust is on, the token gets the collection's timestamp key.
        let first = app.send_as(reqwest::Method::GET, &key_url("timestamp"), None, &[("authorization", &bearer)]).await;
        assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
        assert_eq!(keys_of(gun.clone()).await, 1);

        // Disable, and let the wipe end: the collection's key is gone with it.
        let off = set_trust(&app, &registry, "disabled").await;
        assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
        app.wait_for_operation(&operation_url(&off)).await;
        assert_eq!(keys_of(gun.clone()).await, 0, "the wipe deleted the server's key");

        // The same token, still unexpired, asks for new keys: refused as a scope that no
        // longer suffices, as a metadata write is, and no key is made.
        for (method, role) in [
            (reqwest::Method::GET, "timestamp"),
            (reqwest::Method::POST, "timestamp"),
            (reqwest::Method::POST, "snapshot"),
            (reqwest::Method::GET, "snapshot"),
        ] {
            let r = app.send_as(method.clone(), &key_url(role), None, &[("authorization", &bearer)]).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {role}.key: {:?}", r.body);
            assert!(
                r.header("www-authenticate").is_some_and(|h| h.contains("insufficient_scope")),
                "{method} {role}.key: {:?}",
                r.headers
            );
        }
        assert_eq!(keys_of(gun.clone()).await, 0, "no key outlives the wipe");
    }
}
