//! The `authorization_codes` table: the issuer's single-use authorization codes, by hash.

use sea_orm::entity::prelude::*;

/// A code waiting to be redeemed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authorization_codes")]
pub struct Model {
    /// SHA-256 of the code, hex: the code itself is never stored.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_hash: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI it was sent to.
    pub redirect_uri: String,
    /// The resource of the tokens.
    pub resource: String,
    /// The person who signed in.
    pub object_id: String,
    /// The S256 challenge.
    pub code_challenge: String,
    /// The client's nonce.
    pub nonce: Option<String>,
    /// Unix milliseconds after which it is not redeemable.
    pub expires_at: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
