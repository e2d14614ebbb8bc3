//! `Microsoft.Resources/subscriptions`, and the generic resource list of a subscription
//! (how `az acr show --name R` finds a registry without a resource group).

use crate::arm::odata::Filter;
use crate::arm::{ApiVersion, BaseUrl, ListQuery, ResourcesVersions, SubscriptionVersions};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorResponse};
use crate::routes::params::{SubscriptionApiVersion, SubscriptionPath};
use crate::routes::registries::dto::SkuDto;
use crate::routes::registries::readable;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use berth_domain::registry::{PROVIDER, Registry};
use berth_domain::store::Page;
use berth_domain::subscription::Subscription;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Subscription policies.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionPolicies {
    /// Placement id.
    pub location_placement_id: String,
    /// Quota id.
    pub quota_id: String,
    /// Spending limit.
    pub spending_limit: String,
}

/// A subscription.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionResource {
    /// `/subscriptions/{id}`.
    pub id: String,
    /// The GUID.
    pub subscription_id: String,
    /// The tenant.
    pub tenant_id: String,
    /// Display name.
    pub display_name: String,
    /// `Enabled`, ...
    pub state: String,
    /// Policies.
    pub subscription_policies: SubscriptionPolicies,
    /// Always `RoleBased`.
    pub authorization_source: String,
    /// Always empty.
    pub managed_by_tenants: Vec<String>,
}

/// The subscriptions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionList {
    /// The subscriptions.
    pub value: Vec<SubscriptionResource>,
}

impl From<&Subscription> for SubscriptionResource {
    fn from(s: &Subscription) -> Self {
        Self {
            id: format!("/subscriptions/{}", s.id),
            subscription_id: s.id.to_string(),
            tenant_id: s.tenant_id.to_string(),
            display_name: s.display_name.clone(),
            state: s.state.clone(),
            subscription_policies: SubscriptionPolicies {
                location_placement_id: "Public_2014-09-01".to_owned(),
                quota_id: "Berth_2026-01-01".to_owned(),
                spending_limit: "Off".to_owned(),
            },
            authorization_source: "RoleBased".to_owned(),
            managed_by_tenants: Vec::new(),
        }
    }
}

/// A resource in the generic list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenericResource {
    /// ARM id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Resource type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Region.
    pub location: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// SKU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<SkuDto>,
}

/// A page of resources.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenericResourceList {
    /// The resources.
    pub value: Vec<GenericResource>,
    /// The next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// Parameters of the resource list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResourceListParams {
    /// The API version (`2024-11-01`, ...).
    #[serde(rename = "api-version")]
    #[param(rename = "api-version", example = "2024-11-01")]
    pub api_version: String,
    /// `resourceType eq '...'`, optionally `and name eq '...'`.
    #[serde(rename = "$filter")]
    #[param(
        rename = "$filter",
        example = "resourceType eq 'Microsoft.ContainerRegistry/registries'"
    )]
    pub filter: Option<String>,
    /// Page size.
    #[serde(rename = "$top")]
    #[param(rename = "$top")]
    pub top: Option<u32>,
    /// Continuation token.
    #[serde(rename = "$skipToken")]
    #[param(rename = "$skipToken")]
    pub skip_token: Option<String>,
}

const SUBSCRIPTION_READ: &str = "Microsoft.Resources/subscriptions/read";

/// The router of subscriptions and the resource list.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_subscriptions))
        .routes(routes!(get_subscription))
        .routes(routes!(list_resources))
}

/// As in ARM, a subscription is listed to whoever may read it or holds a role anywhere in it
/// (a registry-scoped AcrPush is enough to find it).
fn visible(state: &AppState, caller: &Caller, s: &Subscription) -> bool {
    let scope = format!("/subscriptions/{}", s.id);
    state.allows(caller, SUBSCRIPTION_READ, &scope)
        || berth_domain::authorization::Scope::parse(&scope)
            .is_ok_and(|scope| state.rbac.has_assignment_around(&caller.principals, &scope))
}

