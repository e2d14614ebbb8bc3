//! Directory role assignments in SQL, and the migration that makes their table. A table of
//! their own (not ARM's `role_assignments` with a kind column): every ARM listing, PUT and
//! the RBAC index read that table whole, and a directory role must never show up there or be
//! taken for an ARM role. Every write advances the `directory_roles` change counter in the
//! same transaction, so replicas notice it.

use super::entities::directory_role::role_assignment;
use super::{Database, bump_counter, from_millis, millis, read_counter, store_error};
use async_trait::async_trait;
use berth_domain::directory::{
    DirectoryRoleAssignment, DirectoryRoleRepository, DirectoryWriteError,
};
use berth_domain::store::StoreError;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, SqlErr};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string};
use tracing::instrument;
use uuid::Uuid;

const COUNTER: &str = "directory_roles";

/// Directory role assignments in SQL.
#[derive(Debug, Clone)]
pub struct SeaOrmDirectoryRoleRepository {
    db: Database,
}

impl SeaOrmDirectoryRoleRepository {
    /// Builds the repository.
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|e| {
        StoreError(format!(
            "stored directory role id '{text}' cannot be read: {e}"
        ))
    })
}

fn from_row(row: role_assignment::Model) -> Result<DirectoryRoleAssignment, StoreError> {
    Ok(DirectoryRoleAssignment {
        id: uuid(&row.id)?,
        principal_id: uuid(&row.principal_id)?,
        role_definition_id: uuid(&row.role_definition_id)?,
        directory_scope_id: row.directory_scope_id,
        created_on: from_millis(row.created_on)?,
    })
}

fn write_error(e: DbErr) -> DirectoryWriteError {
    if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        DirectoryWriteError::Conflict
    } else {
        DirectoryWriteError::Store(store_error(e))
    }
}

#[async_trait]
impl DirectoryRoleRepository for SeaOrmDirectoryRoleRepository {
    async fn role_assignments(&self) -> Result<Vec<DirectoryRoleAssignment>, StoreError> {
        role_assignment::Entity::find()
            .all(self.db.reader())
            .await
            .map_err(store_error)?
            .into_iter()
            .map(from_row)
            .collect()
    }

    #[instrument(skip_all, err, fields(assignment.id = %a.id, principal.id = %a.principal_id))]
    async fn insert_role_assignment(
        &self,
        a: &DirectoryRoleAssignment,
    ) -> Result<(), DirectoryWriteError> {
        let txn = self.db.begin_write().await?;
        let row = role_assignment::ActiveModel {
            id: Set(a.id.to_string()),
            principal_id: Set(a.principal_id.to_string()),
            role_definition_id: Set(a.role_definition_id.to_string()),
            directory_scope_id: Set(a.directory_scope_id.clone()),
            created_on: Set(millis(a.created_on)),
        };
        role_assignment::Entity::insert(row)
            .exec(&txn)
            .await
            .map_err(write_error)?;
        bump_counter(&txn, COUNTER).await?;
        txn.commit().await?;
        Ok(())
    }

    #[instrument(skip_all, err, fields(assignment.id = %id))]
    async fn delete_role_assignment(&self, id: Uuid) -> Result<bool, StoreError> {
        let txn = self.db.begin_write().await?;
        let deleted = role_assignment::Entity::delete_by_id(id.to_string())
            .exec(&txn)
            .await
            .map_err(store_error)?;
        bump_counter(&txn, COUNTER).await?;
        txn.commit().await?;
        Ok(deleted.rows_affected == 1)
    }

    #[instrument(skip_all, err, fields(principal.id = %principal))]
    async fn delete_role_assignments_of(&self, principal: Uuid) -> Result<u64, StoreError> {
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

    async fn role_assignments_version(&self) -> Result<i64, StoreError> {
        read_counter(self.db.reader(), COUNTER).await
    }
}

/// Directory role assignments and their change counter.
pub(crate) struct MDirectoryRoles;

impl MigrationName for MDirectoryRoles {
    fn name(&self) -> &str {
        "m0015_directory_roles"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for MDirectoryRoles {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("directory_role_assignments")
                .col(string("id").primary_key())
                .col(string("principal_id"))
                .col(string("role_definition_id"))
                .col(string("directory_scope_id"))
                .col(big_integer("created_on"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_directory_role_assignments_triple")
                .table("directory_role_assignments")
                .col("principal_id")
                .col("role_definition_id")
                .col("directory_scope_id")
                .unique()
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table("change_counters")
                .columns(["name", "value"])
                .values_panic([COUNTER.into(), 0.into()])
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.exec_stmt(
            Query::delete()
                .from_table("change_counters")
                .and_where(Expr::col("name").eq(COUNTER))
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table("directory_role_assignments").to_owned())
            .await
    }
}
