//! The Microsoft Graph v1.0 subset that the Azure CLI uses to manage and resolve
//! principals: users, applications with their service principals and passwords, groups and
//! members, and `directoryObjects/getByIds`. Errors have Graph's `{"error":{"code","message"}}`.
//! Any principal of the tenant may read the directory; changing it takes a directory role
//! (Entra's, assigned through `roleManagement/directory`), never an ARM role, and a change to
//! a principal more privileged than the caller is refused: see
//! [`berth_domain::directory::DirectoryAdmin`].

use crate::arm::{ArmJson, BaseUrl};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorResponse};
use crate::routes::registries::dto::rfc3339;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_domain::directory::roles::actions;
use berth_domain::directory::{
    DirectoryError, DirectoryObject, DirectoryRole, DirectoryRoleAssignment, Group, NewSecret,
    ObjectKind, RoleAssignmentFilter, ServicePrincipal, User,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Graph's largest page.
const MAX_PAGE: u64 = 999;
/// Graph's default page.
const DEFAULT_PAGE: u64 = 100;
/// The most ids `getByIds` takes, as in Graph.
const MAX_GET_BY_IDS: usize = 1000;

/// One page of a directory listing, each object as `render` shows it, with
/// `@odata.nextLink` when more follow.
async fn page(
    state: &AppState,
    kind: ObjectKind,
    q: &GraphQuery,
    BaseUrl(base): &BaseUrl,
    path: &str,
    render: fn(&DirectoryObject) -> Value,
) -> Result<GraphList, ApiError> {
    let top = q.top.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&top) {
        return Err(ApiError::graph_bad_request(format!(
            "Invalid page size specified: '{top}'. Must be between 1 and {MAX_PAGE} inclusive."
        )));
    }
    let after = q
        .skiptoken
        .as_deref()
        .map(|t| {
            Uuid::parse_str(t).map_err(|_| {
                ApiError::graph_bad_request("The $skiptoken is not one this service made.")
            })
        })
        .transpose()?;
    let mut found = state.directory.list(kind, after, top + 1).await?;
    let more = u64::try_from(found.len()).unwrap_or(u64::MAX) > top;
    found.truncate(usize::try_from(top).unwrap_or(usize::MAX));
    let next_link = match found.last() {
        Some(last) if more => Some(format!(
            "{base}{path}?$top={top}&$skiptoken={}",
            last.object_id()
        )),
        _ => None,
    };
    Ok(GraphList {
        value: found.iter().map(render).collect(),
        next_link,
    })
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        let message = e.to_string();
        match e {
            DirectoryError::Invalid { target, .. } => {
                Self::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
                    .with_target(target)
            }
            DirectoryError::Conflict(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "Request_MultipleObjectsWithSameKeyValue",
                message,
            ),
            DirectoryError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "Request_ResourceNotFound", message)
            }
            DirectoryError::Forbidden(_) => Self::new(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                message,
            ),
            DirectoryError::Store(s) => s.into(),
        }
    }
}

/// `$filter` of the directory lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GraphQuery {
    /// `userPrincipalName eq '...'`, `servicePrincipalNames/any(c:c eq '...')`, `appId eq '...'`,
    /// `displayName eq '...'`.
    #[serde(rename = "$filter")]
    #[param(rename = "$filter")]
    pub filter: Option<String>,
    /// Page size, 1 to 999 (default 100).
    #[serde(rename = "$top")]
    #[param(rename = "$top")]
    pub top: Option<u64>,
    /// Where the next page starts (from `@odata.nextLink`).
    #[serde(rename = "$skiptoken")]
    #[param(rename = "$skiptoken")]
    pub skiptoken: Option<String>,
}

/// A list of directory objects, in Graph's shape.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GraphList {
    /// The objects (each with `@odata.type` and `id`).
    #[schema(value_type = Vec<Object>)]
    pub value: Vec<Value>,
    /// The next page, when there is one.
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// `passwordProfile` of a new user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordProfile {
    /// The password.
    pub password: String,
    /// Accepted and ignored.
    #[serde(default)]
    pub force_change_password_next_sign_in: bool,
}

