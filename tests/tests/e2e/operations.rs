//! Durable long-running operations: the ARM headers, the status resources, and the
//! database lease that lets exactly one worker run each operation.

use super::*;
use berth_domain::arm::{RegistryId, ResourceGroupId, ResourceGroupName, SubscriptionId};
use berth_domain::operation::{Operation, OperationKind, OperationRepository};
use berth_domain::registry::RegistryName;
use berth_infra::persistence::SeaOrmOperationRepository;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

both_backends! {
    async fn deleting_a_registry_is_a_long_running_operation(app) {
        app.create_group("rg").await;
        app.create_registry("rg", "gone0001", "Standard").await;
        let path = app.registry_path("rg", "gone0001");
        let deleted = app.delete(&format!("{path}?api-version={API}")).await;
        assert_eq!(deleted.status, StatusCode::ACCEPTED);
        assert_eq!(deleted.header("retry-after"), Some("1"));
        let status_url = deleted.header("azure-asyncoperation").unwrap().to_owned();
        let result_url = deleted.header("location").unwrap().to_owned();
        assert!(status_url.starts_with(&format!("{}{path}/operationStatuses/", app.base)), "{status_url}");
        assert!(status_url.ends_with(&format!("?api-version={API}")));
        let done = app.wait_for_operation(&status_url).await;
        assert_eq!(done["status"], "Succeeded");
        assert!(done["startTime"].is_string() && done["endTime"].is_string());
        let result = app.send(reqwest::Method::GET, &result_url, None, &[]).await;
        assert_eq!(result.status, StatusCode::NO_CONTENT);
        let (status, body) = app.get(&format!("{path}?api-version={API}")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("ResourceNotFound")));
        assert_eq!(app.delete(&format!("{path}?api-version={API}")).await.status, StatusCode::NO_CONTENT);
        let unknown = format!("{path}/operationStatuses/{}?api-version={API}", uuid::Uuid::new_v4());
        assert_eq!(app.get(&unknown).await.0, StatusCode::NOT_FOUND);
    }
}

async fn repository(app: &TestApp) -> SeaOrmOperationRepository {
    SeaOrmOperationRepository::new(app.database().await)
}

/// Records an operation the way the registry repository does, without a worker running it.
async fn recorded_operation(app: &mut TestApp) -> Operation {
    use berth_domain::registry::RegistryRepository;
    app.create_group("leases").await;
    app.create_registry("leases", "leased01", "Basic").await;
    app.stop().await;
    let id = RegistryId {
        resource_group: ResourceGroupId {
            subscription: SubscriptionId::parse(&app.subscription).unwrap(),
            name: ResourceGroupName::parse("leases").unwrap(),
        },
        name: RegistryName::parse("leased01").unwrap(),
    };
    let registries = berth_infra::persistence::SeaOrmRegistryRepository::new(app.database().await);
    let registry = registries.get(&id).await.unwrap().unwrap();
    let op = Operation::start(
        OperationKind::DeleteRegistry(id.clone()),
        OffsetDateTime::now_utc(),
    );
    registries
        .begin_delete(&id, &registry.etag, &op)
        .await
        .unwrap();
    op
}

