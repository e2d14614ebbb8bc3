//! The catalog of trusted collections in SQL.

use super::entities::trusted_collection;
use super::{Database, millis, store_error};
use async_trait::async_trait;
use berth_domain::arm::RegistryId;
use berth_domain::store::StoreError;
use berth_domain::trust::TrustedCollectionCatalog;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

/// The catalog of trusted collections in SQL.
#[derive(Debug, Clone)]
pub struct SeaOrmTrustedCollectionCatalog {
    db: Database,
}

impl SeaOrmTrustedCollectionCatalog {
    /// Builds the catalog.
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl TrustedCollectionCatalog for SeaOrmTrustedCollectionCatalog {
    async fn record(&self, registry: &RegistryId, gun: &str) -> Result<(), StoreError> {
        let row = trusted_collection::ActiveModel {
            registry_key: Set(registry.key()),
            gun: Set(gun.to_lowercase()),
            created_at: Set(millis(time::OffsetDateTime::now_utc())),
        };
        match trusted_collection::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    trusted_collection::Column::RegistryKey,
                    trusted_collection::Column::Gun,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec(self.db.writer())
            .await
        {
            Ok(_) | Err(DbErr::RecordNotInserted) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    async fn list(&self, registry: &RegistryId) -> Result<Vec<String>, StoreError> {
        Ok(trusted_collection::Entity::find()
            .filter(trusted_collection::Column::RegistryKey.eq(registry.key()))
            .order_by_asc(trusted_collection::Column::Gun)
            .all(self.db.reader())
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|row| row.gun)
            .collect())
    }

    async fn forget(&self, registry: &RegistryId, gun: &str) -> Result<(), StoreError> {
        trusted_collection::Entity::delete_by_id((registry.key(), gun.to_lowercase()))
            .exec(self.db.writer())
            .await
            .map(|_| ())
            .map_err(store_error)
    }
}
