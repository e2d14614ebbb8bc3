//! The catalog of trusted collections in SQL.

use super::entities::trusted_collection;
use super::{Database, from_millis, millis, store_error};
use async_trait::async_trait;
use berth_domain::arm::RegistryId;
use berth_domain::store::StoreError;
use berth_domain::trust::TrustedCollectionCatalog;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, Func, OnConflict};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use time::OffsetDateTime;

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

/// Rows written or forgotten per statement.
const BATCH: usize = 500;

#[async_trait]
impl TrustedCollectionCatalog for SeaOrmTrustedCollectionCatalog {
    async fn record(
        &self,
        registry: &RegistryId,
        gun: &str,
        push_until: Option<OffsetDateTime>,
    ) -> Result<(), StoreError> {
        let row = trusted_collection::ActiveModel {
            registry_key: Set(registry.key()),
            gun: Set(gun.to_owned()),
            created_at: Set(millis(OffsetDateTime::now_utc())),
            push_until: Set(push_until.map(millis)),
        };
        let mut conflict = OnConflict::columns([
            trusted_collection::Column::RegistryKey,
            trusted_collection::Column::Gun,
        ]);
        if push_until.is_some() {
            // The latest expiry wins; NULL (never pushed) loses to any.
            conflict.value(
                trusted_collection::Column::PushUntil,
                Expr::cust(
                    "CASE WHEN registry_trusted_collections.push_until IS NULL \
                     OR registry_trusted_collections.push_until < excluded.push_until \
                     THEN excluded.push_until ELSE registry_trusted_collections.push_until END",
                ),
            );
        } else {
            conflict.do_nothing();
        }
        match trusted_collection::Entity::insert(row)
            .on_conflict(conflict)
            .exec(self.db.writer())
            .await
        {
            Ok(_) | Err(DbErr::RecordNotInserted) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    async fn record_found(&self, registry: &RegistryId, guns: &[String]) -> Result<(), StoreError> {
        let now = millis(OffsetDateTime::now_utc());
        for batch in guns.chunks(BATCH) {
            let rows = batch.iter().map(|gun| trusted_collection::ActiveModel {
                registry_key: Set(registry.key()),
                gun: Set(gun.clone()),
                created_at: Set(now),
                push_until: Set(None),
            });
            match trusted_collection::Entity::insert_many(rows)
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
                Ok(_) | Err(DbErr::RecordNotInserted) => {}
                Err(e) => return Err(store_error(e)),
            }
        }
        Ok(())
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

    async fn push_deadline(
        &self,
        registry: &RegistryId,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        let latest: Option<Option<i64>> = trusted_collection::Entity::find()
            .select_only()
            .column_as(
                Expr::from(Func::max(Expr::col(trusted_collection::Column::PushUntil))),
                "latest",
            )
            .filter(trusted_collection::Column::RegistryKey.eq(registry.key()))
            .into_tuple()
            .one(self.db.writer())
            .await
            .map_err(store_error)?;
        latest.flatten().map(from_millis).transpose()
    }

    async fn forget(&self, registry: &RegistryId, guns: &[String]) -> Result<(), StoreError> {
        for batch in guns.chunks(BATCH) {
            trusted_collection::Entity::delete_many()
                .filter(trusted_collection::Column::RegistryKey.eq(registry.key()))
                .filter(trusted_collection::Column::Gun.is_in(batch.iter().cloned()))
                .exec(self.db.writer())
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }
}
