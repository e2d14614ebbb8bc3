//! The activity log's tables: `activity_events`, one row per event, each chained in order of
//! commit in one of the chains, and `activity_chain`, a head per chain (one on SQLite, 16 on
//! PostgreSQL).

/// An event row. Its `data` is the whole event; the other columns are copies of it that
/// lists filter on (lowercase), checked against `data` when the chain is verified.
pub mod event {
    use sea_orm::entity::prelude::*;

    /// An event row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "activity_events")]
    pub struct Model {
        /// The row's order: its position in chain 1 until M0019; since then SQLite's position
        /// (one chain) and PostgreSQL's sequence.
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        /// The event's GUID (`eventDataId`).
        pub event_id: String,
        /// When it happened (unix microseconds).
        pub event_time: i64,
        /// Lowercase subscription GUID; `None` for tenant-level events.
        pub subscription: Option<String>,
        /// Lowercase resource-group name, when the resource is in one.
        pub resource_group: Option<String>,
        /// Lowercase resource id.
        pub resource_key: String,
        /// Lowercase provider namespace.
        pub provider: String,
        /// Lowercase correlation id.
        pub correlation_id: String,
        /// Lowercase caller name.
        pub caller: String,
        /// `Started`, `Accepted`, `Succeeded` or `Failed`.
        pub status: String,
        /// The event, as JSON.
        pub data: String,
        /// HMAC-SHA256 (hex) of the previous row's `hash` in the chain, `position` and `data`.
        pub hash: String,
        /// The chain the record belongs to (1 on SQLite).
        pub chain: i32,
        /// Its position in that chain, from 1, in order of commit.
        pub position: i64,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The chain's head: its last position and hash, and where it starts (after pruning).
pub mod chain {
    use sea_orm::entity::prelude::*;

    /// A chain's head row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "activity_chain")]
    pub struct Model {
        /// The chain, from 1.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        /// The last row's `position` (0 when empty).
        pub seq: i64,
        /// The last row's `hash` (the base hash when empty).
        pub hash: String,
        /// The last `position` pruned (0 when none was).
        pub base_seq: i64,
        /// The last pruned row's `hash` (64 zeros when none was).
        pub base_hash: String,
        /// HMAC of `base_seq` and `base_hash` under the chain's key (empty when none was
        /// pruned): the start cannot be moved but by the key's holder.
        pub base_mac: String,
        /// HMAC of the chain, `seq` and `hash` under the chain's key (M0020), set by each
        /// append: the head cannot be moved back over deleted records but by the key's holder.
        pub head_mac: String,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
