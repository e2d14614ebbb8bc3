//! Setup written once: a service principal signed in to a registry as `az acr login` does,
//! a registry token for a scope, and content trust switched on or off.

use crate::roles::{assign, principal};
use crate::{API, Reply, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The registry's login server, read through ARM.
///
/// # Panics
/// Unless the registry has one.
pub async fn login_server(app: &TestApp, registry: &str) -> String {
    let (_, body) = app.get(&format!("{registry}?api-version={API}")).await;
    body["properties"]["loginServer"]
        .as_str()
        .unwrap_or_else(|| panic!("no login server: {body}"))
        .to_owned()
}

/// A service principal holding `role` at the registry (none when `role` is empty), and its
/// refresh token from the exchange (as `az acr login` gets it): object id, appId and
/// secret, refresh token.
///
/// # Panics
/// Unless the exchange gives a refresh token.
pub async fn signed_in(
    app: &TestApp,
    registry: &str,
    role: &str,
    name: &str,
) -> (String, (String, String), String) {
    let (object, creds) = principal(app, name).await;
    if !role.is_empty() {
        assign(app, registry, role, &object).await;
    }
    let aad = crate::client_token(
        &app.client,
        &app.base,
        &creds,
        "https://containerregistry.azure.net/.default",
    )
    .await;
    let login_server = login_server(app, registry).await;
    let exchanged = app
        .post_form(
            "/oauth2/exchange",
            &[
                ("grant_type", "access_token"),
                ("service", &login_server),
                ("access_token", &aad),
            ],
        )
        .await;
    assert_eq!(exchanged.status, StatusCode::OK, "{:?}", exchanged.body);
    let refresh = exchanged.body["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh token: {:?}", exchanged.body))
        .to_owned();
    (object, creds, refresh)
}

/// A registry access token for `scope` from `service`'s token endpoint, with a refresh token.
pub async fn access(app: &TestApp, service: &str, scope: &str, refresh: &str) -> Reply {
    app.post_form(
        "/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("service", service),
            ("scope", scope),
            ("refresh_token", refresh),
        ],
    )
    .await
}

/// A registry PATCH body setting content trust (`trustPolicy.status`) to `status`.
#[must_use]
pub fn trust(status: &str) -> Value {
    json!({"properties": {"policies": {"trustPolicy": {"type": "Notary", "status": status}}}})
}

/// Sets the registry's content trust to `status` (`enabled` or `disabled`).
pub async fn set_trust(app: &TestApp, registry: &str, status: &str) -> Reply {
    app.patch(&format!("{registry}?api-version={API}"), &trust(status))
        .await
}
