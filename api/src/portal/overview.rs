//! A registry's Overview: what ACR's blade shows first (login server, SKU, location,
//! group, creation, state) and the commands that sign in to it.

use super::registry_page::{RegistryForm, RegistryPage};
use super::{html, see_other};
use crate::routes::registries::{DELETE, WRITE};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use berth_domain::arm::Precondition;
use berth_domain::registry::{ContentTrust, Registry, RegistryPatch, Sku};

#[derive(Template)]
#[template(path = "portal/overview.html")]
struct OverviewPage<'a> {
    frame: super::Frame<'a>,
    home: &'a str,
    tab: &'a str,
    registry: &'a str,
    login_server: &'a str,
    sku: &'a str,
    location: &'a str,
    group: String,
    subscription: String,
    subscription_id: String,
    created: String,
    provisioning: &'a str,
    content_trust: &'a str,
    admin_user: bool,
    etag: &'a str,
    skus: [Sku; 3],
    current_sku: Sku,
    sku_error: Option<String>,
    sku_disabled: Option<String>,
    delete_disabled: Option<String>,
}

/// `GET /portal/registries/{subscription}/{group}/{name}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    RegistryPage {
        person,
        registry,
        path,
    }: RegistryPage,
) -> Response {
    page(&state, &person, &registry, path.as_str(), None).await
}

/// `POST`: change the SKU (the ARM PATCH's use case and rules, with the page's ETag): a
/// downgrade below what an enabled feature needs shows the rule's message.
pub(crate) async fn change_sku(
    State(state): State<AppState>,
    RegistryForm {
        page: RegistryPage {
            person,
            registry,
            path,
        },
        form,
    }: RegistryForm,
) -> Response {
    let path = path.as_str();
    let refuse = async |status: StatusCode, message: String, current: &Registry| {
        page(&state, &person, current, path, Some((status, message))).await
    };
    if let Err(refused) = state.authorize(&person.caller, WRITE, &registry.id.to_string()) {
        let message = refused.message().to_owned();
        return refuse(StatusCode::FORBIDDEN, message, &registry).await;
    }
    let sku = match Sku::parse(form.field("sku")) {
        Ok(sku) => sku,
        Err(message) => {
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, message, &registry).await;
        }
    };
    let patch = RegistryPatch {
        sku: Some(sku),
        ..RegistryPatch::default()
    };
    let etag = format!("\"{}\"", form.field("etag").replace('"', ""));
    let precondition = Precondition::from_headers(Some(&etag), None);
    let written = state
        .registries
        .update(&registry.id, &patch, &precondition, &person.caller.actor())
        .await;
    match written {
        Ok(_) => see_other(path),
        Err(e) => {
            let (status, message) = super::write_refusal(e, "nothing was saved");
            let current = state.registries.get(&registry.id).await.unwrap_or(registry);
            refuse(status, message, &current).await
        }
    }
}

/// The Overview of `registry`; `refusal`: why a SKU change was not made.
async fn page(
    state: &AppState,
    person: &super::SignedIn,
    registry: &Registry,
    path: &str,
    refusal: Option<(StatusCode, String)>,
) -> Response {
    let created = registry.creation_date;
    let subscription_id = registry.id.resource_group.subscription.to_string();
    let content_trust = match registry.content_trust {
        ContentTrust::Enabled => "Enabled",
        ContentTrust::Disabled => "Disabled",
        ContentTrust::Wiping(_) => "Disabling (its signatures are being deleted)",
    };
    let scope = registry.id.to_string();
    let sku_disabled = (!state.allows(&person.caller, WRITE, &scope)).then(|| {
        format!(
            "You can read the SKU but not change it: that needs {WRITE} (Owner or Contributor)."
        )
    });
    let delete_disabled = (!state.allows(&person.caller, DELETE, &scope))
        .then(|| format!("Deleting the registry needs {DELETE} (Owner or Contributor)."));
    let (status, sku_error) = match refusal {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    html(
        status,
        &OverviewPage {
            frame: super::Frame::of(person, "registries"),
            home: path,
            tab: "overview",
            registry: registry.name().as_str(),
            login_server: &registry.login_server,
            sku: registry.sku.as_str(),
            location: registry.location.as_str(),
            group: registry.id.resource_group.name.to_string(),
            subscription: state
                .subscriptions
                .get(&subscription_id)
                .await
                .map_or_else(|_| subscription_id.clone(), |s| s.display_name),
            subscription_id: subscription_id.clone(),
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
            etag: registry.etag.as_str(),
            skus: Sku::ALL,
            current_sku: registry.sku,
            sku_error,
            sku_disabled,
            delete_disabled,
        },
    )
}
