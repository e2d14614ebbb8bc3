//! sea-orm entities: the tables' shapes. Conversions to domain types live in the
//! repositories, never in the domain.

pub mod activity;
pub mod admin_password;
pub mod authorization_code;
pub mod directory;
pub mod directory_role;
pub mod operation;
pub mod portal_session;
pub mod rbac;
pub mod registry;
pub mod resource_group;
pub mod scope_map;
pub mod signing_key;
pub mod subscription;
pub mod token_server_key;
pub mod trusted_collection;
pub mod tuf_change;
pub mod tuf_file;
pub mod tuf_server_key;
