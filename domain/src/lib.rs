//! Berth's domain: the model of an ARM-shaped container-registry control plane, its rules,
//! its use cases, and the ports (traits) those use cases need from the outside world.
//!
//! Nothing here knows about HTTP, SQL or JWTs: `berth-api` drives these use cases and
//! `berth-infra` implements the ports.

pub mod activity;
pub mod arm;
pub mod authorization;
pub mod clock;
pub mod diagnostics;
pub mod directory;
pub mod identity;
pub mod limiter;
pub mod operation;
pub mod registry;
pub mod registry_token;
pub mod resource_group;
pub mod session;
pub mod store;
pub mod subscription;
pub mod trust;
