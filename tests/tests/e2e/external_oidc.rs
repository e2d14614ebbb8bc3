//! A real external OpenID Connect provider (`oidc-provider` from npm): its tokens are
//! accepted once it is trusted, its callers appear in the directory on first sight and get
//! only the roles assigned to them; tokens of a provider not trusted, for another audience,
//! or with made-up keys are refused, and made-up keys do not hammer the provider.

use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_tests::oidc::OidcProvider;
use berth_tests::roles::{CONTRIBUTOR, READER, as_token, assign};
use berth_tests::{Backend, SpawnOptions, spawn_app_with};
use berth_tests::{jwt_claims, jwt_part};

const AUDIENCE: &str = "https://management.berth.local/";

async fn app_trusting(backend: Backend, providers: &[Value]) -> TestApp {
    spawn_app_with(
        backend,
        SpawnOptions {
            env: vec![(
                "BERTH_OIDC_PROVIDERS".into(),
                Value::Array(providers.to_vec()).to_string(),
            )],
            ..SpawnOptions::default()
        },
    )
    .await
}

/// A token with the given header and claims and a signature of garbage.
fn forged(header: &Value, claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        part(header),
        part(claims),
        URL_SAFE_NO_PAD.encode([7u8; 64])
    )
}

async fn callers_are_added_on_first_sight_and_hold_only_assigned_roles(backend: Backend) {
    let provider = OidcProvider::start(AUDIENCE).await;
    let app = app_trusting(backend, &[provider.trust(&[AUDIENCE])]).await;
    app.create_group("ext").await;
    let group = format!("{}?api-version={RG_API}", app.rg_path("ext"));

    // An application signing in with client credentials: a service principal, no roles yet.
    let app_token = provider.client_token().await;
    let denied = as_token(&app, &app_token, reqwest::Method::GET, &group, None).await;
    assert_eq!(
        (denied.status, denied.error_code()),
        (StatusCode::FORBIDDEN, "AuthorizationFailed"),
        "{:?}",
        denied.body
    );
    let spn = format!("{}/{}", provider.issuer, provider.client_id);
    let (status, found) = app
        .get(&format!(
            "/v1.0/servicePrincipals?$filter=servicePrincipalNames/any(c:c eq '{spn}')"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let sp = found["value"][0]["id"].as_str().unwrap().to_owned();
    assign(&app, &app.rg_path("ext"), READER, &sp).await;
    let read = as_token(&app, &app_token, reqwest::Method::GET, &group, None).await;
    assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
    let write = as_token(
        &app,
        &app_token,
        reqwest::Method::PUT,
        &format!("{}?api-version={API}", app.registry_path("ext", "extreg01")),
        Some(&json!({"location": "westus", "sku": {"name": "Basic"}})),
    )
    .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN, "a Reader cannot write");

    // A person signing in through the provider's pages: a guest user named by the provider's
    // host and the person's subject, never by a claim the person may choose.
    let alice = provider.user_token("alice").await;
    assert_eq!(jwt_claims(&alice)["sub"], "alice");
    let before = as_token(&app, &alice, reqwest::Method::GET, &group, None).await;
    assert_eq!(before.status, StatusCode::FORBIDDEN);
    let (_, users) = app
        .get("/v1.0/users?$filter=userPrincipalName eq 'alice%23EXT%23@127.0.0.1'")
        .await;
    let user = users["value"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(users["value"][0]["displayName"], "User alice");
    assign(&app, &app.rg_path("ext"), CONTRIBUTOR, &user).await;
    let created = as_token(
        &app,
        &alice,
        reqwest::Method::PUT,
        &format!("{}?api-version={API}", app.registry_path("ext", "extreg01")),
        Some(&json!({"location": "westus", "sku": {"name": "Basic"}})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(
        created.body["systemData"]["createdBy"], "alice#EXT#@127.0.0.1",
        "{:?}",
        created.body
    );

    // The same person signing in again is the same directory object.
    let again = provider.user_token("alice").await;
    let read = as_token(&app, &again, reqwest::Method::GET, &group, None).await;
    assert_eq!(read.status, StatusCode::OK);
    let (_, count) = app
        .get("/v1.0/users?$filter=userPrincipalName eq 'alice%23EXT%23@127.0.0.1'")
        .await;
    assert_eq!(count["value"].as_array().unwrap().len(), 1);

    // Deleting the user revokes what was assigned to it: signing in again makes a new,
    // roleless object.
    let deleted = app
        .send(
            reqwest::Method::DELETE,
            &format!("/v1.0/users/{user}"),
            None,
            &[],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
    let after = as_token(&app, &again, reqwest::Method::GET, &group, None).await;
    assert_eq!(after.status, StatusCode::FORBIDDEN, "{:?}", after.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_user_cannot_pre_claim_a_principal_name_through_preferred_username() {
    let provider = OidcProvider::start(AUDIENCE).await;
    let app = app_trusting(Backend::Sqlite, &[provider.trust(&[AUDIENCE])]).await;
    app.create_group("claim").await;
    let group = format!("{}?api-version={RG_API}", app.rg_path("claim"));
    // The provider says this person's preferred_username is boss@oidc.example.
    let squatter = provider.user_token("boss").await;
    assert_eq!(
        jwt_claims(&squatter)["preferred_username"],
        "boss@oidc.example"
    );
    let before = as_token(&app, &squatter, reqwest::Method::GET, &group, None).await;
    assert_eq!(before.status, StatusCode::FORBIDDEN);
    let (_, guests) = app
        .get("/v1.0/users?$filter=userPrincipalName eq 'boss%23EXT%23@127.0.0.1'")
        .await;
    assert_eq!(guests["value"].as_array().unwrap().len(), 1, "{guests}");
    assert_eq!(guests["value"][0]["displayName"], "User boss");
    // The name the squatter claimed is still free: an administrator makes the real user with
    // it and grants that user a role by name.
    let boss = app
        .send(
            reqwest::Method::POST,
            "/v1.0/users",
            Some(&json!({"userPrincipalName": "boss@oidc.example", "passwordProfile": {"password": "boss-password-1"}})),
            &[],
        )
        .await;
    assert_eq!(boss.status, StatusCode::CREATED, "{:?}", boss.body);
    let boss_id = boss.body["id"].as_str().unwrap().to_owned();
    assert_ne!(Some(boss_id.as_str()), guests["value"][0]["id"].as_str());
    assign(&app, &app.rg_path("claim"), CONTRIBUTOR, &boss_id).await;
    // The squatter gets nothing of it.
    let after = as_token(&app, &squatter, reqwest::Method::GET, &group, None).await;
    assert_eq!(after.status, StatusCode::FORBIDDEN, "{:?}", after.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_of_a_trusted_provider_are_added_on_first_sight_on_sqlite() {
    callers_are_added_on_first_sight_and_hold_only_assigned_roles(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_of_a_trusted_provider_are_added_on_first_sight_on_postgres() {
    callers_are_added_on_first_sight_and_hold_only_assigned_roles(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_providers_other_audiences_and_made_up_keys_are_refused() {
    let trusted = OidcProvider::start(AUDIENCE).await;
    let elsewhere = OidcProvider::start("https://elsewhere.example/").await;
    let untrusted = OidcProvider::start(AUDIENCE).await;
    let app = app_trusting(
        Backend::Sqlite,
        &[trusted.trust(&[AUDIENCE]), elsewhere.trust(&[AUDIENCE])],
    )
    .await;
    let path = format!("/subscriptions/{}?api-version=2022-12-01", app.subscription);
    let refused = |r: &berth_tests::Reply| {
        (
            r.status,
            r.error_code().to_owned(),
            r.header("www-authenticate").is_some(),
        ) == (
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken".to_owned(),
            true,
        )
    };

    let good = trusted.client_token().await;
    let ok = as_token(
        &app,
        &good,
        reqwest::Method::GET,
        "/subscriptions?api-version=2022-12-01",
        None,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);

    let untrusted_token = untrusted.client_token().await;
    let r = as_token(&app, &untrusted_token, reqwest::Method::GET, &path, None).await;
    assert!(refused(&r), "a provider not configured: {r:?}");

    let wrong_audience = elsewhere.client_token().await;
    let r = as_token(&app, &wrong_audience, reqwest::Method::GET, &path, None).await;
    assert!(refused(&r), "a token for another audience: {r:?}");

    // The trusted provider's token with its claims changed: the signature no longer holds.
    let mut claims = jwt_claims(&good);
    claims["sub"] = json!("someone-else");
    let header = jwt_part(&good, 0);
    let r = as_token(
        &app,
        &forged(&header, &claims),
        reqwest::Method::GET,
        &path,
        None,
    )
    .await;
    assert!(refused(&r), "a tampered token: {r:?}");

    // `alg: none`, and HS256 keyed with the provider's public key, under a real kid.
    for alg in ["none", "HS256"] {
        let mut h = header.clone();
        h["alg"] = json!(alg);
        let r = as_token(
            &app,
            &forged(&h, &jwt_claims(&good)),
            reqwest::Method::GET,
            &path,
            None,
        )
        .await;
        assert!(refused(&r), "alg {alg}: {r:?}");
    }

    // A flood of made-up kids: refused, and the provider's keys are fetched at most once
    // more within the refetch floor.
    let (_, jwks_before) = trusted.fetches().await;
    for n in 0..25 {
        let mut h = header.clone();
        h["kid"] = json!(format!("made-up-{n}"));
        let r = as_token(
            &app,
            &forged(&h, &jwt_claims(&good)),
            reqwest::Method::GET,
            &path,
            None,
        )
        .await;
        assert!(refused(&r), "kid made-up-{n}: {r:?}");
    }
    let (discovery, jwks_after) = trusted.fetches().await;
    assert_eq!(discovery, 1, "discovery runs once");
    assert!(
        jwks_after <= jwks_before + 1,
        "25 unknown kids fetched the JWKS {} times",
        jwks_after - jwks_before
    );
}
