//! The catalog of a registry's trusted collections (Notary GUNs), which Notary itself
//! cannot list per registry: every collection Berth gave a trust-data push for.

use super::RegistryPath;
use crate::arm::{ApiVersion, RegistryVersions};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorResponse};
use crate::routes::params::RegistryApiVersion;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One trusted collection.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrustedCollection {
    /// The GUN: `<loginServer>/<repository>`.
    pub gun: String,
    /// The repository.
    pub repository: String,
}

/// A registry's trusted collections.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrustedCollectionList {
    /// The collections, by name.
    pub value: Vec<TrustedCollection>,
}

impl TrustedCollection {
    /// A collection of the registry at `login_server`, its repository named without it.
    fn of(login_server: &str, gun: String) -> Self {
        let prefix = format!("{}/", login_server.to_lowercase());
        Self {
            repository: gun.strip_prefix(&prefix).unwrap_or(&gun).to_owned(),
            gun,
        }
    }
}

/// The registry's trusted collections.
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/trustedCollections",
    operation_id = "Registries_ListTrustedCollections", tag = "Registries", params(RegistryPath, RegistryApiVersion),
    responses((status = 200, description = "The collections", body = TrustedCollectionList), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
pub(super) async fn list_trusted_collections(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<RegistryVersions>,
    Path(path): Path<RegistryPath>,
) -> Result<Json<TrustedCollectionList>, ApiError> {
    let id = state.authorized(&caller, super::READ, &path).await?;
    let registry = state.registries.get(&id).await?;
    let guns = state.trust_catalog.list(&id).await?;
    let value = guns
        .into_iter()
        .map(|gun| TrustedCollection::of(&registry.login_server, gun))
        .collect();
    Ok(Json(TrustedCollectionList { value }))
}
