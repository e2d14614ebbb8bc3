//! `Microsoft.ContainerRegistry/registries`: create-or-update, read, update, delete, lists,
//! name availability, and the registry's operation resources.

mod credentials;
pub mod dto;
mod scope_maps;
mod trust;

use crate::arm::{
    ApiVersion, ArmJson, BaseUrl, Conditional, ListQuery, RegistryVersions, put_status,
};
use crate::auth::{Caller, ResourcePath};
use crate::error::{ApiError, ErrorResponse};
use crate::routes::operations::{self, OperationStatusResource, OperationUrls};
use crate::routes::params::{GroupPath, RegistryApiVersion, RegistryListParams, SubscriptionPath};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_domain::arm::RegistryId;
use berth_domain::registry::{NameAvailability, PROVIDER, Registry, RegistryWrite};
use berth_domain::resource_group::DeleteOutcome;
use dto::{RegistryCreateBody, RegistryList, RegistryResource, RegistryUpdateBody};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The path of one registry.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct RegistryPath {
    /// Subscription id.
    pub(crate) subscription_id: String,
    /// Resource group.
    pub(crate) resource_group_name: String,
    /// Registry name (5–50 alphanumerics).
    pub(crate) registry_name: String,
}

/// The path of a registry's operation.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct RegistryOperationPath {
    /// Subscription id.
    pub(crate) subscription_id: String,
    /// Resource group.
    pub(crate) resource_group_name: String,
    /// Registry name.
    pub(crate) registry_name: String,
    /// Operation id.
    pub(crate) operation_id: String,
}

/// Reading a registry.
pub(crate) const READ: &str = "Microsoft.ContainerRegistry/registries/read";
/// Changing a registry.
pub(crate) const WRITE: &str = "Microsoft.ContainerRegistry/registries/write";
pub(crate) const DELETE: &str = "Microsoft.ContainerRegistry/registries/delete";
pub(crate) const CHECK_NAME: &str = "Microsoft.ContainerRegistry/checkNameAvailability/read";

/// The router of this resource type.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            get_registry,
            create_registry,
            update_registry,
            delete_registry
        ))
        .routes(routes!(list_registries_by_group))
        .routes(routes!(list_registries))
        .routes(routes!(check_name_availability))
        .routes(routes!(registry_operation_status))
        .routes(routes!(registry_operation_result))
        .routes(routes!(credentials::list_credentials))
        .routes(routes!(credentials::regenerate_credential))
        .routes(routes!(scope_maps::list_scope_maps))
        .routes(routes!(
            scope_maps::get_scope_map,
            scope_maps::put_scope_map,
            scope_maps::patch_scope_map,
            scope_maps::delete_scope_map
        ))
        .routes(routes!(scope_maps::list_tokens))
        .routes(routes!(
            scope_maps::get_token,
            scope_maps::put_token,
            scope_maps::patch_token,
            scope_maps::delete_token
        ))
        .routes(routes!(scope_maps::generate_credentials))
        .routes(routes!(trust::list_trusted_collections))
}

fn registry_response(status: StatusCode, registry: &Registry, preview: bool) -> Response {
    let mut response = (
        status,
        Json(RegistryResource::from_domain(registry, preview)),
    )
        .into_response();
    if let Ok(etag) = HeaderValue::from_str(&registry.etag.to_header()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// Resolves the registry part of a path.
async fn registry_of(
    state: &AppState,
    subscription: &str,
    group: &str,
    registry: &str,
) -> Result<RegistryId, ApiError> {
    Ok(state
        .registries
        .resolve_id(subscription, group, registry)
        .await?)
}

impl ResourcePath for RegistryPath {
    type Id = RegistryId;

    async fn resolve(&self, state: &AppState) -> Result<RegistryId, ApiError> {
        let (sub, group) = (&self.subscription_id, &self.resource_group_name);
        registry_of(state, sub, group, &self.registry_name).await
    }
}

impl ResourcePath for RegistryOperationPath {
    type Id = RegistryId;

    async fn resolve(&self, state: &AppState) -> Result<RegistryId, ApiError> {
        let (sub, group) = (&self.subscription_id, &self.resource_group_name);
        registry_of(state, sub, group, &self.registry_name).await
    }
}

/// The registries of a page the caller may read.
pub(crate) fn readable<'a>(
    state: &'a AppState,
    caller: &'a Caller,
    registries: &'a [Registry],
) -> impl Iterator<Item = &'a Registry> {
    registries
        .iter()
        .filter(|r| state.allows(caller, READ, &r.id.to_string()))
}