/// The body of `POST /v1.0/users`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewUser {
    /// `name@domain`.
    pub user_principal_name: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Accepted; users are enabled.
    #[serde(default)]
    pub account_enabled: Option<bool>,
    /// Accepted; derived from the name.
    #[serde(default)]
    pub mail_nickname: Option<String>,
    /// The password.
    pub password_profile: PasswordProfile,
}

/// The body of `POST /v1.0/applications`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewApplication {
    /// Display name.
    pub display_name: String,
}

/// The body of `POST /v1.0/servicePrincipals`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewServicePrincipal {
    /// The application's appId.
    pub app_id: String,
}

/// A password asked for.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordRequest {
    /// Label.
    pub display_name: Option<String>,
    /// End of validity (RFC 3339); one year when absent, at most ten.
    pub end_date_time: Option<String>,
}

/// The body of `addPassword`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddPassword {
    /// The password asked for.
    #[serde(default)]
    pub password_credential: PasswordRequest,
}

/// The body of `removePassword`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemovePassword {
    /// The password's key id.
    pub key_id: String,
}

/// A new password: `secretText` is shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordCredentialDto {
    /// Always null.
    pub custom_key_identifier: Option<String>,
    /// Label.
    pub display_name: Option<String>,
    /// End of validity.
    #[schema(format = DateTime)]
    pub end_date_time: String,
    /// First three characters of the secret.
    pub hint: String,
    /// Key id.
    pub key_id: String,
    /// The secret (only in the answer that made it).
    pub secret_text: Option<String>,
    /// Start of validity.
    #[schema(format = DateTime)]
    pub start_date_time: String,
}

/// The body of `POST /v1.0/groups`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewGroup {
    /// Display name.
    pub display_name: String,
    /// Nickname.
    #[serde(default)]
    pub mail_nickname: String,
    /// Description.
    pub description: Option<String>,
}

/// The body of `POST /v1.0/groups/{id}/members/$ref`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberRef {
    /// `https://.../v1.0/directoryObjects/{id}`.
    #[serde(rename = "@odata.id")]
    pub odata_id: String,
}

/// The body of `POST /v1.0/directoryObjects/getByIds`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GetByIds {
    /// Object ids.
    pub ids: Vec<String>,
    /// `user`, `group`, `servicePrincipal`, ... (all when absent).
    #[serde(default)]
    pub types: Vec<String>,
}

/// The body of `POST /v1.0/roleManagement/directory/roleAssignments`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewDirectoryRoleAssignment {
    /// The user or service principal that gets the role.
    pub principal_id: String,
    /// The directory role's id (its template id).
    pub role_definition_id: String,
    /// Where it applies: `/` (the whole directory) is the only scope Berth has.
    #[serde(default = "directory_root")]
    pub directory_scope_id: String,
}

fn directory_root() -> String {
    "/".to_owned()
}

/// A path with an object id.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ObjectPath {
    /// Object id (for users, also the user principal name).
    id: String,
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

/// The router of the Graph subset.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, delete_user))
        .routes(routes!(list_applications, create_application))
        .routes(routes!(
            get_application,
            update_application,
            delete_application
        ))
        .routes(routes!(add_password))
        .routes(routes!(remove_password))
        .routes(routes!(list_service_principals, create_service_principal))
        .routes(routes!(get_service_principal, delete_service_principal))
        .routes(routes!(create_group))
        .routes(routes!(get_group, delete_group))
        .routes(routes!(list_members))
        .routes(routes!(add_member))
        .routes(routes!(remove_member))
        .routes(routes!(get_by_ids))
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

fn user_json(u: &User) -> Value {
    json!({"@odata.type": "#microsoft.graph.user", "id": u.object_id, "userPrincipalName": u.user_principal_name,
        "displayName": u.display_name, "mailNickname": u.mail_nickname, "accountEnabled": u.account_enabled})
}

fn passwords_json(sp: &ServicePrincipal) -> Vec<Value> {
    sp.credentials.iter().map(|c| json!({"keyId": c.key_id, "displayName": c.display_name,
        "hint": c.hint, "startDateTime": rfc3339(c.start), "endDateTime": rfc3339(c.end), "secretText": null})).collect()
}

fn sp_json(sp: &ServicePrincipal) -> Value {
    json!({"@odata.type": "#microsoft.graph.servicePrincipal", "id": sp.object_id, "appId": sp.app_id,
        "displayName": sp.display_name, "servicePrincipalNames": sp.service_principal_names,
        "accountEnabled": sp.account_enabled, "servicePrincipalType": "Application",
        "passwordCredentials": passwords_json(sp)})
}

