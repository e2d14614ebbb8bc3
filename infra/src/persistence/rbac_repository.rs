//! Custom role definitions and role assignments in SQL. Every write advances the `rbac`
//! change counter in the same transaction, so replicas notice it.

use super::entities::rbac::{role_assignment, role_definition};
use super::{Database, bump_counter, from_millis, millis, read_counter, store_error};
use async_trait::async_trait;
use berth_domain::authorization::{
    Permission, PrincipalType, RbacRepository, RbacWriteError, RoleAssignment, RoleDefinition,
    RoleKind, Scope,
};
use berth_domain::store::StoreError;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tracing::instrument;
use uuid::Uuid;

const COUNTER: &str = "rbac";

/// Role definitions and assignments in SQL.
#[derive(Debug, Clone)]
pub struct SeaOrmRbacRepository {
    db: Database,
}

impl SeaOrmRbacRepository {
    /// Builds the repository.
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("stored {what} cannot be read: {e}"))
}

fn uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|e| corrupt("id", e))
}

fn role_from_row(row: role_definition::Model) -> Result<RoleDefinition, StoreError> {
    let permissions: Vec<Permission> =
        serde_json::from_str(&row.permissions).map_err(|e| corrupt("permissions", e))?;
    let scopes: Vec<String> = serde_json::from_str(&row.assignable_scopes)
        .map_err(|e| corrupt("assignable scopes", e))?;
    Ok(RoleDefinition {
        id: uuid(&row.id)?,
        name: row.role_name,
        description: row.description,
        kind: RoleKind::Custom,
        permissions,
        // A scope stored before the grammar tightened (a `..` segment, say) is dropped:
        // the role is assignable at fewer scopes, never at a wrong one.
        assignable_scopes: scopes
            .iter()
            .filter_map(|s| {
                Scope::parse(s)
                    .inspect_err(|e| {
                        tracing::warn!(role.id = %row.id, error = %e, "stored assignable scope refused; the role is not assignable there");
                    })
                    .ok()
            })
            .collect(),
    })
}

/// The stored scope, parsed.
fn scope_of(row: &role_assignment::Model) -> Result<Scope, StoreError> {
    Scope::parse(&row.scope).map_err(|e| corrupt("scope", e))
}

fn assignment_from_row(
    row: role_assignment::Model,
    scope: Scope,
) -> Result<RoleAssignment, StoreError> {
    Ok(RoleAssignment {
        name: uuid(&row.name)?,
        scope,
        role_definition_id: uuid(&row.role_definition_id)?,
        role_definition_ref: row.role_definition_ref,
        principal_id: uuid(&row.principal_id)?,
        principal_type: PrincipalType::parse(&row.principal_type)
            .ok_or_else(|| corrupt("principal type", &row.principal_type))?,
        description: row.description,
        condition: row.condition,
        condition_version: row.condition_version,
        created_by: row.created_by.as_deref().map(uuid).transpose()?,
        created_on: from_millis(row.created_on)?,
    })
}

/// The assignable scopes as stored: a JSON array of the scopes' texts.
fn scopes_json(role: &RoleDefinition) -> Result<String, StoreError> {
    let scopes: Vec<&str> = role.assignable_scopes.iter().map(Scope::as_str).collect();
    serde_json::to_string(&scopes).map_err(|e| StoreError(e.to_string()))
}

/// Whether the stored role `role.id` has `role`'s assignable scopes; `None` when it is gone.
/// Read inside the writing transaction, so that the write acts on what was authorized.
async fn stored_as(
    txn: &impl ConnectionTrait,
    role: &RoleDefinition,
) -> Result<Option<bool>, StoreError> {
    let stored = role_definition::Entity::find_by_id(role.id.to_string())
        .one(txn)
        .await
        .map_err(store_error)?;
    Ok(stored.map(|row| {
        serde_json::from_str::<Vec<String>>(&row.assignable_scopes).is_ok_and(|stored| {
            stored.len() == role.assignable_scopes.len()
                && stored
                    .iter()
                    .zip(&role.assignable_scopes)
                    .all(|(s, r)| s.eq_ignore_ascii_case(r.as_str()))
        })
    }))
}