/// Gets a registry.
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}",
    operation_id = "Registries_Get", tag = "Registries", params(RegistryPath, RegistryApiVersion),
    responses((status = 200, description = "The registry", body = RegistryResource, headers(("ETag" = String, description = "The registry's version"))), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn get_registry(
    State(state): State<AppState>,
    caller: Caller,
    version: ApiVersion<RegistryVersions>,
    Path(path): Path<RegistryPath>,
) -> Result<Response, ApiError> {
    let id = state.authorized(&caller, READ, &path).await?;
    let registry = state.registries.get(&id).await?;
    Ok(registry_response(
        StatusCode::OK,
        &registry,
        version.is_preview(),
    ))
}

/// The answer of a registry write: the registry, and while its content-trust wipe runs,
/// `Azure-AsyncOperation` (with `Retry-After`) to follow it. The status stays 200/201, the
/// codes the Azure SDKs accept for PUT and PATCH; their pollers then GET the registry.
fn written_response(
    status: StatusCode,
    written: &RegistryWrite,
    base: &str,
    version: &ApiVersion<RegistryVersions>,
) -> Response {
    let mut response = registry_response(status, &written.registry, version.is_preview());
    if let Some(op) = &written.operation {
        let urls =
            OperationUrls::under(base, &written.registry.id.to_string(), op, version.as_str());
        response.headers_mut().extend(urls.status_headers());
    }
    response
}

/// Creates a registry, or replaces its settings (201 on create, 200 on update).
#[utoipa::path(put, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}",
    operation_id = "Registries_Create", tag = "Registries", params(RegistryPath, RegistryApiVersion), request_body = RegistryCreateBody,
    responses((status = 200, description = "Success; while a content-trust wipe runs (provisioningState Updating), follow Azure-AsyncOperation", body = RegistryResource, headers(("Azure-AsyncOperation" = String, description = "Status URL of the running content-trust wipe, if any"), ("Retry-After" = i32, description = "Seconds between polls"))), (status = 201, description = "Created", body = RegistryResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn create_registry(
    State(state): State<AppState>,
    caller: Caller,
    version: ApiVersion<RegistryVersions>,
    BaseUrl(base): BaseUrl,
    Path(path): Path<RegistryPath>,
    Conditional(precondition): Conditional,
    body: ArmJson<RegistryCreateBody>,
) -> Result<Response, ApiError> {
    let id = state.authorized(&caller, WRITE, &path).await?;
    let definition = body.parse()?.into_definition(&state.tenant_id)?;
    let written = state
        .registries
        .create_or_update(id, definition, &precondition, &caller.actor())
        .await?;
    let status = put_status(written.created);
    Ok(written_response(status, &written, &base, &version))
}

/// Updates a registry (RegistryUpdateParameters): absent fields keep their values, and
/// `policies` merges one policy at a time.
#[utoipa::path(patch, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}",
    operation_id = "Registries_Update", tag = "Registries", params(RegistryPath, RegistryApiVersion), request_body = RegistryUpdateBody,
    responses((status = 200, description = "Success. Disabling content trust starts the wipe of its trust data: the answer then carries Azure-AsyncOperation, provisioningState is Updating and the policy shows enabled until the wipe has finished", body = RegistryResource, headers(("Azure-AsyncOperation" = String, description = "Status URL of the running content-trust wipe, if any"), ("Retry-After" = i32, description = "Seconds between polls"))), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn update_registry(
    State(state): State<AppState>,
    caller: Caller,
    version: ApiVersion<RegistryVersions>,
    BaseUrl(base): BaseUrl,
    Path(path): Path<RegistryPath>,
    Conditional(precondition): Conditional,
    body: ArmJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    let id = state.authorized(&caller, WRITE, &path).await?;
    let patch = dto::parse_update(body.parse()?)?.into_patch(&state.tenant_id)?;
    let written = state
        .registries
        .update(&id, &patch, &precondition, &caller.actor())
        .await?;
    Ok(written_response(StatusCode::OK, &written, &base, &version))
}

/// Deletes a registry: 202 with `Location` and `Azure-AsyncOperation` to follow; 204 when
/// there is no such registry.
#[utoipa::path(delete, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}",
    operation_id = "Registries_Delete", tag = "Registries", params(RegistryPath, RegistryApiVersion),
    responses((status = 202, description = "Deletion started; follow Azure-AsyncOperation or Location", headers(("Location" = String, description = "Result URL: 202 while running, 204 when done"), ("Azure-AsyncOperation" = String, description = "Status URL"), ("Retry-After" = i32, description = "Seconds between polls"))), (status = 204, description = "No such registry"), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn delete_registry(
    State(state): State<AppState>,
    caller: Caller,
    version: ApiVersion<RegistryVersions>,
    BaseUrl(base): BaseUrl,
    Path(path): Path<RegistryPath>,
    Conditional(precondition): Conditional,
) -> Result<Response, ApiError> {
    let id = state.authorized(&caller, DELETE, &path).await?;
    match state.registries.begin_delete(&id, &precondition).await? {
        DeleteOutcome::NotFound => Ok(StatusCode::NO_CONTENT.into_response()),
        DeleteOutcome::Started(op) => {
            Ok(OperationUrls::under(&base, &id.to_string(), &op, version.as_str()).accepted())
        }
    }
}

/// Lists the registries of a resource group.
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries",
    operation_id = "Registries_ListByResourceGroup", tag = "Registries", params(GroupPath, RegistryListParams),
    responses((status = 200, description = "Success", body = RegistryList), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn list_registries_by_group(
    State(state): State<AppState>,
    caller: Caller,
    version: ApiVersion<RegistryVersions>,
    BaseUrl(base): BaseUrl,
    Path(path): Path<GroupPath>,
    query: ListQuery,
) -> Result<Json<RegistryList>, ApiError> {
    let group = path.resolve(&state).await?;
    let page = state
        .registries
        .list_by_resource_group(&group, &query.page)
        .await?;
    let list_path = format!("{group}/providers/{PROVIDER}");
    Ok(Json(RegistryList {
        value: readable(&state, &caller, &page.items)
            .map(|r| RegistryResource::from_domain(r, version.is_preview()))
            .collect(),
        next_link: query.next_link(&base, &list_path, version.as_str(), page.next.as_deref()),
    }))
}

/// Lists the registries of a subscription.
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}/providers/Microsoft.ContainerRegistry/registries",
    operation_id = "Registries_List", tag = "Registries", params(SubscriptionPath, RegistryListParams),
    responses((status = 200, description = "Success", body = RegistryList), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn list_registries(
    State(state): State<AppState>,
    caller: Caller,
    version: ApiVersion<RegistryVersions>,
    BaseUrl(base): BaseUrl,
    Path(path): Path<SubscriptionPath>,
    query: ListQuery,
) -> Result<Json<RegistryList>, ApiError> {
    let subscription = &path.subscription_id;
    let page = state
        .registries
        .list_by_subscription(subscription, &query.page)
        .await?;
    let list_path = format!("/subscriptions/{subscription}/providers/{PROVIDER}");
    Ok(Json(RegistryList {
        value: readable(&state, &caller, &page.items)
            .map(|r| RegistryResource::from_domain(r, version.is_preview()))
            .collect(),
        next_link: query.next_link(&base, &list_path, version.as_str(), page.next.as_deref()),
    }))
}

/// A name-availability question.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NameCheckRequest {
    /// The registry name.
    pub name: String,
    /// Must be `Microsoft.ContainerRegistry/registries`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Whether a name is available.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NameStatus {
    /// Whether the name can be used.
    pub name_available: bool,
    /// `AlreadyExists` or `Invalid`, when not available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl NameCheckRequest {
    /// Refuses a question about another resource type than registries.
    fn check_type(&self) -> Result<(), ApiError> {
        if self.kind.eq_ignore_ascii_case(PROVIDER) {
            return Ok(());
        }
        Err(ApiError::invalid_content(format!(
            "The resource type '{}' is not supported; use '{PROVIDER}'.",
            self.kind
        ))
        .with_target("type"))
    }
}

impl From<NameAvailability> for NameStatus {
    fn from(answer: NameAvailability) -> Self {
        let (name_available, reason, message) = match answer {
            NameAvailability::Available => (true, None, None),
            NameAvailability::Invalid(m) => (false, Some("Invalid"), Some(m)),
            NameAvailability::AlreadyExists(m) => (false, Some("AlreadyExists"), Some(m)),
        };
        Self {
            name_available,
            reason: reason.map(str::to_owned),
            message,
        }
    }
}

/// Checks whether a registry name can be used (names are unique in the whole deployment).
#[utoipa::path(post, path = "/subscriptions/{subscriptionId}/providers/Microsoft.ContainerRegistry/checkNameAvailability",
    operation_id = "Registries_CheckNameAvailability", tag = "Registries", params(SubscriptionPath, RegistryApiVersion),
    request_body = NameCheckRequest,
    responses((status = 200, description = "Success", body = NameStatus), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn check_name_availability(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<RegistryVersions>,
    Path(path): Path<SubscriptionPath>,
    body: ArmJson<NameCheckRequest>,
) -> Result<Json<NameStatus>, ApiError> {
    state.subscriptions.require(&path.subscription_id).await?;
    let scope = format!("/subscriptions/{}", path.subscription_id);
    state.authorize(&caller, CHECK_NAME, &scope)?;
    let body = body.parse()?;
    body.check_type()?;
    let answer = state.registries.check_name_availability(&body.name).await?;
    Ok(Json(NameStatus::from(answer)))
}

/// The operation under a registry path, once the caller may read that registry (checked
/// first, so that an unknown operation id tells nothing to a caller without access).
async fn registry_operation(
    state: &AppState,
    caller: &Caller,
    path: &RegistryOperationPath,
) -> Result<(berth_domain::operation::Operation, String), ApiError> {
    let id = state.authorized(caller, READ, path).await?;
    let op = state.operations.get(&path.operation_id).await?;
    // A registry deleted with its resource group follows the group's operation.
    let op = op
        .filter(|op| op.kind.concerns(&id))
        .ok_or_else(|| operations::not_found(&path.operation_id))?;
    Ok((op, id.to_string()))
}

/// The status of a registry operation (the `Azure-AsyncOperation` URL).
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/operationStatuses/{operationId}",
    operation_id = "Registries_GetOperationStatus", tag = "Registries", params(RegistryOperationPath, RegistryApiVersion),
    responses((status = 200, description = "Success", body = OperationStatusResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn registry_operation_status(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<RegistryVersions>,
    Path(path): Path<RegistryOperationPath>,
) -> Result<Response, ApiError> {
    let (op, registry_path) = registry_operation(&state, &caller, &path).await?;
    Ok(operations::status_response(
        &op,
        &format!("{registry_path}/operationStatuses/{}", op.id),
    ))
}

/// The result of a registry operation (the `Location` URL): 202 while running, 204 when done.
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/operationResults/{operationId}",
    operation_id = "Registries_GetOperationResult", tag = "Registries", params(RegistryOperationPath, RegistryApiVersion),
    responses((status = 202, description = "Still running"), (status = 204, description = "Done"), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn registry_operation_result(
    State(state): State<AppState>,
    caller: Caller,
    version: ApiVersion<RegistryVersions>,
    BaseUrl(base): BaseUrl,
    Path(path): Path<RegistryOperationPath>,
) -> Result<Response, ApiError> {
    let (op, registry_path) = registry_operation(&state, &caller, &path).await?;
    let urls = OperationUrls::under(&base, &registry_path, &op, version.as_str());
    Ok(operations::result_response(&op, &urls.result))
}
