//! The `signing_keys` table: the built-in issuer's ES256 keys.

use sea_orm::entity::prelude::*;

/// A signing key row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    /// Key id (`kid`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    /// The private key, PKCS#8 PEM.
    pub private_pem: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When a newer key replaced it (unix milliseconds).
    pub retired_at: Option<i64>,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
