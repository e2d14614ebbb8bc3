//! The `registry_trusted_collections` table: the catalog of each registry's Notary
//! collections.

use sea_orm::entity::prelude::*;

/// A collection row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "registry_trusted_collections")]
pub struct Model {
    /// The registry's key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub registry_key: String,
    /// The GUN (`<loginServer>/<repository>`), exactly as the trust store names it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub gun: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Expiry of the last push token issued for it (unix milliseconds).
    pub push_until: Option<i64>,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