/// Writes `role` (its id free) and advances the change counter.
async fn write_role(
    txn: &impl ConnectionTrait,
    role: &RoleDefinition,
) -> Result<(), RbacWriteError> {
    let permissions =
        serde_json::to_string(&role.permissions).map_err(|e| StoreError(e.to_string()))?;
    let taken = role_definition::Entity::find()
        .filter(role_definition::Column::RoleNameKey.eq(role.name.to_lowercase()))
        .filter(role_definition::Column::Id.ne(role.id.to_string()))
        .count(txn)
        .await
        .map_err(store_error)?;
    if taken > 0 {
        return Err(RbacWriteError::RoleNameTaken);
    }
    let row = role_definition::ActiveModel {
        id: Set(role.id.to_string()),
        role_name: Set(role.name.clone()),
        role_name_key: Set(role.name.to_lowercase()),
        description: Set(role.description.clone()),
        permissions: Set(permissions),
        assignable_scopes: Set(scopes_json(role)?),
    };
    role_definition::Entity::insert(row)
        .exec(txn)
        .await
        .map_err(store_error)?;
    bump_counter(txn, COUNTER).await?;
    Ok(())
}

#[async_trait]
impl RbacRepository for SeaOrmRbacRepository {
    async fn custom_roles(&self) -> Result<Vec<RoleDefinition>, StoreError> {
        role_definition::Entity::find()
            .all(self.db.reader())
            .await
            .map_err(store_error)?
            .into_iter()
            .map(role_from_row)
            .collect()
    }

    #[instrument(skip_all, err, fields(role.id = %role.id))]
    async fn insert_custom_role(&self, role: &RoleDefinition) -> Result<(), RbacWriteError> {
        let txn = self.db.begin_write().await?;
        if role_definition::Entity::find_by_id(role.id.to_string())
            .one(&txn)
            .await
            .map_err(store_error)?
            .is_some()
        {
            return Err(RbacWriteError::RoleChanged);
        }
        write_role(&txn, role).await?;
        txn.commit().await?;
        Ok(())
    }

    #[instrument(skip_all, err, fields(role.id = %role.id))]
    async fn replace_custom_role(
        &self,
        previous: &RoleDefinition,
        role: &RoleDefinition,
    ) -> Result<(), RbacWriteError> {
        let txn = self.db.begin_write().await?;
        if !stored_as(&txn, previous).await?.unwrap_or(false) {
            return Err(RbacWriteError::RoleChanged);
        }
        role_definition::Entity::delete_by_id(role.id.to_string())
            .exec(&txn)
            .await
            .map_err(store_error)?;
        write_role(&txn, role).await?;
        txn.commit().await?;
        Ok(())
    }

    #[instrument(skip_all, err, fields(role.id = %role.id))]
    async fn delete_custom_role(&self, role: &RoleDefinition) -> Result<bool, RbacWriteError> {
        let txn = self.db.begin_write().await?;
        match stored_as(&txn, role).await? {
            None => return Ok(false),
            Some(false) => return Err(RbacWriteError::RoleChanged),
            Some(true) => {}
        }
        let assigned = role_assignment::Entity::find()
            .filter(role_assignment::Column::RoleDefinitionId.eq(role.id.to_string()))
            .count(&txn)
            .await
            .map_err(store_error)?;
        if assigned > 0 {
            return Err(RbacWriteError::RoleAssigned);
        }
        let deleted = role_definition::Entity::delete_by_id(role.id.to_string())
            .exec(&txn)
            .await
            .map_err(store_error)?;
        bump_counter(&txn, COUNTER).await?;
        txn.commit().await?;
        Ok(deleted.rows_affected == 1)
    }

