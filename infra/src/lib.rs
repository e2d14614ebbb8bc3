//! Berth's driven adapters: persistence through sea-orm (SQLite by default, PostgreSQL when
//! configured), typed configuration, and TLS material for development.

pub mod activity;
pub mod config;
pub mod diagnostics;
pub mod distribution;
pub mod files;
pub mod jwt;
pub mod notary;
pub mod oidc;
pub mod oidc_sign_in;
pub mod persistence;
pub mod proxies;
pub mod registry_token;
pub mod remote_repositories;
pub mod repository_storage;
pub mod sealing;
pub mod secrets;
pub mod tls;
pub mod tuf_crypto;
