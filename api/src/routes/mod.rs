//! The HTTP routes, one module per resource type. Handlers parse, call one use case, map.

pub mod activity_log;
pub mod authorization;
pub mod graph;
pub mod issuer;
pub mod meta;
pub mod operations;
pub mod params;
pub mod registries;
pub mod resource_groups;
pub(crate) mod sign_in;
pub mod subscriptions;
pub mod token_server;
pub mod wire;
