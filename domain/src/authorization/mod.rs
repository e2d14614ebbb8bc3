//! Azure-style RBAC: scopes, role definitions (Azure's built-ins and custom ones), role
//! assignments, and the in-memory index every authorization decision reads.

mod bootstrap;
mod condition;
mod index;
mod permission;
mod ports;
mod role;
mod scope;
mod service;

pub use bootstrap::{BootstrapError, BootstrapOwner, bootstrap_owner};
pub use condition::{
    Condition, ConditionError, MAX_CONDITION_BYTES, MAX_CONDITION_DEPTH, REPOSITORY_NAME,
    RequestAttributes,
};
pub use index::AuthorizationIndex;
pub use permission::{AccessKind, Permission, matches};
pub use ports::{RbacRepository, RbacWriteError};
pub use role::{OWNER_ROLE_ID, RoleDefinition, RoleKind, built_in_roles};
pub use scope::{Scope, ScopeError, ScopeLevel};
pub use service::{AssignmentFilter, NewAssignment, RbacError, RbacService, role_definition_guid};

use uuid::Uuid;

/// What kind of principal an assignment names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// A person.
    User,
    /// A group (its members inherit the assignment).
    Group,
    /// An application.
    ServicePrincipal,
    /// A group of another tenant.
    ForeignGroup,
}

impl PrincipalType {
    /// Parses ARM's spelling without regard to case.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::User,
            Self::Group,
            Self::ServicePrincipal,
            Self::ForeignGroup,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }

    /// ARM's spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
            Self::ServicePrincipal => "ServicePrincipal",
            Self::ForeignGroup => "ForeignGroup",
        }
    }
}

/// A role assignment: a role, granted to a principal, at a scope and below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    /// The client-chosen GUID name.
    pub name: Uuid,
    /// Where it applies.
    pub scope: Scope,
    /// The role's GUID.
    pub role_definition_id: Uuid,
    /// What was sent as `roleDefinitionId`, echoed back verbatim (the Azure CLI compares
    /// it as a string).
    pub role_definition_ref: String,
    /// Who holds it.
    pub principal_id: Uuid,
    /// What the principal is.
    pub principal_type: PrincipalType,
    /// Free text.
    pub description: Option<String>,
    /// An ABAC condition (stored and returned).
    pub condition: Option<String>,
    /// The condition's version (`2.0`).
    pub condition_version: Option<String>,
    /// Who made it, and when.
    pub created_by: Option<Uuid>,
    /// When it was made.
    pub created_on: time::OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "/subscriptions/6d951973-ab00-47fe-9831-74ce4de9ec6d";

    fn scope(s: &str) -> Scope {
        Scope::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn role_id(name: &str) -> Uuid {
        built_in_roles()
            .into_iter()
            .find(|r| r.name == name)
            .map(|r| r.id)
            .unwrap_or_default()
    }

    fn assign(principal: Uuid, role: &str, at: &str) -> RoleAssignment {
        RoleAssignment {
            name: Uuid::new_v4(),
            scope: scope(at),
            role_definition_id: role_id(role),
            role_definition_ref: role_id(role).to_string(),
            principal_id: principal,
            principal_type: PrincipalType::User,
            description: None,
            condition: None,
            condition_version: None,
            created_by: None,
            created_on: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn assignments_are_inherited_by_child_scopes_only() {
        let (alice, group) = (Uuid::new_v4(), Uuid::new_v4());
        let registry = format!(
            "{SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/reg1"
        );
        let assignments = [
            assign(alice, "AcrPull", &format!("{SUB}/resourceGroups/RG")),
            assign(group, "AcrImageSigner", &registry),
        ];
        let index = AuthorizationIndex::build(built_in_roles(), &assignments);
        let pull = "Microsoft.ContainerRegistry/registries/pull/read";
        assert!(index.is_allowed(
            &[alice],
            pull,
            AccessKind::Control,
            &scope(&format!("{registry}/repositories/app"))
        ));
        assert!(!index.is_allowed(
            &[alice],
            pull,
            AccessKind::Control,
            &scope(&format!("{SUB}/resourceGroups/other"))
        ));
        assert!(!index.is_allowed(&[alice], pull, AccessKind::Control, &scope(SUB)));
        let sign = "Microsoft.ContainerRegistry/registries/trustedCollections/write";
        assert!(!index.is_allowed(&[alice], sign, AccessKind::Data, &scope(&registry)));
        assert!(
            index.is_allowed(&[alice, group], sign, AccessKind::Data, &scope(&registry)),
            "group membership counts"
        );
    }

    #[test]
    fn removing_an_assignment_takes_effect_at_once() {
        let bob = Uuid::new_v4();
        let owner = assign(bob, "Owner", "/");
        let mut index = AuthorizationIndex::build(built_in_roles(), [&owner]);
        let write = "Microsoft.Authorization/roleAssignments/write";
        assert!(index.is_allowed(&[bob], write, AccessKind::Control, &scope(SUB)));
        index.remove(&owner);
        assert!(!index.is_allowed(&[bob], write, AccessKind::Control, &scope(SUB)));
        assert_eq!(index.assignment_count(), 0);
    }

    #[test]
    fn roles_are_assignable_only_inside_their_assignable_scopes() {
        let custom = RoleDefinition {
            id: Uuid::new_v4(),
            name: "Registry operator".into(),
            description: String::new(),
            kind: RoleKind::Custom,
            permissions: vec![Permission {
                actions: vec!["Microsoft.ContainerRegistry/*".into()],
                ..Permission::default()
            }],
            assignable_scopes: vec![scope(&format!("{SUB}/resourceGroups/rg"))],
        };
        assert!(custom.assignable_at(&scope(&format!(
            "{SUB}/resourceGroups/RG/providers/Microsoft.ContainerRegistry/registries/r"
        ))));
        assert!(!custom.assignable_at(&scope(SUB)));
    }
}
