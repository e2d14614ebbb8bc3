//! The `registry_scope_maps` and `registry_tokens` tables.

/// `registry_scope_maps`: user-defined scope maps.
pub mod map {
    use sea_orm::entity::prelude::*;

    /// A scope-map row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "registry_scope_maps")]
    pub struct Model {
        /// The registry's key.
        #[sea_orm(primary_key, auto_increment = false)]
        pub registry_key: String,
        /// Lowercase name.
        #[sea_orm(primary_key, auto_increment = false)]
        pub name_key: String,
        /// Name, case kept.
        pub name: String,
        /// Description.
        pub description: Option<String>,
        /// JSON array of actions.
        pub actions: String,
        /// Unix milliseconds.
        pub created_at: i64,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `registry_tokens`: repository-scoped tokens.
pub mod token {
    use sea_orm::entity::prelude::*;

    /// A token row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "registry_tokens")]
    pub struct Model {
        /// The registry's key.
        #[sea_orm(primary_key, auto_increment = false)]
        pub registry_key: String,
        /// Lowercase name.
        #[sea_orm(primary_key, auto_increment = false)]
        pub name_key: String,
        /// Name, case kept.
        pub name: String,
        /// Its scope map's name.
        pub scope_map: String,
        /// May sign in.
        pub enabled: bool,
        /// JSON array of {name, hash, created, expiry} (SHA-256 hashes only).
        pub passwords: String,
        /// Unix milliseconds.
        pub created_at: i64,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
