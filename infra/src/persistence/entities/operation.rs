//! The `operations` table: durable long-running operations with their worker lease.

use sea_orm::entity::prelude::*;

/// An operation row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operations")]
pub struct Model {
    /// Operation GUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Subscription GUID.
    pub subscription_id: String,
    /// `DeleteRegistry` or `DeleteResourceGroup`.
    pub kind: String,
    /// Lowercase ARM id of the resource acted on.
    pub target_key: String,
    /// Resource-group name, case kept.
    pub group_name: String,
    /// Registry name, for registry operations.
    pub registry_name: Option<String>,
    /// `InProgress`, `Succeeded`, `Failed`, `Canceled`.
    pub status: String,
    /// ARM error code when failed.
    pub error_code: Option<String>,
    /// Error message when failed.
    pub error_message: Option<String>,
    /// Unix milliseconds.
    pub started_at: i64,
    /// Unix milliseconds.
    pub ended_at: Option<i64>,
    /// Attempts so far.
    pub attempts: i32,
    /// Not to be tried before (unix milliseconds).
    pub due_at: i64,
    /// Worker holding the lease.
    pub lease_owner: Option<String>,
    /// Lease expiry (unix milliseconds).
    pub lease_until: Option<i64>,
    /// The request that started it, for the activity log's records of its steps (JSON of
    /// an `ActivityRequest`); `None` before the activity log, or when nobody asked.
    pub activity: Option<String>,
}

/// No relations are navigated through sea-orm.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