/// Lists the subscriptions.
#[utoipa::path(get, path = "/subscriptions", operation_id = "Subscriptions_List", tag = "Subscriptions",
    params(SubscriptionApiVersion), responses((status = 200, description = "Success", body = SubscriptionList), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn list_subscriptions(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<SubscriptionVersions>,
) -> Result<Json<SubscriptionList>, ApiError> {
    let subscriptions = state.subscriptions.list().await?;
    let visible = subscriptions.iter().filter(|s| visible(&state, &caller, s));
    Ok(Json(SubscriptionList {
        value: visible.map(SubscriptionResource::from).collect(),
    }))
}

/// Gets a subscription.
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}", operation_id = "Subscriptions_Get", tag = "Subscriptions",
    params(SubscriptionPath, SubscriptionApiVersion),
    responses((status = 200, description = "Success", body = SubscriptionResource), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn get_subscription(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<SubscriptionVersions>,
    Path(path): Path<SubscriptionPath>,
) -> Result<Json<SubscriptionResource>, ApiError> {
    let subscription = state.subscriptions.get(&path.subscription_id).await?;
    state.authorize(
        &caller,
        SUBSCRIPTION_READ,
        &format!("/subscriptions/{}", subscription.id),
    )?;
    Ok(Json(SubscriptionResource::from(&subscription)))
}

/// The filters the resource list understands.
#[derive(Debug, Default, PartialEq, Eq)]
struct ResourceFilter {
    resource_type: Option<String>,
    name: Option<String>,
}

impl ResourceFilter {
    /// Parses `resourceType eq 'X'` and `name eq 'Y'`, joined by `and`.
    fn parse(filter: &str) -> Result<Self, ApiError> {
        let invalid = || {
            ApiError::invalid_filter(format!(
                "The $filter '{filter}' is not supported. Use resourceType eq '<type>' and/or name eq '<name>', joined by 'and'."
            ))
        };
        let mut parsed = Self::default();
        for c in Filter::parse(filter).map_err(|_| invalid())?.conditions {
            if let Some(t) = c.eq("resourceType") {
                parsed.resource_type = Some(t.to_owned());
            } else if let Some(n) = c.eq("name") {
                parsed.name = Some(n.to_owned());
            } else {
                return Err(invalid());
            }
        }
        Ok(parsed)
    }

    /// Whether registries, the one resource type Berth serves, are asked for.
    fn wants_registries(&self) -> bool {
        let t = self.resource_type.as_deref();
        t.is_none_or(|t| t.eq_ignore_ascii_case(PROVIDER))
    }

    fn matches(&self, r: &Registry) -> bool {
        let name = self.name.as_deref();
        name.is_none_or(|n| r.name().as_str().eq_ignore_ascii_case(n))
    }
}

impl From<&Registry> for GenericResource {
    fn from(r: &Registry) -> Self {
        Self {
            id: r.id.to_string(),
            name: r.name().to_string(),
            kind: PROVIDER.to_owned(),
            location: r.location.as_str().to_owned(),
            tags: r.tags.as_map().clone(),
            sku: Some(SkuDto {
                name: r.sku.as_str().to_owned(),
                tier: Some(r.sku.as_str().to_owned()),
            }),
        }
    }
}

/// The registries of the subscription the filter asks for: none when it asks for another
/// resource type (once the subscription is known to exist).
async fn registries(
    state: &AppState,
    subscription: &str,
    filter: &ResourceFilter,
    query: &ListQuery,
) -> Result<Page<Registry>, ApiError> {
    if !filter.wants_registries() {
        state.subscriptions.require(subscription).await?;
        return Ok(Page {
            items: Vec::new(),
            next: None,
        });
    }
    let page = state
        .registries
        .list_by_subscription(subscription, &query.page)
        .await?;
    Ok(page)
}

/// Lists the subscription's resources (registries are the resource type Berth serves).
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}/resources", operation_id = "Resources_List", tag = "Subscriptions",
    params(SubscriptionPath, ResourceListParams),
    responses((status = 200, description = "Success", body = GenericResourceList), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn list_resources(
    State(state): State<AppState>,
    caller: Caller,
    version: ApiVersion<ResourcesVersions>,
    BaseUrl(base): BaseUrl,
    Path(path): Path<SubscriptionPath>,
    query: ListQuery,
) -> Result<Json<GenericResourceList>, ApiError> {
    let filter = query.filter.as_deref().map(ResourceFilter::parse);
    let filter = filter.transpose()?.unwrap_or_default();
    let page = registries(&state, &path.subscription_id, &filter, &query).await?;
    let list_path = format!("/subscriptions/{}/resources", path.subscription_id);
    Ok(Json(GenericResourceList {
        value: readable(&state, &caller, &page.items)
            .filter(|r| filter.matches(r))
            .map(GenericResource::from)
            .collect(),
        next_link: query.next_link(&base, &list_path, version.as_str(), page.next.as_deref()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_type_and_name() {
        let f = ResourceFilter::parse(
            "resourceType eq 'Microsoft.ContainerRegistry/registries' and name eq 'it''s'",
        )
        .ok();
        assert_eq!(
            f,
            Some(ResourceFilter {
                resource_type: Some("Microsoft.ContainerRegistry/registries".to_owned()),
                name: Some("it's".to_owned())
            })
        );
        assert!(ResourceFilter::parse("location eq 'westus'").is_err());
        assert!(ResourceFilter::parse("resourceType ne 'x'").is_err());
        assert!(ResourceFilter::parse("resourceType eq x").is_err());
    }
}
