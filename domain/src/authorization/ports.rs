//! Ports of the authorization context.

use super::{RoleAssignment, RoleDefinition};
use crate::store::StoreError;
use async_trait::async_trait;
use uuid::Uuid;

/// Why an RBAC write was not done.
#[derive(Debug, thiserror::Error)]
pub enum RbacWriteError {
    /// The same (scope, role, principal) is assigned already, under this name.
    #[error("the role assignment exists as {0}")]
    AssignmentExists(Uuid),
    /// A custom role with this name exists.
    #[error("the role name is taken")]
    RoleNameTaken,
    /// The role definition still has assignments.
    #[error("the role definition is assigned")]
    RoleAssigned,
    /// The role definition is not as it was read: it exists already (an insert), or it was
    /// changed or deleted since (a replace or a delete).
    #[error("the role definition changed since it was read")]
    RoleChanged,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores custom role definitions and role assignments. Every write also advances a change
/// counter, which replicas poll to refresh their in-memory index.
#[async_trait]
pub trait RbacRepository: Send + Sync {
    /// All custom role definitions.
    ///
    /// # Errors
    /// `Store`.
    async fn custom_roles(&self) -> Result<Vec<RoleDefinition>, StoreError>;

    /// Inserts a new custom role definition.
    ///
    /// # Errors
    /// `RoleChanged` when a role with its id exists; `RoleNameTaken`, `Store`.
    async fn insert_custom_role(&self, role: &RoleDefinition) -> Result<(), RbacWriteError>;

    /// Replaces `previous` by `role` (same id), only while the stored role still has
    /// `previous`'s assignable scopes: the caller was authorized against those.
    ///
    /// # Errors
    /// `RoleChanged` when the stored role is gone or has other assignable scopes;
    /// `RoleNameTaken`, `Store`.
    async fn replace_custom_role(
        &self,
        previous: &RoleDefinition,
        role: &RoleDefinition,
    ) -> Result<(), RbacWriteError>;

    /// Deletes a custom role definition unless it is assigned, only while it still has the
    /// assignable scopes of `role`; `Ok(false)` when it is gone.
    ///
    /// # Errors
    /// `RoleAssigned`, `RoleChanged`, `Store`.
    async fn delete_custom_role(&self, role: &RoleDefinition) -> Result<bool, RbacWriteError>;

    /// Every role assignment.
    ///
    /// # Errors
    /// `Store`.
    async fn assignments(&self) -> Result<Vec<RoleAssignment>, StoreError>;

    /// Inserts an assignment; (scope, role, principal) is unique.
    ///
    /// # Errors
    /// `AssignmentExists` naming the existing one; `Store`.
    async fn insert_assignment(&self, assignment: &RoleAssignment) -> Result<(), RbacWriteError>;

    /// Deletes an assignment by name; returns it when it existed.
    ///
    /// # Errors
    /// `Store`.
    async fn delete_assignment(&self, name: Uuid) -> Result<Option<RoleAssignment>, StoreError>;

    /// Deletes every assignment held by `principal` (when it leaves the directory).
    ///
    /// # Errors
    /// `Store`.
    async fn delete_assignments_of(&self, principal: Uuid) -> Result<u64, StoreError>;

    /// The change counter.
    ///
    /// # Errors
    /// `Store`.
    async fn version(&self) -> Result<i64, StoreError>;
}