both_backends! {
    async fn an_operation_is_claimed_by_exactly_one_of_many_workers(app) {
        let mut app = app;
        let op = recorded_operation(&mut app).await;
        let repo = Arc::new(repository(&app).await);
        let now = OffsetDateTime::now_utc();
        let claims = (0..8).map(|i| {
            let repo = repo.clone();
            tokio::spawn(async move { repo.claim_next(&format!("worker-{i}"), now, Duration::seconds(60)).await.unwrap() })
        });
        let mut winners = Vec::new();
        for claim in claims {
            if let Some(claimed) = claim.await.unwrap() {
                winners.push(claimed);
            }
        }
        assert_eq!(winners.len(), 1, "exactly one worker holds the lease");
        assert_eq!(winners[0].id, op.id);
        assert_eq!(winners[0].attempts, 1);
    }

    async fn an_operation_whose_worker_died_is_taken_over_after_its_lease(app) {
        let mut app = app;
        let op = recorded_operation(&mut app).await;
        let repo = repository(&app).await;
        let now = OffsetDateTime::now_utc();
        assert!(repo.claim_next("crashed", now, Duration::seconds(60)).await.unwrap().is_some());
        assert!(repo.claim_next("other", now + Duration::seconds(30), Duration::seconds(60)).await.unwrap().is_none());
        let taken = repo.claim_next("other", now + Duration::seconds(61), Duration::seconds(60)).await.unwrap();
        assert_eq!(taken.map(|t| (t.id, t.attempts)), Some((op.id, 2)));
    }

    async fn a_recorded_operation_is_finished_after_a_restart(app) {
        let mut app = app;
        let op = recorded_operation(&mut app).await;
        let dir = app.data_dir.path().to_owned();
        let again = berth_tests::spawn_app_with(app.backend, berth_tests::SpawnOptions {
            reuse: Some((dir, app.schema.clone())),
            ..Default::default()
        })
        .await;
        let status_url = format!("{}{}/operationStatuses/{}?api-version={API}", again.base, again.registry_path("leases", "leased01"), op.id);
        let done = again.wait_for_operation(&status_url).await;
        assert_eq!(done["status"], "Succeeded");
        assert_eq!(again.get(&format!("{}?api-version={API}", again.registry_path("leases", "leased01"))).await.0, StatusCode::NOT_FOUND);
        drop(again);
    }
}

both_backends! {
    async fn a_deletion_is_retried_while_the_store_fails_and_finishes_when_it_recovers(app) {
        use sea_orm::ConnectionTrait;
        app.create_group("flaky").await;
        app.create_registry("flaky", "flaky001", "Basic").await;
        let db = app.database().await;
        let (block, unblock) = if app.schema.is_some() {
            (
                "CREATE FUNCTION store_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'store down'; END $$; \
                 CREATE TRIGGER store_down BEFORE DELETE ON registries FOR EACH ROW EXECUTE FUNCTION store_down();",
                "DROP TRIGGER store_down ON registries",
            )
        } else {
            (
                "CREATE TRIGGER store_down BEFORE DELETE ON registries BEGIN SELECT RAISE(ABORT, 'store down'); END;",
                "DROP TRIGGER store_down",
            )
        };
        db.writer().execute_unprepared(block).await.unwrap();
        let path = app.registry_path("flaky", "flaky001");
        let deleted = app.delete(&format!("{path}?api-version={API}")).await;
        assert_eq!(deleted.status, StatusCode::ACCEPTED);
        let status_url = deleted.header("azure-asyncoperation").unwrap().to_owned();
        // Once an attempt has failed (its error is on the status), it is still running.
        let failed = berth_tests::poll(std::time::Duration::from_secs(20), std::time::Duration::from_millis(100), || async {
            Some(app.get(&status_url).await.1).filter(|status| status["error"]["code"].is_string())
        }).await;
        let running = match failed {
            Some(status) => status,
            None => app.get(&status_url).await.1,
        };
        assert_eq!(running["status"], "InProgress", "the failed attempts are retried, not given up: {running}");
        let (_, registry) = app.get(&format!("{path}?api-version={API}")).await;
        assert_eq!(registry["properties"]["provisioningState"], "Deleting");
        let change = app.patch(&format!("{path}?api-version={API}"), &json!({"tags": {"late": "yes"}})).await;
        assert_eq!((change.status, change.error_code()), (StatusCode::CONFLICT, "RegistryBeingDeleted"));
        let again = app.delete(&format!("{path}?api-version={API}")).await;
        assert_eq!(again.header("azure-asyncoperation"), Some(status_url.as_str()), "a second DELETE joins the running one");
        db.writer().execute_unprepared(unblock).await.unwrap();
        let done = app.wait_for_operation(&status_url).await;
        assert_eq!(done["status"], "Succeeded");
        assert_eq!(app.get(&format!("{path}?api-version={API}")).await.0, StatusCode::NOT_FOUND);
    }
}
