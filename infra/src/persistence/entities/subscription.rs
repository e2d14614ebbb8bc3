//! The `subscriptions` table.

use sea_orm::entity::prelude::*;

/// A subscription row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    /// Lowercase GUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Tenant GUID.
    pub tenant_id: String,
    /// ARM state.
    pub state: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
