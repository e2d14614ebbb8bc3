//! `Microsoft.Resources/resourceGroups`, as ARM serves them, and the subscription-level
//! operation resources their deletion is followed by.

use crate::arm::{ApiVersion, ArmJson, BaseUrl, Conditional, ListQuery, ResourceGroupVersions};
use crate::auth::{Caller, ResourcePath};
use crate::error::{ApiError, ErrorResponse};
use crate::routes::operations::{self, OperationStatusResource, OperationUrls};
use crate::routes::params::{
    GroupPath, ResourceGroupApiVersion, ResourceGroupListParams, SubscriptionPath,
};
use crate::routes::wire::ProvisioningState;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_domain::arm::{Location, ResourceGroupId, Tags};
use berth_domain::operation::OperationKind;
use berth_domain::resource_group::{
    DeleteOutcome, ResourceGroup, ResourceGroupDefinition, ResourceGroupError, ResourceGroupPatch,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A resource group's properties.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroupProperties {
    /// `Succeeded`, or `Deleting`.
    pub provisioning_state: ProvisioningState,
}

/// A resource group.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroupResource {
    /// ARM id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `Microsoft.Resources/resourceGroups`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Region.
    pub location: String,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Managing resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    /// Properties.
    pub properties: ResourceGroupProperties,
}

/// A page of resource groups.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroupList {
    /// The groups.
    pub value: Vec<ResourceGroupResource>,
    /// The next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// The body of a resource-group PUT.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroupBody {
    /// Region (required; immutable).
    #[schema(example = "westus", required = true, nullable = false)]
    pub location: Option<String>,
    /// Tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// Managing resource.
    pub managed_by: Option<String>,
}

/// The body of a resource-group PATCH.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroupPatchBody {
    /// New tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// New managing resource.
    pub managed_by: Option<String>,
}

/// The path of a subscription-level operation.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct SubscriptionOperationPath {
    /// Subscription id.
    pub(crate) subscription_id: String,
    /// Operation id.
    pub(crate) operation_id: String,
}

impl From<&ResourceGroup> for ResourceGroupResource {
    fn from(g: &ResourceGroup) -> Self {
        Self {
            id: g.id.to_string(),
            name: g.id.name.to_string(),
            kind: "Microsoft.Resources/resourceGroups".to_owned(),
            location: g.location.as_str().to_owned(),
            tags: (!g.tags.as_map().is_empty()).then(|| g.tags.as_map().clone()),
            managed_by: g.managed_by.clone(),
            properties: ResourceGroupProperties {
                provisioning_state: g.provisioning_state.into(),
            },
        }
    }
}

impl ResourcePath for GroupPath {
    type Id = ResourceGroupId;

    async fn resolve(&self, state: &AppState) -> Result<ResourceGroupId, ApiError> {
        let (subscription, group) = (&self.subscription_id, &self.resource_group_name);
        Ok(state.groups.resolve_id(subscription, group).await?)
    }
}

const READ: &str = "Microsoft.Resources/subscriptions/resourceGroups/read";
const WRITE: &str = "Microsoft.Resources/subscriptions/resourceGroups/write";
const DELETE: &str = "Microsoft.Resources/subscriptions/resourceGroups/delete";

/// The router of this resource type.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            get_group,
            create_group,
            update_group,
            delete_group,
            group_exists
        ))
        .routes(routes!(list_groups))
        .routes(routes!(subscription_operation_result))
        .routes(routes!(subscription_operation_status))
}

