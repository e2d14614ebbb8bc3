//! The trust server's keys in SQL: one ECDSA P-256 key per collection and role
//! (`timestamp`, `snapshot`), made on first use, its PKCS#8 sealed with the secrets key.

use super::entities::tuf_server_key;
use super::{Database, millis, store_error};
use crate::tuf_crypto::{InMemoryTufSigner, ServerKey};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use berth_domain::registry::SecretBox;
use berth_domain::store::StoreError;
use berth_domain::trust::tuf::{RoleName, TufKey, TufServerKeys, TufSigner};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};
use std::sync::Arc;
use time::OffsetDateTime;

/// The trust server's keys in SQL.
#[derive(Clone)]
pub struct SeaOrmTufServerKeys {
    db: Database,
    secrets: Arc<dyn SecretBox>,
}

impl std::fmt::Debug for SeaOrmTufServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeaOrmTufServerKeys")
    }
}

impl SeaOrmTufServerKeys {
    /// Keys in `db`, sealed with `secrets`.
    #[must_use]
    pub fn new(db: Database, secrets: Arc<dyn SecretBox>) -> Self {
        Self { db, secrets }
    }

    fn open(&self, row: &tuf_server_key::Model) -> Result<ServerKey, StoreError> {
        let role = RoleName::parse(&row.role).map_err(|e| StoreError(e.to_string()))?;
        let pkcs8 = STANDARD
            .decode(self.secrets.open(&row.private_sealed)?)
            .map_err(|e| StoreError(format!("a sealed trust key is not base64: {e}")))?;
        ServerKey::from_pkcs8(&row.gun, role, &row.keytype, &pkcs8)
            .map_err(|e| StoreError(e.to_string()))
    }

    async fn find(&self, gun: &str, role: &RoleName) -> Result<Option<ServerKey>, StoreError> {
        tuf_server_key::Entity::find_by_id((gun.to_owned(), role.as_str().to_owned()))
            .one(self.db.writer())
            .await
            .map_err(store_error)?
            .map(|row| self.open(&row))
            .transpose()
    }
}

#[async_trait]
impl TufServerKeys for SeaOrmTufServerKeys {
    async fn public_key(&self, gun: &str, role: &RoleName) -> Result<TufKey, StoreError> {
        if let Some(key) = self.find(gun, role).await? {
            return Ok(key.public);
        }
        let key =
            ServerKey::generate_ecdsa(gun, role.clone()).map_err(|e| StoreError(e.to_string()))?;
        let row = tuf_server_key::ActiveModel {
            gun: Set(gun.to_owned()),
            role: Set(role.as_str().to_owned()),
            keytype: Set(key.public.keytype.clone()),
            private_sealed: Set(self.secrets.seal(&STANDARD.encode(&key.private_pkcs8))?),
            created_at: Set(millis(OffsetDateTime::now_utc())),
        };
        // A concurrent first call may have stored its key: that one wins, for both.
        match tuf_server_key::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([tuf_server_key::Column::Gun, tuf_server_key::Column::Role])
                    .do_nothing()
                    .to_owned(),
            )
            .exec(self.db.writer())
            .await
        {
            Ok(_) | Err(DbErr::RecordNotInserted) => {}
            Err(e) => return Err(store_error(e)),
        }
        self.find(gun, role)
            .await?
            .map(|k| k.public)
            .ok_or_else(|| StoreError(format!("the {role} key of {gun} vanished")))
    }

    async fn signer(&self, gun: &str) -> Result<Arc<dyn TufSigner>, StoreError> {
        let rows = tuf_server_key::Entity::find()
            .filter(tuf_server_key::Column::Gun.eq(gun))
            .all(self.db.writer())
            .await
            .map_err(store_error)?;
        let keys = rows
            .iter()
            .map(|row| self.open(row))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(InMemoryTufSigner::new(keys)))
    }

    async fn delete(&self, gun: &str) -> Result<(), StoreError> {
        tuf_server_key::Entity::delete_many()
            .filter(tuf_server_key::Column::Gun.eq(gun))
            .exec(self.db.writer())
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
