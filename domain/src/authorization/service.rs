//! RBAC use cases: role definitions and assignments, and the decision every request asks
//! for, answered from an in-memory snapshot kept in step with the store.

use super::{
    AccessKind, AuthorizationIndex, PrincipalType, RbacRepository, RbacWriteError, RoleAssignment,
    RoleDefinition, RoleKind, Scope, ScopeError, built_in_roles,
};
use crate::clock::Clock;
use crate::directory::{DirectoryError, DirectoryObject, DirectoryService};
use crate::store::StoreError;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use uuid::Uuid;

/// Errors of the RBAC use cases.
#[derive(Debug, thiserror::Error)]
pub enum RbacError {
    /// The scope is malformed.
    #[error(transparent)]
    InvalidScope(#[from] ScopeError),
    /// A value is malformed.
    #[error("{message}")]
    Invalid {
        /// The property at fault.
        target: &'static str,
        /// What is wrong.
        message: String,
    },
    /// No such role definition.
    #[error("The specified role definition with ID '{0}' does not exist.")]
    RoleDefinitionNotFound(String),
    /// The role may not be assigned at this scope.
    #[error(
        "The role definition '{role}' is not assignable at scope '{scope}': it is assignable only within its assignableScopes."
    )]
    NotAssignableAtScope {
        /// The role's name.
        role: String,
        /// The scope.
        scope: String,
    },
    /// The principal is not in the directory.
    #[error(
        "Principal {principal} does not exist in the directory {tenant}. Check that you have the correct principal ID."
    )]
    PrincipalNotFound {
        /// The principal id.
        principal: String,
        /// The tenant.
        tenant: String,
    },
    /// The principal is of another type than the one given.
    #[error(
        "The PrincipalId '{principal}' has type '{actual}' , which is different from specified PrincipalType '{given}'."
    )]
    PrincipalTypeMismatch {
        /// The principal id.
        principal: Uuid,
        /// Its type.
        actual: &'static str,
        /// The type given.
        given: &'static str,
    },
    /// The same (scope, role, principal) is assigned already.
    #[error("The role assignment already exists. The ID of the existing role assignment is {}.", .0.simple())]
    AssignmentExists(Uuid),
    /// A PUT tried to change an existing assignment.
    #[error("Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")]
    AssignmentUpdateNotPermitted,
    /// No such role assignment (or definition) at this scope.
    #[error("The {0} could not be found.")]
    NotFound(&'static str),
    /// Built-in roles cannot be changed.
    #[error("The built-in role '{0}' cannot be changed or deleted.")]
    BuiltInRole(String),
    /// A custom role with this name exists.
    #[error("A role definition named '{0}' already exists.")]
    RoleNameTaken(String),
    /// The caller may not perform `action` at `scope`, one of the scopes the use case
    /// touches beyond the request's own.
    #[error(
        "The caller does not have authorization to perform action '{action}' over scope '{scope}'."
    )]
    AuthorizationFailed {
        /// The action.
        action: &'static str,
        /// The scope.
        scope: String,
    },
    /// The role definition changed while this request was writing it.
    #[error("The role definition '{0}' was changed by another request; read it again and retry.")]
    RoleChanged(String),
    /// The role definition is still assigned.
    #[error(
        "The role definition '{0}' cannot be deleted while it has role assignments; delete them first."
    )]
    RoleAssigned(String),
    /// The directory failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<RbacWriteError> for RbacError {
    fn from(e: RbacWriteError) -> Self {
        match e {
            RbacWriteError::AssignmentExists(name) => Self::AssignmentExists(name),
            RbacWriteError::RoleNameTaken => Self::RoleNameTaken(String::new()),
            RbacWriteError::RoleAssigned => Self::RoleAssigned(String::new()),
            RbacWriteError::RoleChanged => Self::RoleChanged(String::new()),
            RbacWriteError::Store(s) => Self::Store(s),
        }
    }
}

