//! The first owner of a deployment: on a first start (no role assignment at all), a service
//! principal is made and given the built-in Owner role at the root scope, so that someone
//! can sign in and assign every other role. Its appId and secret are the operator's, or
//! generated; a generated secret is returned once, to be shown once.

use super::role::OWNER_ROLE_ID;
use super::{AssignmentFilter, NewAssignment, RbacError, RbacService};
use crate::directory::{DirectoryError, DirectoryService};
use uuid::Uuid;

/// The bootstrap owner this start made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapOwner {
    /// Its appId (client id).
    pub app_id: Uuid,
    /// Its object id.
    pub object_id: Uuid,
    /// The secret made for it, when none was configured: shown once, never stored.
    pub generated_secret: Option<String>,
}

/// Why the bootstrap owner could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The directory refused or failed.
    #[error("cannot create the bootstrap owner: {0}")]
    Directory(#[from] DirectoryError),
    /// The role assignment could not be made.
    #[error("cannot create the bootstrap owner: {0}")]
    Rbac(#[from] RbacError),
}

/// Makes the bootstrap owner (`app_id`, with `configured_secret` when the operator gave
/// one) when the deployment has no role assignment at all; `None` otherwise. A service
/// principal of that appId made by an earlier, interrupted start is reused.
///
/// # Errors
/// [`BootstrapError`].
pub async fn bootstrap_owner(
    directory: &DirectoryService,
    rbac: &RbacService,
    app_id: Uuid,
    configured_secret: Option<&str>,
) -> Result<Option<BootstrapOwner>, BootstrapError> {
    if !rbac
        .list_assignments("/", &AssignmentFilter::default())
        .await?
        .is_empty()
    {
        return Ok(None);
    }
    let (sp, secret) = match directory
        .find_service_principal(&app_id.to_string())
        .await?
    {
        Some(sp) => (sp, None),
        None => {
            directory
                .create_service_principal_with(
                    "berth-bootstrap-owner",
                    app_id,
                    configured_secret,
                    Some(10),
                )
                .await?
        }
    };
    rbac.create_assignment(NewAssignment {
        scope: "/".to_owned(),
        name: Uuid::new_v4().to_string(),
        role_definition_id: format!(
            "/providers/Microsoft.Authorization/roleDefinitions/{OWNER_ROLE_ID}"
        ),
        principal_id: sp.object_id.to_string(),
        principal_type: Some("ServicePrincipal".to_owned()),
        description: Some("The bootstrap owner, made at first start.".to_owned()),
        condition: None,
        condition_version: None,
        created_by: None,
    })
    .await?;
    Ok(Some(BootstrapOwner {
        app_id,
        object_id: sp.object_id,
        generated_secret: secret
            .filter(|_| configured_secret.is_none())
            .map(|s| s.secret),
    }))
}
