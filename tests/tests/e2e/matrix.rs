//! Walks every route of the OpenAPI document, so that a new route without authentication
//! or without an authorization check fails the suite: with no token every protected route
//! answers 401, and a caller holding only AcrPush (a data-plane role) is refused every ARM
//! read.

use super::*;
use berth_tests::roles::ACR_PUSH;
use berth_tests::{Backend, client_token, spawn_app};

/// A concrete URL for a path template of the spec.
fn concrete(app: &TestApp, template: &str, api_version: Option<&str>) -> String {
    let path = template
        .replace("{subscriptionId}", &app.subscription)
        .replace("{resourceGroupName}", "matrix")
        .replace("{registryName}", "matrixreg1")
        .replace("{scopeMapName}", "matrixmap1")
        .replace("{tokenName}", "matrixtok1")
        .replace("{operationId}", &uuid::Uuid::new_v4().to_string())
        .replace("{roleDefinitionId}", "7f951dda-4ed3-4680-a7ca-43fe172d538d")
        .replace("{roleAssignmentName}", &uuid::Uuid::new_v4().to_string())
        .replace("{memberId}", &uuid::Uuid::new_v4().to_string())
        .replace("{id}", &uuid::Uuid::new_v4().to_string())
        .replace("{tenant}", "organizations");
    assert!(
        !path.contains('{'),
        "a path parameter the matrix does not know: {path}"
    );
    match api_version {
        Some(v) => format!("{path}?api-version={v}"),
        None => path,
    }
}

