//! Escalation through role definitions and assignments (issue 19, findings 1 and 10): a
//! caller administering one registry — as a service principal, as a user, or through a group
//! — tries to widen itself to the subscription or to `/` by rewriting, creating or deleting
//! custom roles, by assigning itself roles, and by scopes that climb with `..`. Every attempt
//! is checked on the state afterwards, read as the bootstrap owner.

use super::*;
use berth_tests::client_token;
use berth_tests::roles::{OWNER, as_token, assign, principal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MANAGEMENT: &str = "https://management.berth.local/.default";
const AUTH_API: &str = "api-version=2022-04-01";

fn role_url(scope: &str, id: &str) -> String {
    format!("{scope}/providers/Microsoft.Authorization/roleDefinitions/{id}?{AUTH_API}")
}

fn assignment_url(scope: &str, name: &str) -> String {
    format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?{AUTH_API}")
}

fn role_body(name: &str, actions: &[&str], scopes: &[&str]) -> Value {
    json!({"properties": {
        "roleName": name,
        "description": "test role",
        "permissions": [{"actions": actions}],
        "assignableScopes": scopes,
    }})
}

/// A custom role made by the bootstrap owner at `scope`; its id.
async fn owner_role(app: &TestApp, scope: &str, name: &str, scopes: &[&str]) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let r = app
        .put(
            &role_url(scope, &id),
            &role_body(
                name,
                &["Microsoft.ContainerRegistry/registries/read"],
                scopes,
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    id
}

/// The role as the bootstrap owner reads it at `/`, or `None`.
async fn stored_role(app: &TestApp, id: &str) -> Option<Value> {
    let (status, body) = app.get(&role_url("", id)).await;
    match status {
        StatusCode::OK => Some(body),
        StatusCode::NOT_FOUND => None,
        other => panic!("reading role {id}: {other} {body}"),
    }
}

/// The scopes (lowercase) at which `principal` holds assignments, read by the owner at `/`.
async fn assigned_scopes(app: &TestApp, principal: &str) -> Vec<String> {
    let (status, body) = app
        .get(&format!(
            "/providers/Microsoft.Authorization/roleAssignments?{AUTH_API}&$filter=principalId eq '{principal}'"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut scopes: Vec<String> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["properties"]["scope"].as_str().unwrap().to_lowercase())
        .collect();
    scopes.sort();
    scopes
}

/// The kinds of caller that administer one registry.
#[derive(Debug, Clone, Copy)]
enum Kind {
    ServicePrincipal,
    User,
    GroupMember,
}

/// A caller of `kind` holding Owner at `scope` (directly or through a group): its object id
/// and management token.
async fn registry_admin(app: &TestApp, kind: Kind, scope: &str, name: &str) -> (String, String) {
    match kind {
        Kind::ServicePrincipal | Kind::GroupMember => {
            let (id, creds) = principal(app, name).await;
            if let Kind::GroupMember = kind {
                let group = app
                    .send(
                        reqwest::Method::POST,
                        "/v1.0/groups",
                        Some(&json!({"displayName": format!("{name}-admins")})),
                        &[],
                    )
                    .await;
                let group = group.body["id"].as_str().unwrap().to_owned();
                let r = app
                    .send(
                        reqwest::Method::POST,
                        &format!("/v1.0/groups/{group}/members/$ref"),
                        Some(&json!({"@odata.id": format!("{}/v1.0/directoryObjects/{id}", app.base)})),
                        &[],
                    )
                    .await;
                assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
                assign(app, scope, OWNER, &group).await;
            } else {
                assign(app, scope, OWNER, &id).await;
            }
            let token = client_token(&reqwest::Client::new(), &app.base, &creds, MANAGEMENT).await;
            (id, token)
        }
        Kind::User => {
            let upn = format!("{name}@contoso.test");
            let user = app
                .send(
                    reqwest::Method::POST,
                    "/v1.0/users",
                    Some(&json!({"userPrincipalName": upn, "passwordProfile": {"password": "person-password"}})),
                    &[],
                )
                .await;
            assert_eq!(user.status, StatusCode::CREATED, "{:?}", user.body);
            let id = user.body["id"].as_str().unwrap().to_owned();
            assign(app, scope, OWNER, &id).await;
            let token = berth_tests::password_token(
                &app.client,
                &app.base,
                &upn,
                "person-password",
                MANAGEMENT,
            )
            .await;
            (id, token)
        }
    }
}

/// Sends a request with its path exactly as given (no client normalizes its `..`), as an
/// attacker's raw client would; the status code.
async fn raw_put(app: &TestApp, token: &str, path: &str, body: &Value) -> u16 {
    let authority = app
        .base
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("the app listens on plain HTTP in these tests: {}", app.base));
    let body = body.to_string();
    let request = format!(
        "PUT {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"))
}

both_backends! {
    async fn a_registry_owner_cannot_widen_a_custom_role_assigned_at_the_subscription(app) {
        app.create_group("rg").await;
        app.create_registry("rg", "widenreg1", "Premium").await;
        let registry = app.registry_path("rg", "widenreg1");
        let sub = format!("/subscriptions/{}", app.subscription);
        for kind in [Kind::ServicePrincipal, Kind::User, Kind::GroupMember] {
            let name = format!("{kind:?}").to_lowercase();
            let (id, token) = registry_admin(&app, kind, &registry, &format!("widen-{name}")).await;
            // A custom role the owner defined at the subscription, assigned to the caller there.
            let role = owner_role(&app, &sub, &format!("Sub reader {name}"), &[&sub]).await;
            assign(&app, &sub, &role, &id).await;
            let before = stored_role(&app, &role).await.unwrap();

            // The audit's attack: rewrite it into `*` assignable at `/`, through the registry.
            let widened = as_token(&app, &token, reqwest::Method::PUT, &role_url(&registry, &role),
                Some(&role_body(&format!("Sub reader {name}"), &["*"], &["/"]))).await;
            assert_eq!((widened.status, widened.error_code()), (StatusCode::FORBIDDEN, "AuthorizationFailed"), "{kind:?}: {:?}", widened.body);
            // Narrowing it to the registry still changes a role used at the subscription.
            let moved = as_token(&app, &token, reqwest::Method::PUT, &role_url(&registry, &role),
                Some(&role_body(&format!("Sub reader {name}"), &["*"], &[&registry]))).await;
            assert_eq!(moved.status, StatusCode::FORBIDDEN, "{kind:?}: {:?}", moved.body);
            assert_eq!(stored_role(&app, &role).await.unwrap(), before, "{kind:?}: the role is unchanged");

            // A new role assignable above the registry is refused and not stored.
            let wide_id = uuid::Uuid::new_v4().to_string();
            for scopes in [vec!["/"], vec![sub.as_str()], vec![registry.as_str(), sub.as_str()]] {
                let created = as_token(&app, &token, reqwest::Method::PUT, &role_url(&registry, &wide_id),
                    Some(&role_body(&format!("Everything {name}"), &["*"], &scopes))).await;
                assert_eq!(created.status, StatusCode::FORBIDDEN, "{kind:?} {scopes:?}: {:?}", created.body);
            }
            assert!(stored_role(&app, &wide_id).await.is_none(), "{kind:?}: nothing stored");

            // Neither can it assign itself Owner above the registry.
            let owner = as_token(&app, &token, reqwest::Method::PUT,
                &assignment_url(&sub, &uuid::Uuid::new_v4().to_string()),
                Some(&json!({"properties": {"roleDefinitionId": OWNER, "principalId": id}}))).await;
            assert_eq!(owner.status, StatusCode::FORBIDDEN, "{kind:?}: {:?}", owner.body);
            let expected = match kind {
                Kind::GroupMember => vec![sub.to_lowercase()],
                _ => vec![sub.to_lowercase(), registry.to_lowercase()],
            };
            assert_eq!(assigned_scopes(&app, &id).await, expected, "{kind:?}: only what the owner gave");

            // What it may do stays possible: a role assignable within its registry.
            let own = as_token(&app, &token, reqwest::Method::PUT, &role_url(&registry, &uuid::Uuid::new_v4().to_string()),
                Some(&role_body(&format!("Registry helper {name}"), &["Microsoft.ContainerRegistry/registries/read"], &[&registry]))).await;
            assert_eq!(own.status, StatusCode::CREATED, "{kind:?}: {:?}", own.body);
        }
    }

    async fn a_registry_owner_cannot_read_or_delete_a_role_defined_elsewhere(app) {
        app.create_group("rg").await;
        app.create_group("rg2").await;
        app.create_registry("rg", "delreg001", "Basic").await;
        let registry = app.registry_path("rg", "delreg001");
        let sub = format!("/subscriptions/{}", app.subscription);
        let rg2 = format!("{sub}/resourceGroups/rg2");
        let (_, token) = registry_admin(&app, Kind::ServicePrincipal, &registry, "deleter").await;
        let elsewhere = owner_role(&app, &rg2, "Other group's role", &[&rg2]).await;
        let above = owner_role(&app, &sub, "Subscription role", &[&sub]).await;

        // A role of another resource group is not seen from the registry: not read, not
        // deleted (a delete of what is not there is 204, as in ARM), and still stored.
        let read = as_token(&app, &token, reqwest::Method::GET, &role_url(&registry, &elsewhere), None).await;
        assert_eq!((read.status, read.error_code()), (StatusCode::NOT_FOUND, "RoleDefinitionDoesNotExist"), "{:?}", read.body);
        let deleted = as_token(&app, &token, reqwest::Method::DELETE, &role_url(&registry, &elsewhere), None).await;
        assert_ne!(deleted.status, StatusCode::OK, "{:?}", deleted.body);
        assert!(stored_role(&app, &elsewhere).await.is_some(), "the other group's role survives");
        let listed = as_token(&app, &token, reqwest::Method::GET,
            &format!("{registry}/providers/Microsoft.Authorization/roleDefinitions?{AUTH_API}"), None).await;
        assert!(!listed.body.to_string().contains(&elsewhere), "not listed from the registry");

        // A role assignable at the subscription is seen from the registry, but deleting it
        // needs the permission at the subscription.
        let read = as_token(&app, &token, reqwest::Method::GET, &role_url(&registry, &above), None).await;
        assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
        let deleted = as_token(&app, &token, reqwest::Method::DELETE, &role_url(&registry, &above), None).await;
        assert_eq!((deleted.status, deleted.error_code()), (StatusCode::FORBIDDEN, "AuthorizationFailed"), "{:?}", deleted.body);
        assert!(stored_role(&app, &above).await.is_some(), "the subscription's role survives");
        let at_sub = as_token(&app, &token, reqwest::Method::DELETE, &role_url(&sub, &above), None).await;
        assert_eq!(at_sub.status, StatusCode::FORBIDDEN, "{:?}", at_sub.body);
        assert!(stored_role(&app, &above).await.is_some());

        // The owner, allowed at every one of its scopes, deletes both.
        for id in [&elsewhere, &above] {
            let r = app.delete(&role_url(&sub, id)).await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            assert!(stored_role(&app, id).await.is_none());
        }
    }

    async fn a_repository_scope_cannot_climb_out_of_its_registry_with_dot_segments(app) {
        app.create_group("rg").await;
        app.create_registry("rg", "climbreg1", "Basic").await;
        let registry = app.registry_path("rg", "climbreg1");
        let (id, token) = registry_admin(&app, Kind::ServicePrincipal, &registry, "climber").await;
        let before = assigned_scopes(&app, &id).await;
        let climbing = [
            format!("{registry}/repositories/../../../../resourceGroups/rg"),
            format!("{registry}/repositories/app/%2E%2E/%2e%2e"),
            format!("{registry}/repositories/./app"),
            format!("{registry}/repositories/App:latest"),
        ];
        for scope in &climbing {
            let path = assignment_url(scope, &uuid::Uuid::new_v4().to_string());
            let status = raw_put(&app, &token, &path,
                &json!({"properties": {"roleDefinitionId": OWNER, "principalId": id}})).await;
            assert!(status == 400 || status == 404, "{scope}: {status}");
        }
        // Nor as a role's assignable scope.
        let role = as_token(&app, &token, reqwest::Method::PUT, &role_url(&registry, &uuid::Uuid::new_v4().to_string()),
            Some(&role_body("Climbing role", &["*"], &[&climbing[0]]))).await;
        assert_eq!((role.status, role.error_code()), (StatusCode::BAD_REQUEST, "InvalidScope"), "{:?}", role.body);
        assert_eq!(assigned_scopes(&app, &id).await, before, "nothing was assigned");
        // A well-formed repository scope is still assignable.
        let repo = format!("{registry}/repositories/team/app");
        let ok = as_token(&app, &token, reqwest::Method::PUT, &assignment_url(&repo, &uuid::Uuid::new_v4().to_string()),
            Some(&json!({"properties": {"roleDefinitionId": OWNER, "principalId": id}}))).await;
        assert_eq!(ok.status, StatusCode::CREATED, "{:?}", ok.body);
    }

    async fn a_conditioned_reader_cannot_lift_or_widen_its_condition(app) {
        use berth_tests::fixtures::{access, login_server, signed_in};
use berth_tests::jwt_claims;
        app.create_group("rg").await;
        app.create_registry("rg", "condreg01", "Basic").await;
        let registry = app.registry_path("rg", "condreg01");
        let service = login_server(&app, &registry).await;
        let (object, creds, refresh) = signed_in(&app, &registry, "", "cond-reader").await;
        let reader_role = "b93aa761-3e63-49ed-ac28-beffa264f7ac";
        let condition = "((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'})) OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWith 'team-a/'))";
        let name = uuid::Uuid::new_v4().to_string();
        let made = app.put(&assignment_url(&registry, &name), &json!({"properties": {
            "roleDefinitionId": reader_role, "principalId": object, "condition": condition, "conditionVersion": "2.0"}})).await;
        assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
        let token = client_token(&reqwest::Client::new(), &app.base, &creds, MANAGEMENT).await;
        let unconditioned = json!({"properties": {"roleDefinitionId": reader_role, "principalId": object}});
        for (what, method, url, body) in [
            ("re-put without the condition", reqwest::Method::PUT, assignment_url(&registry, &name), Some(&unconditioned)),
            ("a second, unconditioned assignment", reqwest::Method::PUT, assignment_url(&registry, &uuid::Uuid::new_v4().to_string()), Some(&unconditioned)),
            ("a wider condition", reqwest::Method::PUT, assignment_url(&registry, &uuid::Uuid::new_v4().to_string()),
                Some(&json!({"properties": {"roleDefinitionId": reader_role, "principalId": object,
                    "condition": "@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringLike '*'", "conditionVersion": "2.0"}}))),
            ("deleting the conditioned assignment", reqwest::Method::DELETE, assignment_url(&registry, &name), None),
        ] {
            let r = as_token(&app, &token, method, &url, body).await;
            assert_eq!((r.status, r.error_code()), (StatusCode::FORBIDDEN, "AuthorizationFailed"), "{what}: {:?}", r.body);
        }
        // One assignment, still conditioned; and the token server still applies it.
        let (_, held) = app.get(&format!(
            "{registry}/providers/Microsoft.Authorization/roleAssignments?{AUTH_API}&$filter=principalId eq '{object}'")).await;
        let held = held["value"].as_array().unwrap().clone();
        assert_eq!(held.len(), 1, "{held:?}");
        assert_eq!(held[0]["properties"]["condition"], condition);
        let other = access(&app, &service, "repository:team-b/app:pull", &refresh).await;
        assert_eq!(jwt_claims(other.body["access_token"].as_str().unwrap())["access"], json!([]));
    }
}
