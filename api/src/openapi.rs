//! The OpenAPI contract: every route is registered through utoipa-axum, so no route can
//! lack a spec entry. The committed `openapi/openapi.json` is checked against it by a test.

use crate::routes;
use crate::state::AppState;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

/// Adds the bearer-token scheme every protected route uses.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").description(Some(
            "An access token from the built-in issuer (`POST /{tenant}/oauth2/v2.0/token`) for the management audience, or for the Graph audience on `/v1.0` routes.",
        ));
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme.build()));
    }
}

/// The document's header.
#[derive(OpenApi)]
#[openapi(
    modifiers(&BearerScheme),
    security(("bearer" = [])),
    info(
        title = "Berth",
        description = "A self-hostable control plane for container registries, shaped like the Azure Resource Manager API of Azure Container Registry.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    tags(
        (name = "Registries", description = "Microsoft.ContainerRegistry/registries"),
        (name = "ResourceGroups", description = "Microsoft.Resources/resourceGroups"),
        (name = "Subscriptions", description = "Subscriptions and the generic resource list"),
        (name = "Authorization", description = "Microsoft.Authorization: role definitions and role assignments, at any scope"),
        (name = "Graph", description = "The Microsoft Graph v1.0 subset for principals: users, applications, service principals, groups"),
        (name = "Identity", description = "The built-in OpenID Connect issuer, shaped like Microsoft Entra ID"),
        (name = "TokenServer", description = "The registry token server: Docker-style tokens for a Distribution registry and a Notary server, as ACR's /oauth2/exchange and /oauth2/token"),
        (name = "Meta", description = "Health, readiness and cloud metadata")
    )
)]
pub struct ApiDoc;

/// Every API route, with its spec.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::subscriptions::router())
        .merge(routes::activity_log::router())
        .merge(routes::resource_groups::router())
        .merge(routes::registries::router())
        .merge(routes::authorization::router())
        .merge(routes::graph::router())
        .merge(routes::issuer::router())
        .merge(routes::token_server::router())
        .merge(routes::meta::router())
}

/// The OpenAPI document, as committed in `openapi/openapi.json`.
#[must_use]
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = api_router().into_openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The document as pretty JSON with a final newline.
///
/// # Errors
/// Only if serialization fails, which it does not for this document.
pub fn document_json() -> Result<String, serde_json::Error> {
    document().to_pretty_json().map(|mut s| {
        s.push('\n');
        s
    })
}
