//! The `tuf_files` table: every version of every TUF file of the embedded trust server.

use sea_orm::entity::prelude::*;

/// A file row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tuf_files")]
pub struct Model {
    /// Insertion order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The GUN.
    pub gun: String,
    /// The role (`root`, `targets`, `targets/releases`, ...).
    pub role: String,
    /// The file's version; unique per GUN and role.
    pub version: i64,
    /// SHA-256 of `data`, lowercase hex.
    pub sha256: String,
    /// The bytes, exactly as served.
    pub data: Vec<u8>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
