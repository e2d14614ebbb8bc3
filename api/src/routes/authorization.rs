//! `Microsoft.Authorization`: role definitions and role assignments, at any scope
//! (`{scope}/providers/Microsoft.Authorization/...`; the scope reaches the handlers as a
//! [`ScopePrefix`], see `arm::normalize`).

use crate::arm::odata::Filter;
use crate::arm::{ApiVersion, ArmJson, ScopePrefix, VersionSet, put_status};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorResponse};
use crate::routes::registries::dto::rfc3339;
use crate::routes::wire::PrincipalType;
use crate::state::AppState;
use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use berth_domain::authorization::{
    AssignmentFilter, NewAssignment, Permission, RbacError, RoleAssignment, RoleDefinition, Scope,
};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// `Microsoft.Authorization`: the version the SDK sends and the Azure CLI's preview.
pub struct AuthorizationVersions;
impl VersionSet for AuthorizationVersions {
    const RESOURCE: &'static str = "Microsoft.Authorization";
    const SUPPORTED: &'static [&'static str] = &["2022-04-01", "2022-05-01-preview"];
}

/// The scope a request addresses (`/` when none precedes `/providers/Microsoft.Authorization`).
#[derive(Debug, Clone)]
pub struct RequestScope(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestScope {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ScopePrefix>()
                .map_or_else(|| "/".to_owned(), |s| s.0.clone()),
        ))
    }
}

/// The query of these routes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizationQuery {
    /// `2022-04-01` or `2022-05-01-preview`.
    #[serde(rename = "api-version")]
    #[param(rename = "api-version", example = "2022-04-01")]
    pub api_version: String,
    /// Role definitions: `roleName eq '...'` or `type eq 'BuiltInRole'|'CustomRole'`. Role
    /// assignments: `atScope()`, `principalId eq '...'`, `assignedTo('...')`, `atScope() and assignedTo('...')`.
    #[serde(rename = "$filter")]
    #[param(rename = "$filter")]
    pub filter: Option<String>,
}

/// A permission block.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionDto {
    /// Control-plane actions.
    #[serde(default)]
    pub actions: Vec<String>,
    /// Excluded control-plane actions.
    #[serde(default)]
    pub not_actions: Vec<String>,
    /// Data actions.
    #[serde(default)]
    pub data_actions: Vec<String>,
    /// Excluded data actions.
    #[serde(default)]
    pub not_data_actions: Vec<String>,
}

/// Role definition properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinitionProperties {
    /// `roleName`.
    #[serde(default)]
    pub role_name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// `BuiltInRole` or `CustomRole`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Permission blocks.
    #[serde(default)]
    pub permissions: Vec<PermissionDto>,
    /// Where the role may be assigned.
    #[serde(default)]
    pub assignable_scopes: Vec<String>,
}

/// A role definition.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoleDefinitionResource {
    /// `{subscription-or-root}/providers/Microsoft.Authorization/roleDefinitions/{guid}`.
    pub id: String,
    /// The GUID.
    pub name: String,
    /// `Microsoft.Authorization/roleDefinitions`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Properties.
    pub properties: RoleDefinitionProperties,
}

/// The body of a custom role PUT.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoleDefinitionBody {
    /// Properties.
    pub properties: RoleDefinitionProperties,
}

/// Role definitions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoleDefinitionList {
    /// The roles.
    pub value: Vec<RoleDefinitionResource>,
}

/// Role assignment properties, as sent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentInput {
    /// The role's id, in any ARM form; echoed back exactly.
    pub role_definition_id: String,
    /// The principal's object id.
    pub principal_id: String,
    /// `User`, `Group`, `ServicePrincipal` or `ForeignGroup`.
    pub principal_type: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// ABAC condition.
    pub condition: Option<String>,
    /// `2.0`.
    pub condition_version: Option<String>,
}

/// The body of a role-assignment PUT.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoleAssignmentBody {
    /// Properties.
    pub properties: RoleAssignmentInput,
}

