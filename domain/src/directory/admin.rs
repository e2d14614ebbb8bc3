//! The directory's writes, each authorized by a directory role, and the directory role
//! assignments themselves.
//!
//! Two rules decide a write:
//! 1. The caller holds a directory role (see [`super::roles`]) granting the write's resource
//!    action. ARM roles count for nothing here.
//! 2. A write that changes what an existing principal can do — a credential added to or
//!    removed from a service principal, a member added to or removed from a group, the
//!    principal deleted — is refused when that principal is more privileged than the
//!    caller: when it (or a group it belongs to, transitively) holds an ARM role assignment
//!    at a scope where the caller may not itself write role assignments, or holds a
//!    directory role the caller does not hold. Without this, an Application Administrator
//!    would add a password to an Owner's application and sign in as it, and a Groups
//!    Administrator would join a group that holds Owner. A Global Administrator passes, as
//!    in Entra, where it can elevate itself to manage all access anyway; a principal the
//!    caller is (or belongs to) is never more privileged than the caller.
//!
//! Assignments are cached in memory and refreshed when the store's counter moves, as the RBAC
//! index is, so every replica decides alike within a second.

use super::roles::{
    DIRECTORY_ROOT, DirectoryRole, DirectoryRoleAssignment, GLOBAL_ADMINISTRATOR, actions,
    built_in_directory_roles,
};
use super::{
    DirectoryError, DirectoryObject, DirectoryRoleRepository, DirectoryService,
    DirectoryWriteError, Group, NewSecret, ServicePrincipal, User,
};
use crate::authorization::{AccessKind, AssignmentFilter, RbacService};
use crate::clock::Clock;
use crate::store::StoreError;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use uuid::Uuid;

/// What a caller without the needed directory role is told (Graph's words).
const INSUFFICIENT: &str = "Insufficient privileges to complete the operation.";

/// The ARM action whose holder may hand out (so may also reach) ARM access at a scope.
const ROLE_ASSIGNMENTS_WRITE: &str = "Microsoft.Authorization/roleAssignments/write";

/// The `$filter` forms of the directory role assignment list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoleAssignmentFilter {
    /// `principalId eq '...'`.
    pub principal_id: Option<Uuid>,
    /// `roleDefinitionId eq '...'`.
    pub role_definition_id: Option<Uuid>,
}

#[derive(Debug, Default)]
struct Snapshot {
    version: Option<i64>,
    assignments: Vec<DirectoryRoleAssignment>,
}

/// Directory writes behind directory roles, and directory role assignments.
#[derive(Clone)]
pub struct DirectoryAdmin {
    directory: DirectoryService,
    rbac: RbacService,
    repo: Arc<dyn DirectoryRoleRepository>,
    clock: Arc<dyn Clock>,
    roles: Arc<Vec<DirectoryRole>>,
    snapshot: Arc<RwLock<Snapshot>>,
}

