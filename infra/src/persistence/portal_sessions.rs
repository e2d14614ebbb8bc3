//! The portal's sessions in SQL, by the SHA-256 of the browser's token: a reader of the
//! database cannot take over a session.

use super::entities::portal_session;
use super::{Database, from_millis, millis, store_error};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_domain::session::{ABSOLUTE_TIMEOUT, Session, SessionStore};
use berth_domain::store::StoreError;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use time::OffsetDateTime;
use uuid::Uuid;

/// Portal sessions in SQL.
#[derive(Debug, Clone)]
pub struct SeaOrmSessionStore {
    db: Database,
}

impl SeaOrmSessionStore {
    /// Builds the store.
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl SessionStore for SeaOrmSessionStore {
    async fn insert(&self, session: &Session) -> Result<(), StoreError> {
        // Sessions past their absolute end go when a new one is opened.
        let oldest = OffsetDateTime::now_utc() - ABSOLUTE_TIMEOUT;
        portal_session::Entity::delete_many()
            .filter(portal_session::Column::CreatedAt.lt(millis(oldest)))
            .exec(self.db.writer())
            .await
            .map_err(store_error)?;
        let row = portal_session::ActiveModel {
            key: Set(session.key.clone()),
            object_id: Set(session.object_id.to_string()),
            csrf: Set(session.csrf.clone()),
            created_at: Set(millis(session.created_at)),
            last_seen: Set(millis(session.last_seen)),
        };
        portal_session::Entity::insert(row)
            .exec(self.db.writer())
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Session>, StoreError> {
        let Some(row) = portal_session::Entity::find_by_id(key.to_owned())
            .one(self.db.reader())
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        Ok(Some(Session {
            key: row.key,
            object_id: Uuid::parse_str(&row.object_id)
                .map_err(|e| StoreError(format!("stored object id is not a GUID: {e}")))?,
            csrf: row.csrf,
            created_at: from_millis(row.created_at)?,
            last_seen: from_millis(row.last_seen)?,
        }))
    }

    async fn touch(&self, key: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        portal_session::Entity::update_many()
            .col_expr(portal_session::Column::LastSeen, Expr::value(millis(at)))
            .filter(portal_session::Column::Key.eq(key))
            .exec(self.db.writer())
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        portal_session::Entity::delete_many()
            .filter(portal_session::Column::Key.eq(key))
            .exec(self.db.writer())
            .await
            .map_err(store_error)?;
        Ok(())
    }

    fn random_token(&self) -> Result<String, StoreError> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| StoreError(format!("no randomness: {e}")))?;
        Ok(URL_SAFE_NO_PAD.encode(random))
    }

    fn key_of(&self, token: &str) -> String {
        hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            token.as_bytes(),
        ))
    }
}
