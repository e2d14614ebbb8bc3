//! Every ARM and Graph route needs a valid token from the issuer, and every operation is
//! authorized from the caller's role assignments; discovery, health and docs stay open.

use super::*;
use berth_tests::roles::{ACR_PUSH, CONTRIBUTOR, OWNER, READER, as_token, assign, principal};
use berth_tests::{client_token, poll};
use std::time::Duration;

both_backends! {
    async fn requests_without_a_good_token_are_refused_with_a_challenge(app) {
        let path = "/subscriptions?api-version=2022-12-01";
        let none = app.send_as(reqwest::Method::GET, path, None, &[]).await;
        assert_eq!((none.status, none.error_code()), (StatusCode::UNAUTHORIZED, "AuthenticationFailed"));
        assert!(none.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer")));
        for bad in ["Bearer garbage", "Bearer a.b.c", "Basic dXNlcjpwYXNz"] {
            let r = app.send_as(reqwest::Method::GET, path, None, &[("authorization", bad)]).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad}");
        }
        let graph_audience = as_token(&app, &app.graph_token, reqwest::Method::GET, path, None).await;
        assert_eq!((graph_audience.status, graph_audience.error_code()), (StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken"), "a Graph token is not an ARM token");
        let registry_token = client_token(&reqwest::Client::new(), &app.base, &app.owner, "https://containerregistry.azure.net/.default").await;
        let registry_audience = as_token(&app, &registry_token, reqwest::Method::GET, path, None).await;
        assert_eq!(registry_audience.status, StatusCode::UNAUTHORIZED, "a registry token-service token is not an ARM token");
        let arm_on_graph = as_token(&app, &app.management_token, reqwest::Method::GET, "/v1.0/users", None).await;
        assert_eq!(arm_on_graph.status, StatusCode::UNAUTHORIZED, "an ARM token is not a Graph token");
        for open in ["/healthz", "/readyz", "/openapi.json", "/metadata/endpoints?api-version=2022-09-01", "/organizations/v2.0/.well-known/openid-configuration"] {
            assert_eq!(app.send_as(reqwest::Method::GET, open, None, &[]).await.status, StatusCode::OK, "{open} is open");
        }
    }

    async fn roles_decide_what_a_caller_may_do(app) {
        app.create_group("rg1").await;
        app.create_group("rg2").await;
        app.create_registry("rg1", "visible01", "Premium").await;
        app.create_registry("rg2", "hidden001", "Premium").await;
        let (reader, reader_creds) = principal(&app, "reader").await;
        assign(&app, &app.rg_path("rg1"), READER, &reader).await;
        let token = client_token(&reqwest::Client::new(), &app.base, &reader_creds, "https://management.berth.local/.default").await;
        let registry = format!("{}?api-version={API}", app.registry_path("rg1", "visible01"));
        assert_eq!(as_token(&app, &token, reqwest::Method::GET, &registry, None).await.status, StatusCode::OK);
        let write = as_token(&app, &token, reqwest::Method::PATCH, &registry, Some(&json!({"tags": {"x": "y"}}))).await;
        assert_eq!((write.status, write.error_code()), (StatusCode::FORBIDDEN, "AuthorizationFailed"));
        let message = write.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("with object id '{reader}' does not have authorization to perform action 'Microsoft.ContainerRegistry/registries/write' over scope")), "{message}");
        let other = format!("{}?api-version={API}", app.registry_path("rg2", "hidden001"));
        assert_eq!(as_token(&app, &token, reqwest::Method::GET, &other, None).await.status, StatusCode::FORBIDDEN);
        let list = as_token(&app, &token, reqwest::Method::GET, &format!("{}/providers/Microsoft.ContainerRegistry/registries?api-version={API}", app.sub_path()), None).await;
        let names: Vec<&str> = list.body["value"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["visible01"], "lists show only what the caller may read");
        let (_, after) = app.get(&registry).await;
        assert!(after["tags"].get("x").is_none(), "the refused PATCH changed nothing");

        let (pusher, pusher_creds) = principal(&app, "pusher").await;
        assign(&app, &app.registry_path("rg1", "visible01"), ACR_PUSH, &pusher).await;
        let token = client_token(&reqwest::Client::new(), &app.base, &pusher_creds, "https://management.berth.local/.default").await;
        assert_eq!(as_token(&app, &token, reqwest::Method::GET, &registry, None).await.status, StatusCode::FORBIDDEN, "AcrPush is data-plane only");

        let (contributor, contributor_creds) = principal(&app, "contributor").await;
        assign(&app, &app.sub_path(), CONTRIBUTOR, &contributor).await;
        let token = client_token(&reqwest::Client::new(), &app.base, &contributor_creds, "https://management.berth.local/.default").await;
        assert_eq!(as_token(&app, &token, reqwest::Method::PATCH, &registry, Some(&json!({"tags": {"by": "contributor"}}))).await.status, StatusCode::OK);
        let grab = as_token(&app, &token, reqwest::Method::PUT,
            &format!("{}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01", app.sub_path(), uuid::Uuid::new_v4()),
            Some(&json!({"properties": {"roleDefinitionId": OWNER, "principalId": contributor}}))).await;
        assert_eq!((grab.status, grab.error_code()), (StatusCode::FORBIDDEN, "AuthorizationFailed"), "no granting yourself Owner");
    }

    async fn a_deleted_principals_token_stops_working_at_once(app) {
        let (sp, creds) = principal(&app, "short-lived").await;
        assign(&app, &app.sub_path(), READER, &sp).await;
        let token = client_token(&reqwest::Client::new(), &app.base, &creds, "https://management.berth.local/.default").await;
        let path = format!("{}?api-version=2022-12-01", app.sub_path());
        assert_eq!(as_token(&app, &token, reqwest::Method::GET, &path, None).await.status, StatusCode::OK);
        assert_eq!(app.delete(&format!("/v1.0/servicePrincipals/{sp}")).await.status, StatusCode::NO_CONTENT);
        let after = as_token(&app, &token, reqwest::Method::GET, &path, None).await;
        assert_eq!((after.status, after.error_code()), (StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_refuses_a_deleted_principal_within_a_second() {
    let first = berth_tests::spawn_app(berth_tests::Backend::Postgres).await;
    let second = berth_tests::spawn_app_with(
        berth_tests::Backend::Postgres,
        berth_tests::SpawnOptions {
            reuse: Some((first.data_dir.path().to_owned(), first.schema.clone())),
            ..Default::default()
        },
    )
    .await;
    let (sp, creds) = principal(&first, "replicated").await;
    assign(&first, &first.sub_path(), READER, &sp).await;
    let token = client_token(
        &reqwest::Client::new(),
        &second.base,
        &creds,
        "https://management.berth.local/.default",
    )
    .await;
    let path = format!("{}?api-version=2022-12-01", second.sub_path());
    // The role assignment made through the first replica reaches the second's index.
    let allowed = poll(
        Duration::from_secs(3),
        Duration::from_millis(100),
        || async {
            (as_token(&second, &token, reqwest::Method::GET, &path, None)
                .await
                .status
                == StatusCode::OK)
                .then_some(())
        },
    )
    .await
    .is_some();
    assert!(
        allowed,
        "the second replica saw the role assignment within 3 s"
    );
    assert_eq!(
        first
            .delete(&format!("/v1.0/servicePrincipals/{sp}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let refused = || async {
        let reply = as_token(&second, &token, reqwest::Method::GET, &path, None).await;
        (reply.status == StatusCode::UNAUTHORIZED).then_some(reply)
    };
    let after = match poll(
        Duration::from_millis(1100),
        Duration::from_millis(50),
        refused,
    )
    .await
    {
        Some(reply) => reply,
        None => as_token(&second, &token, reqwest::Method::GET, &path, None).await,
    };
    assert_eq!(
        after.status,
        StatusCode::UNAUTHORIZED,
        "the deletion reached the other replica within a second"
    );
}