/// Role assignment properties, as returned.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentProperties {
    /// Scope.
    pub scope: String,
    /// The role's id, exactly as sent.
    pub role_definition_id: String,
    /// Principal object id.
    pub principal_id: String,
    /// Principal type.
    pub principal_type: PrincipalType,
    /// Description.
    pub description: Option<String>,
    /// Condition.
    pub condition: Option<String>,
    /// Condition version.
    pub condition_version: Option<String>,
    /// Created (RFC 3339).
    #[schema(format = DateTime)]
    pub created_on: String,
    /// Updated (RFC 3339).
    #[schema(format = DateTime)]
    pub updated_on: String,
    /// Creator's object id.
    pub created_by: Option<String>,
    /// Last updater's object id.
    pub updated_by: Option<String>,
    /// Always null.
    pub delegated_managed_identity_resource_id: Option<String>,
}

/// A role assignment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoleAssignmentResource {
    /// `{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`.
    pub id: String,
    /// The GUID name.
    pub name: String,
    /// `Microsoft.Authorization/roleAssignments`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Properties.
    pub properties: RoleAssignmentProperties,
}

/// Role assignments.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoleAssignmentList {
    /// The assignments.
    pub value: Vec<RoleAssignmentResource>,
}

/// The path of one role definition.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct RoleDefinitionPath {
    /// The role's GUID.
    role_definition_id: String,
}

/// The path of one role assignment.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct RoleAssignmentPath {
    /// The assignment's GUID name.
    role_assignment_name: String,
}

/// The router of `Microsoft.Authorization`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_role_definitions))
        .routes(routes!(
            get_role_definition,
            put_role_definition,
            delete_role_definition
        ))
        .routes(routes!(list_role_assignments))
        .routes(routes!(
            get_role_assignment,
            put_role_assignment,
            delete_role_assignment
        ))
}

const ROLES_READ: &str = "Microsoft.Authorization/roleDefinitions/read";
const ROLES_WRITE: &str = "Microsoft.Authorization/roleDefinitions/write";
const ROLES_DELETE: &str = "Microsoft.Authorization/roleDefinitions/delete";
const ASSIGNMENTS_READ: &str = "Microsoft.Authorization/roleAssignments/read";
const ASSIGNMENTS_WRITE: &str = "Microsoft.Authorization/roleAssignments/write";
const ASSIGNMENTS_DELETE: &str = "Microsoft.Authorization/roleAssignments/delete";

/// A malformed scope is a bad request; a well-formed one the caller may not act on is 403.
fn check(state: &AppState, caller: &Caller, action: &str, scope: &str) -> Result<(), ApiError> {
    Scope::parse(scope).map_err(RbacError::from)?;
    state.authorize(caller, action, scope)
}

/// ARM ids of role definitions name the subscription of the scope they are read at (none
/// at the root).
fn role_definition_id(scope: &str, id: Uuid) -> String {
    let segments: Vec<&str> = scope.split('/').collect();
    let subscription = match segments.as_slice() {
        ["", key, sub, ..] if key.eq_ignore_ascii_case("subscriptions") => {
            format!("/subscriptions/{sub}")
        }
        _ => String::new(),
    };
    format!("{subscription}/providers/Microsoft.Authorization/roleDefinitions/{id}")
}

impl From<&Permission> for PermissionDto {
    fn from(p: &Permission) -> Self {
        Self {
            actions: p.actions.clone(),
            not_actions: p.not_actions.clone(),
            data_actions: p.data_actions.clone(),
            not_data_actions: p.not_data_actions.clone(),
        }
    }
}

impl From<PermissionDto> for Permission {
    fn from(d: PermissionDto) -> Self {
        Self {
            actions: d.actions,
            not_actions: d.not_actions,
            data_actions: d.data_actions,
            not_data_actions: d.not_data_actions,
        }
    }
}

impl RoleDefinitionResource {
    /// The wire form of a role read at `scope`.
    fn of(scope: &str, role: &RoleDefinition) -> Self {
        Self {
            id: role_definition_id(scope, role.id),
            name: role.id.to_string(),
            kind: "Microsoft.Authorization/roleDefinitions".to_owned(),
            properties: RoleDefinitionProperties {
                role_name: role.name.clone(),
                description: role.description.clone(),
                kind: role.kind.as_str().to_owned(),
                permissions: role.permissions.iter().map(PermissionDto::from).collect(),
                assignable_scopes: role
                    .assignable_scopes
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect(),
            },
        }
    }
}

