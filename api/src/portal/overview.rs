//! A registry's Overview: what ACR's blade shows first (login server, SKU, location,
//! group, creation, state) and the commands that sign in to it.

use super::content_trust::{RegistryAt, person_and_registry};
use super::html;
use crate::state::AppState;
use askama::Template;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use berth_domain::registry::ContentTrust;

#[derive(Template)]
#[template(path = "portal/overview.html")]
struct OverviewPage<'a> {
    user: &'a str,
    csrf: &'a str,
    nav: &'a str,
    home: &'a str,
    tab: &'a str,
    registry: &'a str,
    login_server: &'a str,
    sku: &'a str,
    location: &'a str,
    group: String,
    subscription: String,
    created: String,
    provisioning: &'a str,
    content_trust: &'a str,
    admin_user: bool,
}

/// `GET /portal/registries/{subscription}/{group}/{name}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path(at): Path<RegistryAt>,
) -> Response {
    let (person, registry) = match person_and_registry(&state, &headers, uri.path(), &at).await {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let created = registry.creation_date;
    let content_trust = match registry.content_trust {
        ContentTrust::Enabled => "Enabled",
        ContentTrust::Disabled => "Disabled",
        ContentTrust::Wiping(_) => "Disabling (its signatures are being deleted)",
    };
    html(
        StatusCode::OK,
        &OverviewPage {
            user: &person.caller.name,
            csrf: &person.session.csrf,
            nav: "registries",
            home: uri.path(),
            tab: "overview",
            registry: registry.name().as_str(),
            login_server: &registry.login_server,
            sku: registry.sku.as_str(),
            location: registry.location.as_str(),
            group: registry.id.resource_group.name.to_string(),
            subscription: registry.id.resource_group.subscription.to_string(),
            created: format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                created.year(),
                u8::from(created.month()),
                created.day(),
                created.hour(),
                created.minute()
            ),
            provisioning: registry.provisioning_state.as_str(),
            content_trust,
            admin_user: registry.settings.admin_user_enabled,
        },
    )
}
