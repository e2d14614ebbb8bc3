//! Role-assignment conditions that would crash or hang the server (issue 19, finding 4): a
//! condition nested 200,000 deep overflowed the parser's stack, a `StringLike` pattern of
//! many `*` backtracked exponentially on every token request, and a stored pattern of
//! 400,000 `*` crashed `berthd` at every start. Conditions are now capped in length and
//! nesting with a 400, matched in bounded time, and a stored one over the limits is refused
//! by the index (it grants nothing) and reported, without stopping the server.

use super::*;
use berth_infra::persistence::entities::rbac::role_assignment;
use berth_tests::fixtures::{access, login_server, signed_in};
use berth_tests::jwt_claims;
use berth_tests::{SpawnOptions, per_backend, spawn_app_with};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::time::Duration;

/// Container Registry Repository Reader: its reads are data actions, which conditions limit
/// (AcrPull's `pull/read` is a control action, which conditions do not limit, as in Azure).
const REPOSITORY_READER: &str = "b93aa761-3e63-49ed-ac28-beffa264f7ac";

const REPO: &str = "@Request[Microsoft.ContainerRegistry/registries/repositories:name]";

fn assignment_url(scope: &str, name: &str) -> String {
    format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01"
    )
}

fn conditioned(principal: &str, condition: &str) -> Value {
    json!({"properties": {"roleDefinitionId": REPOSITORY_READER, "principalId": principal,
        "condition": condition, "conditionVersion": "2.0"}})
}

/// The repositories and actions a token for `scope` grants; a hung matcher fails the test
/// instead of stalling the suite.
async fn granted(app: &TestApp, service: &str, scope: &str, refresh: &str) -> Value {
    let reply = tokio::time::timeout(
        Duration::from_secs(60),
        access(app, service, scope, refresh),
    )
    .await
    .unwrap_or_else(|_| panic!("the token request for {scope} did not answer within 60 s"));
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    jwt_claims(reply.body["access_token"].as_str().unwrap())["access"].clone()
}

