//! `directory_role_assignments`: directory (Entra) roles held by users and service
//! principals, kept apart from ARM's `role_assignments` so that no ARM listing or PUT ever
//! sees them.

/// `directory_role_assignments`.
pub mod role_assignment {
    use sea_orm::entity::prelude::*;

    /// A directory role assignment row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_role_assignments")]
    pub struct Model {
        /// Its id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The holder's object id.
        pub principal_id: String,
        /// The role's template id.
        pub role_definition_id: String,
        /// `/`.
        pub directory_scope_id: String,
        /// Unix milliseconds.
        pub created_on: i64,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
