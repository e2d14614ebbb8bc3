//! `/v1.0/servicePrincipals`: the identities applications sign in as.

use super::dto::{GraphList, GraphObject, GraphServicePrincipal, NewServicePrincipal};
use super::{GraphQuery, MAX_PAGE, ObjectPath, created, display_name, not_found, object, page};
use crate::arm::odata::Condition;
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
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_service_principals, create_service_principal))
        .routes(routes!(get_service_principal, delete_service_principal))
}

/// The service principals a list's condition names: by display name (or its start), by
/// appId, or (with `by_name`, as `servicePrincipals` takes it) by one of their names.
pub(super) async fn matching(
    state: &AppState,
    q: &GraphQuery,
    condition: &Condition,
    by_name: bool,
) -> Result<Vec<ServicePrincipal>, ApiError> {
    if let Some((name, prefix)) = display_name(condition) {
        let kind = ObjectKind::ServicePrincipal;
        let found = state
            .directory
            .find_by_display_name(kind, name, prefix, MAX_PAGE as usize)
            .await?;
        return Ok(found
            .into_iter()
            .filter_map(|o| match o {
                DirectoryObject::ServicePrincipal(sp) => Some(sp),
                _ => None,
            })
            .collect());
    }
    let named = by_name.then(|| condition.any("servicePrincipalNames"));
    let key = named.flatten().or_else(|| condition.eq("appId"));
    let key = key.ok_or_else(|| q.unsupported())?;
    Ok(state
        .directory
        .find_service_principal(key)
        .await?
        .into_iter()
        .collect())
}

/// Lists service principals (`$filter=servicePrincipalNames/any(c:c eq '...')`,
/// `appId eq '...'` or `displayName eq '...'`, or a page).
#[utoipa::path(get, path = "/v1.0/servicePrincipals", operation_id = "Graph_ListServicePrincipals", tag = "Graph", params(GraphQuery),
    responses((status = 200, description = "Service principals", body = GraphList), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn list_service_principals(
    State(state): State<AppState>,
    _caller: Caller,
    base: BaseUrl,
    Query(q): Query<GraphQuery>,
) -> Result<Json<GraphList>, ApiError> {
    let Some(condition) = q.condition()? else {
        let (kind, all) = (ObjectKind::ServicePrincipal, "/v1.0/servicePrincipals");
        return page(&state, kind, &q, &base, all, GraphObject::of).await;
    };
    let found = matching(&state, &q, &condition, true).await?;
    Ok(Json(GraphList::of(&found, |sp| {
        GraphObject::ServicePrincipal(sp.into())
    })))
}

/// Creates the service principal of an application: Berth makes both together, so this
/// returns the existing one.
#[utoipa::path(post, path = "/v1.0/servicePrincipals", operation_id = "Graph_CreateServicePrincipal", tag = "Graph",
    request_body = NewServicePrincipal,
    responses((status = 201, description = "The service principal", body = GraphServicePrincipal), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn create_service_principal(
    State(state): State<AppState>,
    caller: Caller,
    body: ArmJson<NewServicePrincipal>,
) -> Result<Response, ApiError> {
    state.authorize_directory(&caller, actions::SERVICE_PRINCIPALS_CREATE)?;
    let body = body.parse()?;
    let found = state.directory.find_service_principal(&body.app_id).await?;
    let sp = found.ok_or_else(|| not_found(&body.app_id))?;
    Ok(created(GraphServicePrincipal::from(&sp)))
}

/// Gets a service principal by object id or appId.
#[utoipa::path(get, path = "/v1.0/servicePrincipals/{id}", operation_id = "Graph_GetServicePrincipal", tag = "Graph", params(ObjectPath),
    responses((status = 200, description = "The service principal", body = GraphServicePrincipal), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn get_service_principal(
    State(state): State<AppState>,
    _caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<Json<GraphServicePrincipal>, ApiError> {
    if let Some(DirectoryObject::ServicePrincipal(sp)) = object(&state, &path.id).await? {
        return Ok(Json(GraphServicePrincipal::from(&sp)));
    }
    let found = state.directory.find_service_principal(&path.id).await?;
    let sp = found.ok_or_else(|| not_found(&path.id))?;
    Ok(Json(GraphServicePrincipal::from(&sp)))
}

/// Deletes a service principal (and its application), with its role assignments.
#[utoipa::path(delete, path = "/v1.0/servicePrincipals/{id}", operation_id = "Graph_DeleteServicePrincipal", tag = "Graph", params(ObjectPath),
    responses((status = 204, description = "Deleted"), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn delete_service_principal(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<StatusCode, ApiError> {
    let (admin, action) = (&state.directory_admin, actions::SERVICE_PRINCIPALS_DELETE);
    state.authorize_directory(&caller, action)?;
    let id = match object(&state, &path.id).await? {
        // The service principal's own id: its application's id names another object.
        Some(DirectoryObject::ServicePrincipal(sp))
            if sp.object_id.to_string().eq_ignore_ascii_case(&path.id) =>
        {
            sp.object_id
        }
        _ => return Err(not_found(&path.id)),
    };
    admin.delete(&caller.principals, action, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
