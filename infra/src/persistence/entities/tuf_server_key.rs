//! The `tuf_keys` table: the trust server's private keys per collection and role, sealed.

use sea_orm::entity::prelude::*;

/// A key row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tuf_keys")]
pub struct Model {
    /// The GUN.
    #[sea_orm(primary_key, auto_increment = false)]
    pub gun: String,
    /// `timestamp` or `snapshot`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub role: String,
    /// 0 for the first key of the role, then one more for each new key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub generation: i64,
    /// The TUF key ID of the public key (the SHA-256 of its canonical JSON).
    pub key_id: String,
    /// The TUF key type (`ecdsa`).
    pub keytype: String,
    /// The PKCS#8 private key, base64, sealed with the secrets key.
    pub private_sealed: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