impl RoleDefinitionBody {
    /// The custom role this PUT at `scope` defines, with the id of its URL.
    fn into_role(self, id: &str, scope: &str) -> Result<RoleDefinition, RbacError> {
        let p = self.properties;
        let permissions = p.permissions.into_iter().map(Permission::from).collect();
        let (name, description) = (p.role_name, p.description);
        RoleDefinition::custom(
            id,
            scope,
            name,
            description,
            permissions,
            p.assignable_scopes,
        )
    }
}

impl From<&RoleAssignment> for RoleAssignmentResource {
    fn from(a: &RoleAssignment) -> Self {
        let scope = a.scope.as_str();
        let prefix = if scope == "/" { "" } else { scope };
        Self {
            id: format!(
                "{prefix}/providers/Microsoft.Authorization/roleAssignments/{}",
                a.name
            ),
            name: a.name.to_string(),
            kind: "Microsoft.Authorization/roleAssignments".to_owned(),
            properties: RoleAssignmentProperties {
                scope: scope.to_owned(),
                role_definition_id: a.role_definition_ref.clone(),
                principal_id: a.principal_id.to_string(),
                principal_type: a.principal_type.into(),
                description: a.description.clone(),
                condition: a.condition.clone(),
                condition_version: a.condition_version.clone(),
                created_on: rfc3339(a.created_on),
                updated_on: rfc3339(a.created_on),
                created_by: a.created_by.map(|c| c.to_string()),
                updated_by: a.created_by.map(|c| c.to_string()),
                delegated_managed_identity_resource_id: None,
            },
        }
    }
}

impl RoleAssignmentBody {
    /// The assignment this PUT at `scope` makes, named by its URL.
    fn into_new(self, scope: String, name: String) -> NewAssignment {
        let p = self.properties;
        NewAssignment {
            scope,
            name,
            role_definition_id: p.role_definition_id,
            principal_id: p.principal_id,
            principal_type: p.principal_type,
            description: p.description,
            condition: p.condition,
            condition_version: p.condition_version,
            created_by: None,
        }
    }
}

fn filter_error(filter: &str) -> ApiError {
    ApiError::invalid_filter(format!("The $filter '{filter}' is not supported here."))
}

/// `roleName eq '...'` or `type eq '...'` of the role-definition list, as (name, type).
fn parse_role_filter(filter: Option<&str>) -> Result<(Option<String>, Option<String>), ApiError> {
    let Some(text) = filter else {
        return Ok((None, None));
    };
    let parsed = Filter::parse(text).map_err(|_| filter_error(text))?;
    let condition = parsed.single().ok_or_else(|| filter_error(text))?;
    match (condition.eq("roleName"), condition.eq("type")) {
        (Some(name), _) => Ok((Some(name.to_owned()), None)),
        (None, Some(kind)) => Ok((None, Some(kind.to_owned()))),
        _ => Err(filter_error(text)),
    }
}

fn parse_assignment_filter(filter: Option<&str>) -> Result<AssignmentFilter, ApiError> {
    let mut parsed = AssignmentFilter::default();
    let Some(text) = filter else {
        return Ok(parsed);
    };
    let guid = |v: &str| Uuid::parse_str(v).map_err(|_| filter_error(text));
    for condition in Filter::parse(text)
        .map_err(|_| filter_error(text))?
        .conditions
    {
        if condition.call("atScope").is_some_and(<[_]>::is_empty) {
            parsed.at_scope = true;
        } else if let Some(value) = condition.eq("principalId") {
            parsed.principal_id = Some(guid(value)?);
        } else if let Some(value) = condition.call_with_literal("assignedTo") {
            parsed.assigned_to = Some(guid(value)?);
        } else {
            return Err(filter_error(text));
        }
    }
    if parsed.at_scope && parsed.principal_id.is_some() {
        return Err(filter_error(text));
    }
    Ok(parsed)
}