fn group_response(status: StatusCode, group: &ResourceGroup) -> Response {
    let mut response = (status, Json(ResourceGroupResource::from(group))).into_response();
    if let Ok(etag) = HeaderValue::from_str(&group.etag.to_header()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

fn tags(map: Option<BTreeMap<String, String>>) -> Result<Option<Tags>, ApiError> {
    map.map(|m| Tags::parse(m).map_err(|e| ApiError::invalid_content(e.0).with_target("tags")))
        .transpose()
}

impl ResourceGroupBody {
    fn into_definition(self) -> Result<ResourceGroupDefinition, ApiError> {
        let location = self.location.as_deref().ok_or_else(|| {
            ApiError::invalid_content("The property 'location' is required.")
                .with_target("location")
        })?;
        let location = Location::parse(location)
            .map_err(|e| ApiError::invalid_content(e.message).with_target("location"))?;
        Ok(ResourceGroupDefinition {
            location,
            tags: tags(self.tags)?.unwrap_or_default(),
            managed_by: self.managed_by,
        })
    }
}

impl ResourceGroupPatchBody {
    fn into_patch(self) -> Result<ResourceGroupPatch, ApiError> {
        Ok(ResourceGroupPatch {
            tags: tags(self.tags)?,
            managed_by: self.managed_by,
        })
    }
}

/// Gets a resource group.
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}",
    operation_id = "ResourceGroups_Get", tag = "ResourceGroups", params(GroupPath, ResourceGroupApiVersion),
    responses((status = 200, description = "Success", body = ResourceGroupResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn get_group(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<ResourceGroupVersions>,
    Path(path): Path<GroupPath>,
) -> Result<Response, ApiError> {
    let id = state.authorized(&caller, READ, &path).await?;
    Ok(group_response(
        StatusCode::OK,
        &state.groups.get(&id).await?,
    ))
}

/// Whether a resource group exists: 204 or 404, no body.
#[utoipa::path(head, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}",
    operation_id = "ResourceGroups_CheckExistence", tag = "ResourceGroups", params(GroupPath, ResourceGroupApiVersion),
    responses((status = 204, description = "Exists"), (status = 404, description = "Does not exist")))]
async fn group_exists(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<ResourceGroupVersions>,
    Path(path): Path<GroupPath>,
) -> Result<StatusCode, ApiError> {
    let id = state.authorized(&caller, READ, &path).await?;
    match state.groups.get(&id).await {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(ResourceGroupError::NotFound(_)) => Ok(StatusCode::NOT_FOUND),
        Err(e) => Err(e.into()),
    }
}

/// Creates a resource group (201) or updates its tags (200).
#[utoipa::path(put, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}",
    operation_id = "ResourceGroups_CreateOrUpdate", tag = "ResourceGroups", params(GroupPath, ResourceGroupApiVersion),
    request_body = ResourceGroupBody,
    responses((status = 200, description = "Success", body = ResourceGroupResource), (status = 201, description = "Created", body = ResourceGroupResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<ResourceGroupVersions>,
    Path(path): Path<GroupPath>,
    Conditional(precondition): Conditional,
    body: ArmJson<ResourceGroupBody>,
) -> Result<Response, ApiError> {
    let id = state.authorized(&caller, WRITE, &path).await?;
    let definition = body.parse()?.into_definition()?;
    let (group, created) = state
        .groups
        .create_or_update(id, definition, &precondition)
        .await?;
    Ok(group_response(crate::arm::put_status(created), &group))
}

/// Updates a resource group's tags or `managedBy`.
#[utoipa::path(patch, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}",
    operation_id = "ResourceGroups_Update", tag = "ResourceGroups", params(GroupPath, ResourceGroupApiVersion),
    request_body = ResourceGroupPatchBody,
    responses((status = 200, description = "Success", body = ResourceGroupResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn update_group(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<ResourceGroupVersions>,
    Path(path): Path<GroupPath>,
    Conditional(precondition): Conditional,
    body: ArmJson<ResourceGroupPatchBody>,
) -> Result<Response, ApiError> {
    let id = state.authorized(&caller, WRITE, &path).await?;
    let patch = body.parse()?.into_patch()?;
    Ok(group_response(
        StatusCode::OK,
        &state.groups.update(&id, patch, &precondition).await?,
    ))
}

/// Deletes a resource group and every registry in it: 202 and a `Location` to follow.
#[utoipa::path(delete, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}",
    operation_id = "ResourceGroups_Delete", tag = "ResourceGroups", params(GroupPath, ResourceGroupApiVersion),
    responses((status = 202, description = "Deletion started; follow Azure-AsyncOperation or Location", headers(("Location" = String, description = "Result URL: 202 while running, 204 when done"), ("Azure-AsyncOperation" = String, description = "Status URL"), ("Retry-After" = i32, description = "Seconds between polls"))), (status = 404, description = "Response", body = ErrorResponse), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn delete_group(
    State(state): State<AppState>,
    caller: Caller,
    version: ApiVersion<ResourceGroupVersions>,
    BaseUrl(base): BaseUrl,
    Path(path): Path<GroupPath>,
    Conditional(precondition): Conditional,
) -> Result<Response, ApiError> {
    let id = state.authorized(&caller, DELETE, &path).await?;
    match state.groups.begin_delete(&id, &precondition).await? {
        // ARM answers a DELETE of a missing resource group with 404, unlike other resources.
        DeleteOutcome::NotFound => Err(ResourceGroupError::NotFound(id.name.to_string()).into()),
        DeleteOutcome::Started(op) => {
            let sub_path = format!("/subscriptions/{}", id.subscription);
            Ok(OperationUrls::under(&base, &sub_path, &op, version.as_str()).accepted())
        }
    }
}

/// Lists the subscription's resource groups.
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}/resourceGroups",
    operation_id = "ResourceGroups_List", tag = "ResourceGroups", params(SubscriptionPath, ResourceGroupListParams),
    responses((status = 200, description = "Success", body = ResourceGroupList), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn list_groups(
    State(state): State<AppState>,
    caller: Caller,
    version: ApiVersion<ResourceGroupVersions>,
    BaseUrl(base): BaseUrl,
    Path(path): Path<SubscriptionPath>,
    query: ListQuery,
) -> Result<Json<ResourceGroupList>, ApiError> {
    let page = state
        .groups
        .list(&path.subscription_id, &query.page)
        .await?;
    let list_path = format!("/subscriptions/{}/resourceGroups", path.subscription_id);
    Ok(Json(ResourceGroupList {
        value: page
            .items
            .iter()
            .filter(|g| state.allows(&caller, READ, &g.id.to_string()))
            .map(ResourceGroupResource::from)
            .collect(),
        next_link: query.next_link(&base, &list_path, version.as_str(), page.next.as_deref()),
    }))
}

/// The resource-group deletion under a subscription path, once the caller may read that
/// group.
async fn subscription_operation(
    state: &AppState,
    caller: &Caller,
    path: &SubscriptionOperationPath,
) -> Result<berth_domain::operation::Operation, ApiError> {
    let subscription = state.subscriptions.require(&path.subscription_id).await?;
    let op = state
        .operations
        .get(&path.operation_id)
        .await?
        .filter(|op| {
            matches!(op.kind, OperationKind::DeleteResourceGroup(_))
                && op.kind.subscription() == subscription
        })
        .ok_or_else(|| operations::not_found(&path.operation_id))?;
    if let OperationKind::DeleteResourceGroup(group) = &op.kind {
        state.authorize(caller, READ, &group.to_string())?;
    }
    Ok(op)
}

/// The result of a resource-group deletion (its `Location`): 202 while running, 204 when done.
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}/operationResults/{operationId}",
    operation_id = "ResourceGroups_GetOperationResult", tag = "ResourceGroups", params(SubscriptionOperationPath, ResourceGroupApiVersion),
    responses((status = 202, description = "Still running"), (status = 204, description = "Done"), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn subscription_operation_result(
    State(state): State<AppState>,
    caller: Caller,
    version: ApiVersion<ResourceGroupVersions>,
    BaseUrl(base): BaseUrl,
    Path(path): Path<SubscriptionOperationPath>,
) -> Result<Response, ApiError> {
    let op = subscription_operation(&state, &caller, &path).await?;
    let urls = OperationUrls::under(
        &base,
        &format!("/subscriptions/{}", path.subscription_id),
        &op,
        version.as_str(),
    );
    Ok(operations::result_response(&op, &urls.result))
}

/// The status of a resource-group deletion (its `Azure-AsyncOperation`).
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}/operationStatuses/{operationId}",
    operation_id = "ResourceGroups_GetOperationStatus", tag = "ResourceGroups", params(SubscriptionOperationPath, ResourceGroupApiVersion),
    responses((status = 200, description = "Success", body = OperationStatusResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn subscription_operation_status(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<ResourceGroupVersions>,
    Path(path): Path<SubscriptionOperationPath>,
) -> Result<Response, ApiError> {
    let op = subscription_operation(&state, &caller, &path).await?;
    Ok(operations::status_response(
        &op,
        &format!(
            "/subscriptions/{}/operationStatuses/{}",
            path.subscription_id, op.id
        ),
    ))
}