/// What a PUT of a role assignment carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAssignment {
    /// The scope, as in the URL.
    pub scope: String,
    /// The name (a GUID), as in the URL.
    pub name: String,
    /// `roleDefinitionId`, as sent.
    pub role_definition_id: String,
    /// `principalId`.
    pub principal_id: String,
    /// `principalType`, when given.
    pub principal_type: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `condition`.
    pub condition: Option<String>,
    /// `conditionVersion`.
    pub condition_version: Option<String>,
    /// The caller.
    pub created_by: Option<Uuid>,
}

/// The `$filter` forms ARM accepts on role-assignment lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssignmentFilter {
    /// `atScope()`: only assignments at or above the scope.
    pub at_scope: bool,
    /// `principalId eq '...'`: that principal's assignments, at, above or below the scope.
    pub principal_id: Option<Uuid>,
    /// `assignedTo('...')`: assignments of that principal and of its groups.
    pub assigned_to: Option<Uuid>,
}

/// What the decision reads: the index, plus the assignments and roles for listing.
#[derive(Debug, Default)]
struct Snapshot {
    version: Option<i64>,
    index: AuthorizationIndex,
    roles: HashMap<Uuid, RoleDefinition>,
    assignments: HashMap<Uuid, RoleAssignment>,
}

/// RBAC use cases.
#[derive(Clone)]
pub struct RbacService {
    repo: Arc<dyn RbacRepository>,
    directory: DirectoryService,
    clock: Arc<dyn Clock>,
    tenant: String,
    snapshot: Arc<RwLock<Snapshot>>,
}

/// Takes the GUID out of a role definition id in any of its forms (a bare GUID, or an ARM
/// id at any scope ending in `/roleDefinitions/{guid}`).
#[must_use]
pub fn role_definition_guid(reference: &str) -> Option<Uuid> {
    let lower = reference.to_ascii_lowercase();
    let tail = lower
        .rfind("/roledefinitions/")
        .map_or(reference, |i| &reference[i + "/roledefinitions/".len()..]);
    Uuid::parse_str(tail.trim_end_matches('/')).ok()
}

impl RbacService {
    /// Builds the service; call [`Self::refresh`] before the first decision.
    #[must_use]
    pub fn new(
        repo: Arc<dyn RbacRepository>,
        directory: DirectoryService,
        clock: Arc<dyn Clock>,
        tenant: String,
    ) -> Self {
        Self {
            repo,
            directory,
            clock,
            tenant,
            snapshot: Arc::default(),
        }
    }

    /// Rebuilds the in-memory snapshot when the store's change counter moved (a write
    /// through another replica). Returns whether it rebuilt.
    ///
    /// # Errors
    /// `Store`.
    pub async fn refresh(&self) -> Result<bool, RbacError> {
        let version = self.repo.version().await?;
        if self
            .snapshot
            .read()
            .is_ok_and(|s| s.version == Some(version))
        {
            return Ok(false);
        }
        let custom = self.repo.custom_roles().await?;
        let assignments = self.repo.assignments().await?;
        let roles: HashMap<Uuid, RoleDefinition> = built_in_roles()
            .into_iter()
            .chain(custom)
            .map(|r| (r.id, r))
            .collect();
        let index = AuthorizationIndex::build(roles.values().cloned(), &assignments);
        let fresh = Snapshot {
            version: Some(version),
            index,
            roles,
            assignments: assignments.into_iter().map(|a| (a.name, a)).collect(),
        };
        if let Ok(mut snapshot) = self.snapshot.write() {
            *snapshot = fresh;
        }
        Ok(true)
    }

    /// The role assignments (by name) whose stored condition cannot be read, with why: a
    /// condition stored before the limits of [`super::MAX_CONDITION_BYTES`] and
    /// [`super::MAX_CONDITION_DEPTH`], or written by hand. They grant no data action; the
    /// caller reports them (the domain does not log).
    #[must_use]
    pub fn unreadable_conditions(&self) -> Vec<(Uuid, super::ConditionError)> {
        let mut found: Vec<_> = self.snapshot.read().map_or_else(
            |_| Vec::new(),
            |s| {
                s.index
                    .unreadable_conditions()
                    .map(|(name, why)| (*name, why.clone()))
                    .collect()
            },
        );
        found.sort_by_key(|(name, _)| *name);
        found
    }