fn api_version(operation: &Value) -> Option<&str> {
    operation["parameters"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == "api-version")
        .and_then(|p| p["example"].as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protected_route_wants_a_token_and_every_arm_read_is_authorized() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_group("matrix").await;
    app.create_registry("matrix", "matrixreg1", "Premium").await;
    let application = app
        .send(
            reqwest::Method::POST,
            "/v1.0/applications",
            Some(&json!({"displayName": "pusher"})),
            &[],
        )
        .await;
    let object = application.body["id"].as_str().unwrap().to_owned();
    let app_id = application.body["appId"].as_str().unwrap().to_owned();
    let password = app
        .send(
            reqwest::Method::POST,
            &format!("/v1.0/applications/{object}/addPassword"),
            Some(&json!({})),
            &[],
        )
        .await;
    let (_, sp) = app.get(&format!("/v1.0/servicePrincipals/{app_id}")).await;
    let registry = app.registry_path("matrix", "matrixreg1");
    let assignment = app.put(&format!("{registry}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01", uuid::Uuid::new_v4()),
        &json!({"properties": {"roleDefinitionId": ACR_PUSH, "principalId": sp["id"]}})).await;
    assert_eq!(assignment.status, StatusCode::CREATED);
    let creds = (
        app_id,
        password.body["secretText"].as_str().unwrap().to_owned(),
    );
    let pusher = client_token(
        &reqwest::Client::new(),
        &app.base,
        &creds,
        "https://management.berth.local/.default",
    )
    .await;

    let spec = app
        .send_as(reqwest::Method::GET, "/openapi.json", None, &[])
        .await
        .body;
    let mut checked = 0;
    for (template, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let open = operation["security"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|r| r.as_object().is_some_and(serde_json::Map::is_empty))
            });
            let url = concrete(&app, template, api_version(operation));
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (method != reqwest::Method::GET
                && method != reqwest::Method::DELETE
                && method != reqwest::Method::HEAD)
                .then(|| json!({}));
            let anonymous = app.send_as(method.clone(), &url, body.as_ref(), &[]).await;
            if open {
                assert_ne!(
                    anonymous.status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {template} is documented as open"
                );
            } else {
                assert_eq!(
                    anonymous.status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {template} answered without a token: {:?}",
                    anonymous.body
                );
            }
            let arm_read = method == reqwest::Method::GET
                && !open
                && !template.starts_with("/v1.0/")
                && template != "/tenants";
            if arm_read {
                let listed = template.ends_with("/registries")
                    || template.ends_with("/resourceGroups")
                    || template == "/subscriptions"
                    || template.ends_with("/resources");
                let r = app
                    .send_as(
                        method.clone(),
                        &url,
                        None,
                        &[("authorization", &format!("Bearer {pusher}"))],
                    )
                    .await;
                if listed {
                    // Lists answer, but show nothing the caller may not read.
                    assert_eq!(
                        r.status,
                        StatusCode::OK,
                        "{method} {template}: {:?}",
                        r.body
                    );
                    if template == "/subscriptions" {
                        // As in ARM: a role anywhere in a subscription lists it (az login,
                        // then az acr login, rely on it).
                        assert_eq!(
                            r.body["value"][0]["subscriptionId"],
                            app.subscription.as_str(),
                            "{:?}",
                            r.body
                        );
                    } else {
                        assert_eq!(
                            r.body["value"],
                            json!([]),
                            "{method} {template} showed what AcrPush may not read"
                        );
                    }
                } else if template.starts_with("/subscriptions/{subscriptionId}/operation") {
                    // A resource-group operation's scope is known only once it is found.
                    assert!(
                        matches!(r.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                        "{method} {template}: {:?}",
                        r.body
                    );
                } else {
                    assert_eq!(
                        r.status,
                        StatusCode::FORBIDDEN,
                        "{method} {template} let AcrPush read: {:?}",
                        r.body
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "walked {checked} operations");
}

/// What a role held at the subscription lets its holder do on one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Anything but 401 and 403.
    Allowed,
    /// 403 `AuthorizationFailed`.
    Denied,
}

fn expect(role: &str, method: &reqwest::Method, url_scope_is_root: bool, template: &str) -> Expect {
    use Expect::{Allowed, Denied};
    let read = *method == reqwest::Method::GET
        || *method == reqwest::Method::HEAD
        || template.ends_with("/getByIds")
        || template.ends_with("/checkNameAvailability");
    if template.starts_with("/v1.0/") {
        // Anyone signed in reads the directory; writing it takes a directory role, which
        // no ARM role (these callers' only roles) stands in for.
        return if read { Allowed } else { Denied };
    }
    if template == "/subscriptions" || template == "/tenants" {
        return Allowed;
    }
    if url_scope_is_root {
        // Nobody here holds anything at the root scope.
        return Denied;
    }
    let authorization_write = !read && template.contains("Microsoft.Authorization");
    match (role, read) {
        ("Owner", _) | ("Reader" | "Contributor", true) => Allowed,
        ("Contributor", false) if !authorization_write => Allowed,
        _ => Denied,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_authorized_for_readers_contributors_pushers_and_owners() {
    use berth_tests::roles::{ACR_PUSH, CONTRIBUTOR, OWNER, READER, assign, principal};
    let app = spawn_app(Backend::Sqlite).await;
    app.create_group("matrix").await;
    app.create_registry("matrix", "matrixreg1", "Premium").await;
    let subscription = app.sub_path();
    let mut callers = Vec::new();
    // The destructive roles walk last, so the readers see every resource in place.
    for (role, id) in [
        ("Reader", READER),
        ("AcrPush", ACR_PUSH),
        ("Contributor", CONTRIBUTOR),
        ("Owner", OWNER),
    ] {
        let (object, creds) = principal(&app, &format!("matrix-{role}")).await;
        assign(&app, &subscription, id, &object).await;
        let client = reqwest::Client::new();
        let management = client_token(
            &client,
            &app.base,
            &creds,
            "https://management.berth.local/.default",
        )
        .await;
        let graph = client_token(
            &client,
            &app.base,
            &creds,
            &format!("{}/.default", app.base),
        )
        .await;
        callers.push((role, management, graph));
    }
    let spec = app
        .send_as(reqwest::Method::GET, "/openapi.json", None, &[])
        .await
        .body;
    let mut checked = 0;
    for (role, management, graph) in &callers {
        for (template, item) in spec["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let open = operation["security"].as_array().is_some_and(|s| {
                    s.iter()
                        .any(|r| r.as_object().is_some_and(serde_json::Map::is_empty))
                });
                if open {
                    continue;
                }
                let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let root = concrete(&app, template, api_version(operation));
                // Extension routes are walked at the root and at the subscription.
                let mut urls = vec![(root.clone(), template.starts_with("/providers/"))];
                if template.starts_with("/providers/") {
                    urls.push((format!("{subscription}{root}"), false));
                }
                for (url, at_root) in urls {
                    let body = (method == reqwest::Method::PUT
                        || method == reqwest::Method::PATCH
                        || method == reqwest::Method::POST)
                        .then(|| json!({}));
                    let token = if template.starts_with("/v1.0/") {
                        graph
                    } else {
                        management
                    };
                    let r = app
                        .send_as(
                            method.clone(),
                            &url,
                            body.as_ref(),
                            &[("authorization", &format!("Bearer {token}"))],
                        )
                        .await;
                    let wanted = expect(role, &method, at_root, template);
                    let got = r.status;
                    let listed_for_pusher = *role == "AcrPush"
                        && method == reqwest::Method::GET
                        && (template.ends_with("/registries")
                            || template.ends_with("/resourceGroups")
                            || template.ends_with("/resources"));
                    let found_first =
                        template.starts_with("/subscriptions/{subscriptionId}/operation");
                    match wanted {
                        _ if listed_for_pusher => assert_eq!(
                            (got, &r.body["value"]),
                            (StatusCode::OK, &json!([])),
                            "{role} {method} {url}"
                        ),
                        Expect::Denied if found_first => assert!(
                            matches!(got, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                            "{role} {method} {url}: {got} {:?}",
                            r.body
                        ),
                        Expect::Denied if method == reqwest::Method::HEAD => {
                            assert_eq!(got, StatusCode::FORBIDDEN, "{role} HEAD {url}");
                        }
                        Expect::Denied => assert_eq!(
                            (got, r.error_code()),
                            (
                                StatusCode::FORBIDDEN,
                                if template.starts_with("/v1.0/") {
                                    "Authorization_RequestDenied"
                                } else {
                                    "AuthorizationFailed"
                                }
                            ),
                            "{role} {method} {url}: {:?}",
                            r.body
                        ),
                        Expect::Allowed => assert!(
                            got != StatusCode::FORBIDDEN && got != StatusCode::UNAUTHORIZED,
                            "{role} {method} {url} was refused: {got} {:?}",
                            r.body
                        ),
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 200, "walked {checked} requests");
}
