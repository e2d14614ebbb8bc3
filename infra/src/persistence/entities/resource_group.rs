//! The `resource_groups` table.

use sea_orm::entity::prelude::*;

/// A resource-group row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "resource_groups")]
pub struct Model {
    /// Lowercase ARM id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Subscription GUID.
    pub subscription_id: String,
    /// Name, case kept.
    pub name: String,
    /// Normalized location.
    pub location: String,
    /// Tags as a JSON object.
    pub tags: String,
    /// Managing resource id.
    pub managed_by: Option<String>,
    /// ARM provisioning state.
    pub provisioning_state: String,
    /// Version stamp.
    pub etag: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub changed_at: i64,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
