//! The `registry_admin_passwords` table: the admin user's sealed passwords.

use sea_orm::entity::prelude::*;

/// A password row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "registry_admin_passwords")]
pub struct Model {
    /// The registry's key (lowercase ARM id).
    #[sea_orm(primary_key, auto_increment = false)]
    pub registry_key: String,
    /// `password` or `password2`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// AES-256-GCM sealed password.
    pub sealed: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
