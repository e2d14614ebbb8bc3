//! The `tuf_changes` table: the embedded trust server's changefeed.

use sea_orm::entity::prelude::*;

/// A change row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tuf_changes")]
pub struct Model {
    /// Position in the feed.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The GUN.
    pub gun: String,
    /// The published timestamp's version (0 for a deletion).
    pub version: i64,
    /// Its SHA-256, lowercase hex (empty for a deletion).
    pub sha256: String,
    /// `update` or `deletion`.
    pub category: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