    /// Whether `principals` (a caller and its groups) may perform `action` at `scope`.
    #[must_use]
    pub fn is_allowed(
        &self,
        principals: &[Uuid],
        action: &str,
        kind: AccessKind,
        scope: &Scope,
    ) -> bool {
        self.snapshot
            .read()
            .is_ok_and(|s| s.index.is_allowed(principals, action, kind, scope))
    }

    /// Like [`Self::is_allowed`], for a request with attributes that role-assignment
    /// conditions may test (the repository of a data-plane request).
    #[must_use]
    pub fn is_allowed_for(
        &self,
        principals: &[Uuid],
        action: &str,
        kind: AccessKind,
        scope: &Scope,
        request: &super::RequestAttributes<'_>,
    ) -> bool {
        self.snapshot.read().is_ok_and(|s| {
            s.index
                .is_allowed_for(principals, action, kind, scope, request)
        })
    }

    /// Where at and beneath `scope` `principals` may perform `action`: everywhere when a role
    /// at `scope` or above grants it, otherwise the scopes beneath it where one does (each
    /// with what lies beneath it).
    #[must_use]
    pub fn reach(
        &self,
        principals: &[Uuid],
        action: &str,
        kind: AccessKind,
        scope: &Scope,
    ) -> crate::activity::Reach {
        let Ok(s) = self.snapshot.read() else {
            return crate::activity::Reach::Within(Vec::new());
        };
        if s.index.is_allowed(principals, action, kind, scope) {
            return crate::activity::Reach::All;
        }
        let mut keys: Vec<String> = s
            .assignments
            .values()
            .filter(|a| principals.contains(&a.principal_id) && a.scope.is_within(scope))
            .filter(|a| s.index.is_allowed(principals, action, kind, &a.scope))
            .map(|a| a.scope.key().to_owned())
            .collect();
        keys.sort();
        keys.dedup();
        crate::activity::Reach::Within(keys)
    }

    /// Whether any of `principals` holds a role assignment at, above or below `scope`: ARM
    /// lists a subscription to every principal with access anywhere in it.
    #[must_use]
    pub fn has_assignment_around(&self, principals: &[Uuid], scope: &Scope) -> bool {
        self.snapshot.read().is_ok_and(|s| {
            s.assignments.values().any(|a| {
                principals.contains(&a.principal_id)
                    && (scope.is_within(&a.scope) || a.scope.is_within(scope))
            })
        })
    }

    /// Role definitions usable at `scope` (built-ins, and custom roles assignable there),
    /// optionally only those named `name` (any case).
    ///
    /// # Errors
    /// `InvalidScope`.
    pub fn role_definitions(
        &self,
        scope: &str,
        name: Option<&str>,
    ) -> Result<Vec<RoleDefinition>, RbacError> {
        let scope = Scope::parse(scope)?;
        let snapshot = self
            .snapshot
            .read()
            .map_err(|_| StoreError("snapshot lock poisoned".to_owned()))?;
        let mut roles: Vec<RoleDefinition> = snapshot
            .roles
            .values()
            .filter(|r| r.visible_at(&scope))
            .filter(|r| name.is_none_or(|n| r.name.eq_ignore_ascii_case(n)))
            .cloned()
            .collect();
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(roles)
    }

    /// One role definition by GUID, whatever scope it is seen from (for the role of an
    /// assignment being made, which is checked against the assignment's scope).
    ///
    /// # Errors
    /// `RoleDefinitionNotFound`.
    pub fn role_definition(&self, id: &str) -> Result<RoleDefinition, RbacError> {
        let guid = role_definition_guid(id)
            .ok_or_else(|| RbacError::RoleDefinitionNotFound(id.to_owned()))?;
        self.snapshot
            .read()
            .ok()
            .and_then(|s| s.roles.get(&guid).cloned())
            .ok_or_else(|| RbacError::RoleDefinitionNotFound(id.to_owned()))
    }

