//! `registries/scopeMaps` and `registries/tokens` (api-version 2025-11-01), and
//! `generateCredentials`: repository-scoped access as ACR has it.

use super::dto::rfc3339;
use super::{RegistryPath, registry_of};
use crate::arm::{ApiVersion, ArmJson, RegistryVersions, put_status};
use crate::auth::{Caller, ResourcePath};
use crate::error::{ApiError, ErrorResponse};
use crate::routes::params::RegistryApiVersion;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_domain::arm::RegistryId;
use berth_domain::registry::{GeneratedPassword, RepositoryToken, ScopeMap};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

const ACTION: &str = "Microsoft.ContainerRegistry/registries";
const MAPS_READ: &str = "Microsoft.ContainerRegistry/registries/scopeMaps/read";
const MAPS_WRITE: &str = "Microsoft.ContainerRegistry/registries/scopeMaps/write";
const MAPS_DELETE: &str = "Microsoft.ContainerRegistry/registries/scopeMaps/delete";
const TOKENS_READ: &str = "Microsoft.ContainerRegistry/registries/tokens/read";
const TOKENS_WRITE: &str = "Microsoft.ContainerRegistry/registries/tokens/write";
const TOKENS_DELETE: &str = "Microsoft.ContainerRegistry/registries/tokens/delete";
const GENERATE: &str = "Microsoft.ContainerRegistry/registries/generateCredentials/action";

/// The path of a scope map.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct ScopeMapPath {
    /// Subscription id.
    subscription_id: String,
    /// Resource group.
    resource_group_name: String,
    /// Registry name.
    registry_name: String,
    /// Scope map name (5–50 letters, digits, `-` or `_`).
    scope_map_name: String,
}

/// The path of a token.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct TokenPath {
    /// Subscription id.
    subscription_id: String,
    /// Resource group.
    resource_group_name: String,
    /// Registry name.
    registry_name: String,
    /// Token name (5–50 letters, digits or `-`).
    token_name: String,
}

impl ResourcePath for ScopeMapPath {
    type Id = RegistryId;

    async fn resolve(&self, state: &AppState) -> Result<RegistryId, ApiError> {
        let (sub, group) = (&self.subscription_id, &self.resource_group_name);
        registry_of(state, sub, group, &self.registry_name).await
    }
}

impl ResourcePath for TokenPath {
    type Id = RegistryId;

    async fn resolve(&self, state: &AppState) -> Result<RegistryId, ApiError> {
        let (sub, group) = (&self.subscription_id, &self.resource_group_name);
        registry_of(state, sub, group, &self.registry_name).await
    }
}

/// A DELETE's answer: 200 when something was deleted, 204 when there was nothing.
fn deleted(
    outcome: Result<(), berth_domain::registry::RegistryError>,
) -> Result<StatusCode, ApiError> {
    match outcome {
        Ok(()) => Ok(StatusCode::OK),
        Err(berth_domain::registry::RegistryError::ChildNotFound { .. }) => {
            Ok(StatusCode::NO_CONTENT)
        }
        Err(e) => Err(e.into()),
    }
}

/// A scope map's properties.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScopeMapProperties {
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
    /// `UserDefined` or `SystemDefined` (read-only).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// When it was made (read-only).
    #[serde(default)]
    pub creation_date: Option<String>,
    /// `Succeeded` (read-only).
    #[serde(default)]
    pub provisioning_state: Option<String>,
    /// Repository actions, such as `repositories/team/app/content/read`.
    #[serde(default)]
    pub actions: Vec<String>,
}

/// A scope map resource.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScopeMapResource {
    /// ARM id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `Microsoft.ContainerRegistry/registries/scopeMaps`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Properties.
    pub properties: ScopeMapProperties,
}

/// A scope map's PUT or PATCH body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScopeMapBody {
    /// Properties.
    pub properties: ScopeMapProperties,
}

/// A list of scope maps.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScopeMapList {
    /// The scope maps.
    pub value: Vec<ScopeMapResource>,
}

/// A token password as a token resource lists it (no value).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPasswordDto {
    /// When it was made.
    pub creation_time: Option<String>,
    /// When it stops working.
    pub expiry: Option<String>,
    /// `password1` or `password2`.
    pub name: String,
    /// The password: only in the answer of `generateCredentials`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A token's credentials.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct TokenCredentials {
    /// Certificates (not supported; always empty).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub certificates: Vec<serde_json::Value>,
    /// Passwords.
    #[serde(default)]
    pub passwords: Vec<TokenPasswordDto>,
}