impl DirectoryAdmin {
    /// Builds the service; call [`Self::refresh`] before the first decision.
    #[must_use]
    pub fn new(
        directory: DirectoryService,
        rbac: RbacService,
        repo: Arc<dyn DirectoryRoleRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            directory,
            rbac,
            repo,
            clock,
            roles: Arc::new(built_in_directory_roles()),
            snapshot: Arc::default(),
        }
    }

    /// Reloads the assignments when the store's counter moved (a write through another
    /// replica). Returns whether it did.
    ///
    /// # Errors
    /// `Store`.
    pub async fn refresh(&self) -> Result<bool, DirectoryError> {
        let version = self.repo.role_assignments_version().await?;
        if self
            .snapshot
            .read()
            .is_ok_and(|s| s.version == Some(version))
        {
            return Ok(false);
        }
        let assignments = self.repo.role_assignments().await?;
        let mut snapshot = self
            .snapshot
            .write()
            .map_err(|_| StoreError("directory role lock poisoned".to_owned()))?;
        *snapshot = Snapshot {
            version: Some(version),
            assignments,
        };
        Ok(true)
    }

    fn assignments(&self) -> Vec<DirectoryRoleAssignment> {
        self.snapshot
            .read()
            .map(|s| s.assignments.clone())
            .unwrap_or_default()
    }

    /// The directory roles any of `principals` holds.
    fn held_by(&self, principals: &[Uuid]) -> HashSet<Uuid> {
        self.snapshot
            .read()
            .map(|s| {
                s.assignments
                    .iter()
                    .filter(|a| principals.contains(&a.principal_id))
                    .map(|a| a.role_definition_id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Refuses unless `caller` (a principal and its groups) holds a directory role granting
    /// `action`.
    ///
    /// # Errors
    /// `Forbidden`.
    pub fn authorize(&self, caller: &[Uuid], action: &str) -> Result<(), DirectoryError> {
        let held = self.held_by(caller);
        if self
            .roles
            .iter()
            .any(|r| held.contains(&r.id) && r.grants(action))
        {
            Ok(())
        } else {
            Err(DirectoryError::Forbidden(INSUFFICIENT.to_owned()))
        }
    }

    /// Refuses when `target` is more privileged than `caller` (rule 2 of the module).
    ///
    /// # Errors
    /// `Forbidden`, `Store`.
    async fn may_manage(&self, caller: &[Uuid], target: Uuid) -> Result<(), DirectoryError> {
        let held = self.held_by(caller);
        if held.contains(&GLOBAL_ADMINISTRATOR) || caller.contains(&target) {
            return Ok(());
        }
        let refused = |why: String| {
            Err(DirectoryError::Forbidden(format!(
                "{INSUFFICIENT} The object {target} {why}, which the caller could not grant."
            )))
        };
        let arm = self
            .rbac
            .list_assignments(
                DIRECTORY_ROOT,
                &AssignmentFilter {
                    assigned_to: Some(target),
                    ..AssignmentFilter::default()
                },
            )
            .await
            .map_err(|e| StoreError(e.to_string()))?;
        // The scope stays out of the message: the caller may not be allowed to read it.
        if arm.iter().any(|a| {
            !self.rbac.is_allowed(
                caller,
                ROLE_ASSIGNMENTS_WRITE,
                AccessKind::Control,
                &a.scope,
            )
        }) {
            return refused("holds ARM access (itself or through a group)".to_owned());
        }
        let mut holders = self.directory.member_groups(target).await?;
        holders.push(target);
        if let Some(role) = self.held_by(&holders).iter().find(|r| !held.contains(r)) {
            let name = self
                .roles
                .iter()
                .find(|d| d.id == *role)
                .map_or("a directory role", |d| d.display_name);
            return refused(format!("holds the directory role {name}"));
        }
        Ok(())
    }

    /// Creates a user (`microsoft.directory/users/create`).
    ///
    /// # Errors
    /// `Forbidden`, and those of [`DirectoryService::create_user`].
    pub async fn create_user(
        &self,
        caller: &[Uuid],
        upn: &str,
        display_name: &str,
        password: &str,
    ) -> Result<User, DirectoryError> {
        self.authorize(caller, actions::USERS_CREATE)?;
        self.directory
            .create_user(upn, display_name, password)
            .await
    }

    /// Creates an application with its service principal
    /// (`microsoft.directory/applications/create`).
    ///
    /// # Errors
    /// `Forbidden`, and those of [`DirectoryService::create_service_principal`].
    pub async fn create_application(
        &self,
        caller: &[Uuid],
        display_name: &str,
    ) -> Result<ServicePrincipal, DirectoryError> {
        self.authorize(caller, actions::APPLICATIONS_CREATE)?;
        Ok(self
            .directory
            .create_service_principal(display_name, None)
            .await?
            .0)
    }

    /// Creates a group (`microsoft.directory/groups/create`).
    ///
    /// # Errors
    /// `Forbidden`, and those of [`DirectoryService::create_group`].
    pub async fn create_group(
        &self,
        caller: &[Uuid],
        display_name: &str,
        mail_nickname: &str,
        description: Option<&str>,
    ) -> Result<Group, DirectoryError> {
        self.authorize(caller, actions::GROUPS_CREATE)?;
        self.directory
            .create_group(display_name, mail_nickname, description)
            .await
    }

    /// Adds a password to a service principal (found by any of its ids or names), unless it
    /// is more privileged than the caller (`microsoft.directory/applications/credentials/update`).
    /// It lasts until `end`, rounded up to whole years (one year without an end, as in Graph).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Invalid`, `Store`.
    pub async fn add_password(
        &self,
        caller: &[Uuid],
        service_principal: &str,
        label: Option<&str>,
        end: Option<time::OffsetDateTime>,
    ) -> Result<NewSecret, DirectoryError> {
        self.authorize(caller, actions::APPLICATIONS_CREDENTIALS)?;
        let sp = self.directory.service_principal(service_principal).await?;
        self.may_manage(caller, sp.object_id).await?;
        let years = self.directory.years_until(end);
        self.directory
            .add_password(&sp.object_id.to_string(), label, years)
            .await
    }

    /// Removes a password, on the same terms as [`Self::add_password`].
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Store`.
    pub async fn remove_password(
        &self,
        caller: &[Uuid],
        service_principal: &str,
        key_id: Uuid,
    ) -> Result<(), DirectoryError> {
        self.authorize(caller, actions::APPLICATIONS_CREDENTIALS)?;
        let sp = self.directory.service_principal(service_principal).await?;
        self.may_manage(caller, sp.object_id).await?;
        self.directory
            .remove_password(&sp.object_id.to_string(), key_id)
            .await
    }

    /// Adds a member to a group, unless the group (or a group containing it) is more
    /// privileged than the caller (`microsoft.directory/groups/members/update`).
    ///
    /// # Errors
    /// `Forbidden`, and those of [`DirectoryService::add_member`].
    pub async fn add_member(
        &self,
        caller: &[Uuid],
        group: Uuid,
        member: Uuid,
    ) -> Result<(), DirectoryError> {
        self.authorize(caller, actions::GROUPS_MEMBERS)?;
        self.group(group).await?;
        self.may_manage(caller, group).await?;
        self.directory.add_member(group, member).await
    }

    /// Removes a member from a group, on the same terms as [`Self::add_member`].
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Store`.
    pub async fn remove_member(
        &self,
        caller: &[Uuid],
        group: Uuid,
        member: Uuid,
    ) -> Result<(), DirectoryError> {
        self.authorize(caller, actions::GROUPS_MEMBERS)?;
        self.may_manage(caller, group).await?;
        self.directory.remove_member(group, member).await
    }

    async fn group(&self, id: Uuid) -> Result<Group, DirectoryError> {
        self.directory
            .get_by_ids(&[id])
            .await?
            .into_iter()
            .find_map(|o| match o {
                DirectoryObject::Group(g) if g.object_id == id => Some(g),
                _ => None,
            })
            .ok_or_else(|| DirectoryError::NotFound(id.to_string()))
    }

    /// Deletes a user, service principal or group with its role assignments (ARM and
    /// directory), if the caller holds a role granting `action` (one of
    /// [`actions`]'s deletes) and the object is not more privileged than the caller.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Store`.
    pub async fn delete(
        &self,
        caller: &[Uuid],
        action: &str,
        id: Uuid,
    ) -> Result<(), DirectoryError> {
        self.authorize(caller, action)?;
        self.may_manage(caller, id).await?;
        self.directory.delete(id).await?;
        self.rbac
            .forget_principal(id)
            .await
            .map_err(|e| StoreError(e.to_string()))?;
        self.repo.delete_role_assignments_of(id).await?;
        self.refresh().await?;
        Ok(())
    }

    /// The built-in directory roles.
    #[must_use]
    pub fn role_definitions(&self) -> Vec<DirectoryRole> {
        self.roles.as_ref().clone()
    }

    /// One directory role by id (its template id).
    ///
    /// # Errors
    /// `NotFound`.
    pub fn role_definition(&self, id: &str) -> Result<DirectoryRole, DirectoryError> {
        Uuid::parse_str(id)
            .ok()
            .and_then(|id| self.roles.iter().find(|r| r.id == id).cloned())
            .ok_or_else(|| DirectoryError::NotFound(id.to_owned()))
    }

    /// The directory role assignments, narrowed by `filter`, oldest first.
    #[must_use]
    pub fn role_assignments(&self, filter: RoleAssignmentFilter) -> Vec<DirectoryRoleAssignment> {
        let mut found: Vec<_> = self
            .assignments()
            .into_iter()
            .filter(|a| filter.principal_id.is_none_or(|p| p == a.principal_id))
            .filter(|a| {
                filter
                    .role_definition_id
                    .is_none_or(|r| r == a.role_definition_id)
            })
            .collect();
        found.sort_by_key(|a| (a.created_on, a.id));
        found
    }

    /// One directory role assignment.
    ///
    /// # Errors
    /// `NotFound`.
    pub fn role_assignment(&self, id: &str) -> Result<DirectoryRoleAssignment, DirectoryError> {
        Uuid::parse_str(id)
            .ok()
            .and_then(|id| self.assignments().into_iter().find(|a| a.id == id))
            .ok_or_else(|| DirectoryError::NotFound(id.to_owned()))
    }

    /// Gives a user or service principal a directory role, tenant-wide
    /// (`microsoft.directory/roleAssignments/allProperties/allTasks`: Privileged Role
    /// Administrator or Global Administrator).
    ///
    /// # Errors
    /// `Forbidden`; `Invalid` for another scope than `/`, an unknown role or a group;
    /// `NotFound` for an unknown principal; `Conflict` when it holds the role already.
    pub async fn assign_role(
        &self,
        caller: &[Uuid],
        principal_id: &str,
        role_definition_id: &str,
        directory_scope_id: &str,
    ) -> Result<DirectoryRoleAssignment, DirectoryError> {
        self.authorize(caller, actions::ROLE_ASSIGNMENTS)?;
        if directory_scope_id != DIRECTORY_ROOT {
            return Err(DirectoryError::Invalid {
                target: "directoryScopeId",
                message: format!(
                    "The directory scope '{directory_scope_id}' is not supported: use '/'."
                ),
            });
        }
        let role =
            self.role_definition(role_definition_id)
                .map_err(|_| DirectoryError::Invalid {
                    target: "roleDefinitionId",
                    message: format!(
                        "The role definition '{role_definition_id}' is not a directory role."
                    ),
                })?;
        let principal = Uuid::parse_str(principal_id)
            .map_err(|_| DirectoryError::NotFound(principal_id.to_owned()))?;
        match self
            .directory
            .get_by_ids(&[principal])
            .await?
            .into_iter()
            .find(|o| o.object_id() == principal)
        {
            Some(DirectoryObject::User(_) | DirectoryObject::ServicePrincipal(_)) => {}
            Some(DirectoryObject::Group(_)) => {
                return Err(DirectoryError::Invalid {
                    target: "principalId",
                    message: "Directory roles are assigned to users and service principals; Berth has no role-assignable groups.".to_owned(),
                });
            }
            None => return Err(DirectoryError::NotFound(principal_id.to_owned())),
        }
        let assignment = self.insert(principal, role.id).await?;
        Ok(assignment)
    }

    async fn insert(
        &self,
        principal: Uuid,
        role: Uuid,
    ) -> Result<DirectoryRoleAssignment, DirectoryError> {
        let assignment = DirectoryRoleAssignment {
            id: Uuid::new_v4(),
            principal_id: principal,
            role_definition_id: role,
            directory_scope_id: DIRECTORY_ROOT.to_owned(),
            created_on: self.clock.now(),
        };
        self.repo
            .insert_role_assignment(&assignment)
            .await
            .map_err(|e| match e {
                DirectoryWriteError::Conflict => DirectoryError::Conflict(format!(
                    "The principal {principal} holds the directory role {role} already."
                )),
                DirectoryWriteError::NotFound => DirectoryError::NotFound(principal.to_string()),
                DirectoryWriteError::Store(s) => DirectoryError::Store(s),
            })?;
        self.refresh().await?;
        Ok(assignment)
    }

    /// Removes a directory role assignment (same role as [`Self::assign_role`] needs).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Store`.
    pub async fn unassign_role(&self, caller: &[Uuid], id: &str) -> Result<(), DirectoryError> {
        self.authorize(caller, actions::ROLE_ASSIGNMENTS)?;
        let found = self.role_assignment(id)?;
        if !self.repo.delete_role_assignment(found.id).await? {
            return Err(DirectoryError::NotFound(id.to_owned()));
        }
        self.refresh().await?;
        Ok(())
    }

    /// Keeps the deployment administrable: when nobody holds any directory role (a first
    /// start, or a deployment made before directory roles existed), makes the bootstrap owner
    /// Global Administrator. The bootstrap owner is the service principal of
    /// `bootstrap_app_id` when it exists, else whoever holds ARM's Owner at `/` by an
    /// assignment start-up made (one with no creator). Returns who got the role (empty when
    /// nothing was done).
    ///
    /// # Errors
    /// `Store`.
    pub async fn ensure_global_administrator(
        &self,
        bootstrap_app_id: Option<Uuid>,
    ) -> Result<Vec<Uuid>, DirectoryError> {
        self.refresh().await?;
        if !self.assignments().is_empty() {
            return Ok(Vec::new());
        }
        let configured = match bootstrap_app_id {
            Some(app_id) => self
                .directory
                .find_service_principal(&app_id.to_string())
                .await?
                .map(|sp| sp.object_id),
            None => None,
        };
        let owners = match configured {
            Some(id) => vec![id],
            None => {
                let owner = crate::authorization::built_in_roles()
                    .into_iter()
                    .find(|r| r.name == "Owner")
                    .map(|r| r.id);
                let mut ids: Vec<Uuid> = self
                    .rbac
                    .list_assignments(
                        DIRECTORY_ROOT,
                        &AssignmentFilter {
                            at_scope: true,
                            ..AssignmentFilter::default()
                        },
                    )
                    .await
                    .map_err(|e| StoreError(e.to_string()))?
                    .into_iter()
                    .filter(|a| {
                        Some(a.role_definition_id) == owner
                            && a.created_by.is_none()
                            && a.scope.as_str() == DIRECTORY_ROOT
                    })
                    .map(|a| a.principal_id)
                    .collect();
                ids.dedup();
                ids
            }
        };
        let mut granted = Vec::new();
        for id in owners {
            match self.insert(id, GLOBAL_ADMINISTRATOR).await {
                // Another replica starting at the same time made it.
                Ok(_) | Err(DirectoryError::Conflict(_)) => granted.push(id),
                Err(e) => return Err(e),
            }
        }
        self.refresh().await?;
        Ok(granted)
    }
}
