//! Subscriptions, the resource list, cloud metadata, health and request ids.

use super::*;
use berth_tests::{Backend, SpawnOptions, spawn_app_with};

both_backends! {
    async fn the_bootstrap_subscription_is_listed_and_readable(app) {
        let (status, list) = app.get("/subscriptions?api-version=2022-12-01").await;
        assert_eq!(status, StatusCode::OK);
        let first = &list["value"][0];
        assert_eq!(first["id"], format!("/subscriptions/{}", app.subscription));
        assert_eq!(first["state"], "Enabled");
        assert!(first["tenantId"].as_str().is_some_and(|t| t.len() == 36));
        let (status, one) = app.get(&format!("/subscriptions/{}?api-version=2022-12-01", app.subscription.to_uppercase())).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(one["subscriptionId"], app.subscription.as_str());
        let (status, missing) = app.get("/subscriptions/00000000-0000-0000-0000-000000000001?api-version=2022-12-01").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(missing["error"]["code"], "SubscriptionNotFound");
    }

    async fn the_resource_list_finds_registries_by_type_and_name(app) {
        app.create_group("rg1").await;
        app.create_registry("rg1", "FindMe01", "Basic").await;
        app.create_registry("rg1", "other002", "Basic").await;
        let filter = "resourceType%20eq%20%27Microsoft.ContainerRegistry%2Fregistries%27";
        let (status, list) = app.get(&format!("{}/resources?$filter={filter}&api-version=2024-11-01", app.sub_path())).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["value"].as_array().map(Vec::len), Some(2));
        let item = list["value"].as_array().unwrap().iter().find(|v| v["name"] == "FindMe01").unwrap();
        assert_eq!(item["id"], app.registry_path("rg1", "FindMe01"));
        assert_eq!(item["type"], "Microsoft.ContainerRegistry/registries");
        let by_name = format!("{filter}%20and%20name%20eq%20%27findme01%27");
        let (_, list) = app.get(&format!("{}/resources?$filter={by_name}&api-version=2024-11-01", app.sub_path())).await;
        assert_eq!(list["value"].as_array().map(Vec::len), Some(1));
        let (_, list) = app.get(&format!("{}/resources?$filter=resourceType%20eq%20%27Microsoft.Web%2Fsites%27&api-version=2024-11-01", app.sub_path())).await;
        assert_eq!(list["value"], json!([]));
        let (status, err) = app.get(&format!("{}/resources?$filter=location%20eq%20%27x%27&api-version=2024-11-01", app.sub_path())).await;
        assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("InvalidFilterInQueryString")));
    }

    async fn cloud_metadata_describes_this_deployment(app) {
        let (status, doc) = app.get("/metadata/endpoints?api-version=2022-09-01").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(doc["resourceManager"], format!("{}/", app.base));
        assert_eq!(doc["authentication"]["loginEndpoint"], format!("{}/adfs", app.base));
        assert!(doc["authentication"]["audiences"][0].is_string());
        assert_eq!(doc["suffixes"]["acrLoginServer"], "registry.localhost");
    }

    async fn health_readiness_and_request_ids(app) {
        assert_eq!(app.get("/healthz").await.0, StatusCode::OK);
        assert_eq!(app.get("/readyz").await.0, StatusCode::OK);
        let r = app.send(reqwest::Method::GET, "/healthz", None, &[("x-ms-correlation-request-id", "corr-123"), ("x-ms-client-request-id", "cli-9")]).await;
        assert!(r.header("x-ms-request-id").is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()));
        assert_eq!(r.header("x-ms-correlation-request-id"), Some("corr-123"));
        assert_eq!(r.header("x-ms-client-request-id"), Some("cli-9"));
        let other = app.send(reqwest::Method::GET, "/healthz", None, &[]).await;
        assert_ne!(other.header("x-ms-request-id"), r.header("x-ms-request-id"));
    }

    async fn the_openapi_document_and_docs_are_served(app) {
        let (status, doc) = app.get("/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        assert!(doc["paths"]["/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}"]["put"].is_object());
        let docs = reqwest::get(format!("{}/docs/", app.base)).await.unwrap();
        assert_eq!(docs.status(), StatusCode::OK);
        assert!(docs.text().await.unwrap().contains("swagger"));
    }
}

#[tokio::test]
async fn a_generated_subscription_id_is_kept_across_restarts() {
    let mut first = berth_tests::spawn_app(Backend::Sqlite).await;
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
    assert_eq!(again.subscription, first.subscription);
}

#[tokio::test]
async fn a_configured_subscription_id_is_used() {
    let id = "5d0a6ad9-3f4b-4c39-9a51-111111111111";
    let app = spawn_app_with(
        Backend::Postgres,
        SpawnOptions {
            env: vec![("BERTH_SUBSCRIPTION_ID".into(), id.to_uppercase())],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(app.subscription, id);
}

#[tokio::test]
async fn a_configured_certificate_and_key_are_served() {
    let generated = spawn_app_with(
        Backend::Sqlite,
        SpawnOptions {
            tls: true,
            ..Default::default()
        },
    )
    .await;
    let tls = generated.data_dir.path().join("tls");
    let configured = spawn_app_with(
        Backend::Sqlite,
        SpawnOptions {
            env: vec![
                ("BERTH_TLS".into(), "files".into()),
                (
                    "BERTH_TLS_CERT".into(),
                    tls.join("dev-cert.pem").display().to_string(),
                ),
                (
                    "BERTH_TLS_KEY".into(),
                    tls.join("dev-key.pem").display().to_string(),
                ),
            ],
            trust_ca: Some(tls.join("dev-ca.pem")),
            ..Default::default()
        },
    )
    .await;
    assert!(configured.base.starts_with("https://"));
    assert!(
        !configured.data_dir.path().join("tls").exists(),
        "no certificate is generated when one is configured"
    );
    assert_eq!(configured.get("/readyz").await.0, StatusCode::OK);
}