/// A token's properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenProperties {
    /// When it was made (read-only).
    #[serde(default)]
    pub creation_date: Option<String>,
    /// `Succeeded` (read-only).
    #[serde(default)]
    pub provisioning_state: Option<String>,
    /// The ARM id of its scope map.
    #[serde(default)]
    pub scope_map_id: Option<String>,
    /// `enabled` or `disabled`.
    #[serde(default)]
    pub status: Option<String>,
    /// Its credentials (read-only here; see `generateCredentials`).
    #[serde(default)]
    pub credentials: Option<TokenCredentials>,
}

/// A token resource.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenResource {
    /// ARM id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `Microsoft.ContainerRegistry/registries/tokens`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Properties.
    pub properties: TokenProperties,
}

/// A token's PUT or PATCH body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenBody {
    /// Properties.
    #[serde(default)]
    pub properties: TokenProperties,
}

/// A list of tokens.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    /// The tokens.
    pub value: Vec<TokenResource>,
}

/// `generateCredentials`' body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerateCredentialsParameters {
    /// The ARM id of the token.
    pub token_id: String,
    /// When the password stops working (RFC 3339).
    #[serde(default)]
    pub expiry: Option<String>,
    /// `password1` or `password2`; both when absent.
    #[serde(default)]
    pub name: Option<String>,
}

/// `generateCredentials`' answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GenerateCredentialsResult {
    /// The user name: the token's name.
    pub username: String,
    /// The passwords made, with their values (shown only here).
    pub passwords: Vec<TokenPasswordDto>,
}

impl ScopeMapResource {
    /// The wire form of a scope map of `registry`.
    fn of(registry: &RegistryId, m: &ScopeMap) -> Self {
        Self {
            id: format!("{registry}/scopeMaps/{}", m.name),
            name: m.name.clone(),
            kind: format!("{ACTION}/scopeMaps"),
            properties: ScopeMapProperties {
                description: m.description.clone(),
                kind: Some(
                    if m.system {
                        "SystemDefined"
                    } else {
                        "UserDefined"
                    }
                    .to_owned(),
                ),
                creation_date: Some(rfc3339(m.creation_date)),
                provisioning_state: Some("Succeeded".to_owned()),
                actions: m.actions.clone(),
            },
        }
    }
}

impl TokenResource {
    /// The wire form of a token of `registry` (never a password's value).
    fn of(registry: &RegistryId, t: &RepositoryToken) -> Self {
        Self {
            id: format!("{registry}/tokens/{}", t.name),
            name: t.name.clone(),
            kind: format!("{ACTION}/tokens"),
            properties: TokenProperties {
                creation_date: Some(rfc3339(t.creation_date)),
                provisioning_state: Some("Succeeded".to_owned()),
                scope_map_id: Some(format!("{registry}/scopeMaps/{}", t.scope_map)),
                status: Some(if t.enabled { "enabled" } else { "disabled" }.to_owned()),
                credentials: Some(TokenCredentials {
                    certificates: Vec::new(),
                    passwords: t
                        .passwords
                        .iter()
                        .map(|p| TokenPasswordDto {
                            creation_time: Some(rfc3339(p.creation_time)),
                            expiry: p.expiry.map(rfc3339),
                            name: p.name.clone(),
                            value: None,
                        })
                        .collect(),
                }),
            },
        }
    }
}

impl TokenBody {
    /// `properties.status` as a switch, when given.
    fn enabled(&self) -> Result<Option<bool>, ApiError> {
        match self.properties.status.as_deref() {
            None => Ok(None),
            Some(s) if s.eq_ignore_ascii_case("enabled") => Ok(Some(true)),
            Some(s) if s.eq_ignore_ascii_case("disabled") => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid_content(format!(
                "The status '{other}' is not enabled or disabled."
            ))
            .with_target("properties.status")),
        }
    }

    /// The scope map's name from `properties.scopeMapId` (an ARM id or a bare name).
    fn scope_map(&self) -> Option<&str> {
        self.properties.scope_map_id.as_deref().map(scope_map_name)
    }
}

impl GenerateCredentialsParameters {
    /// `expiry` as a time, when given.
    fn expiry(&self) -> Result<Option<OffsetDateTime>, ApiError> {
        let parse = |e: &str| {
            OffsetDateTime::parse(e, &Rfc3339).map_err(|_| {
                ApiError::invalid_content(format!("The expiry '{e}' is not an RFC 3339 time."))
                    .with_target("expiry")
            })
        };
        self.expiry.as_deref().map(parse).transpose()
    }
}

