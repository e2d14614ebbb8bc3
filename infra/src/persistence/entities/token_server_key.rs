//! The `token_server_keys` table: the registry token server's signing keys.

use sea_orm::entity::prelude::*;

/// A key row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "token_server_keys")]
pub struct Model {
    /// Key id (`kid`): the libtrust id of an access key, a GUID for a refresh key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    /// `access-es256` or `refresh-hs256`.
    pub purpose: String,
    /// PKCS#8 PEM of an access key, or the base64 secret of a refresh key.
    pub material: String,
    /// The self-signed certificate of an access key, PEM.
    pub certificate_pem: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When a newer key replaced it (unix milliseconds).
    pub retired_at: Option<i64>,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
