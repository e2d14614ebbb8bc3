//! `/v1.0/users`: people who sign in with a password.

use super::dto::{GraphList, GraphObject, GraphUser, NewUser};
use super::{GraphQuery, ObjectPath, created, not_found, object, page};
use crate::arm::{ArmJson, BaseUrl};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorResponse};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_domain::directory::roles::actions;
use berth_domain::directory::{DirectoryObject, ObjectKind, User};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, delete_user))
}

/// The user with this object id or user principal name.
async fn user(state: &AppState, id: &str) -> Result<User, ApiError> {
    if let Some(DirectoryObject::User(u)) = object(state, id).await? {
        return Ok(u);
    }
    state
        .directory
        .find_user(id)
        .await?
        .ok_or_else(|| not_found(id))
}

/// Lists users (`$filter=userPrincipalName eq '...'`).
#[utoipa::path(get, path = "/v1.0/users", operation_id = "Graph_ListUsers", tag = "Graph", params(GraphQuery),
    responses((status = 200, description = "Users", body = GraphList), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn list_users(
    State(state): State<AppState>,
    _caller: Caller,
    base: BaseUrl,
    Query(q): Query<GraphQuery>,
) -> Result<Json<GraphList>, ApiError> {
    let Some(condition) = q.condition()? else {
        let all = "/v1.0/users";
        return page(&state, ObjectKind::User, &q, &base, all, GraphObject::of).await;
    };
    let upn = condition
        .eq("userPrincipalName")
        .ok_or_else(|| q.unsupported())?;
    let found = state.directory.find_user(upn).await?;
    Ok(Json(GraphList::of(&found, |u| GraphObject::User(u.into()))))
}

/// Creates a user who signs in with a password.
#[utoipa::path(post, path = "/v1.0/users", operation_id = "Graph_CreateUser", tag = "Graph", request_body = NewUser,
    responses((status = 201, description = "The user", body = GraphUser), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    body: ArmJson<NewUser>,
) -> Result<Response, ApiError> {
    let admin = &state.directory_admin;
    state.authorize_directory(&caller, actions::USERS_CREATE)?;
    let body = body.parse()?;
    let (upn, name) = (&body.user_principal_name, &body.display_name);
    let password = &body.password_profile.password;
    let user = admin
        .create_user(&caller.principals, upn, name, password)
        .await?;
    Ok(created(GraphUser::from(&user)))
}

/// Gets a user by object id or user principal name.
#[utoipa::path(get, path = "/v1.0/users/{id}", operation_id = "Graph_GetUser", tag = "Graph", params(ObjectPath),
    responses((status = 200, description = "The user", body = GraphUser), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn get_user(
    State(state): State<AppState>,
    _caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<Json<GraphUser>, ApiError> {
    Ok(Json(GraphUser::from(&user(&state, &path.id).await?)))
}

/// Deletes a user, with its role assignments.
#[utoipa::path(delete, path = "/v1.0/users/{id}", operation_id = "Graph_DeleteUser", tag = "Graph", params(ObjectPath),
    responses((status = 204, description = "Deleted"), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<StatusCode, ApiError> {
    let admin = &state.directory_admin;
    state.authorize_directory(&caller, actions::USERS_DELETE)?;
    let user = user(&state, &path.id).await?;
    admin
        .delete(&caller.principals, actions::USERS_DELETE, user.object_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
