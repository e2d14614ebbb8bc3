//! The admin user's credentials: `listCredentials` and `regenerateCredential`, as ACR
//! serves them (`az acr credential show` / `renew`).

use super::RegistryPath;
use crate::arm::{ApiVersion, ArmJson, RegistryVersions};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorResponse};
use crate::routes::params::RegistryApiVersion;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use berth_domain::registry::AdminCredentials;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One admin password.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegistryPassword {
    /// `password` or `password2`.
    pub name: String,
    /// The password.
    pub value: String,
}

/// The admin user's name and passwords.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegistryListCredentialsResult {
    /// The user name (the registry's name).
    pub username: String,
    /// Both passwords.
    pub passwords: Vec<RegistryPassword>,
}

/// Which password to replace.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegenerateCredentialParameters {
    /// `password` or `password2`.
    pub name: String,
}

const LIST_CREDENTIALS: &str = "Microsoft.ContainerRegistry/registries/listCredentials/action";

const REGENERATE: &str = "Microsoft.ContainerRegistry/registries/regenerateCredential/action";

impl From<AdminCredentials> for RegistryListCredentialsResult {
    fn from(c: AdminCredentials) -> Self {
        Self {
            username: c.username,
            passwords: c
                .passwords
                .into_iter()
                .map(|(name, value)| RegistryPassword { name, value })
                .collect(),
        }
    }
}

/// The admin user's name and passwords (while `adminUserEnabled`).
#[utoipa::path(post, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/listCredentials",
    operation_id = "Registries_ListCredentials", tag = "Registries", params(RegistryPath, RegistryApiVersion),
    responses((status = 200, description = "The credentials", body = RegistryListCredentialsResult), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
pub(super) async fn list_credentials(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<RegistryVersions>,
    Path(path): Path<RegistryPath>,
) -> Result<Json<RegistryListCredentialsResult>, ApiError> {
    let id = state.authorized(&caller, LIST_CREDENTIALS, &path).await?;
    Ok(Json(state.admin_users.list(&id).await?.into()))
}

/// Replaces one admin password; answers with both.
#[utoipa::path(post, path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}/regenerateCredential",
    operation_id = "Registries_RegenerateCredential", tag = "Registries", params(RegistryPath, RegistryApiVersion),
    request_body = RegenerateCredentialParameters,
    responses((status = 200, description = "The credentials", body = RegistryListCredentialsResult), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
pub(super) async fn regenerate_credential(
    State(state): State<AppState>,
    caller: Caller,
    _version: ApiVersion<RegistryVersions>,
    Path(path): Path<RegistryPath>,
    body: ArmJson<RegenerateCredentialParameters>,
) -> Result<Json<RegistryListCredentialsResult>, ApiError> {
    let id = state.authorized(&caller, REGENERATE, &path).await?;
    let body = body.parse()?;
    let answer = state.admin_users.regenerate(&id, &body.name).await?;
    Ok(Json(answer.into()))
}
