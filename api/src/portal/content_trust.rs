//! Policies › Content trust, the seed page's portal steps: Enabled or Disabled, and Save.
//! Saving Disabled first shows the warning (every signature lost, images kept, no undo);
//! nothing happens until OK. The wipe's progress shows while it runs. The change goes
//! through the registry use case the ARM PATCH uses, with the same authorization, and the
//! ETag the page was rendered with: a change made meanwhile is not overwritten.

use super::registry_page::{RegistryForm, RegistryPage};
use super::{html, see_other};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use berth_domain::arm::Precondition;
use berth_domain::registry::{ContentTrust, Feature, PoliciesPatch, Registry, RegistryPatch};

use crate::routes::registries::WRITE;

#[derive(Template)]
#[template(path = "portal/content_trust.html")]
struct ContentTrustPage<'a> {
    frame: super::Frame<'a>,
    registry: &'a str,
    login_server: &'a str,
    home: &'a str,
    tab: &'a str,
    action: &'a str,
    etag: &'a str,
    enabled: bool,
    running: bool,
    operation: String,
    operation_status: String,
    confirm: bool,
    disabled_reason: Option<String>,
    below_premium: bool,
    message: Option<String>,
}

/// `GET`: the setting as it is, and the form when the person may change it.
pub(crate) async fn show(
    State(state): State<AppState>,
    RegistryPage {
        person,
        registry,
        path,
    }: RegistryPage,
) -> Response {
    page(&state, &person, &registry, path.as_str(), (false, None)).await
}

/// `POST`: Save (and, for Disabled, OK after the warning).
pub(crate) async fn save(
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
    let field = |name: &str| form.field(name);
    let enable = match field("status") {
        "enabled" => true,
        "disabled" => false,
        _ => {
            let message = "Choose Enabled or Disabled.".to_owned();
            return page(
                &state,
                &person,
                &registry,
                path.as_str(),
                (false, Some((StatusCode::UNPROCESSABLE_ENTITY, message))),
            )
            .await;
        }
    };
    let wipes = !enable && registry.content_trust == ContentTrust::Enabled;
    if wipes && field("confirm") != "yes" {
        return page(&state, &person, &registry, path.as_str(), (true, None)).await;
    }
    if let Err(e) = state.authorize(&person.caller, WRITE, &registry.id.to_string()) {
        let message = e.message().to_owned();
        return page(
            &state,
            &person,
            &registry,
            path.as_str(),
            (false, Some((StatusCode::FORBIDDEN, message))),
        )
        .await;
    }
    let patch = RegistryPatch {
        policies: PoliciesPatch {
            trust_enabled: Some(enable),
            ..PoliciesPatch::default()
        },
        ..RegistryPatch::default()
    };
    let etag = format!("\"{}\"", field("etag").replace('"', ""));
    let precondition = Precondition::from_headers(Some(&etag), None);
    let written = state
        .registries
        .update(&registry.id, &patch, &precondition, &person.caller.actor())
        .await;
    match written {
        Ok(_) => see_other(path.as_str()),
        Err(e) => {
            let refusal = super::write_refusal(e, "nothing was saved");
            let current = state.registries.get(&registry.id).await.unwrap_or(registry);
            page(
                &state,
                &person,
                &current,
                path.as_str(),
                (false, Some(refusal)),
            )
            .await
        }
    }
}

/// The page for `registry`; `(confirm, message)`: the warning before a wipe, an error.
async fn page(
    state: &AppState,
    person: &super::SignedIn,
    registry: &Registry,
    action: &str,
    (confirm, refusal): (bool, Option<(StatusCode, String)>),
) -> Response {
    let (running, operation, operation_status) = match registry.content_trust.wipe() {
        Some(op) => {
            let status = match state.operations.get(&op.to_string()).await {
                Ok(Some(operation)) => format!("{:?}", operation.status),
                _ => "InProgress".to_owned(),
            };
            (true, op.to_string(), status)
        }
        None => (false, String::new(), String::new()),
    };
    let below_premium = !registry.sku.capabilities().has(Feature::ContentTrust);
    let disabled_reason = if running {
        Some(
            "A wipe is running: content trust can be enabled again once it has finished."
                .to_owned(),
        )
    } else if below_premium {
        Some(format!(
            "Content trust is a Premium feature; this registry is {}. Change its SKU to Premium to use it.",
            registry.sku.as_str()
        ))
    } else if !state.allows(&person.caller, WRITE, &registry.id.to_string()) {
        Some(format!(
            "You can read this setting but not change it: changing it needs {WRITE} (Owner or Contributor)."
        ))
    } else {
        None
    };
    let (status, message) = refusal.map_or((StatusCode::OK, None), |(s, m)| (s, Some(m)));
    html(
        status,
        &ContentTrustPage {
            frame: super::Frame::of(person, "registries"),
            registry: registry.name().as_str(),
            login_server: &registry.login_server,
            home: action.trim_end_matches("/content-trust"),
            tab: "trust",
            action,
            etag: registry.etag.as_str(),
            enabled: registry.content_trust.policy_enabled(),
            running,
            operation,
            operation_status,
            confirm,
            disabled_reason,
            below_premium,
            message,
        },
    )
}
