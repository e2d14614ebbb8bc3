//! The issuer's authorization codes in SQL: kept by the SHA-256 of the code (a reader of
//! the database learns no code), taken once by whichever replica deletes the row first.

use super::entities::authorization_code;
use super::{Database, from_millis, millis, store_error};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_domain::identity::{AuthorizationCodes, CodeGrant};
use berth_domain::store::StoreError;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use time::OffsetDateTime;
use uuid::Uuid;

/// Authorization codes in SQL.
#[derive(Debug, Clone)]
pub struct SeaOrmAuthorizationCodes {
    db: Database,
}

impl SeaOrmAuthorizationCodes {
    /// Builds the store.
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// The S256 PKCE challenge of `verifier`: BASE64URL(SHA-256(verifier)), no padding (what a
/// client sends, and what redemption checks).
#[must_use]
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()))
}

fn code_hash(code: &str) -> String {
    hex::encode(sha256(code.as_bytes()))
}

#[async_trait]
impl AuthorizationCodes for SeaOrmAuthorizationCodes {
    async fn issue(&self, grant: &CodeGrant) -> Result<String, StoreError> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| StoreError(format!("no randomness: {e}")))?;
        let code = URL_SAFE_NO_PAD.encode(random);
        // Codes nobody redeemed go when the next one is made.
        authorization_code::Entity::delete_many()
            .filter(authorization_code::Column::ExpiresAt.lt(millis(OffsetDateTime::now_utc())))
            .exec(self.db.writer())
            .await
            .map_err(store_error)?;
        let row = authorization_code::ActiveModel {
            code_hash: Set(code_hash(&code)),
            client_id: Set(grant.client_id.clone()),
            redirect_uri: Set(grant.redirect_uri.clone()),
            resource: Set(grant.resource.clone()),
            object_id: Set(grant.object_id.to_string()),
            code_challenge: Set(grant.code_challenge.clone()),
            nonce: Set(grant.nonce.clone()),
            expires_at: Set(millis(grant.expires_at)),
        };
        authorization_code::Entity::insert(row)
            .exec(self.db.writer())
            .await
            .map_err(store_error)?;
        Ok(code)
    }

    async fn redeem(
        &self,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<Option<CodeGrant>, StoreError> {
        let hash = code_hash(code);
        let Some(row) = authorization_code::Entity::find_by_id(hash.clone())
            .one(self.db.writer())
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        // Whoever deletes the row redeems the code; a concurrent second redeemer deletes
        // nothing and gets nothing.
        let deleted = authorization_code::Entity::delete_many()
            .filter(authorization_code::Column::CodeHash.eq(hash))
            .exec(self.db.writer())
            .await
            .map_err(store_error)?;
        if deleted.rows_affected != 1 {
            return Ok(None);
        }
        let expires_at = from_millis(row.expires_at)?;
        if expires_at <= now {
            return Ok(None);
        }
        let object_id = Uuid::parse_str(&row.object_id)
            .map_err(|e| StoreError(format!("stored object id is not a GUID: {e}")))?;
        Ok(Some(CodeGrant {
            client_id: row.client_id,
            redirect_uri: row.redirect_uri,
            resource: row.resource,
            object_id,
            code_challenge: row.code_challenge,
            nonce: row.nonce,
            expires_at,
        }))
    }

    fn challenge_of(&self, verifier: &str) -> String {
        pkce_challenge(verifier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636s_s256() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
