//! The built-in issuer, shaped like Entra ID: discovery, keys, and the three grants.

use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_tests::jwt_part;
use berth_tests::{Backend, SpawnOptions, spawn_app_with};

const CLIENT: &str = "0b6a3a77-1d0e-4d8f-9c55-bb6d3c2f0a11";
const SECRET: &str = "a-bootstrap-secret-for-tests";
const MANAGEMENT: &str = "https://management.berth.local/";

async fn app_with_owner(backend: Backend) -> TestApp {
    let env = vec![
        ("BERTH_BOOTSTRAP_CLIENT_ID".into(), CLIENT.into()),
        ("BERTH_BOOTSTRAP_CLIENT_SECRET".into(), SECRET.into()),
    ];
    spawn_app_with(
        backend,
        SpawnOptions {
            env,
            ..Default::default()
        },
    )
    .await
}

async fn token(app: &TestApp, tenant: &str, form: &[(&str, &str)]) -> berth_tests::Reply {
    app.post_form(&format!("/{tenant}/oauth2/v2.0/token"), form)
        .await
}

async fn tenant_of(app: &TestApp) -> String {
    let (_, tenants) = app.get("/tenants?api-version=2022-12-01").await;
    tenants["value"][0]["tenantId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn discovery_and_keys_are_served_for_the_tenant_organizations_and_common() {
    let app = app_with_owner(Backend::Sqlite).await;
    let tenant = tenant_of(&app).await;
    for name in [tenant.as_str(), "organizations", "common"] {
        let (status, doc) = app
            .get(&format!("/{name}/v2.0/.well-known/openid-configuration"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(doc["issuer"], format!("{}/{tenant}/v2.0", app.base));
        assert_eq!(
            doc["token_endpoint"],
            format!("{}/{tenant}/oauth2/v2.0/token", app.base),
            "MSAL reads the tenant from it"
        );
        assert!(doc["authorization_endpoint"].is_string());
    }
    let (status, err) = app
        .get(&format!(
            "/{}/v2.0/.well-known/openid-configuration",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_tenant"))
    );
    let (_, jwks) = app.get(&format!("/{tenant}/discovery/v2.0/keys")).await;
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("EC"), Some("P-256"), Some("ES256"))
    );
    assert!(key.get("d").is_none(), "no private part is published");
}

#[tokio::test]
async fn the_adfs_style_authority_serves_the_same_tokens_as_the_tenant_one() {
    let app = app_with_owner(Backend::Sqlite).await;
    let tenant = tenant_of(&app).await;
    let (status, doc) = app.get("/adfs/.well-known/openid-configuration").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        doc["token_endpoint"],
        format!("{}/adfs/oauth2/token", app.base),
        "MSAL treats an authority whose first segment is adfs as ADFS"
    );
    assert_eq!(doc["issuer"], format!("{}/{tenant}/v2.0", app.base));
    let (_, jwks) = app
        .get(
            doc["jwks_uri"]
                .as_str()
                .unwrap()
                .trim_start_matches(&app.base),
        )
        .await;
    assert_eq!(jwks["keys"][0]["kty"], "EC");

    let scope = format!("{MANAGEMENT}/.default");
    let answer = app
        .post_form(
            "/adfs/oauth2/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("scope", &scope),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let access = answer.body;
    let claims = jwt_part(access["access_token"].as_str().unwrap(), 1);
    assert_eq!(
        (claims["aud"].as_str(), claims["tid"].as_str()),
        (Some(MANAGEMENT), Some(tenant.as_str()))
    );
    let listed = reqwest::Client::new()
        .get(format!("{}/subscriptions?api-version=2022-12-01", app.base))
        .bearer_auth(access["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK, "ARM accepts the token");

    let refused = app
        .post_form(
            "/adfs/oauth2/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT),
                ("client_secret", "not-the-secret"),
                ("scope", &scope),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let err = refused.body;
    assert_eq!(err["error"], "invalid_client");
    assert!(err["error_description"].is_string());
}

#[tokio::test]
async fn a_service_principal_gets_an_access_token_for_the_resource_it_asks() {
    let app = app_with_owner(Backend::Postgres).await;
    let tenant = tenant_of(&app).await;
    let scope = format!("{MANAGEMENT}/.default"); // az sends the double slash
    let answer = token(
        &app,
        &tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("scope", &scope),
            ("client_info", "1"),
            (
                "claims",
                r#"{"access_token": {"xms_cc": {"values": ["CP1"]}}}"#,
            ),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.body["token_type"], "Bearer");
    assert!(answer.body["expires_in"].as_i64().is_some_and(|s| s > 3000));
    let jwt = answer.body["access_token"].as_str().unwrap();
    let (header, claims) = (jwt_part(jwt, 0), jwt_part(jwt, 1));
    assert_eq!(header["alg"], "ES256");
    let (_, jwks) = app.get(&format!("/{tenant}/discovery/v2.0/keys")).await;
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == header["kid"])
    );
    assert_eq!(claims["iss"], format!("{}/{tenant}/v2.0", app.base));
    assert_eq!(claims["aud"], MANAGEMENT);
    assert_eq!(
        (
            claims["tid"].as_str(),
            claims["appid"].as_str(),
            claims["idtyp"].as_str()
        ),
        (Some(tenant.as_str()), Some(CLIENT), Some("app"))
    );
    let (_, sp) = app.get(&format!("/v1.0/servicePrincipals/{CLIENT}")).await;
    assert_eq!(claims["oid"], sp["id"]);
    let registry = token(
        &app,
        "organizations",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("scope", "https://containerregistry.azure.net/.default"),
        ],
    )
    .await;
    assert_eq!(
        jwt_part(registry.body["access_token"].as_str().unwrap(), 1)["aud"],
        "https://containerregistry.azure.net"
    );

    let wrong = token(
        &app,
        &tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("client_secret", "not-it"),
            ("scope", &scope),
        ],
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert!(
        wrong.body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215")
    );
    let unknown = token(
        &app,
        &tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &uuid::Uuid::new_v4().to_string()),
            ("client_secret", SECRET),
            ("scope", &scope),
        ],
    )
    .await;
    assert_eq!(unknown.body["error"], "invalid_client");
    let resource = token(
        &app,
        &tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("scope", "https://elsewhere.example/.default"),
        ],
    )
    .await;
    assert_eq!(
        (resource.status, resource.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let grant = token(
        &app,
        &tenant,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", "x"),
        ],
    )
    .await;
    assert_eq!(grant.body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn a_person_signs_in_with_a_password_and_refreshes_until_deleted() {
    let app = app_with_owner(Backend::Sqlite).await;
    let tenant = tenant_of(&app).await;
    let user = app.send(reqwest::Method::POST, "/v1.0/users", Some(&json!({"userPrincipalName": "heidi@berth.local", "passwordProfile": {"password": "heidi-password"}})), &[]).await;
    let user_id = user.body["id"].as_str().unwrap().to_owned();
    let azure_cli = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
    let scope = format!("{MANAGEMENT}/.default offline_access openid profile");
    let signed_in = token(
        &app,
        "organizations",
        &[
            ("grant_type", "password"),
            ("client_id", azure_cli),
            ("username", "HEIDI@berth.local"),
            ("password", "heidi-password"),
            ("scope", &scope),
            ("client_info", "1"),
        ],
    )
    .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    let id_token = jwt_part(signed_in.body["id_token"].as_str().unwrap(), 1);
    assert_eq!(
        (
            id_token["tid"].as_str(),
            id_token["preferred_username"].as_str()
        ),
        (Some(tenant.as_str()), Some("heidi@berth.local"))
    );
    let client_info: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(signed_in.body["client_info"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(client_info, json!({"uid": user_id, "utid": tenant}));
    let refresh = signed_in.body["refresh_token"].as_str().unwrap().to_owned();
    let graph = format!("{}/.default", app.base);
    let refreshed = token(
        &app,
        &tenant,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", azure_cli),
            ("refresh_token", &refresh),
            ("scope", &graph),
        ],
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{:?}", refreshed.body);
    assert_eq!(
        jwt_part(refreshed.body["access_token"].as_str().unwrap(), 1)["aud"],
        app.base.as_str()
    );
    let access = signed_in.body["access_token"].as_str().unwrap();
    let confused = token(
        &app,
        &tenant,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", access),
            ("scope", &graph),
        ],
    )
    .await;
    assert_eq!(
        confused.body["error"], "invalid_grant",
        "an access token is not a refresh token"
    );
    let wrong = token(
        &app,
        &tenant,
        &[
            ("grant_type", "password"),
            ("username", "heidi@berth.local"),
            ("password", "guess"),
            ("scope", &scope),
        ],
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        app.delete(&format!("/v1.0/users/{user_id}")).await.status,
        StatusCode::NO_CONTENT
    );
    let after = token(
        &app,
        &tenant,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("scope", &graph),
        ],
    )
    .await;
    assert_eq!(
        after.body["error"], "invalid_grant",
        "a deleted user's refresh token is dead"
    );
}

#[tokio::test]
async fn signing_keys_and_the_bootstrap_owner_survive_a_restart() {
    let mut first = berth_tests::spawn_app(Backend::Sqlite).await;
    let file = first.data_dir.path().join("bootstrap-owner.json");
    let owner: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let tenant = tenant_of(&first).await;
    let (_, keys) = first.get(&format!("/{tenant}/discovery/v2.0/keys")).await;
    let (app_id, secret) = (
        owner["appId"].as_str().unwrap().to_owned(),
        owner["secret"].as_str().unwrap().to_owned(),
    );
    let scope = format!("{MANAGEMENT}.default");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", app_id.as_str()),
        ("client_secret", secret.as_str()),
        ("scope", scope.as_str()),
    ];
    assert_eq!(
        token(&first, &tenant, &form).await.status,
        StatusCode::OK,
        "the generated owner signs in"
    );
    let dir = first.data_dir.path().to_owned();
    first.stop().await;
    let again = spawn_app_with(
        Backend::Sqlite,
        SpawnOptions {
            reuse: Some((dir, None)),
            ..Default::default()
        },
    )
    .await;
    let (_, keys_again) = again.get(&format!("/{tenant}/discovery/v2.0/keys")).await;
    assert_eq!(keys, keys_again, "the same keys after a restart");
    let (_, owners) = again.get("/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope()").await;
    assert_eq!(
        owners["value"].as_array().map(Vec::len),
        Some(1),
        "no second bootstrap owner"
    );
    assert_eq!(token(&again, &tenant, &form).await.status, StatusCode::OK);
}