fn application_json(sp: &ServicePrincipal) -> Value {
    json!({"@odata.type": "#microsoft.graph.application", "id": sp.application_object_id, "appId": sp.app_id,
        "displayName": sp.display_name, "identifierUris": [], "keyCredentials": [],
        "passwordCredentials": passwords_json(sp)})
}

fn group_json(g: &Group) -> Value {
    json!({"@odata.type": "#microsoft.graph.group", "id": g.object_id, "displayName": g.display_name,
        "mailNickname": g.mail_nickname, "description": g.description, "securityEnabled": true, "mailEnabled": false})
}

fn object_json(o: &DirectoryObject) -> Value {
    match o {
        DirectoryObject::User(u) => user_json(u),
        DirectoryObject::ServicePrincipal(sp) => sp_json(sp),
        DirectoryObject::Group(g) => group_json(g),
    }
}

fn password_json(new: &NewSecret) -> PasswordCredentialDto {
    let c = &new.credential;
    PasswordCredentialDto {
        custom_key_identifier: None,
        display_name: c.display_name.clone(),
        end_date_time: rfc3339(c.end),
        hint: c.hint.clone(),
        key_id: c.key_id.to_string(),
        secret_text: Some(new.secret.clone()),
        start_date_time: rfc3339(c.start),
    }
}

fn unsupported_filter(filter: &str) -> ApiError {
    ApiError::graph_unsupported_filter(filter)
}

/// The quoted value of `... eq '<value>'` after `prefix`.
fn quoted_after<'a>(filter: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = filter.trim();
    // `get`, not indexing: a filter may cut a multi-byte character at that length.
    if !rest
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    {
        return None;
    }
    let value = rest[prefix.len()..].trim_start();
    let value = value.strip_prefix('\'')?;
    let end = value.rfind('\'')?;
    Some(&value[..end])
}

async fn object(state: &AppState, id: &str) -> Result<Option<DirectoryObject>, ApiError> {
    let Ok(id) = Uuid::parse_str(id) else {
        return Ok(None);
    };
    Ok(state.directory.get_by_ids(&[id]).await?.into_iter().next())
}

fn not_found(id: &str) -> ApiError {
    DirectoryError::NotFound(id.to_owned()).into()
}

/// Lists users (`$filter=userPrincipalName eq '...'`).
#[utoipa::path(get, path = "/v1.0/users", operation_id = "Graph_ListUsers", tag = "Graph", params(GraphQuery),
    responses((status = 200, description = "Users", body = GraphList), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn list_users(
    State(state): State<AppState>,
    _caller: Caller,
    base: BaseUrl,
    axum::extract::Query(q): axum::extract::Query<GraphQuery>,
) -> Result<Json<GraphList>, ApiError> {
    let value = match q.filter.as_deref() {
        None => {
            return Ok(Json(
                page(
                    &state,
                    ObjectKind::User,
                    &q,
                    &base,
                    "/v1.0/users",
                    object_json,
                )
                .await?,
            ));
        }
        Some(f) => {
            let upn =
                quoted_after(f, "userPrincipalName eq").ok_or_else(|| unsupported_filter(f))?;
            state
                .directory
                .find_user(upn)
                .await?
                .iter()
                .map(user_json)
                .collect()
        }
    };
    Ok(Json(GraphList {
        value,
        next_link: None,
    }))
}

/// Creates a user who signs in with a password.
#[utoipa::path(post, path = "/v1.0/users", operation_id = "Graph_CreateUser", tag = "Graph", request_body = NewUser,
    responses((status = 201, description = "The user", body = Object), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    body: ArmJson<NewUser>,
) -> Result<Response, ApiError> {
    state
        .directory_admin
        .authorize(&caller.principals, actions::USERS_CREATE)?;
    let body = body.parse()?;
    let user = state
        .directory_admin
        .create_user(
            &caller.principals,
            &body.user_principal_name,
            &body.display_name,
            &body.password_profile.password,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user_json(&user))).into_response())
}

