//! Role fixtures: the built-in roles' definition GUIDs, a service principal made through
//! Graph, a role assignment made through ARM, and a request sent with someone's token.

use crate::{Reply, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Reader's role definition.
pub const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
/// Contributor's role definition.
pub const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
/// AcrPush's role definition.
pub const ACR_PUSH: &str = "8311e382-0749-4cb8-b61a-304f252e45ec";
/// AcrPull's role definition.
pub const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
/// AcrImageSigner's role definition.
pub const SIGNER: &str = "6cef56e8-d556-48e5-a04f-b8e64114680f";
/// Owner's role definition.
pub const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
/// The user name clients send with a registry refresh token (as `az acr login` does).
pub const NULL_USER: &str = "00000000-0000-0000-0000-000000000000";

/// A new service principal with a password, made through Graph by the owner: its object
/// id, and its appId and secret.
///
/// # Panics
/// Unless Graph makes it.
pub async fn principal(app: &TestApp, name: &str) -> (String, (String, String)) {
    let application = app
        .send(
            reqwest::Method::POST,
            "/v1.0/applications",
            Some(&json!({"displayName": name})),
            &[],
        )
        .await;
    let text = |v: &Value, key: &str| {
        v[key]
            .as_str()
            .unwrap_or_else(|| panic!("no {key} in {v}"))
            .to_owned()
    };
    let (object, app_id) = (
        text(&application.body, "id"),
        text(&application.body, "appId"),
    );
    let password = app
        .send(
            reqwest::Method::POST,
            &format!("/v1.0/applications/{object}/addPassword"),
            Some(&json!({})),
            &[],
        )
        .await;
    let secret = text(&password.body, "secretText");
    let (_, sp) = app.get(&format!("/v1.0/servicePrincipals/{app_id}")).await;
    (text(&sp, "id"), (app_id, secret))
}

/// Assigns `role` (a definition GUID) to `principal` at `scope`, as the owner.
///
/// # Panics
/// Unless the assignment is created.
pub async fn assign(app: &TestApp, scope: &str, role: &str, principal: &str) {
    let url = format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
        uuid::Uuid::new_v4()
    );
    let r = app
        .put(
            &url,
            &json!({"properties": {"roleDefinitionId": role, "principalId": principal}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

/// Sends a request with `token` as its bearer token.
pub async fn as_token(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> Reply {
    app.send_as(
        method,
        path,
        body,
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await
}