    /// One role definition by GUID as read at `scope`: a custom role not seen from there
    /// (see [`RoleDefinition::visible_at`]) is not found, as in a list at that scope.
    ///
    /// # Errors
    /// `InvalidScope`, `RoleDefinitionNotFound`.
    pub fn role_definition_at(&self, scope: &str, id: &str) -> Result<RoleDefinition, RbacError> {
        let scope = Scope::parse(scope)?;
        self.role_definition(id)
            .ok()
            .filter(|r| r.visible_at(&scope))
            .ok_or_else(|| RbacError::RoleDefinitionNotFound(id.to_owned()))
    }

    /// Refuses unless `principals` may perform `action` at every one of `scopes`.
    fn authorize_at_every(
        &self,
        principals: &[Uuid],
        action: &'static str,
        scopes: &[Scope],
    ) -> Result<(), RbacError> {
        match scopes
            .iter()
            .find(|s| !self.is_allowed(principals, action, AccessKind::Control, s))
        {
            Some(denied) => Err(RbacError::AuthorizationFailed {
                action,
                scope: denied.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// Creates or replaces a custom role definition for `principals` (the caller and its
    /// groups), who need `roleDefinitions/write` at every assignable scope of the role, both
    /// as stored and as it will be: write access to one scope never widens a role used at
    /// another. The replacement is stored only while the role is as authorized.
    ///
    /// # Errors
    /// `AuthorizationFailed`, `BuiltInRole`, `Invalid`, `RoleNameTaken`, `RoleChanged`,
    /// `Store`.
    pub async fn put_role_definition(
        &self,
        principals: &[Uuid],
        role: RoleDefinition,
    ) -> Result<(RoleDefinition, bool), RbacError> {
        const WRITE: &str = "Microsoft.Authorization/roleDefinitions/write";
        if built_in_roles()
            .iter()
            .any(|b| b.id == role.id || b.name.eq_ignore_ascii_case(&role.name))
        {
            return Err(RbacError::BuiltInRole(role.name));
        }
        if role.name.trim().is_empty()
            || role.assignable_scopes.is_empty()
            || role.permissions.is_empty()
        {
            return Err(RbacError::Invalid {
                target: "properties",
                message: "A custom role needs a roleName, at least one permission block and at least one assignable scope.".to_owned(),
            });
        }
        if let Err(action) = role.names_no_directory_action() {
            return Err(RbacError::Invalid {
                target: "properties.permissions",
                message: format!(
                    "The action '{action}' is a directory action: the directory is managed through directory roles, not ARM roles."
                ),
            });
        }
        let previous = self.role_definition(&role.id.to_string()).ok();
        if let Some(previous) = &previous {
            self.authorize_at_every(principals, WRITE, &previous.assignable_scopes)?;
        }
        self.authorize_at_every(principals, WRITE, &role.assignable_scopes)?;
        let written = match &previous {
            Some(previous) => self.repo.replace_custom_role(previous, &role).await,
            None => self.repo.insert_custom_role(&role).await,
        };
        written.map_err(|e| match e {
            RbacWriteError::RoleNameTaken => RbacError::RoleNameTaken(role.name.clone()),
            RbacWriteError::RoleChanged => RbacError::RoleChanged(role.name.clone()),
            other => other.into(),
        })?;
        self.refresh().await?;
        Ok((role, previous.is_none()))
    }

    /// Deletes a custom role definition seen from `scope`, for `principals`, who need
    /// `roleDefinitions/delete` at every assignable scope of the role. Refused while it is
    /// assigned.
    ///
    /// # Errors
    /// `InvalidScope`, `AuthorizationFailed`, `BuiltInRole`, `RoleAssigned`, `RoleChanged`,
    /// `RoleDefinitionNotFound`, `Store`.
    pub async fn delete_role_definition(
        &self,
        principals: &[Uuid],
        scope: &str,
        id: &str,
    ) -> Result<RoleDefinition, RbacError> {
        let role = self.role_definition_at(scope, id)?;
        if role.kind == RoleKind::BuiltIn {
            return Err(RbacError::BuiltInRole(role.name));
        }
        self.authorize_at_every(
            principals,
            "Microsoft.Authorization/roleDefinitions/delete",
            &role.assignable_scopes,
        )?;
        self.repo
            .delete_custom_role(&role)
            .await
            .map_err(|e| match e {
                RbacWriteError::RoleAssigned => RbacError::RoleAssigned(role.name.clone()),
                RbacWriteError::RoleChanged => RbacError::RoleChanged(role.name.clone()),
                other => other.into(),
            })?;
        self.refresh().await?;
        Ok(role)
    }

    /// Creates a role assignment (PUT). Returns it and whether it was created; a repeated
    /// PUT of the same assignment is idempotent.
    ///
    /// # Errors
    /// `InvalidScope`, `Invalid`, `RoleDefinitionNotFound`, `NotAssignableAtScope`,
    /// `PrincipalNotFound`, `PrincipalTypeMismatch`, `AssignmentExists`,
    /// `AssignmentUpdateNotPermitted`, `Store`.
    pub async fn create_assignment(
        &self,
        new: NewAssignment,
    ) -> Result<(RoleAssignment, bool), RbacError> {
        let scope = Scope::parse(&new.scope)?;
        let name = Uuid::parse_str(&new.name).map_err(|_| RbacError::Invalid {
            target: "roleAssignmentName",
            message: format!(
                "The role assignment name '{}' is not a valid GUID.",
                new.name
            ),
        })?;
        let role = self.role_definition(&new.role_definition_id)?;
        if !role.assignable_at(&scope) {
            return Err(RbacError::NotAssignableAtScope {
                role: role.name,
                scope: scope.to_string(),
            });
        }
        let principal_id =
            Uuid::parse_str(&new.principal_id).map_err(|_| RbacError::PrincipalNotFound {
                principal: new.principal_id.clone(),
                tenant: self.tenant.clone(),
            })?;
        let object = self
            .directory
            .get_by_ids(&[principal_id])
            .await?
            .into_iter()
            .find(|o| o.object_id() == principal_id);
        let actual = match object {
            Some(DirectoryObject::User(_)) => PrincipalType::User,
            Some(DirectoryObject::Group(_)) => PrincipalType::Group,
            Some(DirectoryObject::ServicePrincipal(_)) => PrincipalType::ServicePrincipal,
            None => {
                return Err(RbacError::PrincipalNotFound {
                    principal: principal_id.to_string(),
                    tenant: self.tenant.clone(),
                });
            }
        };
        if let Some(given) = new.principal_type.as_deref() {
            let given = PrincipalType::parse(given).ok_or_else(|| RbacError::Invalid {
                target: "properties.principalType",
                message: format!("The principalType '{given}' is not one of User, Group, ServicePrincipal, ForeignGroup."),
            })?;
            if given != actual {
                return Err(RbacError::PrincipalTypeMismatch {
                    principal: principal_id,
                    actual: actual.as_str(),
                    given: given.as_str(),
                });
            }
        }
        if let Some(condition) = new.condition.as_deref()
            && let Err(why) = super::Condition::parse(condition)
        {
            return Err(RbacError::Invalid {
                target: "properties.condition",
                message: match why {
                    super::ConditionError::Syntax(_) => {
                        format!("The condition is not understood: {why}.")
                    }
                    _ => format!("The condition is too large: {why}."),
                },
            });
        }
        if new.condition.is_some() && new.condition_version.as_deref().is_some_and(|v| v != "2.0") {
            return Err(RbacError::Invalid {
                target: "properties.conditionVersion",
                message: "Only conditionVersion 2.0 is supported.".to_owned(),
            });
        }
        let assignment = RoleAssignment {
            name,
            scope,
            role_definition_id: role.id,
            role_definition_ref: new.role_definition_id.clone(),
            principal_id,
            principal_type: actual,
            description: new.description,
            condition_version: new
                .condition
                .as_ref()
                .map(|_| new.condition_version.unwrap_or_else(|| "2.0".to_owned())),
            condition: new.condition,
            created_by: new.created_by,
            created_on: self.clock.now(),
        };
        let existing = self
            .snapshot
            .read()
            .ok()
            .and_then(|s| s.assignments.get(&name).cloned());
        if let Some(existing) = existing {
            let same = existing.scope.key() == assignment.scope.key()
                && existing.role_definition_id == assignment.role_definition_id
                && existing.principal_id == assignment.principal_id;
            return if same {
                Ok((existing, false))
            } else {
                Err(RbacError::AssignmentUpdateNotPermitted)
            };
        }
        match self.repo.insert_assignment(&assignment).await {
            Ok(()) => {
                self.refresh().await?;
                Ok((assignment, true))
            }
            // Made through another replica: the name decides, as above.
            Err(RbacWriteError::AssignmentExists(existing)) if existing == name => {
                self.refresh().await?;
                let stored = self
                    .snapshot
                    .read()
                    .ok()
                    .and_then(|s| s.assignments.get(&name).cloned());
                match stored {
                    Some(stored)
                        if stored.scope.key() == assignment.scope.key()
                            && stored.role_definition_id == assignment.role_definition_id
                            && stored.principal_id == assignment.principal_id =>
                    {
                        Ok((stored, false))
                    }
                    _ => Err(RbacError::AssignmentUpdateNotPermitted),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// One assignment, by scope and name.
    ///
    /// # Errors
    /// `InvalidScope`, `NotFound`.
    pub fn assignment(&self, scope: &str, name: &str) -> Result<RoleAssignment, RbacError> {
        let scope = Scope::parse(scope)?;
        Uuid::parse_str(name)
            .ok()
            .and_then(|name| {
                self.snapshot
                    .read()
                    .ok()
                    .and_then(|s| s.assignments.get(&name).cloned())
            })
            .filter(|a| a.scope.key() == scope.key())
            .ok_or(RbacError::NotFound("role assignment"))
    }

    /// Deletes an assignment; `Ok(None)` when there was none.
    ///
    /// # Errors
    /// `InvalidScope`, `Store`.
    pub async fn delete_assignment(
        &self,
        scope: &str,
        name: &str,
    ) -> Result<Option<RoleAssignment>, RbacError> {
        let Ok(found) = self.assignment(scope, name) else {
            Scope::parse(scope)?;
            return Ok(None);
        };
        let deleted = self.repo.delete_assignment(found.name).await?;
        self.refresh().await?;
        Ok(deleted)
    }

    /// The assignments visible from `scope`: at, above and below it, narrowed by `filter`.
    ///
    /// # Errors
    /// `InvalidScope`, `Store`.
    pub async fn list_assignments(
        &self,
        scope: &str,
        filter: &AssignmentFilter,
    ) -> Result<Vec<RoleAssignment>, RbacError> {
        let scope = Scope::parse(scope)?;
        let holders = match filter.assigned_to {
            Some(principal) => {
                let mut ids = self.directory.member_groups(principal).await?;
                ids.push(principal);
                Some(ids)
            }
            None => filter.principal_id.map(|p| vec![p]),
        };
        let snapshot = self
            .snapshot
            .read()
            .map_err(|_| StoreError("snapshot lock poisoned".to_owned()))?;
        let mut found: Vec<RoleAssignment> = snapshot
            .assignments
            .values()
            .filter(|a| {
                let above = scope.is_within(&a.scope);
                let below = a.scope.is_within(&scope);
                (above || (!filter.at_scope && below))
                    && holders.as_ref().is_none_or(|h| h.contains(&a.principal_id))
            })
            .cloned()
            .collect();
        found.sort_by(|a, b| (a.scope.key(), a.name).cmp(&(b.scope.key(), b.name)));
        Ok(found)
    }

    /// Removes every assignment of a principal that left the directory.
    ///
    /// # Errors
    /// `Store`.
    pub async fn forget_principal(&self, principal: Uuid) -> Result<(), RbacError> {
        self.repo.delete_assignments_of(principal).await?;
        self.refresh().await?;
        Ok(())
    }
}