impl From<GeneratedPassword> for TokenPasswordDto {
    fn from(p: GeneratedPassword) -> Self {
        Self {
            creation_time: Some(rfc3339(p.creation_time)),
            expiry: p.expiry.map(rfc3339),
            name: p.name,
            value: Some(p.value),
        }
    }
}

/// The registry's scope maps, the system ones first.
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/scopeMaps",
    operation_id = "ScopeMaps_List", tag = "Registries", params(RegistryPath, RegistryApiVersion),
    responses((status = 200, description = "The scope maps", body = ScopeMapList), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
pub(super) async fn list_scope_maps(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<RegistryVersions>,
    Path(path): Path<RegistryPath>,
) -> Result<Json<ScopeMapList>, ApiError> {
    let id = state.authorized(&caller, MAPS_READ, &path).await?;
    let maps = state.scope_maps.list(&id).await?;
    Ok(Json(ScopeMapList {
        value: maps.iter().map(|m| ScopeMapResource::of(&id, m)).collect(),
    }))
}

/// One scope map.
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/scopeMaps/{scopeMapName}",
    operation_id = "ScopeMaps_Get", tag = "Registries", params(ScopeMapPath, RegistryApiVersion),
    responses((status = 200, description = "The scope map", body = ScopeMapResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
pub(super) async fn get_scope_map(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<RegistryVersions>,
    Path(path): Path<ScopeMapPath>,
) -> Result<Json<ScopeMapResource>, ApiError> {
    let id = state.authorized(&caller, MAPS_READ, &path).await?;
    let map = state.scope_maps.get(&id, &path.scope_map_name).await?;
    Ok(Json(ScopeMapResource::of(&id, &map)))
}

async fn write_scope_map(
    state: &AppState,
    caller: &Caller,
    path: &ScopeMapPath,
    body: ArmJson<ScopeMapBody>,
    patch: bool,
) -> Result<Response, ApiError> {
    let id = state.authorized(caller, MAPS_WRITE, path).await?;
    let p = body.parse()?.properties;
    let (maps, name) = (&state.scope_maps, &path.scope_map_name);
    let (map, was_created) = if patch {
        maps.patch(&id, name, p.description, p.actions).await?
    } else {
        maps.put(&id, name, p.description, p.actions).await?
    };
    Ok((
        put_status(was_created),
        Json(ScopeMapResource::of(&id, &map)),
    )
        .into_response())
}

/// Creates or replaces a scope map (201 when created).
#[utoipa::path(put, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/scopeMaps/{scopeMapName}",
    operation_id = "ScopeMaps_Create", tag = "Registries", params(ScopeMapPath, RegistryApiVersion), request_body = ScopeMapBody,
    responses((status = 200, description = "Replaced", body = ScopeMapResource), (status = 201, description = "Created", body = ScopeMapResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
pub(super) async fn put_scope_map(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<RegistryVersions>,
    Path(path): Path<ScopeMapPath>,
    body: ArmJson<ScopeMapBody>,
) -> Result<Response, ApiError> {
    write_scope_map(&state, &caller, &path, body, false).await
}

/// Changes a scope map's description or actions.
#[utoipa::path(patch, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/scopeMaps/{scopeMapName}",
    operation_id = "ScopeMaps_Update", tag = "Registries", params(ScopeMapPath, RegistryApiVersion), request_body = ScopeMapBody,
    responses((status = 200, description = "Updated", body = ScopeMapResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
pub(super) async fn patch_scope_map(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<RegistryVersions>,
    Path(path): Path<ScopeMapPath>,
    body: ArmJson<ScopeMapBody>,
) -> Result<Response, ApiError> {
    write_scope_map(&state, &caller, &path, body, true).await
}

/// Deletes a user-defined scope map (refused while a token uses it).
#[utoipa::path(delete, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/scopeMaps/{scopeMapName}",
    operation_id = "ScopeMaps_Delete", tag = "Registries", params(ScopeMapPath, RegistryApiVersion),
    responses((status = 200, description = "Deleted"), (status = 204, description = "There was none"), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
pub(super) async fn delete_scope_map(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<RegistryVersions>,
    Path(path): Path<ScopeMapPath>,
) -> Result<StatusCode, ApiError> {
    let id = state.authorized(&caller, MAPS_DELETE, &path).await?;
    deleted(state.scope_maps.delete(&id, &path.scope_map_name).await)
}

/// The registry's tokens.
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/tokens",
    operation_id = "Tokens_List", tag = "Registries", params(RegistryPath, RegistryApiVersion),
    responses((status = 200, description = "The tokens", body = TokenList), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
pub(super) async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<RegistryVersions>,
    Path(path): Path<RegistryPath>,
) -> Result<Json<TokenList>, ApiError> {
    let id = state.authorized(&caller, TOKENS_READ, &path).await?;
    let tokens = state.scope_maps.tokens(&id).await?;
    Ok(Json(TokenList {
        value: tokens.iter().map(|t| TokenResource::of(&id, t)).collect(),
    }))
}

/// One token.
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/tokens/{tokenName}",
    operation_id = "Tokens_Get", tag = "Registries", params(TokenPath, RegistryApiVersion),
    responses((status = 200, description = "The token", body = TokenResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
pub(super) async fn get_token(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<RegistryVersions>,
    Path(path): Path<TokenPath>,
) -> Result<Json<TokenResource>, ApiError> {
    let id = state.authorized(&caller, TOKENS_READ, &path).await?;
    let token = state.scope_maps.token(&id, &path.token_name).await?;
    Ok(Json(TokenResource::of(&id, &token)))
}

/// The scope map's name from its ARM id (or a bare name).
fn scope_map_name(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}

async fn write_token(
    state: &AppState,
    caller: &Caller,
    path: &TokenPath,
    body: ArmJson<TokenBody>,
) -> Result<Response, ApiError> {
    let id = state.authorized(caller, TOKENS_WRITE, path).await?;
    let body = body.parse()?;
    let (enabled, name) = (body.enabled()?, &path.token_name);
    let (token, was_created) = state
        .scope_maps
        .put_token(&id, name, body.scope_map(), enabled)
        .await?;
    Ok((
        put_status(was_created),
        Json(TokenResource::of(&id, &token)),
    )
        .into_response())
}

/// Creates or updates a token (201 when created).
#[utoipa::path(put, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/tokens/{tokenName}",
    operation_id = "Tokens_Create", tag = "Registries", params(TokenPath, RegistryApiVersion), request_body = TokenBody,
    responses((status = 200, description = "Updated", body = TokenResource), (status = 201, description = "Created", body = TokenResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
pub(super) async fn put_token(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<RegistryVersions>,
    Path(path): Path<TokenPath>,
    body: ArmJson<TokenBody>,
) -> Result<Response, ApiError> {
    write_token(&state, &caller, &path, body).await
}

/// Changes a token's scope map or status.
#[utoipa::path(patch, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/tokens/{tokenName}",
    operation_id = "Tokens_Update", tag = "Registries", params(TokenPath, RegistryApiVersion), request_body = TokenBody,
    responses((status = 200, description = "Updated", body = TokenResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
pub(super) async fn patch_token(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<RegistryVersions>,
    Path(path): Path<TokenPath>,
    body: ArmJson<TokenBody>,
) -> Result<Response, ApiError> {
    let id = state.authorized(&caller, TOKENS_WRITE, &path).await?;
    // A PATCH changes an existing token only.
    state.scope_maps.token(&id, &path.token_name).await?;
    write_token(&state, &caller, &path, body).await
}

/// Deletes a token.
#[utoipa::path(delete, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/tokens/{tokenName}",
    operation_id = "Tokens_Delete", tag = "Registries", params(TokenPath, RegistryApiVersion),
    responses((status = 200, description = "Deleted"), (status = 204, description = "There was none"), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
pub(super) async fn delete_token(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<RegistryVersions>,
    Path(path): Path<TokenPath>,
) -> Result<StatusCode, ApiError> {
    let id = state.authorized(&caller, TOKENS_DELETE, &path).await?;
    deleted(state.scope_maps.delete_token(&id, &path.token_name).await)
}

/// Makes a token's passwords; their values are in this answer only.
#[utoipa::path(post, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/generateCredentials",
    operation_id = "Registries_GenerateCredentials", tag = "Registries", params(RegistryPath, RegistryApiVersion), request_body = GenerateCredentialsParameters,
    responses((status = 200, description = "The passwords", body = GenerateCredentialsResult), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
pub(super) async fn generate_credentials(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<RegistryVersions>,
    Path(path): Path<RegistryPath>,
    body: ArmJson<GenerateCredentialsParameters>,
) -> Result<Json<GenerateCredentialsResult>, ApiError> {
    let id = state.authorized(&caller, GENERATE, &path).await?;
    let body = body.parse()?;
    let (token, name) = (scope_map_name(&body.token_id), body.name.as_deref());
    let (username, passwords) = state
        .scope_maps
        .generate_credentials(&id, token, name, body.expiry()?)
        .await?;
    let passwords = passwords.into_iter().map(TokenPasswordDto::from).collect();
    Ok(Json(GenerateCredentialsResult {
        username,
        passwords,
    }))
}