/// Gets a user by object id or user principal name.
#[utoipa::path(get, path = "/v1.0/users/{id}", operation_id = "Graph_GetUser", tag = "Graph", params(ObjectPath),
    responses((status = 200, description = "The user", body = Object), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn get_user(
    State(state): State<AppState>,
    _caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<Json<Value>, ApiError> {
    if let Some(DirectoryObject::User(u)) = object(&state, &path.id).await? {
        return Ok(Json(user_json(&u)));
    }
    let user = state
        .directory
        .find_user(&path.id)
        .await?
        .ok_or_else(|| not_found(&path.id))?;
    Ok(Json(user_json(&user)))
}

/// Deletes a user, with its role assignments.
#[utoipa::path(delete, path = "/v1.0/users/{id}", operation_id = "Graph_DeleteUser", tag = "Graph", params(ObjectPath),
    responses((status = 204, description = "Deleted"), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<StatusCode, ApiError> {
    state
        .directory_admin
        .authorize(&caller.principals, actions::USERS_DELETE)?;
    let user = match object(&state, &path.id).await? {
        Some(DirectoryObject::User(u)) => u,
        _ => state
            .directory
            .find_user(&path.id)
            .await?
            .ok_or_else(|| not_found(&path.id))?,
    };
    remove_principal(&state, &caller, actions::USERS_DELETE, user.object_id).await
}

async fn remove_principal(
    state: &AppState,
    caller: &Caller,
    action: &str,
    id: Uuid,
) -> Result<StatusCode, ApiError> {
    state
        .directory_admin
        .delete(&caller.principals, action, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `displayName eq '<name>'` as `(name, false)`, `startswith(displayName,'<name>')` as
/// `(name, true)`.
fn display_name_filter(filter: &str) -> Option<(&str, bool)> {
    if let Some(name) = quoted_after(filter, "displayName eq") {
        return Some((name, false));
    }
    let inner = filter
        .trim()
        .strip_suffix(')')
        .and_then(|f| quoted_after(f, "startswith(displayName,"))?;
    Some((inner, true))
}

/// The service principals (one per application) with this display name, or a name that
/// starts with it.
async fn service_principals_named(
    state: &AppState,
    name: &str,
    prefix: bool,
) -> Result<Vec<ServicePrincipal>, ApiError> {
    Ok(state
        .directory
        .find_by_display_name(
            ObjectKind::ServicePrincipal,
            name,
            prefix,
            MAX_PAGE as usize,
        )
        .await?
        .into_iter()
        .filter_map(|o| match o {
            DirectoryObject::ServicePrincipal(sp) => Some(sp),
            _ => None,
        })
        .collect())
}

/// Lists applications (`$filter=displayName eq '...'` or `appId eq '...'`, or a page).
#[utoipa::path(get, path = "/v1.0/applications", operation_id = "Graph_ListApplications", tag = "Graph", params(GraphQuery),
    responses((status = 200, description = "Applications", body = GraphList), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn list_applications(
    State(state): State<AppState>,
    _caller: Caller,
    base: BaseUrl,
    axum::extract::Query(q): axum::extract::Query<GraphQuery>,
) -> Result<Json<GraphList>, ApiError> {
    let found = match q.filter.as_deref() {
        None => {
            // Berth makes an application with each service principal: a page of them is
            // a page of applications.
            let as_application = |o: &DirectoryObject| match o {
                DirectoryObject::ServicePrincipal(sp) => application_json(sp),
                other => object_json(other),
            };
            return Ok(Json(
                page(
                    &state,
                    ObjectKind::ServicePrincipal,
                    &q,
                    &base,
                    "/v1.0/applications",
                    as_application,
                )
                .await?,
            ));
        }
        Some(f) => {
            if let Some((name, prefix)) = display_name_filter(f) {
                service_principals_named(&state, name, prefix).await?
            } else {
                let app = quoted_after(f, "appId eq").ok_or_else(|| unsupported_filter(f))?;
                state
                    .directory
                    .find_service_principal(app)
                    .await?
                    .into_iter()
                    .collect()
            }
        }
    };
    Ok(Json(GraphList {
        value: found.iter().map(application_json).collect(),
        next_link: None,
    }))
}

/// Creates an application (and its service principal).
#[utoipa::path(post, path = "/v1.0/applications", operation_id = "Graph_CreateApplication", tag = "Graph", request_body = NewApplication,
    responses((status = 201, description = "The application", body = Object), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn create_application(
    State(state): State<AppState>,
    caller: Caller,
    body: ArmJson<NewApplication>,
) -> Result<Response, ApiError> {
    state
        .directory_admin
        .authorize(&caller.principals, actions::APPLICATIONS_CREATE)?;
    let body = body.parse()?;
    let sp = state
        .directory_admin
        .create_application(&caller.principals, &body.display_name)
        .await?;
    Ok((StatusCode::CREATED, Json(application_json(&sp))).into_response())
}

/// Gets an application by its object id.
#[utoipa::path(get, path = "/v1.0/applications/{id}", operation_id = "Graph_GetApplication", tag = "Graph", params(ObjectPath),
    responses((status = 200, description = "The application", body = Object), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn get_application(
    State(state): State<AppState>,
    _caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(application_json(
        &application(&state, &path.id).await?,
    )))
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
    state
        .directory_admin
        .authorize(&caller.principals, actions::APPLICATIONS_UPDATE)?;
    let body = body.parse()?;
    let sp = application(&state, &path.id).await?;
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
    state
        .directory_admin
        .authorize(&caller.principals, actions::APPLICATIONS_DELETE)?;
    let sp = application(&state, &path.id).await?;
    remove_principal(&state, &caller, actions::APPLICATIONS_DELETE, sp.object_id).await
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
    state
        .directory_admin
        .authorize(&caller.principals, actions::APPLICATIONS_CREDENTIALS)?;
    let body = body.parse()?;
    let request = body.password_credential;
    let years = match request.end_date_time.as_deref() {
        None => 1,
        Some(end) => {
            let end =
                time::OffsetDateTime::parse(end, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| {
                        ApiError::graph_bad_request("endDateTime is not an RFC 3339 time.")
                    })?;
            let days = (end - time::OffsetDateTime::now_utc()).whole_days();
            u8::try_from((days + 364) / 365).unwrap_or(u8::MAX).max(1)
        }
    };
    let new = state
        .directory_admin
        .add_password(
            &caller.principals,
            &path.id,
            request.display_name.as_deref(),
            years,
        )
        .await?;
    Ok(Json(password_json(&new)))
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
    state
        .directory_admin
        .authorize(&caller.principals, actions::APPLICATIONS_CREDENTIALS)?;
    let body = body.parse()?;
    let key = Uuid::parse_str(&body.key_id).map_err(|_| not_found(&body.key_id))?;
    state
        .directory_admin
        .remove_password(&caller.principals, &path.id, key)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists service principals (`$filter=servicePrincipalNames/any(c:c eq '...')` or `appId eq '...'`).
#[utoipa::path(get, path = "/v1.0/servicePrincipals", operation_id = "Graph_ListServicePrincipals", tag = "Graph", params(GraphQuery),
    responses((status = 200, description = "Service principals", body = GraphList), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn list_service_principals(
    State(state): State<AppState>,
    _caller: Caller,
    base: BaseUrl,
    axum::extract::Query(q): axum::extract::Query<GraphQuery>,
) -> Result<Json<GraphList>, ApiError> {
    let value = match q.filter.as_deref() {
        None => {
            return Ok(Json(
                page(
                    &state,
                    ObjectKind::ServicePrincipal,
                    &q,
                    &base,
                    "/v1.0/servicePrincipals",
                    object_json,
                )
                .await?,
            ));
        }
        Some(f) => {
            if let Some((name, prefix)) = display_name_filter(f) {
                service_principals_named(&state, name, prefix)
                    .await?
                    .iter()
                    .map(sp_json)
                    .collect()
            } else {
                let name = quoted_after(f, "servicePrincipalNames/any(c:c eq")
                    .or_else(|| quoted_after(f, "appId eq"))
                    .ok_or_else(|| unsupported_filter(f))?;
                state
                    .directory
                    .find_service_principal(name)
                    .await?
                    .iter()
                    .map(sp_json)
                    .collect()
            }
        }
    };
    Ok(Json(GraphList {
        value,
        next_link: None,
    }))
}

/// Creates the service principal of an application: Berth makes both together, so this
/// returns the existing one.
#[utoipa::path(post, path = "/v1.0/servicePrincipals", operation_id = "Graph_CreateServicePrincipal", tag = "Graph",
    request_body = NewServicePrincipal,
    responses((status = 201, description = "The service principal", body = Object), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn create_service_principal(
    State(state): State<AppState>,
    caller: Caller,
    body: ArmJson<NewServicePrincipal>,
) -> Result<Response, ApiError> {
    state
        .directory_admin
        .authorize(&caller.principals, actions::SERVICE_PRINCIPALS_CREATE)?;
    let body = body.parse()?;
    let sp = state
        .directory
        .find_service_principal(&body.app_id)
        .await?
        .ok_or_else(|| not_found(&body.app_id))?;
    Ok((StatusCode::CREATED, Json(sp_json(&sp))).into_response())
}

/// Gets a service principal by object id or appId.
#[utoipa::path(get, path = "/v1.0/servicePrincipals/{id}", operation_id = "Graph_GetServicePrincipal", tag = "Graph", params(ObjectPath),
    responses((status = 200, description = "The service principal", body = Object), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn get_service_principal(
    State(state): State<AppState>,
    _caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<Json<Value>, ApiError> {
    if let Some(DirectoryObject::ServicePrincipal(sp)) = object(&state, &path.id).await? {
        return Ok(Json(sp_json(&sp)));
    }
    let sp = state
        .directory
        .find_service_principal(&path.id)
        .await?
        .ok_or_else(|| not_found(&path.id))?;
    Ok(Json(sp_json(&sp)))
}

/// Deletes a service principal (and its application), with its role assignments.
#[utoipa::path(delete, path = "/v1.0/servicePrincipals/{id}", operation_id = "Graph_DeleteServicePrincipal", tag = "Graph", params(ObjectPath),
    responses((status = 204, description = "Deleted"), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn delete_service_principal(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<StatusCode, ApiError> {
    state
        .directory_admin
        .authorize(&caller.principals, actions::SERVICE_PRINCIPALS_DELETE)?;
    match object(&state, &path.id).await? {
        // The service principal's own id: its application's id names another object.
        Some(DirectoryObject::ServicePrincipal(sp))
            if sp.object_id.to_string().eq_ignore_ascii_case(&path.id) =>
        {
            remove_principal(
                &state,
                &caller,
                actions::SERVICE_PRINCIPALS_DELETE,
                sp.object_id,
            )
            .await
        }
        _ => Err(not_found(&path.id)),
    }
}

/// Creates a group.
#[utoipa::path(post, path = "/v1.0/groups", operation_id = "Graph_CreateGroup", tag = "Graph", request_body = NewGroup,
    responses((status = 201, description = "The group", body = Object), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    body: ArmJson<NewGroup>,
) -> Result<Response, ApiError> {
    state
        .directory_admin
        .authorize(&caller.principals, actions::GROUPS_CREATE)?;
    let body = body.parse()?;
    let group = state
        .directory_admin
        .create_group(
            &caller.principals,
            &body.display_name,
            &body.mail_nickname,
            body.description.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(group_json(&group))).into_response())
}

/// Gets a group.
#[utoipa::path(get, path = "/v1.0/groups/{id}", operation_id = "Graph_GetGroup", tag = "Graph", params(ObjectPath),
    responses((status = 200, description = "The group", body = Object), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn get_group(
    State(state): State<AppState>,
    _caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<Json<Value>, ApiError> {
    match object(&state, &path.id).await? {
        Some(DirectoryObject::Group(g)) => Ok(Json(group_json(&g))),
        _ => Err(not_found(&path.id)),
    }
}

/// Deletes a group, with its role assignments.
#[utoipa::path(delete, path = "/v1.0/groups/{id}", operation_id = "Graph_DeleteGroup", tag = "Graph", params(ObjectPath),
    responses((status = 204, description = "Deleted"), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn delete_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<StatusCode, ApiError> {
    state
        .directory_admin
        .authorize(&caller.principals, actions::GROUPS_DELETE)?;
    match object(&state, &path.id).await? {
        Some(DirectoryObject::Group(g)) => {
            remove_principal(&state, &caller, actions::GROUPS_DELETE, g.object_id).await
        }
        _ => Err(not_found(&path.id)),
    }
}

/// Lists a group's direct members.
#[utoipa::path(get, path = "/v1.0/groups/{id}/members", operation_id = "Graph_ListMembers", tag = "Graph", params(ObjectPath),
    responses((status = 200, description = "Members", body = GraphList), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn list_members(
    State(state): State<AppState>,
    _caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<Json<GraphList>, ApiError> {
    let Some(DirectoryObject::Group(group)) = object(&state, &path.id).await? else {
        return Err(not_found(&path.id));
    };
    let members = state.directory.members_of(group.object_id).await?;
    let value = state
        .directory
        .get_by_ids(&members)
        .await?
        .iter()
        .map(object_json)
        .collect();
    Ok(Json(GraphList {
        value,
        next_link: None,
    }))
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
    state
        .directory_admin
        .authorize(&caller.principals, actions::GROUPS_MEMBERS)?;
    let body = body.parse()?;
    let group = Uuid::parse_str(&path.id).map_err(|_| not_found(&path.id))?;
    let member = body
        .odata_id
        .rsplit('/')
        .next()
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| {
            ApiError::graph_bad_request("@odata.id must end with the member's object id.")
        })?;
    state
        .directory_admin
        .add_member(&caller.principals, group, member)
        .await?;
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
    state
        .directory_admin
        .authorize(&caller.principals, actions::GROUPS_MEMBERS)?;
    let (group, member) = match (Uuid::parse_str(&path.id), Uuid::parse_str(&path.member_id)) {
        (Ok(g), Ok(m)) => (g, m),
        _ => return Err(not_found(&path.member_id)),
    };
    state
        .directory_admin
        .remove_member(&caller.principals, group, member)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Finds directory objects by id; `types` narrows the kinds.
#[utoipa::path(post, path = "/v1.0/directoryObjects/getByIds", operation_id = "Graph_GetByIds", tag = "Graph", request_body = GetByIds,
    responses((status = 200, description = "The objects found", body = GraphList), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn get_by_ids(
    State(state): State<AppState>,
    _caller: Caller,
    body: ArmJson<GetByIds>,
) -> Result<Json<GraphList>, ApiError> {
    let body = body.parse()?;
    if body.ids.len() > MAX_GET_BY_IDS {
        return Err(ApiError::graph_bad_request(format!(
            "Too many ids: {} were given, getByIds takes at most {MAX_GET_BY_IDS}.",
            body.ids.len()
        ))
        .with_target("ids"));
    }
    let ids: Vec<Uuid> = body
        .ids
        .iter()
        .filter_map(|id| Uuid::parse_str(id).ok())
        .collect();
    let wanted = |o: &DirectoryObject| {
        let kind = match o {
            DirectoryObject::User(_) => "user",
            DirectoryObject::ServicePrincipal(_) => "serviceprincipal",
            DirectoryObject::Group(_) => "group",
        };
        body.types.is_empty() || body.types.iter().any(|t| t.eq_ignore_ascii_case(kind))
    };
    let found = state.directory.get_by_ids(&ids).await?;
    let value = found
        .iter()
        .filter(|o| ids.contains(&o.object_id()) && wanted(o))
        .map(object_json)
        .collect();
    Ok(Json(GraphList {
        value,
        next_link: None,
    }))
}

fn directory_role_json(r: &DirectoryRole) -> Value {
    json!({"@odata.type": "#microsoft.graph.unifiedRoleDefinition", "id": r.id, "templateId": r.id,
        "displayName": r.display_name, "description": r.description, "isBuiltIn": true, "isEnabled": true,
        "version": "1", "rolePermissions": [{"allowedResourceActions": r.allowed_resource_actions, "condition": null}]})
}

fn directory_role_assignment_json(a: &DirectoryRoleAssignment) -> Value {
    json!({"@odata.type": "#microsoft.graph.unifiedRoleAssignment", "id": a.id, "principalId": a.principal_id,
        "roleDefinitionId": a.role_definition_id, "directoryScopeId": a.directory_scope_id})
}

/// `principalId eq '...'` or `roleDefinitionId eq '...'` of the directory role assignment list.
fn role_assignment_filter(filter: Option<&str>) -> Result<RoleAssignmentFilter, ApiError> {
    let Some(f) = filter else {
        return Ok(RoleAssignmentFilter::default());
    };
    let id = |value: &str| Uuid::parse_str(value).map_err(|_| unsupported_filter(f));
    if let Some(principal) = quoted_after(f, "principalId eq") {
        return Ok(RoleAssignmentFilter {
            principal_id: Some(id(principal)?),
            ..RoleAssignmentFilter::default()
        });
    }
    let role = quoted_after(f, "roleDefinitionId eq").ok_or_else(|| unsupported_filter(f))?;
    Ok(RoleAssignmentFilter {
        role_definition_id: Some(id(role)?),
        ..RoleAssignmentFilter::default()
    })
}

/// Lists the directory roles (Entra's built-ins that Berth uses).
#[utoipa::path(get, path = "/v1.0/roleManagement/directory/roleDefinitions", operation_id = "Graph_ListDirectoryRoleDefinitions", tag = "Graph",
    responses((status = 200, description = "Directory roles", body = GraphList), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn list_directory_role_definitions(
    State(state): State<AppState>,
    _caller: Caller,
) -> Json<GraphList> {
    let roles = state.directory_admin.role_definitions();
    Json(GraphList {
        value: roles.iter().map(directory_role_json).collect(),
        next_link: None,
    })
}

/// Gets a directory role by id (its template id).
#[utoipa::path(get, path = "/v1.0/roleManagement/directory/roleDefinitions/{id}", operation_id = "Graph_GetDirectoryRoleDefinition", tag = "Graph",
    params(ObjectPath),
    responses((status = 200, description = "The directory role", body = Object), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn get_directory_role_definition(
    State(state): State<AppState>,
    _caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<Json<Value>, ApiError> {
    let role = state.directory_admin.role_definition(&path.id)?;
    Ok(Json(directory_role_json(&role)))
}

/// Lists directory role assignments (`$filter=principalId eq '...'` or
/// `roleDefinitionId eq '...'`).
#[utoipa::path(get, path = "/v1.0/roleManagement/directory/roleAssignments", operation_id = "Graph_ListDirectoryRoleAssignments", tag = "Graph",
    params(GraphQuery),
    responses((status = 200, description = "Directory role assignments", body = GraphList), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn list_directory_role_assignments(
    State(state): State<AppState>,
    _caller: Caller,
    axum::extract::Query(q): axum::extract::Query<GraphQuery>,
) -> Result<Json<GraphList>, ApiError> {
    let filter = role_assignment_filter(q.filter.as_deref())?;
    let found = state.directory_admin.role_assignments(filter);
    Ok(Json(GraphList {
        value: found.iter().map(directory_role_assignment_json).collect(),
        next_link: None,
    }))
}

/// Gives a user or service principal a directory role; takes Privileged Role Administrator
/// or Global Administrator.
#[utoipa::path(post, path = "/v1.0/roleManagement/directory/roleAssignments", operation_id = "Graph_CreateDirectoryRoleAssignment", tag = "Graph",
    request_body = NewDirectoryRoleAssignment,
    responses((status = 201, description = "The directory role assignment", body = Object), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn create_directory_role_assignment(
    State(state): State<AppState>,
    caller: Caller,
    body: ArmJson<NewDirectoryRoleAssignment>,
) -> Result<Response, ApiError> {
    state
        .directory_admin
        .authorize(&caller.principals, actions::ROLE_ASSIGNMENTS)?;
    let body = body.parse()?;
    let made = state
        .directory_admin
        .assign_role(
            &caller.principals,
            &body.principal_id,
            &body.role_definition_id,
            &body.directory_scope_id,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(directory_role_assignment_json(&made)),
    )
        .into_response())
}

/// Gets a directory role assignment.
#[utoipa::path(get, path = "/v1.0/roleManagement/directory/roleAssignments/{id}", operation_id = "Graph_GetDirectoryRoleAssignment", tag = "Graph",
    params(ObjectPath),
    responses((status = 200, description = "The directory role assignment", body = Object), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn get_directory_role_assignment(
    State(state): State<AppState>,
    _caller: Caller,
    Path(path): Path<ObjectPath>,
) -> Result<Json<Value>, ApiError> {
    let found = state.directory_admin.role_assignment(&path.id)?;
    Ok(Json(directory_role_assignment_json(&found)))
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
    state
        .directory_admin
        .authorize(&caller.principals, actions::ROLE_ASSIGNMENTS)?;
    state
        .directory_admin
        .unassign_role(&caller.principals, &path.id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
