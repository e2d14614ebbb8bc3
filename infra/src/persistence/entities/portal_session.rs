//! The `portal_sessions` table: the portal's server-side sessions, by token hash.

use sea_orm::entity::prelude::*;

/// A session.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "portal_sessions")]
pub struct Model {
    /// SHA-256 of the browser's token, hex.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// The person.
    pub object_id: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub last_seen: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
