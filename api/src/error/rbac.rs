//! Role-based access control's errors (role definitions and role assignments) as ARM's.

use super::ApiError;
use axum::http::StatusCode;
use berth_domain::authorization::RbacError;

impl From<RbacError> for ApiError {
    fn from(e: RbacError) -> Self {
        let message = e.to_string();
        match e {
            RbacError::InvalidScope(_) => {
                Self::new(StatusCode::BAD_REQUEST, "InvalidScope", message)
            }
            RbacError::Invalid { target, .. } => Self::invalid_content(message).with_target(target),
            RbacError::RoleDefinitionNotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "RoleDefinitionDoesNotExist", message)
            }
            RbacError::NotAssignableAtScope { .. } => Self::new(
                StatusCode::BAD_REQUEST,
                "InvalidRoleAssignmentScope",
                message,
            ),
            RbacError::PrincipalNotFound { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "PrincipalNotFound", message)
            }
            RbacError::PrincipalTypeMismatch { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "UnmatchedPrincipalType", message)
            }
            RbacError::AssignmentExists(_) => {
                Self::new(StatusCode::CONFLICT, "RoleAssignmentExists", message)
            }
            RbacError::AssignmentUpdateNotPermitted => Self::new(
                StatusCode::CONFLICT,
                "RoleAssignmentUpdateNotPermitted",
                message,
            ),
            RbacError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "RoleAssignmentNotFound", message)
            }
            RbacError::BuiltInRole(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "BuiltInRoleCannotBeModified",
                message,
            ),
            RbacError::RoleNameTaken(_) => Self::new(
                StatusCode::CONFLICT,
                "RoleDefinitionWithSameNameExists",
                message,
            ),
            RbacError::AuthorizationFailed { .. } => {
                Self::new(StatusCode::FORBIDDEN, "AuthorizationFailed", message)
            }
            RbacError::RoleChanged(_) => Self::new(StatusCode::CONFLICT, "Conflict", message),
            RbacError::RoleAssigned(_) => Self::new(
                StatusCode::CONFLICT,
                "RoleDefinitionHasAssignments",
                message,
            ),
            RbacError::Directory(d) => Self::internal(&d),
            RbacError::Store(s) => s.into(),
        }
    }
}

impl ApiError {
    /// An RBAC error as the caller sees it: a refusal at another scope than the request's
    /// names the caller, as ARM's `AuthorizationFailed` does.
    #[must_use]
    pub fn rbac_refusal(caller: &berth_domain::identity::Caller, e: RbacError) -> Self {
        match e {
            RbacError::AuthorizationFailed { action, scope } => {
                Self::authorization_failed(&caller.name, &caller.object_id, action, &scope)
            }
            other => other.into(),
        }
    }

    /// A refused role-assignment PUT: there the role is part of the body, so a role that
    /// does not exist is a bad request, not a 404.
    #[must_use]
    pub fn assignment_refusal(e: RbacError) -> Self {
        match e {
            RbacError::RoleDefinitionNotFound(_) => {
                Self::role_definition_does_not_exist(e.to_string())
            }
            other => other.into(),
        }
    }
}
