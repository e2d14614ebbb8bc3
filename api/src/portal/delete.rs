//! Delete a registry: the page says what goes with it, the person types the registry's
//! name to confirm, and the deletion (ARM's DELETE use case, a long-running operation)
//! is then followed on its own page until it has finished.

use super::registry_page::{RegistryForm, RegistryPage};
use super::{html, see_other, signed_in};
use crate::routes::registries::{DELETE, READ};
use crate::state::AppState;
use askama::Template;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_domain::arm::Precondition;
use berth_domain::operation::{OperationKind, OperationStatus};
use berth_domain::registry::Registry;
use berth_domain::resource_group::DeleteOutcome;

#[derive(Template)]
#[template(path = "portal/delete_registry.html")]
struct DeletePage<'a> {
    frame: super::Frame<'a>,
    registry: &'a str,
    home: &'a str,
    login_server: &'a str,
    etag: &'a str,
    trust: bool,
    typed: &'a str,
    typed_error: Option<&'a str>,
    message: Option<String>,
    disabled_reason: Option<String>,
}

/// `GET .../delete`: what goes with the registry, and the confirmation.
pub(crate) async fn show(
    State(state): State<AppState>,
    RegistryPage {
        person,
        registry,
        path,
    }: RegistryPage,
) -> Response {
    page(&state, &person, &registry, path.as_str(), Answer::default())
}

/// What the page says after a post.
#[derive(Default)]
struct Answer<'a> {
    status: Option<StatusCode>,
    typed: &'a str,
    typed_error: Option<&'a str>,
    message: Option<String>,
}

/// `POST .../delete`: with the registry's name typed, starts the deletion and goes to its
/// progress.
pub(crate) async fn delete(
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
    if let Err(refused) = state.authorize(&person.caller, DELETE, &registry.id.to_string()) {
        let answer = Answer {
            status: Some(StatusCode::FORBIDDEN),
            message: Some(refused.message().to_owned()),
            ..Answer::default()
        };
        return page(&state, &person, &registry, path, answer);
    }
    let typed = form.field("confirm_name").trim();
    if typed != registry.name().as_str() {
        let answer = Answer {
            status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            typed,
            typed_error: Some("Type the registry's name exactly as shown to confirm."),
            ..Answer::default()
        };
        return page(&state, &person, &registry, path, answer);
    }
    let etag = format!("\"{}\"", form.field("etag").replace('"', ""));
    let precondition = Precondition::from_headers(Some(&etag), None);
    let home = path.trim_end_matches("/delete");
    match state
        .registries
        .begin_delete(&registry.id, &precondition)
        .await
    {
        Ok(DeleteOutcome::Started(op)) => see_other(&format!("{home}/operations/{}", op.id)),
        Ok(DeleteOutcome::NotFound) => see_other("/portal"),
        Err(e) => {
            let (status, message) = super::write_refusal(e, "it was not deleted");
            let current = state.registries.get(&registry.id).await.unwrap_or(registry);
            let answer = Answer {
                status: Some(status),
                message: Some(message),
                ..Answer::default()
            };
            page(&state, &person, &current, path, answer)
        }
    }
}

fn page(
    state: &AppState,
    person: &super::SignedIn,
    registry: &Registry,
    path: &str,
    answer: Answer<'_>,
) -> Response {
    let disabled_reason = (!state.allows(&person.caller, DELETE, &registry.id.to_string()))
        .then(|| format!("You can read this registry but not delete it: that needs {DELETE} (Owner or Contributor)."));
    html(
        answer.status.unwrap_or(StatusCode::OK),
        &DeletePage {
            frame: super::Frame::of(person, "registries"),
            registry: registry.name().as_str(),
            home: path.trim_end_matches("/delete"),
            login_server: &registry.login_server,
            etag: registry.etag.as_str(),
            trust: registry.content_trust.policy_enabled(),
            typed: answer.typed,
            typed_error: answer.typed_error,
            message: answer.message,
            disabled_reason,
        },
    )
}

/// `/portal/registries/{subscription}/{group}/{name}/operations/{operation}`.
#[derive(serde::Deserialize)]
pub(crate) struct OperationAt {
    subscription: String,
    group: String,
    name: String,
    operation: String,
}

#[derive(Template)]
#[template(path = "portal/operation.html")]
struct OperationPage<'a> {
    frame: super::Frame<'a>,
    registry: &'a str,
    what: &'static str,
    done: &'static str,
    status: &'static str,
    running: bool,
    succeeded: bool,
    started: String,
    error: Option<String>,
}

/// `GET .../operations/{operation}`: an operation on the registry and how far it is; the
/// page reloads itself while it runs. Readable by those who may read the registry, as the
/// API's `operationStatuses`.
pub(crate) async fn progress(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path(at): Path<OperationAt>,
) -> Response {
    let person = match signed_in(&state, &headers, uri.path()).await {
        Ok(person) => person,
        Err(not) => return not.into_response(),
    };
    let not_found = || {
        super::message_page(
            StatusCode::NOT_FOUND,
            "Operation not found",
            "There is no such operation on this registry, or you may not read it.",
        )
    };
    let Ok(id) = state
        .registries
        .resolve_id(&at.subscription, &at.group, &at.name)
        .await
    else {
        return not_found();
    };
    if !state.allows(&person.caller, READ, &id.to_string()) {
        return not_found();
    }
    let op = match state.operations.get(&at.operation).await {
        Ok(Some(op)) if op.kind.concerns(&id) => op,
        Ok(_) => return not_found(),
        Err(e) => {
            tracing::error!(error.cause = %e, "the portal cannot read an operation");
            return super::message_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The operation cannot be read",
                "The operation cannot be read right now. Try again in a moment.",
            );
        }
    };
    let (what, done) = match op.kind {
        OperationKind::DeleteRegistry(_) => {
            ("Deleting the registry", "the registry has been deleted.")
        }
        OperationKind::DeleteResourceGroup(_) => (
            "Deleting the registry's resource group",
            "the resource group and its registries have been deleted.",
        ),
        OperationKind::DisableContentTrust(_) => (
            "Disabling content trust",
            "every signature has been deleted and content trust is disabled.",
        ),
    };
    let started = op.started_at;
    html(
        StatusCode::OK,
        &OperationPage {
            frame: super::Frame::of(&person, "registries"),
            registry: id.name.as_str(),
            what,
            done,
            status: op.status.as_str(),
            running: op.status == OperationStatus::InProgress,
            succeeded: op.status == OperationStatus::Succeeded,
            started: format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
                started.year(),
                u8::from(started.month()),
                started.day(),
                started.hour(),
                started.minute(),
                started.second()
            ),
            error: op.error.map(|e| format!("{}: {}", e.code, e.message)),
        },
    )
}