/// Lists the role definitions usable at the scope.
#[utoipa::path(get, path = "/providers/Microsoft.Authorization/roleDefinitions", operation_id = "RoleDefinitions_List",
    tag = "Authorization", params(AuthorizationQuery),
    description = "Prefix the path with any scope (`/subscriptions/{id}/...`) to list at that scope.",
    responses((status = 200, description = "The role definitions", body = RoleDefinitionList), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn list_role_definitions(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<AuthorizationVersions>,
    RequestScope(scope): RequestScope,
    query: crate::arm::ListQuery,
) -> Result<Json<RoleDefinitionList>, ApiError> {
    check(&state, &caller, ROLES_READ, &scope)?;
    let (name, kind) = parse_role_filter(query.filter.as_deref())?;
    let roles = state.rbac.role_definitions(&scope, name.as_deref())?;
    let of_kind = |r: &&RoleDefinition| {
        let kind = kind.as_deref();
        kind.is_none_or(|k| r.kind.as_str().eq_ignore_ascii_case(k))
    };
    let value = roles.iter().filter(of_kind);
    Ok(Json(RoleDefinitionList {
        value: value
            .map(|r| RoleDefinitionResource::of(&scope, r))
            .collect(),
    }))
}

/// Gets a role definition.
#[utoipa::path(get, path = "/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}", operation_id = "RoleDefinitions_Get",
    tag = "Authorization", params(RoleDefinitionPath, AuthorizationQuery),
    responses((status = 200, description = "The role definition", body = RoleDefinitionResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn get_role_definition(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<AuthorizationVersions>,
    RequestScope(scope): RequestScope,
    Path(path): Path<RoleDefinitionPath>,
) -> Result<Json<RoleDefinitionResource>, ApiError> {
    check(&state, &caller, ROLES_READ, &scope)?;
    let role = state
        .rbac
        .role_definition_at(&scope, &path.role_definition_id)?;
    Ok(Json(RoleDefinitionResource::of(&scope, &role)))
}

/// Creates or replaces a custom role definition.
#[utoipa::path(put, path = "/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}", operation_id = "RoleDefinitions_CreateOrUpdate",
    tag = "Authorization", params(RoleDefinitionPath, AuthorizationQuery), request_body = RoleDefinitionBody,
    responses((status = 201, description = "Created", body = RoleDefinitionResource), (status = 200, description = "Replaced", body = RoleDefinitionResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn put_role_definition(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<AuthorizationVersions>,
    RequestScope(scope): RequestScope,
    Path(path): Path<RoleDefinitionPath>,
    body: ArmJson<RoleDefinitionBody>,
) -> Result<Response, ApiError> {
    check(&state, &caller, ROLES_WRITE, &scope)?;
    let role = body.parse()?.into_role(&path.role_definition_id, &scope)?;
    let (role, created) = state
        .rbac
        .put_role_definition(&caller.principals, role)
        .await
        .map_err(|e| ApiError::rbac_refusal(&caller, e))?;
    let answer = Json(RoleDefinitionResource::of(&scope, &role));
    Ok((put_status(created), answer).into_response())
}

/// Deletes a custom role definition (refused while it is assigned).
#[utoipa::path(delete, path = "/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}", operation_id = "RoleDefinitions_Delete",
    tag = "Authorization", params(RoleDefinitionPath, AuthorizationQuery),
    responses((status = 200, description = "Deleted", body = RoleDefinitionResource), (status = 204, description = "No such role"), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn delete_role_definition(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<AuthorizationVersions>,
    RequestScope(scope): RequestScope,
    Path(path): Path<RoleDefinitionPath>,
) -> Result<Response, ApiError> {
    check(&state, &caller, ROLES_DELETE, &scope)?;
    let id = &path.role_definition_id;
    match state
        .rbac
        .delete_role_definition(&caller.principals, &scope, id)
        .await
    {
        Ok(role) => Ok(Json(RoleDefinitionResource::of(&scope, &role)).into_response()),
        Err(RbacError::RoleDefinitionNotFound(_)) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(e) => Err(ApiError::rbac_refusal(&caller, e)),
    }
}

/// Lists role assignments at, above and below the scope, narrowed by `$filter`.
#[utoipa::path(get, path = "/providers/Microsoft.Authorization/roleAssignments", operation_id = "RoleAssignments_ListForScope",
    tag = "Authorization", params(AuthorizationQuery),
    description = "Prefix the path with any scope to list there.",
    responses((status = 200, description = "The role assignments", body = RoleAssignmentList), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn list_role_assignments(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<AuthorizationVersions>,
    RequestScope(scope): RequestScope,
    query: crate::arm::ListQuery,
) -> Result<Json<RoleAssignmentList>, ApiError> {
    check(&state, &caller, ASSIGNMENTS_READ, &scope)?;
    let filter = parse_assignment_filter(query.filter.as_deref())?;
    let found = state.rbac.list_assignments(&scope, &filter).await?;
    Ok(Json(RoleAssignmentList {
        value: found.iter().map(RoleAssignmentResource::from).collect(),
    }))
}

/// Gets a role assignment.
#[utoipa::path(get, path = "/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}", operation_id = "RoleAssignments_Get",
    tag = "Authorization", params(RoleAssignmentPath, AuthorizationQuery),
    responses((status = 200, description = "The role assignment", body = RoleAssignmentResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn get_role_assignment(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<AuthorizationVersions>,
    RequestScope(scope): RequestScope,
    Path(path): Path<RoleAssignmentPath>,
) -> Result<Json<RoleAssignmentResource>, ApiError> {
    check(&state, &caller, ASSIGNMENTS_READ, &scope)?;
    let found = state.rbac.assignment(&scope, &path.role_assignment_name)?;
    Ok(Json(RoleAssignmentResource::from(&found)))
}

/// Creates a role assignment (201); a duplicate (scope, role, principal) is 409
/// `RoleAssignmentExists`.
#[utoipa::path(put, path = "/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}", operation_id = "RoleAssignments_Create",
    tag = "Authorization", params(RoleAssignmentPath, AuthorizationQuery), request_body = RoleAssignmentBody,
    responses((status = 201, description = "Created", body = RoleAssignmentResource), (status = 200, description = "The same assignment existed", body = RoleAssignmentResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn put_role_assignment(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<AuthorizationVersions>,
    RequestScope(scope): RequestScope,
    Path(path): Path<RoleAssignmentPath>,
    body: ArmJson<RoleAssignmentBody>,
) -> Result<Response, ApiError> {
    check(&state, &caller, ASSIGNMENTS_WRITE, &scope)?;
    let new = body.parse()?.into_new(scope, path.role_assignment_name);
    let (assignment, created) = state
        .rbac
        .create_assignment(new)
        .await
        .map_err(ApiError::assignment_refusal)?;
    let answer = Json(RoleAssignmentResource::from(&assignment));
    Ok((put_status(created), answer).into_response())
}

/// Deletes a role assignment: 200 with it, or 204 when there was none.
#[utoipa::path(delete, path = "/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}", operation_id = "RoleAssignments_Delete",
    tag = "Authorization", params(RoleAssignmentPath, AuthorizationQuery),
    responses((status = 200, description = "Deleted", body = RoleAssignmentResource), (status = 204, description = "No such assignment"), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn delete_role_assignment(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<AuthorizationVersions>,
    RequestScope(scope): RequestScope,
    Path(path): Path<RoleAssignmentPath>,
) -> Result<Response, ApiError> {
    check(&state, &caller, ASSIGNMENTS_DELETE, &scope)?;
    let name = &path.role_assignment_name;
    Ok(match state.rbac.delete_assignment(&scope, name).await? {
        Some(deleted) => Json(RoleAssignmentResource::from(&deleted)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_filters_take_arms_forms() {
        let id = "0a2b7dc5-8eb4-4970-9418-694f83a6c164";
        assert!(parse_assignment_filter(Some("atScope()")).is_ok_and(|f| f.at_scope));
        let f = parse_assignment_filter(Some(&format!("atScope() and assignedTo('{id}')"))).ok();
        assert!(f.is_some_and(|f| f.at_scope && f.assigned_to.is_some()));
        assert!(
            parse_assignment_filter(Some(&format!("principalId eq '{id}'")))
                .is_ok_and(|f| f.principal_id.is_some())
        );
        assert!(
            parse_assignment_filter(Some(&format!("atScope() and principalId eq '{id}'"))).is_err(),
            "an ARM limitation"
        );
        assert!(parse_assignment_filter(Some("roleName eq 'x'")).is_err());
    }

    #[test]
    fn role_definition_ids_name_the_scopes_subscription() {
        let id = Uuid::nil();
        assert_eq!(
            role_definition_id("/subscriptions/S/resourceGroups/rg", id),
            format!("/subscriptions/S/providers/Microsoft.Authorization/roleDefinitions/{id}")
        );
        assert_eq!(
            role_definition_id("/", id),
            format!("/providers/Microsoft.Authorization/roleDefinitions/{id}")
        );
    }
}
