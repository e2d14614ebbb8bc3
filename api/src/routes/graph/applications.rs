//! `/v1.0/applications`: Berth keeps one application per service principal, so an
//! application is its service principal seen by the application's object id; and their
//! passwords (`addPassword`, `removePassword`).

use super::dto::{
    AddPassword, GraphApplication, GraphList, GraphObject, NewApplication, PasswordCredentialDto,
    RemovePassword,
};
use super::{GraphQuery, ObjectPath, created, not_found, object, page, service_principals};
use crate::arm::{ArmJson, BaseUrl};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorResponse};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_domain::directory::roles::actions;
use berth_domain::directory::{DirectoryObject, ObjectKind, ServicePrincipal};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_applications, create_application))
        .routes(routes!(
            get_application,
            update_application,
            delete_application
        ))
        .routes(routes!(add_password))
        .routes(routes!(remove_password))
}

/// The service principal of the application whose object id is `id`.
async fn application(state: &AppState, id: &str) -> Result<ServicePrincipal, ApiError> {
    match object(state, id).await? {
        // The application's own id: a service principal's object id names another object.
        Some(DirectoryObject::ServicePrincipal(sp))
            if sp
                .application_object_id
                .to_string()
                .eq_ignore_ascii_case(id) =>
        {
            Ok(sp)
        }
        _ => Err(not_found(id)),
    }
}

/// Lists applications (`$filter=displayName eq '...'` or `appId eq '...'`, or a page).
#[utoipa::path(get, path = "/v1.0/applications", operation_id = "Graph_ListApplications", tag = "Graph", params(GraphQuery),
    responses((status = 200, description = "Applications", body = GraphList), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn list_applications(
    State(state): State<AppState>,
    _caller: Caller,
    base: BaseUrl,
    Query(q): Query<GraphQuery>,
) -> Result<Json<GraphList>, ApiError> {
    let Some(condition) = q.condition()? else {
        let (kind, all) = (ObjectKind::ServicePrincipal, "/v1.0/applications");
        return page(&state, kind, &q, &base, all, GraphObject::application).await;
    };
    let found = service_principals::matching(&state, &q, &condition, false).await?;
    Ok(Json(GraphList::of(&found, |sp| {
        GraphObject::Application(sp.into())
    })))
}

/// Creates an application (and its service principal).
#[utoipa::path(post, path = "/v1.0/applications", operation_id = "Graph_CreateApplication", tag = "Graph", request_body = NewApplication,
    responses((status = 201, description = "The application", body = GraphApplication), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn create_application(
    State(state): State<AppState>,
    caller: Caller,
    body: ArmJson<NewApplication>,
) -> Result<Response, ApiError> {
    let admin = &state.directory_admin;
    state.authorize_directory(&caller, actions::APPLICATIONS_CREATE)?;
    let body = body.parse()?;
    let sp = admin
        .create_application(&caller.principals, &body.display_name)
        .await?;
    Ok(created(GraphApplication::from(&sp)))
}

/// Gets an application by its object id.
#[utoipa::path(get, path = "/v1.0/applications/{id}", operation_id = "Graph_GetApplication", tag = "Graph", params(ObjectPath),
    responses((status = 200, description = "The application", body = GraphApplication), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn get_application(
    State(state): State<AppState>,
    _caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<Json<GraphApplication>, ApiError> {
    let sp = application(&state, &path.id).await?;
    Ok(Json(GraphApplication::from(&sp)))
}

/// Refuses a change to an application: Berth keeps only its display name and does not
/// rename, so only a body that sets the name it has (as `az ad sp create-for-rbac` sends on a
/// re-run) passes.
fn refuse_changes(body: &Value, sp: &ServicePrincipal) -> Result<(), ApiError> {
    let fields = body
        .as_object()
        .ok_or_else(|| ApiError::graph_bad_request("The body must be a JSON object."))?;
    for (key, value) in fields {
        let unchanged = key == "displayName" && value.as_str() == Some(sp.display_name.as_str());
        if !unchanged {
            return Err(ApiError::graph_bad_request(format!(
                "Berth cannot change the property '{key}' of an application."
            )));
        }
    }
    Ok(())
}

/// Updates an application. Berth keeps only an application's display name, and does not
/// rename: a body that sets the name it has (as `az ad sp create-for-rbac` sends on a re-run)
/// is accepted, anything else is refused.
#[utoipa::path(patch, path = "/v1.0/applications/{id}", operation_id = "Graph_UpdateApplication", tag = "Graph", params(ObjectPath),
    request_body = Object,
    responses((status = 204, description = "Updated"), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn update_application(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<ObjectPath>,
    body: ArmJson<Value>,
) -> Result<StatusCode, ApiError> {
    state.authorize_directory(&caller, actions::APPLICATIONS_UPDATE)?;
    let body = body.parse()?;
    refuse_changes(&body, &application(&state, &path.id).await?)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes an application and its service principal, with their role assignments.
#[utoipa::path(delete, path = "/v1.0/applications/{id}", operation_id = "Graph_DeleteApplication", tag = "Graph", params(ObjectPath),
    responses((status = 204, description = "Deleted"), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn delete_application(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<StatusCode, ApiError> {
    let (admin, action) = (&state.directory_admin, actions::APPLICATIONS_DELETE);
    state.authorize_directory(&caller, action)?;
    let sp = application(&state, &path.id).await?;
    admin
        .delete(&caller.principals, action, sp.object_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

impl AddPassword {
    /// The end of validity asked for, if any.
    fn end(&self) -> Result<Option<OffsetDateTime>, ApiError> {
        let end = self.password_credential.end_date_time.as_deref();
        end.map(|t| OffsetDateTime::parse(t, &Rfc3339))
            .transpose()
            .map_err(|_| ApiError::graph_bad_request("endDateTime is not an RFC 3339 time."))
    }
}

/// Adds a password to an application; the secret is in this answer only.
#[utoipa::path(post, path = "/v1.0/applications/{id}/addPassword", operation_id = "Graph_AddPassword", tag = "Graph",
    params(ObjectPath), request_body = AddPassword,
    responses((status = 200, description = "The new password", body = PasswordCredentialDto), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn add_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<ObjectPath>,
    body: ArmJson<AddPassword>,
) -> Result<Json<PasswordCredentialDto>, ApiError> {
    let admin = &state.directory_admin;
    state.authorize_directory(&caller, actions::APPLICATIONS_CREDENTIALS)?;
    let body = body.parse()?;
    let label = body.password_credential.display_name.as_deref();
    let new = admin
        .add_password(&caller.principals, &path.id, label, body.end()?)
        .await?;
    Ok(Json(PasswordCredentialDto::from(&new)))
}

/// Removes a password from an application.
#[utoipa::path(post, path = "/v1.0/applications/{id}/removePassword", operation_id = "Graph_RemovePassword", tag = "Graph",
    params(ObjectPath), request_body = RemovePassword,
    responses((status = 204, description = "Removed"), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn remove_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<ObjectPath>,
    body: ArmJson<RemovePassword>,
) -> Result<StatusCode, ApiError> {
    let admin = &state.directory_admin;
    state.authorize_directory(&caller, actions::APPLICATIONS_CREDENTIALS)?;
    let body = body.parse()?;
    let key = Uuid::parse_str(&body.key_id).map_err(|_| not_found(&body.key_id))?;
    admin
        .remove_password(&caller.principals, &path.id, key)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
