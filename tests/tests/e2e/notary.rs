//! Content trust against a real Notary v1 server: Debian's `notary-server` on PostgreSQL, with
//! token auth pointing at `berthd`, accepts Berth's tokens for reads exactly as far as the
//! caller's roles go, over raw HTTP and through the `notary` CLI.

use super::token_server::{access, claims, login_server, signed_in};
use super::*;
use berth_tests::notary::{notary_auth, notary_cli};
use berth_tests::{Backend, SpawnOptions, spawn_app_with};

const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
const NULL_USER: &str = "00000000-0000-0000-0000-000000000000";
const SERVICE: &str = berth_tests::notary::SERVICE;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_notary_server_accepts_berth_tokens_for_reads_as_roles_allow() {
    let app = spawn_app_with(
        Backend::Sqlite,
        SpawnOptions {
            notary: true,
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
    let notary = app.notary.as_ref().unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_collections_are_catalogued_and_the_notary_store_deletes_exactly_one() {
    use berth_domain::trust::TrustStore;
    use berth_infra::notary::{NotarySettings, NotaryTrustStore};
    const SIGNER: &str = "6cef56e8-d556-48e5-a04f-b8e64114680f";
    const ACR_PUSH: &str = "8311e382-0749-4cb8-b61a-304f252e45ec";
    let app = spawn_app_with(
        Backend::Sqlite,
        SpawnOptions {
            notary: true,
            ..SpawnOptions::default()
        },
    )
    .await;
    app.create_group("cat").await;
    let mut guns = Vec::new();
    let mut refreshes = Vec::new();
    for name in ["catreg001", "catreg002"] {
        app.create_registry("cat", name, "Premium").await;
        let registry = app.registry_path("cat", name);
        let on = app.patch(&format!("{registry}?api-version={API}"), &json!({"properties": {"policies": {"trustPolicy": {"type": "Notary", "status": "enabled"}}}})).await;
        assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
        let (signer, _, refresh) =
            signed_in(&app, &registry, ACR_PUSH, &format!("{name}-signer")).await;
        super::auth::assign(&app, &registry, SIGNER, &signer).await;
        let login = login_server(&app, &registry).await;
        guns.push(format!("{login}/app"));
        guns.push(format!("{login}/app-b"));
        refreshes.push(refresh);
    }
    let notary = app.notary.as_ref().unwrap();

    // Each signer initialises and publishes its registry's two collections with the CLI.
    for (i, gun) in guns.iter().enumerate() {
        let trust_dir = tempfile::tempdir().unwrap();
        let dir = trust_dir.path().display().to_string();
        let auth = notary_auth(NULL_USER, &refreshes[i / 2]);
        let env = [("NOTARY_AUTH", auth.as_str())];
        let (ok, out, err) =
            notary_cli(&["-s", &notary.url, "-d", &dir, "init", "-p", gun], &env).await;
        assert!(ok, "init {gun}: {out} {err}\n{}", notary.log());
        let digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let (ok, out, err) = notary_cli(
            &[
                "-s",
                &notary.url,
                "-d",
                &dir,
                "addhash",
                "-p",
                gun,
                "v1",
                "1234",
                "--sha256",
                digest,
            ],
            &env,
        )
        .await;
        assert!(ok, "addhash {gun}: {out} {err}");
    }

    // Berth catalogued every collection it gave a trust-data push for, per registry.
    let rows = <berth_infra::persistence::entities::trusted_collection::Entity as sea_orm::EntityTrait>::find()
        .all(app.database().await.writer())
        .await
        .unwrap();
    let first_key = app.registry_path("cat", "catreg001").to_lowercase();
    let mut first: Vec<String> = rows
        .iter()
        .filter(|r| r.registry_key == first_key)
        .map(|r| r.gun.clone())
        .collect();
    first.sort();
    assert_eq!(first, guns[..2].to_vec());
    assert_eq!(rows.len(), 4, "{rows:?}");
    let (status, listed) = app
        .get(&format!(
            "{}/trustedCollections?api-version={API}",
            app.registry_path("cat", "catreg001")
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(
        listed["value"],
        json!([{"gun": guns[0], "repository": "app"}, {"gun": guns[1], "repository": "app-b"}])
    );

    // The Notary store, with Berth's own keys: it lists, deletes exactly one GUN, and checks.
    let bundle = tempfile::tempdir().unwrap();
    let keys = berth_infra::registry_token::TokenServerKeys::open(
        app.database().await,
        &bundle.path().join("certs.pem"),
    )
    .await
    .unwrap();
    let store = NotaryTrustStore::new(
        NotarySettings {
            url: notary.url.clone(),
            service: SERVICE.into(),
            issuer: "berth-token-server".into(),
            ca_pem: None,
        },
        std::sync::Arc::new(keys),
    )
    .unwrap();
    store.health().await.unwrap();
    let mut listed = store.list_collections().await.unwrap();
    listed.sort();
    let mut expected = guns.clone();
    expected.sort();
    assert_eq!(listed, expected);
    for gun in &guns {
        assert!(store.has_collection(gun).await.unwrap(), "{gun}");
    }
    store.delete_collection(&guns[0]).await.unwrap();
    store.delete_collection(&guns[0]).await.unwrap();
    assert!(!store.has_collection(&guns[0]).await.unwrap(), "deleted");
    for gun in &guns[1..] {
        assert!(
            store.has_collection(gun).await.unwrap(),
            "{gun} must survive the deletion of {}",
            guns[0]
        );
    }
    assert!(!store.list_collections().await.unwrap().contains(&guns[0]));
    let reader = notary_auth(NULL_USER, &refreshes[0]);
    let (_, out, _) = notary_cli(
        &["-s", &notary.url, "list", &guns[0]],
        &[("NOTARY_AUTH", reader.as_str())],
    )
    .await;
    assert!(out.contains("does not have trust data"), "{out}");
    let (ok, out, _) = notary_cli(
        &["-s", &notary.url, "list", &guns[1]],
        &[("NOTARY_AUTH", reader.as_str())],
    )
    .await;
    assert!(ok && out.contains("v1"), "{out}");
}