both_backends! {
    async fn a_condition_too_long_or_too_deep_is_refused_and_the_server_stays_up(app) {
        app.create_group("cond").await;
        app.create_registry("cond", "condreg01", "Basic").await;
        let registry = app.registry_path("cond", "condreg01");
        let (object, _, _) = signed_in(&app, &registry, "", "cond-reader").await;

        let bangs = format!("{}ActionMatches{{'x'}}", "!".repeat(200_000));
        let parens = format!("{}ActionMatches{{'x'}}{}", "(".repeat(1000), ")".repeat(1000));
        let long = format!("{REPO} StringEquals '{}'", "a".repeat(9 * 1024));
        for (what, condition, says) in [
            ("200,000 '!'", bangs.as_str(), "8192 bytes"),
            ("1,000 '('", parens.as_str(), "32 deep"),
            ("a 9 KiB value", long.as_str(), "8192 bytes"),
        ] {
            let name = uuid::Uuid::new_v4().to_string();
            let refused = app.put(&assignment_url(&registry, &name), &conditioned(&object, condition)).await;
            assert_eq!((refused.status, refused.error_code()), (StatusCode::BAD_REQUEST, "InvalidRequestContent"), "{what}: {:?}", refused.body);
            let message = refused.body["error"]["message"].as_str().unwrap();
            assert_eq!(refused.body["error"]["target"], "properties.condition", "{what}");
            assert!(message.contains(says), "{what}: {message}");
            let (status, _) = app.get(&assignment_url(&registry, &name)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{what}: nothing stored");
        }
        let (status, _) = app.get("/healthz").await;
        assert_eq!(status, StatusCode::OK, "the server is still up");

        // Nesting up to the limit is taken.
        let deep_ok = format!(
            "{}ActionMatches{{'Microsoft.ContainerRegistry/registries/repositories/content/read'}}{}",
            "!(".repeat(16),
            ")".repeat(16)
        );
        let made = app.put(&assignment_url(&registry, &uuid::Uuid::new_v4().to_string()), &conditioned(&object, &deep_ok)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    }

    async fn many_stars_in_a_string_like_condition_do_not_hang_token_requests(app) {
        app.create_group("glob").await;
        app.create_registry("glob", "globreg01", "Basic").await;
        let registry = app.registry_path("glob", "globreg01");
        let service = login_server(&app, &registry).await;
        let (object, _, refresh) = signed_in(&app, &registry, "", "glob-reader").await;
        // Thirty `*a`: a backtracking matcher never finishes against a long name that fails.
        let condition = format!("{REPO} StringLike '{}'", "*a".repeat(30));
        let made = app.put(&assignment_url(&registry, &uuid::Uuid::new_v4().to_string()), &conditioned(&object, &condition)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);

        let failing = format!("{}b", "a".repeat(199));
        assert_eq!(granted(&app, &service, &format!("repository:{failing}:pull"), &refresh).await, json!([]));
        let matching = "a".repeat(200);
        assert_eq!(
            granted(&app, &service, &format!("repository:{matching}:pull"), &refresh).await,
            json!([{"type": "repository", "name": matching, "actions": ["pull"]}])
        );
    }
}

per_backend! {
    async fn a_stored_condition_over_the_limits_grants_nothing_and_does_not_stop_berthd(backend) {
        let mut app = spawn_app_with(
            backend,
            SpawnOptions {
                process: Some(env!("CARGO_BIN_EXE_berthd-e2e").into()),
                ..SpawnOptions::default()
            },
        )
        .await;
        app.create_group("stored").await;
        app.create_registry("stored", "storedreg1", "Basic").await;
        let registry = app.registry_path("stored", "storedreg1");
        let service = login_server(&app, &registry).await;
        let (object, _, refresh) = signed_in(&app, &registry, "", "stored-reader").await;
        let name = uuid::Uuid::new_v4().to_string();
        let made = app.put(&assignment_url(&registry, &name), &conditioned(&object, &format!("{REPO} StringLike 'team-a/*'"))).await;
        assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
        let team_a = json!([{"type": "repository", "name": "team-a/app", "actions": ["pull"]}]);
        assert_eq!(granted(&app, &service, "repository:team-a/app:pull", &refresh).await, team_a);

        // What the audit stored (through a berthd without the limits): 400,000 `*`.
        app.kill().await;
        let db = app.database().await;
        let stars = format!("{REPO} StringLike '{}'", "*".repeat(400_000));
        let updated = role_assignment::Entity::update_many()
            .col_expr(role_assignment::Column::Condition, Expr::value(stars))
            .filter(role_assignment::Column::Name.eq(name.as_str()))
            .exec(db.writer())
            .await
            .unwrap();
        assert_eq!(updated.rows_affected, 1);
        app.restart().await;

        let (status, _) = app.get("/healthz").await;
        assert_eq!(status, StatusCode::OK, "berthd starts:\n{}", app.log());
        assert_eq!(granted(&app, &service, "repository:team-a/app:pull", &refresh).await, json!([]), "the unreadable condition grants nothing");
        assert!(
            app.log().lines().any(|l| l.contains("cannot be read") && l.contains(&name)),
            "the assignment is reported:\n{}",
            app.log()
        );
        // The owner still reads and removes it; a replacement within the limits works again.
        let (status, _) = app.get(&assignment_url(&registry, &name)).await;
        assert_eq!(status, StatusCode::OK);
        let gone = app.delete(&assignment_url(&registry, &name)).await;
        assert!(gone.status.is_success(), "{:?}", gone.body);
        let again = app.put(&assignment_url(&registry, &uuid::Uuid::new_v4().to_string()), &conditioned(&object, &format!("{REPO} StringLike 'team-a/*'"))).await;
        assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
        assert_eq!(granted(&app, &service, "repository:team-a/app:pull", &refresh).await, team_a);
    }
}
