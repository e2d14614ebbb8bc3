//! Ports of the directory.

use super::{
    DirectoryObject, DirectoryRoleAssignment, Group, PasswordCredential, ServicePrincipal, User,
};
use crate::store::StoreError;
use async_trait::async_trait;
use uuid::Uuid;

/// Why a directory write was not done.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryWriteError {
    /// A unique property (user principal name, appId, member link) is taken.
    #[error("already exists")]
    Conflict,
    /// The object to change does not exist.
    #[error("no such object")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores directory objects.
#[async_trait]
pub trait DirectoryRepository: Send + Sync {
    /// Inserts a user.
    ///
    /// # Errors
    /// `Conflict` when the user principal name is taken (any case); `Store`.
    async fn insert_user(&self, user: &User) -> Result<(), DirectoryWriteError>;

    /// Inserts a service principal with its credentials.
    ///
    /// # Errors
    /// `Conflict` when the appId is taken; `Store`.
    async fn insert_service_principal(
        &self,
        sp: &ServicePrincipal,
    ) -> Result<(), DirectoryWriteError>;

    /// Adds a password to a service principal.
    ///
    /// # Errors
    /// `NotFound` when there is no such service principal; `Store`.
    async fn add_credential(
        &self,
        sp_object_id: Uuid,
        credential: &PasswordCredential,
    ) -> Result<(), DirectoryWriteError>;

    /// Removes a password; `Ok(false)` when the service principal had no such key.
    ///
    /// # Errors
    /// `Store`.
    async fn remove_credential(&self, sp_object_id: Uuid, key_id: Uuid)
    -> Result<bool, StoreError>;

    /// Inserts a group.
    ///
    /// # Errors
    /// `Store` (group names need not be unique).
    async fn insert_group(&self, group: &Group) -> Result<(), DirectoryWriteError>;

    /// Adds `member` to `group`.
    ///
    /// # Errors
    /// `Conflict` when it is a member already; `NotFound` when either is missing; `Store`.
    async fn add_member(&self, group: Uuid, member: Uuid) -> Result<(), DirectoryWriteError>;

    /// Removes `member` from `group`; `Ok(false)` when it was not a member.
    ///
    /// # Errors
    /// `Store`.
    async fn remove_member(&self, group: Uuid, member: Uuid) -> Result<bool, StoreError>;

    /// The groups `member` belongs to directly.
    ///
    /// # Errors
    /// `Store`.
    async fn groups_of(&self, member: Uuid) -> Result<Vec<Uuid>, StoreError>;

    /// The direct members of a group.
    ///
    /// # Errors
    /// `Store`.
    async fn members_of(&self, group: Uuid) -> Result<Vec<Uuid>, StoreError>;

    /// The objects with these ids (service principals also by their application object id);
    /// unknown ids are left out.
    ///
    /// # Errors
    /// `Store`.
    async fn get_objects(&self, ids: &[Uuid]) -> Result<Vec<DirectoryObject>, StoreError>;

    /// The user with this principal name (any case).
    ///
    /// # Errors
    /// `Store`.
    async fn find_user(&self, user_principal_name: &str) -> Result<Option<User>, StoreError>;

    /// The service principal with this appId or service principal name (any case).
    ///
    /// # Errors
    /// `Store`.
    async fn find_service_principal(
        &self,
        name: &str,
    ) -> Result<Option<ServicePrincipal>, StoreError>;

    /// The change counter, advanced by deletions and membership changes.
    ///
    /// # Errors
    /// `Store`.
    async fn version(&self) -> Result<i64, StoreError>;

    /// Objects of one kind in object-id order, after `after` when given, at most `top`.
    ///
    /// # Errors
    /// `Store`.
    async fn list(
        &self,
        kind: ObjectKind,
        after: Option<Uuid>,
        top: u64,
    ) -> Result<Vec<DirectoryObject>, StoreError>;

    /// The object linked to an external provider's subject.
    ///
    /// # Errors
    /// `Store`.
    async fn find_external(&self, issuer: &str, subject: &str) -> Result<Option<Uuid>, StoreError>;

    /// Inserts a user or service principal seen for the first time at an external provider,
    /// and its link to (issuer, subject), in one transaction.
    ///
    /// # Errors
    /// `Conflict` when the link or a unique name exists already; `Store`.
    async fn insert_external(
        &self,
        issuer: &str,
        subject: &str,
        object: &DirectoryObject,
    ) -> Result<(), DirectoryWriteError>;

    /// Deletes an object, its credentials, its memberships and its external link;
    /// `Ok(false)` when unknown.
    ///
    /// # Errors
    /// `Store`.
    async fn delete_object(&self, id: Uuid) -> Result<bool, StoreError>;
}

/// Stores directory role assignments. Every write advances a change counter of its own,
/// which replicas poll to refresh what they hold in memory.
#[async_trait]
pub trait DirectoryRoleRepository: Send + Sync {
    /// Every directory role assignment.
    ///
    /// # Errors
    /// `Store`.
    async fn role_assignments(&self) -> Result<Vec<DirectoryRoleAssignment>, StoreError>;

    /// Inserts an assignment; (principal, role, directory scope) is unique.
    ///
    /// # Errors
    /// `Conflict` when that principal holds that role already; `Store`.
    async fn insert_role_assignment(
        &self,
        assignment: &DirectoryRoleAssignment,
    ) -> Result<(), DirectoryWriteError>;

    /// Deletes an assignment; `Ok(false)` when there was none.
    ///
    /// # Errors
    /// `Store`.
    async fn delete_role_assignment(&self, id: Uuid) -> Result<bool, StoreError>;

    /// Deletes every directory role of a principal (when it leaves the directory).
    ///
    /// # Errors
    /// `Store`.
    async fn delete_role_assignments_of(&self, principal: Uuid) -> Result<u64, StoreError>;

    /// The change counter of directory role assignments.
    ///
    /// # Errors
    /// `Store`.
    async fn role_assignments_version(&self) -> Result<i64, StoreError>;
}

/// The kinds of directory objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// Users.
    User,
    /// Service principals.
    ServicePrincipal,
    /// Groups.
    Group,
}

/// Secrets: made from a secure random source, kept only as hashes, compared in constant
/// time. Secrets people choose get a slow, salted hash; secrets this port generated (256
/// random bits) get a fast digest, since no hash speed makes them guessable and a slow hash
/// would cost every sign-in with them tens of milliseconds of CPU and megabytes of memory.
/// Slow hashing and verification are async so an adapter can run them off the request
/// workers, with a bound on how many run at once.
#[async_trait]
pub trait Secrets: Send + Sync {
    /// A new random secret (at least 256 bits), printable.
    fn generate(&self) -> String;

    /// A slow, salted hash of a chosen `secret` (PHC string).
    ///
    /// # Errors
    /// When hashing fails (it does not, for valid parameters).
    async fn hash(&self, secret: &str) -> Result<String, StoreError>;

    /// A fast digest of a secret made by [`Secrets::generate`], in a form [`Secrets::verify`]
    /// tells apart from [`Secrets::hash`]'s.
    fn digest_generated(&self, secret: &str) -> String;

    /// Whether `secret` matches `hash` (either form), in constant time.
    async fn verify(&self, secret: &str, hash: &str) -> bool;
}
