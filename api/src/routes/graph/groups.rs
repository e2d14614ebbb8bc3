//! `/v1.0/groups`: security groups and their direct members.

use super::dto::{GraphGroup, GraphList, GraphObject, MemberRef, NewGroup};
use super::{ObjectPath, created, not_found, object};
use crate::arm::ArmJson;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorResponse};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_domain::directory::roles::actions;
use berth_domain::directory::{DirectoryObject, Group};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_group))
        .routes(routes!(get_group, delete_group))
        .routes(routes!(list_members))
        .routes(routes!(add_member))
        .routes(routes!(remove_member))
}

/// A path with a group and a member.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct MemberPath {
    /// Group object id.
    id: String,
    /// Member object id.
    member_id: String,
}

impl MemberRef {
    /// The member's object id, the last segment of `@odata.id`.
    fn member_id(&self) -> Result<Uuid, ApiError> {
        let last = self.odata_id.rsplit('/').next();
        last.and_then(|id| Uuid::parse_str(id).ok()).ok_or_else(|| {
            ApiError::graph_bad_request("@odata.id must end with the member's object id.")
        })
    }
}

/// The group with this object id.
async fn group(state: &AppState, id: &str) -> Result<Group, ApiError> {
    match object(state, id).await? {
        Some(DirectoryObject::Group(g)) => Ok(g),
        _ => Err(not_found(id)),
    }
}

/// Creates a group.
#[utoipa::path(post, path = "/v1.0/groups", operation_id = "Graph_CreateGroup", tag = "Graph", request_body = NewGroup,
    responses((status = 201, description = "The group", body = GraphGroup), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    body: ArmJson<NewGroup>,
) -> Result<Response, ApiError> {
    let admin = &state.directory_admin;
    state.authorize_directory(&caller, actions::GROUPS_CREATE)?;
    let body = body.parse()?;
    let (name, nickname) = (&body.display_name, &body.mail_nickname);
    let group = admin
        .create_group(
            &caller.principals,
            name,
            nickname,
            body.description.as_deref(),
        )
        .await?;
    Ok(created(GraphGroup::from(&group)))
}

/// Gets a group.
#[utoipa::path(get, path = "/v1.0/groups/{id}", operation_id = "Graph_GetGroup", tag = "Graph", params(ObjectPath),
    responses((status = 200, description = "The group", body = GraphGroup), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn get_group(
    State(state): State<AppState>,
    _caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<Json<GraphGroup>, ApiError> {
    Ok(Json(GraphGroup::from(&group(&state, &path.id).await?)))
}

/// Deletes a group, with its role assignments.
#[utoipa::path(delete, path = "/v1.0/groups/{id}", operation_id = "Graph_DeleteGroup", tag = "Graph", params(ObjectPath),
    responses((status = 204, description = "Deleted"), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn delete_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<StatusCode, ApiError> {
    let (admin, action) = (&state.directory_admin, actions::GROUPS_DELETE);
    state.authorize_directory(&caller, action)?;
    let group = group(&state, &path.id).await?;
    admin
        .delete(&caller.principals, action, group.object_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists a group's direct members.
#[utoipa::path(get, path = "/v1.0/groups/{id}/members", operation_id = "Graph_ListMembers", tag = "Graph", params(ObjectPath),
    responses((status = 200, description = "Members", body = GraphList), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn list_members(
    State(state): State<AppState>,
    _caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<Json<GraphList>, ApiError> {
    let group = group(&state, &path.id).await?;
    let members = state.directory.members_of(group.object_id).await?;
    let found = state.directory.get_by_ids(&members).await?;
    Ok(Json(GraphList::of(&found, GraphObject::of)))
}

/// Adds a member (`{"@odata.id": ".../directoryObjects/{id}"}`).
#[utoipa::path(post, path = "/v1.0/groups/{id}/members/$ref", operation_id = "Graph_AddMember", tag = "Graph", params(ObjectPath),
    request_body = MemberRef,
    responses((status = 204, description = "Added"), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<ObjectPath>,
    body: ArmJson<MemberRef>,
) -> Result<StatusCode, ApiError> {
    let admin = &state.directory_admin;
    state.authorize_directory(&caller, actions::GROUPS_MEMBERS)?;
    let body = body.parse()?;
    let group = Uuid::parse_str(&path.id).map_err(|_| not_found(&path.id))?;
    let member = body.member_id()?;
    admin.add_member(&caller.principals, group, member).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a member.
#[utoipa::path(delete, path = "/v1.0/groups/{id}/members/{memberId}/$ref", operation_id = "Graph_RemoveMember", tag = "Graph",
    params(MemberPath),
    responses((status = 204, description = "Removed"), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<MemberPath>,
) -> Result<StatusCode, ApiError> {
    let admin = &state.directory_admin;
    state.authorize_directory(&caller, actions::GROUPS_MEMBERS)?;
    let (Ok(group), Ok(member)) = (Uuid::parse_str(&path.id), Uuid::parse_str(&path.member_id))
    else {
        return Err(not_found(&path.member_id));
    };
    admin
        .remove_member(&caller.principals, group, member)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
