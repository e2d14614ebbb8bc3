//! The `registries` table.

use sea_orm::entity::prelude::*;

/// A registry row. The settings are one JSON document, since they are read and written whole.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "registries")]
pub struct Model {
    /// Lowercase ARM id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Lowercase name; unique in the deployment.
    pub name_key: String,
    /// Subscription GUID.
    pub subscription_id: String,
    /// Lowercase ARM id of the resource group.
    pub group_key: String,
    /// Resource-group name, case kept.
    pub group_name: String,
    /// Registry name, case kept.
    pub name: String,
    /// Normalized location.
    pub location: String,
    /// SKU name.
    pub sku: String,
    /// Tags as a JSON object.
    pub tags: String,
    /// Managed identity as JSON, if any.
    pub identity: Option<String>,
    /// `RegistrySettings` as JSON.
    pub settings: String,
    /// Login server host name.
    pub login_server: String,
    /// ARM provisioning state.
    pub provisioning_state: String,
    /// Version stamp.
    pub etag: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Creator.
    pub created_by: String,
    /// Creator kind.
    pub created_by_type: String,
    /// Unix milliseconds.
    pub last_modified_at: i64,
    /// Last modifier.
    pub last_modified_by: String,
    /// Last modifier kind.
    pub last_modified_by_type: String,
    /// The running content-trust wipe's operation id.
    pub trust_wipe: Option<String>,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
