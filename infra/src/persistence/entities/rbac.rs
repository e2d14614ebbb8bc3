//! Custom role definitions, role assignments, and the change counter replicas poll.

/// `role_definitions` (custom roles only; built-ins live in code).
pub mod role_definition {
    use sea_orm::entity::prelude::*;

    /// A custom role row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "role_definitions")]
    pub struct Model {
        /// GUID.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// `roleName`.
        pub role_name: String,
        /// Lowercase `roleName` (unique).
        pub role_name_key: String,
        /// Description.
        pub description: String,
        /// Permission blocks as JSON.
        pub permissions: String,
        /// Assignable scopes as a JSON array of strings.
        pub assignable_scopes: String,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `role_assignments`.
pub mod role_assignment {
    use sea_orm::entity::prelude::*;

    /// An assignment row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "role_assignments")]
    pub struct Model {
        /// GUID name.
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        /// Scope, case kept.
        pub scope: String,
        /// Lowercase scope.
        pub scope_key: String,
        /// Role GUID.
        pub role_definition_id: String,
        /// `roleDefinitionId` as sent.
        pub role_definition_ref: String,
        /// Principal object id.
        pub principal_id: String,
        /// `User`, `Group`, ...
        pub principal_type: String,
        /// Description.
        pub description: Option<String>,
        /// ABAC condition.
        pub condition: Option<String>,
        /// Condition version.
        pub condition_version: Option<String>,
        /// Creator's object id.
        pub created_by: Option<String>,
        /// Unix milliseconds.
        pub created_on: i64,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `change_counters`: one row per watched family of tables.
pub mod change_counter {
    use sea_orm::entity::prelude::*;

    /// A counter row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "change_counters")]
    pub struct Model {
        /// What it counts (`rbac`).
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        /// Advanced by every write.
        pub value: i64,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
