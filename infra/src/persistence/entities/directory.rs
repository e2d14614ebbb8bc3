//! The directory's tables: users, service principals (with their names and passwords),
//! groups and memberships.

/// `directory_users`.
pub mod user {
    use sea_orm::entity::prelude::*;

    /// A user row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_users")]
    pub struct Model {
        /// Object id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub object_id: String,
        /// User principal name, case kept.
        pub upn: String,
        /// Lowercase user principal name (unique).
        pub upn_key: String,
        /// Display name.
        pub display_name: String,
        /// Nickname.
        pub mail_nickname: String,
        /// May sign in.
        pub account_enabled: bool,
        /// Argon2 PHC string.
        pub password_hash: Option<String>,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `directory_service_principals`.
pub mod service_principal {
    use sea_orm::entity::prelude::*;

    /// A service-principal row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_service_principals")]
    pub struct Model {
        /// Object id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub object_id: String,
        /// Application object id (unique).
        pub application_object_id: String,
        /// Application id (unique).
        pub app_id: String,
        /// Display name.
        pub display_name: String,
        /// May sign in.
        pub account_enabled: bool,
        /// Tokens issued before this time (unix milliseconds) are revoked: a credential
        /// was removed then.
        pub sessions_valid_after: Option<i64>,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `directory_sp_names`: every name a service principal is found by (its appId included).
pub mod sp_name {
    use sea_orm::entity::prelude::*;

    /// A name row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_sp_names")]
    pub struct Model {
        /// Lowercase name (unique).
        #[sea_orm(primary_key, auto_increment = false)]
        pub name_key: String,
        /// The name, case kept.
        pub name: String,
        /// Its service principal.
        pub sp_object_id: String,
        /// Order among the principal's names.
        pub position: i32,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `directory_credentials`: service-principal passwords (hashes only).
pub mod credential {
    use sea_orm::entity::prelude::*;

    /// A credential row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_credentials")]
    pub struct Model {
        /// Key id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub key_id: String,
        /// Its service principal.
        pub sp_object_id: String,
        /// Label.
        pub display_name: Option<String>,
        /// First characters of the secret.
        pub hint: String,
        /// Argon2 PHC string.
        pub hash: String,
        /// Unix milliseconds.
        pub start_at: i64,
        /// Unix milliseconds.
        pub end_at: i64,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `directory_groups`.
pub mod group {
    use sea_orm::entity::prelude::*;

    /// A group row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_groups")]
    pub struct Model {
        /// Object id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub object_id: String,
        /// Display name.
        pub display_name: String,
        /// Nickname.
        pub mail_nickname: String,
        /// Description.
        pub description: Option<String>,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `directory_members`: direct group memberships.
pub mod member {
    use sea_orm::entity::prelude::*;

    /// A membership row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_members")]
    pub struct Model {
        /// The group.
        #[sea_orm(primary_key, auto_increment = false)]
        pub group_id: String,
        /// The member.
        #[sea_orm(primary_key, auto_increment = false)]
        pub member_id: String,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `directory_external_links`: which directory object a trusted external provider's subject is.
pub mod external_link {
    use sea_orm::entity::prelude::*;

    /// A link row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_external_links")]
    pub struct Model {
        /// The provider's issuer URL.
        #[sea_orm(primary_key, auto_increment = false)]
        pub issuer: String,
        /// The subject at that provider.
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject: String,
        /// The user or service principal.
        pub object_id: String,
        /// Unix milliseconds.
        pub created_at: i64,
    }

    /// No relations are navigated through sea-orm.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
