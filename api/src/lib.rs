//! Berth's REST API: axum routes shaped like Azure Resource Manager, their OpenAPI
//! contract, and [`Application`], the composition root `berthd` runs.

pub mod activity;
pub mod arm;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod error;
pub mod login_server;
pub mod metrics;
pub mod openapi;
mod portal;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod trust_server;

pub use startup::{Application, StartupError};
