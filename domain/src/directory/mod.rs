//! The directory: users, service principals (with their application and password
//! credentials) and groups, as Microsoft Entra ID models them. Principals of role
//! assignments come from here; secrets are kept only as slow hashes. Changing the directory
//! takes a directory role ([`roles`]), checked by [`DirectoryAdmin`].

mod admin;
mod ports;
pub mod roles;
mod service;

pub use admin::{DirectoryAdmin, RoleAssignmentFilter};
pub use ports::{
    DirectoryRepository, DirectoryRoleRepository, DirectoryWriteError, ObjectKind, Secrets,
};
pub use roles::{DirectoryRole, DirectoryRoleAssignment, built_in_directory_roles};
pub use service::{DirectoryError, DirectoryService, NewSecret, PrincipalInfo, SignInError};

use time::OffsetDateTime;
use uuid::Uuid;

/// A person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Object id.
    pub object_id: Uuid,
    /// `name@domain`, unique without regard to case.
    pub user_principal_name: String,
    /// Display name.
    pub display_name: String,
    /// Nickname (Graph's `mailNickname`).
    pub mail_nickname: String,
    /// Whether the user may sign in.
    pub account_enabled: bool,
    /// Slow hash of the password, for users who sign in to the built-in issuer.
    pub password_hash: Option<String>,
}

/// A password of an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordCredential {
    /// Its id.
    pub key_id: Uuid,
    /// A label.
    pub display_name: Option<String>,
    /// The first three characters of the secret (what Graph calls `hint`).
    pub hint: String,
    /// Slow hash of the secret.
    pub hash: String,
    /// Valid from.
    pub start: OffsetDateTime,
    /// Valid until.
    pub end: OffsetDateTime,
}

impl PasswordCredential {
    /// Whether the credential is valid at `now`.
    #[must_use]
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        self.start <= now && now < self.end
    }
}

/// An application and its service principal (Entra keeps two objects; Berth keeps one record
/// with both object ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePrincipal {
    /// The service principal's object id (what role assignments name).
    pub object_id: Uuid,
    /// The application object's id (Graph's `/applications/{id}`).
    pub application_object_id: Uuid,
    /// The application (client) id.
    pub app_id: Uuid,
    /// Display name.
    pub display_name: String,
    /// Names it is known by: its appId, and any others.
    pub service_principal_names: Vec<String>,
    /// Whether it may sign in.
    pub account_enabled: bool,
    /// Its passwords.
    pub credentials: Vec<PasswordCredential>,
    /// Sessions (registry refresh tokens) opened before this time are revoked: a
    /// credential was removed then.
    pub sessions_valid_after: Option<OffsetDateTime>,
}

/// A group; its members inherit its role assignments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Object id.
    pub object_id: Uuid,
    /// Display name.
    pub display_name: String,
    /// Nickname.
    pub mail_nickname: String,
    /// Description.
    pub description: Option<String>,
}

/// Any directory object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryObject {
    /// A user.
    User(User),
    /// A service principal.
    ServicePrincipal(ServicePrincipal),
    /// A group.
    Group(Group),
}

impl DirectoryObject {
    /// The display name.
    #[must_use]
    pub fn display_name(&self) -> &str {
        match self {
            Self::User(u) => &u.display_name,
            Self::ServicePrincipal(s) => &s.display_name,
            Self::Group(g) => &g.display_name,
        }
    }

    /// The object id.
    #[must_use]
    pub fn object_id(&self) -> Uuid {
        match self {
            Self::User(u) => u.object_id,
            Self::ServicePrincipal(s) => s.object_id,
            Self::Group(g) => g.object_id,
        }
    }
}
