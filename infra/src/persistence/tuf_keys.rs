//! The trust server's keys in SQL: ECDSA P-256 keys per collection and role (`timestamp`,
//! `snapshot`), made on first use and by rotations, their PKCS#8 sealed with the secrets key
//! and the row's identity (collection, role, generation).

use super::entities::tuf_server_key;
use super::{Database, millis, store_error};
use crate::sealing::tuf_key_aad;
use crate::tuf_crypto::{InMemoryTufSigner, ServerKey};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use berth_domain::registry::SecretBox;
use berth_domain::store::StoreError;
use berth_notary::{KeyWriteError, NewKey, RoleName, TufKey, TufServerKeys, TufSigner, WriteGate};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
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
            .decode(self.secrets.open(
                &row.private_sealed,
                &tuf_key_aad(&row.gun, &row.role, row.generation),
            )?)
            .map_err(|e| StoreError(format!("a sealed trust key is not base64: {e}")))?;
        ServerKey::from_pkcs8(&row.gun, role, &row.keytype, &pkcs8)
            .map_err(|e| StoreError(e.to_string()))
    }

    async fn rows(
        &self,
        gun: &str,
        role: Option<&RoleName>,
    ) -> Result<Vec<tuf_server_key::Model>, StoreError> {
        let mut query = tuf_server_key::Entity::find().filter(tuf_server_key::Column::Gun.eq(gun));
        if let Some(role) = role {
            query = query.filter(tuf_server_key::Column::Role.eq(role.as_str()));
        }
        query
            .order_by_desc(tuf_server_key::Column::Generation)
            .all(self.db.writer())
            .await
            .map_err(store_error)
    }
}

/// Keys that neither the root names nor were made within this long are forgotten when a
/// new key is made: a client may still be about to publish a root naming a recent one.
const PENDING_KEY_LIFETIME: time::Duration = time::Duration::hours(1);

#[async_trait]
impl TufServerKeys for SeaOrmTufServerKeys {
    async fn public_keys(&self, gun: &str, role: &RoleName) -> Result<Vec<TufKey>, StoreError> {
        self.rows(gun, Some(role))
            .await?
            .iter()
            .map(|row| self.open(row).map(|k| k.public))
            .collect()
    }

    async fn create(
        &self,
        gun: &str,
        role: &RoleName,
        keep: &[String],
        new: NewKey,
        gate: WriteGate,
    ) -> Result<TufKey, KeyWriteError> {
        // Read before the transaction: on SQLite the writer is one connection.
        let newest = self.rows(gun, Some(role)).await?.into_iter().next();
        if let (NewKey::First, Some(row)) = (new, &newest) {
            return Ok(self.open(row)?.public);
        }
        let generation = newest.map_or(0, |row| row.generation + 1);
        let key =
            ServerKey::generate_ecdsa(gun, role.clone()).map_err(|e| StoreError(e.to_string()))?;
        let now = OffsetDateTime::now_utc();
        let txn = self.db.writer().begin().await.map_err(store_error)?;
        // Held until the key is stored, as a metadata update holds it: a disable committed
        // first refuses the key, and a wipe that begins after finds it.
        if gate == WriteGate::RegistryAcceptsTrustData
            && !super::tuf_store::accepts_trust_data(&txn, gun).await?
        {
            txn.rollback().await.map_err(store_error)?;
            return Err(KeyWriteError::NotAccepted {
                gun: gun.to_owned(),
            });
        }
        tuf_server_key::Entity::delete_many()
            .filter(tuf_server_key::Column::Gun.eq(gun))
            .filter(tuf_server_key::Column::Role.eq(role.as_str()))
            .filter(tuf_server_key::Column::KeyId.is_not_in(keep.iter().cloned()))
            .filter(tuf_server_key::Column::CreatedAt.lt(millis(now - PENDING_KEY_LIFETIME)))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        let row = tuf_server_key::ActiveModel {
            gun: Set(gun.to_owned()),
            role: Set(role.as_str().to_owned()),
            generation: Set(generation),
            key_id: Set(key.public.id()),
            keytype: Set(key.public.keytype.clone()),
            private_sealed: Set(self.secrets.seal(
                &STANDARD.encode(&key.private_pkcs8),
                &tuf_key_aad(gun, role.as_str(), generation),
            )?),
            created_at: Set(millis(now)),
        };
        let inserted = tuf_server_key::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    tuf_server_key::Column::Gun,
                    tuf_server_key::Column::Role,
                    tuf_server_key::Column::Generation,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec(&txn)
            .await;
        match inserted {
            Ok(_) => {
                txn.commit().await.map_err(store_error)?;
                Ok(key.public)
            }
            // A concurrent creator stored this generation first: its key is the one.
            Err(DbErr::RecordNotInserted) => {
                txn.rollback().await.map_err(store_error)?;
                let row = tuf_server_key::Entity::find_by_id((
                    gun.to_owned(),
                    role.as_str().to_owned(),
                    generation,
                ))
                .one(self.db.writer())
                .await
                .map_err(store_error)?
                .ok_or_else(|| StoreError(format!("the new {role} key of {gun} vanished")))?;
                Ok(self.open(&row)?.public)
            }
            Err(e) => Err(store_error(e).into()),
        }
    }

    async fn signer(&self, gun: &str) -> Result<Arc<dyn TufSigner>, StoreError> {
        let keys = self
            .rows(gun, None)
            .await?
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
