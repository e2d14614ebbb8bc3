//! The in-memory authorization index: principal > scope > roles. A decision walks the
//! requested scope and its ancestors (at most five levels) with hash lookups, so its cost
//! does not grow with the number of role assignments.

use super::{AccessKind, RoleAssignment, RoleDefinition, Scope};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Role assignments and role definitions, indexed for decisions.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationIndex {
    roles: HashMap<Uuid, Arc<RoleDefinition>>,
    by_principal: HashMap<Uuid, HashMap<String, Vec<Uuid>>>,
}

impl AuthorizationIndex {
    /// Builds the index.
    pub fn build<'a>(
        roles: impl IntoIterator<Item = RoleDefinition>,
        assignments: impl IntoIterator<Item = &'a RoleAssignment>,
    ) -> Self {
        let mut index = Self {
            roles: roles.into_iter().map(|r| (r.id, Arc::new(r))).collect(),
            by_principal: HashMap::new(),
        };
        for assignment in assignments {
            index.add(assignment);
        }
        index
    }

    /// Adds (or replaces) a role definition.
    pub fn put_role(&mut self, role: RoleDefinition) {
        self.roles.insert(role.id, Arc::new(role));
    }

    /// Removes a role definition (its assignments then grant nothing).
    pub fn remove_role(&mut self, id: Uuid) {
        self.roles.remove(&id);
    }

    /// Adds an assignment.
    pub fn add(&mut self, assignment: &RoleAssignment) {
        let roles = self
            .by_principal
            .entry(assignment.principal_id)
            .or_default()
            .entry(assignment.scope.key().to_owned())
            .or_default();
        if !roles.contains(&assignment.role_definition_id) {
            roles.push(assignment.role_definition_id);
        }
    }

    /// Removes an assignment.
    pub fn remove(&mut self, assignment: &RoleAssignment) {
        if let Some(scopes) = self.by_principal.get_mut(&assignment.principal_id) {
            if let Some(roles) = scopes.get_mut(assignment.scope.key()) {
                roles.retain(|r| *r != assignment.role_definition_id);
                if roles.is_empty() {
                    scopes.remove(assignment.scope.key());
                }
            }
            if scopes.is_empty() {
                self.by_principal.remove(&assignment.principal_id);
            }
        }
    }

    /// Whether any of `principals` (a caller and the groups it belongs to) holds a role
    /// granting `action` at `scope` or above it.
    #[must_use]
    pub fn is_allowed(
        &self,
        principals: &[Uuid],
        action: &str,
        kind: AccessKind,
        scope: &Scope,
    ) -> bool {
        principals
            .iter()
            .filter_map(|p| self.by_principal.get(p))
            .any(|scopes| {
                scope
                    .self_and_ancestor_keys()
                    .filter_map(|key| scopes.get(key))
                    .flatten()
                    .any(|role| self.roles.get(role).is_some_and(|r| r.grants(action, kind)))
            })
    }

    /// How many assignments the index holds.
    #[must_use]
    pub fn assignment_count(&self) -> usize {
        self.by_principal
            .values()
            .flat_map(HashMap::values)
            .map(Vec::len)
            .sum()
    }
}
