//! Scope maps and repository-scoped tokens in SQL.

use super::entities::scope_map::{map, token};
use super::{Database, from_millis, millis, store_error};
use async_trait::async_trait;
use berth_domain::arm::RegistryId;
use berth_domain::registry::{RepositoryToken, ScopeMap, ScopeMapRepository, TokenPassword};
use berth_domain::store::StoreError;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};

/// Scope maps and tokens in SQL.
#[derive(Debug, Clone)]
pub struct SeaOrmScopeMapRepository {
    db: Database,
}

impl SeaOrmScopeMapRepository {
    /// Builds the repository.
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Serialize, Deserialize)]
struct StoredPassword {
    name: String,
    hash: String,
    created: i64,
    expiry: Option<i64>,
}

fn corrupt(what: &str, e: &dyn std::fmt::Display) -> StoreError {
    StoreError(format!("stored {what} cannot be read: {e}"))
}

fn map_from_row(row: map::Model) -> Result<ScopeMap, StoreError> {
    Ok(ScopeMap {
        name: row.name,
        description: row.description,
        system: false,
        actions: serde_json::from_str(&row.actions).map_err(|e| corrupt("scope map", &e))?,
        creation_date: from_millis(row.created_at)?,
    })
}

fn token_from_row(row: token::Model) -> Result<RepositoryToken, StoreError> {
    let stored: Vec<StoredPassword> =
        serde_json::from_str(&row.passwords).map_err(|e| corrupt("token", &e))?;
    Ok(RepositoryToken {
        name: row.name,
        scope_map: row.scope_map,
        enabled: row.enabled,
        passwords: stored
            .into_iter()
            .map(|p| {
                Ok(TokenPassword {
                    name: p.name,
                    hash: p.hash,
                    creation_time: from_millis(p.created)?,
                    expiry: p.expiry.map(from_millis).transpose()?,
                })
            })
            .collect::<Result<_, StoreError>>()?,
        creation_date: from_millis(row.created_at)?,
    })
}

#[async_trait]
impl ScopeMapRepository for SeaOrmScopeMapRepository {
    async fn scope_maps(&self, registry: &RegistryId) -> Result<Vec<ScopeMap>, StoreError> {
        map::Entity::find()
            .filter(map::Column::RegistryKey.eq(registry.key()))
            .order_by_asc(map::Column::NameKey)
            .all(self.db.reader())
            .await
            .map_err(store_error)?
            .into_iter()
            .map(map_from_row)
            .collect()
    }

    async fn put_scope_map(&self, registry: &RegistryId, m: &ScopeMap) -> Result<bool, StoreError> {
        let txn = self.db.begin_write().await?;
        let existed = map::Entity::find_by_id((registry.key(), m.name.to_lowercase()))
            .one(&txn)
            .await
            .map_err(store_error)?
            .is_some();
        let row = map::ActiveModel {
            registry_key: Set(registry.key()),
            name_key: Set(m.name.to_lowercase()),
            name: Set(m.name.clone()),
            description: Set(m.description.clone()),
            actions: Set(serde_json::to_string(&m.actions).map_err(|e| corrupt("scope map", &e))?),
            created_at: Set(millis(m.creation_date)),
        };
        map::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([map::Column::RegistryKey, map::Column::NameKey])
                    .update_columns([map::Column::Description, map::Column::Actions])
                    .to_owned(),
            )
            .exec(&txn)
            .await
            .map_err(store_error)?;
        txn.commit().await?;
        Ok(!existed)
    }

    async fn delete_scope_map(
        &self,
        registry: &RegistryId,
        name: &str,
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin_write().await?;
        let deleted = map::Entity::delete_by_id((registry.key(), name.to_lowercase()))
            .exec(&txn)
            .await
            .map_err(store_error)?
            .rows_affected
            > 0;
        txn.commit().await?;
        Ok(deleted)
    }

    async fn tokens(&self, registry: &RegistryId) -> Result<Vec<RepositoryToken>, StoreError> {
        token::Entity::find()
            .filter(token::Column::RegistryKey.eq(registry.key()))
            .order_by_asc(token::Column::NameKey)
            .all(self.db.reader())
            .await
            .map_err(store_error)?
            .into_iter()
            .map(token_from_row)
            .collect()
    }

    async fn put_token(
        &self,
        registry: &RegistryId,
        t: &RepositoryToken,
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin_write().await?;
        let existed = token::Entity::find_by_id((registry.key(), t.name.to_lowercase()))
            .one(&txn)
            .await
            .map_err(store_error)?
            .is_some();
        let passwords: Vec<StoredPassword> = t
            .passwords
            .iter()
            .map(|p| StoredPassword {
                name: p.name.clone(),
                hash: p.hash.clone(),
                created: millis(p.creation_time),
                expiry: p.expiry.map(millis),
            })
            .collect();
        let row = token::ActiveModel {
            registry_key: Set(registry.key()),
            name_key: Set(t.name.to_lowercase()),
            name: Set(t.name.clone()),
            scope_map: Set(t.scope_map.clone()),
            enabled: Set(t.enabled),
            passwords: Set(serde_json::to_string(&passwords).map_err(|e| corrupt("token", &e))?),
            created_at: Set(millis(t.creation_date)),
        };
        token::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([token::Column::RegistryKey, token::Column::NameKey])
                    .update_columns([
                        token::Column::ScopeMap,
                        token::Column::Enabled,
                        token::Column::Passwords,
                    ])
                    .to_owned(),
            )
            .exec(&txn)
            .await
            .map_err(store_error)?;
        txn.commit().await?;
        Ok(!existed)
    }

    async fn delete_token(&self, registry: &RegistryId, name: &str) -> Result<bool, StoreError> {
        let txn = self.db.begin_write().await?;
        let deleted = token::Entity::delete_by_id((registry.key(), name.to_lowercase()))
            .exec(&txn)
            .await
            .map_err(store_error)?
            .rows_affected
            > 0;
        txn.commit().await?;
        Ok(deleted)
    }
}
