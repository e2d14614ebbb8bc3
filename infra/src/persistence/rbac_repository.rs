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
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
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
        assignable_scopes: scopes
            .iter()
            .map(|s| Scope::parse(s).map_err(|e| corrupt("scope", e)))
            .collect::<Result<_, _>>()?,
    })
}

fn assignment_from_row(row: role_assignment::Model) -> Result<RoleAssignment, StoreError> {
    Ok(RoleAssignment {
        name: uuid(&row.name)?,
        scope: Scope::parse(&row.scope).map_err(|e| corrupt("scope", e))?,
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
    async fn put_custom_role(&self, role: &RoleDefinition) -> Result<(), RbacWriteError> {
        let permissions =
            serde_json::to_string(&role.permissions).map_err(|e| StoreError(e.to_string()))?;
        let scopes: Vec<&str> = role.assignable_scopes.iter().map(Scope::as_str).collect();
        let scopes = serde_json::to_string(&scopes).map_err(|e| StoreError(e.to_string()))?;
        let txn = self.db.writer().begin().await.map_err(store_error)?;
        let taken = role_definition::Entity::find()
            .filter(role_definition::Column::RoleNameKey.eq(role.name.to_lowercase()))
            .filter(role_definition::Column::Id.ne(role.id.to_string()))
            .count(&txn)
            .await
            .map_err(store_error)?;
        if taken > 0 {
            return Err(RbacWriteError::RoleNameTaken);
        }
        role_definition::Entity::delete_by_id(role.id.to_string())
            .exec(&txn)
            .await
            .map_err(store_error)?;
        let row = role_definition::ActiveModel {
            id: Set(role.id.to_string()),
            role_name: Set(role.name.clone()),
            role_name_key: Set(role.name.to_lowercase()),
            description: Set(role.description.clone()),
            permissions: Set(permissions),
            assignable_scopes: Set(scopes),
        };
        role_definition::Entity::insert(row)
            .exec(&txn)
            .await
            .map_err(store_error)?;
        bump_counter(&txn, COUNTER).await?;
        txn.commit().await.map_err(store_error)?;
        Ok(())
    }

    #[instrument(skip_all, err, fields(role.id = %id))]
    async fn delete_custom_role(&self, id: Uuid) -> Result<bool, RbacWriteError> {
        let txn = self.db.writer().begin().await.map_err(store_error)?;
        let assigned = role_assignment::Entity::find()
            .filter(role_assignment::Column::RoleDefinitionId.eq(id.to_string()))
            .count(&txn)
            .await
            .map_err(store_error)?;
        if assigned > 0 {
            return Err(RbacWriteError::RoleAssigned);
        }
        let deleted = role_definition::Entity::delete_by_id(id.to_string())
            .exec(&txn)
            .await
            .map_err(store_error)?;
        bump_counter(&txn, COUNTER).await?;
        txn.commit().await.map_err(store_error)?;
        Ok(deleted.rows_affected == 1)
    }

    async fn assignments(&self) -> Result<Vec<RoleAssignment>, StoreError> {
        role_assignment::Entity::find()
            .all(self.db.reader())
            .await
            .map_err(store_error)?
            .into_iter()
            .map(assignment_from_row)
            .collect()
    }

    #[instrument(skip_all, err, fields(assignment.name = %a.name))]
    async fn insert_assignment(&self, a: &RoleAssignment) -> Result<(), RbacWriteError> {
        let txn = self.db.writer().begin().await.map_err(store_error)?;
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
        txn.commit().await.map_err(store_error)?;
        Ok(())
    }

    #[instrument(skip_all, err, fields(assignment.name = %name))]
    async fn delete_assignment(&self, name: Uuid) -> Result<Option<RoleAssignment>, StoreError> {
        let txn = self.db.writer().begin().await.map_err(store_error)?;
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
        txn.commit().await.map_err(store_error)?;
        assignment_from_row(row).map(Some)
    }

    #[instrument(skip_all, err, fields(principal.id = %principal))]
    async fn delete_assignments_of(&self, principal: Uuid) -> Result<u64, StoreError> {
        let txn = self.db.writer().begin().await.map_err(store_error)?;
        let deleted = role_assignment::Entity::delete_many()
            .filter(role_assignment::Column::PrincipalId.eq(principal.to_string()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        bump_counter(&txn, COUNTER).await?;
        txn.commit().await.map_err(store_error)?;
        Ok(deleted.rows_affected)
    }

    async fn version(&self) -> Result<i64, StoreError> {
        read_counter(self.db.reader(), COUNTER).await
    }
}
