//! Health, readiness, and the cloud-metadata document `az cloud register` reads.

use crate::arm::{ApiVersion, BaseUrl, MetadataVersions};
use crate::error::{ApiError, ErrorResponse};
use crate::routes::params::MetadataApiVersion;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Health or readiness.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// Authentication endpoints of a cloud.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudAuthentication {
    /// The authority (`activeDirectory`).
    pub login_endpoint: String,
    /// Token audiences; the first is the management resource id.
    pub audiences: Vec<String>,
    /// Default tenant (`adfs`, as the authority is ADFS-style).
    pub tenant: String,
    /// `ADFS`.
    pub identity_provider: String,
}

/// DNS suffixes of a cloud.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudSuffixes {
    /// Registry login-server suffix.
    pub acr_login_server: String,
}

/// The cloud-metadata document (`GET /metadata/endpoints`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudMetadata {
    /// Cloud name.
    pub name: String,
    /// Authentication.
    pub authentication: CloudAuthentication,
    /// ARM endpoint.
    pub resource_manager: String,
    /// Graph endpoint.
    pub microsoft_graph_resource_id: String,
    /// Portal.
    pub portal: String,
    /// Suffixes.
    pub suffixes: CloudSuffixes,
}

/// The router of these routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metadata_endpoints))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", operation_id = "Health_Live", security(()), tag = "Meta", responses((status = 200, description = "Success", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", operation_id = "Health_Ready", security(()), tag = "Meta",
    responses((status = 200, description = "Success", body = Health), (status = 503, description = "Not ready", body = ErrorResponse)))]
async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.readiness.ready().await.map_err(|e| {
        tracing::warn!(error.cause = %e, "not ready");
        ApiError::not_ready()
    })?;
    Ok(Json(Health {
        status: "ok".to_owned(),
    }))
}

impl CloudMetadata {
    /// The cloud this deployment is, its endpoints under `base`.
    fn of(state: &AppState, base: &str) -> Self {
        Self {
            name: "Berth".to_owned(),
            authentication: CloudAuthentication {
                // The ADFS-style authority: MSAL then skips instance discovery (which would ask
                // Microsoft about this host) and signs users in on any port (az-cli-compat.md).
                login_endpoint: format!("{base}/adfs"),
                audiences: vec![state.management_audience.clone()],
                tenant: "adfs".to_owned(),
                identity_provider: "ADFS".to_owned(),
            },
            resource_manager: format!("{base}/"),
            microsoft_graph_resource_id: format!("{base}/"),
            portal: format!("{base}/docs"),
            suffixes: CloudSuffixes {
                acr_login_server: state.acr_login_server_suffix.clone(),
            },
        }
    }
}

/// The cloud-metadata document, so `az cloud register --endpoint-resource-manager` can
/// discover this deployment.
#[utoipa::path(get, path = "/metadata/endpoints", operation_id = "Metadata_Endpoints", security(()), tag = "Meta",
    params(MetadataApiVersion), responses((status = 200, description = "Success", body = CloudMetadata), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn metadata_endpoints(
    State(state): State<AppState>,
    _version: ApiVersion<MetadataVersions>,
    BaseUrl(base): BaseUrl,
) -> Json<CloudMetadata> {
    Json(CloudMetadata::of(&state, &base))
}