    async fn assignments(&self) -> Result<Vec<RoleAssignment>, StoreError> {
        let rows = role_assignment::Entity::find()
            .all(self.db.reader())
            .await
            .map_err(store_error)?;
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            // An assignment stored at a scope the grammar now refuses grants nothing: it is
            // left out of the index (and reported) rather than failing every start.
            let scope = match scope_of(&row) {
                Ok(scope) => scope,
                Err(e) => {
                    tracing::warn!(assignment.name = %row.name, error = %e, "stored role assignment refused: its scope is not valid; it grants nothing");
                    continue;
                }
            };
            found.push(assignment_from_row(row, scope)?);
        }
        Ok(found)
    }

    #[instrument(skip_all, err, fields(assignment.name = %a.name))]
    async fn insert_assignment(&self, a: &RoleAssignment) -> Result<(), RbacWriteError> {
        let txn = self.db.begin_write().await?;
        if role_assignment::Entity::find_by_id(a.name.to_string())
            .one(&txn)
            .await
            .map_err(store_error)?
            .is_some()
        {
            return Err(RbacWriteError::AssignmentExists(a.name));
        }
        let twin = role_assignment::Entity::find()
            .filter(role_assignment::Column::ScopeKey.eq(a.scope.key()))
            .filter(role_assignment::Column::RoleDefinitionId.eq(a.role_definition_id.to_string()))
            .filter(role_assignment::Column::PrincipalId.eq(a.principal_id.to_string()))
            .one(&txn)
            .await
            .map_err(store_error)?;
        if let Some(twin) = twin {
            return Err(RbacWriteError::AssignmentExists(uuid(&twin.name)?));
        }
        crate::activity::describe(format!(
            "Role definition {} assigned to {} {} at {}.",
            a.role_definition_id,
            a.principal_type.as_str(),
            a.principal_id,
            a.scope
        ));
        let row = role_assignment::ActiveModel {
            name: Set(a.name.to_string()),
            scope: Set(a.scope.as_str().to_owned()),
            scope_key: Set(a.scope.key().to_owned()),
            role_definition_id: Set(a.role_definition_id.to_string()),
            role_definition_ref: Set(a.role_definition_ref.clone()),
            principal_id: Set(a.principal_id.to_string()),
            principal_type: Set(a.principal_type.as_str().to_owned()),
            description: Set(a.description.clone()),
            condition: Set(a.condition.clone()),
            condition_version: Set(a.condition_version.clone()),
            created_by: Set(a.created_by.map(|c| c.to_string())),
            created_on: Set(millis(a.created_on)),
        };
        role_assignment::Entity::insert(row)
            .exec(&txn)
            .await
            .map_err(store_error)?;
        bump_counter(&txn, COUNTER).await?;
        txn.commit().await?;
        Ok(())
    }

    #[instrument(skip_all, err, fields(assignment.name = %name))]
    async fn delete_assignment(&self, name: Uuid) -> Result<Option<RoleAssignment>, StoreError> {
        let txn = self.db.begin_write().await?;
        let Some(row) = role_assignment::Entity::find_by_id(name.to_string())
            .one(&txn)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        role_assignment::Entity::delete_by_id(name.to_string())
            .exec(&txn)
            .await
            .map_err(store_error)?;
        bump_counter(&txn, COUNTER).await?;
        txn.commit().await?;
        let scope = scope_of(&row)?;
        assignment_from_row(row, scope).map(Some)
    }

    #[instrument(skip_all, err, fields(principal.id = %principal))]
    async fn delete_assignments_of(&self, principal: Uuid) -> Result<u64, StoreError> {
        let txn = self.db.begin_write().await?;
        let deleted = role_assignment::Entity::delete_many()
            .filter(role_assignment::Column::PrincipalId.eq(principal.to_string()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        bump_counter(&txn, COUNTER).await?;
        txn.commit().await?;
        Ok(deleted.rows_affected)
    }

    async fn version(&self) -> Result<i64, StoreError> {
        read_counter(self.db.reader(), COUNTER).await
    }
}
