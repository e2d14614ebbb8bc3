//! The in-memory authorization index: principal > scope > roles. A decision walks the
//! requested scope and its ancestors (at most five levels) with hash lookups, so its cost
//! does not grow with the number of role assignments.

use super::condition::{Condition, ConditionError, RequestAttributes};
use super::{AccessKind, RoleAssignment, RoleDefinition, Scope};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// What limits an assignment's data actions.
#[derive(Debug, Clone)]
enum Guard {
    /// Nothing: the role's data actions are granted.
    None,
    /// They are granted where the condition holds.
    Condition(Arc<Condition>),
    /// A stored condition that cannot be read: its data actions are granted nowhere.
    Unreadable,
}

/// Role assignments and role definitions, indexed for decisions.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationIndex {
    roles: HashMap<Uuid, Arc<RoleDefinition>>,
    by_principal: HashMap<Uuid, HashMap<String, Vec<(Uuid, Guard)>>>,
    /// Assignments (by name) whose stored condition cannot be read, and why.
    unreadable: HashMap<Uuid, ConditionError>,
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
            unreadable: HashMap::new(),
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

    /// Adds an assignment. One whose stored condition cannot be read (written before the
    /// condition limits, or by hand) grants no data action, and is reported by
    /// [`Self::unreadable_conditions`].
    pub fn add(&mut self, assignment: &RoleAssignment) {
        let guard = match assignment.condition.as_deref().map(Condition::parse) {
            None => Guard::None,
            Some(Ok(condition)) => Guard::Condition(Arc::new(condition)),
            Some(Err(why)) => {
                self.unreadable.insert(assignment.name, why);
                Guard::Unreadable
            }
        };
        let roles = self
            .by_principal
            .entry(assignment.principal_id)
            .or_default()
            .entry(assignment.scope.key().to_owned())
            .or_default();
        if !roles
            .iter()
            .any(|(r, _)| *r == assignment.role_definition_id)
        {
            roles.push((assignment.role_definition_id, guard));
        }
    }

    /// Removes an assignment.
    pub fn remove(&mut self, assignment: &RoleAssignment) {
        self.unreadable.remove(&assignment.name);
        if let Some(scopes) = self.by_principal.get_mut(&assignment.principal_id) {
            if let Some(roles) = scopes.get_mut(assignment.scope.key()) {
                roles.retain(|(r, _)| *r != assignment.role_definition_id);
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
    /// granting `action` at `scope` or above it, for a request with no attributes.
    #[must_use]
    pub fn is_allowed(
        &self,
        principals: &[Uuid],
        action: &str,
        kind: AccessKind,
        scope: &Scope,
    ) -> bool {
        self.is_allowed_for(
            principals,
            action,
            kind,
            scope,
            &RequestAttributes::default(),
        )
    }

    /// Whether any of `principals` (a caller and the groups it belongs to) holds a role
    /// granting `action` at `scope` or above it. A data action of an assignment with a
    /// condition is granted only where the condition holds for `request`; conditions do not
    /// limit control actions, as in Azure.
    #[must_use]
    pub fn is_allowed_for(
        &self,
        principals: &[Uuid],
        action: &str,
        kind: AccessKind,
        scope: &Scope,
        request: &RequestAttributes<'_>,
    ) -> bool {
        principals
            .iter()
            .filter_map(|p| self.by_principal.get(p))
            .any(|scopes| {
                scope
                    .self_and_ancestor_keys()
                    .filter_map(|key| scopes.get(key))
                    .flatten()
                    .any(|(role, guard)| {
                        self.roles.get(role).is_some_and(|r| r.grants(action, kind))
                            && (kind == AccessKind::Control
                                || match guard {
                                    Guard::None => true,
                                    Guard::Condition(c) => c.holds(action, request),
                                    Guard::Unreadable => false,
                                })
                    })
            })
    }

    /// The assignments (by name) whose condition cannot be read, and why: they grant no data
    /// action until they are deleted or rewritten.
    pub fn unreadable_conditions(&self) -> impl Iterator<Item = (&Uuid, &ConditionError)> {
        self.unreadable.iter()
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
