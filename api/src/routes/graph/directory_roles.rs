//! `/v1.0/roleManagement/directory`: Entra's built-in directory roles that Berth uses, and
//! their assignments (taking Privileged Role Administrator or Global Administrator).

use super::dto::{
    GraphDirectoryRole, GraphDirectoryRoleAssignment, GraphDirectoryRoleAssignmentList,
    GraphDirectoryRoleList, NewDirectoryRoleAssignment,
};
use super::{GraphQuery, ObjectPath, created};
use crate::arm::ArmJson;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorResponse};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_domain::directory::RoleAssignmentFilter;
use berth_domain::directory::roles::actions;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_directory_role_definitions))
        .routes(routes!(get_directory_role_definition))
        .routes(routes!(
            list_directory_role_assignments,
            create_directory_role_assignment
        ))
        .routes(routes!(
            get_directory_role_assignment,
            delete_directory_role_assignment
        ))
}

impl GraphQuery {
    /// `principalId eq '...'` or `roleDefinitionId eq '...'` of the assignment list.
    fn role_assignment_filter(&self) -> Result<RoleAssignmentFilter, ApiError> {
        let Some(condition) = self.condition()? else {
            return Ok(RoleAssignmentFilter::default());
        };
        let id = |value: &str| Uuid::parse_str(value).map_err(|_| self.unsupported());
        if let Some(principal) = condition.eq("principalId") {
            return Ok(RoleAssignmentFilter {
                principal_id: Some(id(principal)?),
                ..RoleAssignmentFilter::default()
            });
        }
        let role = condition.eq("roleDefinitionId");
        Ok(RoleAssignmentFilter {
            role_definition_id: Some(id(role.ok_or_else(|| self.unsupported())?)?),
            ..RoleAssignmentFilter::default()
        })
    }
}

/// Lists the directory roles (Entra's built-ins that Berth uses).
#[utoipa::path(get, path = "/v1.0/roleManagement/directory/roleDefinitions", operation_id = "Graph_ListDirectoryRoleDefinitions", tag = "Graph",
    responses((status = 200, description = "Directory roles", body = GraphDirectoryRoleList), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn list_directory_role_definitions(
    State(state): State<AppState>,
    _caller: Caller,
) -> Json<GraphDirectoryRoleList> {
    let roles = state.directory_admin.role_definitions();
    Json(GraphDirectoryRoleList {
        value: roles.iter().map(GraphDirectoryRole::from).collect(),
    })
}

/// Gets a directory role by id (its template id).
#[utoipa::path(get, path = "/v1.0/roleManagement/directory/roleDefinitions/{id}", operation_id = "Graph_GetDirectoryRoleDefinition", tag = "Graph",
    params(ObjectPath),
    responses((status = 200, description = "The directory role", body = GraphDirectoryRole), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn get_directory_role_definition(
    State(state): State<AppState>,
    _caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<Json<GraphDirectoryRole>, ApiError> {
    let role = state.directory_admin.role_definition(&path.id)?;
    Ok(Json(GraphDirectoryRole::from(&role)))
}

/// Lists directory role assignments (`$filter=principalId eq '...'` or
/// `roleDefinitionId eq '...'`).
#[utoipa::path(get, path = "/v1.0/roleManagement/directory/roleAssignments", operation_id = "Graph_ListDirectoryRoleAssignments", tag = "Graph",
    params(GraphQuery),
    responses((status = 200, description = "Directory role assignments", body = GraphDirectoryRoleAssignmentList), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn list_directory_role_assignments(
    State(state): State<AppState>,
    _caller: Caller,
    Query(q): Query<GraphQuery>,
) -> Result<Json<GraphDirectoryRoleAssignmentList>, ApiError> {
    let found = state
        .directory_admin
        .role_assignments(q.role_assignment_filter()?);
    Ok(Json(GraphDirectoryRoleAssignmentList {
        value: found
            .iter()
            .map(GraphDirectoryRoleAssignment::from)
            .collect(),
    }))
}

/// Gives a user or service principal a directory role; takes Privileged Role Administrator
/// or Global Administrator.
#[utoipa::path(post, path = "/v1.0/roleManagement/directory/roleAssignments", operation_id = "Graph_CreateDirectoryRoleAssignment", tag = "Graph",
    request_body = NewDirectoryRoleAssignment,
    responses((status = 201, description = "The directory role assignment", body = GraphDirectoryRoleAssignment), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn create_directory_role_assignment(
    State(state): State<AppState>,
    caller: Caller,
    body: ArmJson<NewDirectoryRoleAssignment>,
) -> Result<Response, ApiError> {
    let admin = &state.directory_admin;
    state.authorize_directory(&caller, actions::ROLE_ASSIGNMENTS)?;
    let body = body.parse()?;
    let (principal, role) = (&body.principal_id, &body.role_definition_id);
    let made = admin
        .assign_role(
            &caller.principals,
            principal,
            role,
            &body.directory_scope_id,
        )
        .await?;
    Ok(created(GraphDirectoryRoleAssignment::from(&made)))
}

/// Gets a directory role assignment.
#[utoipa::path(get, path = "/v1.0/roleManagement/directory/roleAssignments/{id}", operation_id = "Graph_GetDirectoryRoleAssignment", tag = "Graph",
    params(ObjectPath),
    responses((status = 200, description = "The directory role assignment", body = GraphDirectoryRoleAssignment), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn get_directory_role_assignment(
    State(state): State<AppState>,
    _caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<Json<GraphDirectoryRoleAssignment>, ApiError> {
    let found = state.directory_admin.role_assignment(&path.id)?;
    Ok(Json(GraphDirectoryRoleAssignment::from(&found)))
}

/// Removes a directory role assignment; takes Privileged Role Administrator or Global
/// Administrator.
#[utoipa::path(delete, path = "/v1.0/roleManagement/directory/roleAssignments/{id}", operation_id = "Graph_DeleteDirectoryRoleAssignment", tag = "Graph",
    params(ObjectPath),
    responses((status = 204, description = "Removed"), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn delete_directory_role_assignment(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<StatusCode, ApiError> {
    let admin = &state.directory_admin;
    state.authorize_directory(&caller, actions::ROLE_ASSIGNMENTS)?;
    admin.unassign_role(&caller.principals, &path.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
