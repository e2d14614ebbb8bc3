//! End-to-end tests: a real `berthd` on a real SQLite file and a real PostgreSQL schema,
//! driven over HTTP. Every scenario runs on both backends. Tests that call the services
//! directly, without HTTP, are in the `services` target.

#![expect(
    clippy::unwrap_used,
    reason = "a failed unwrap is a failed test, with its message"
)]

mod acr_api;
mod activity_log;
mod audit_events;
mod auth;
mod authorization_api;
mod azure_cli;
mod azure_cli_repositories;
mod bad_input;
mod cli;
mod cli_repositories;
mod conditions;
mod content_trust;
mod data_plane_faults;
mod docker_credentials;
mod escalation;
mod escalation_directory;
mod external_data_plane;
mod external_oidc;
mod graph;
mod hardening;
mod issuer;
mod keys_at_rest;
mod login_server;
mod login_server_bad_input;
mod matrix;
mod metrics;
mod operations;
mod portal;
mod python_clients;
mod registries;
mod resource_groups;
mod sign_in;
mod sign_in_limits;
mod subscriptions;
mod token_server;
mod trust_clients;
mod trust_contract;
mod trust_renewal;
mod trust_server;
mod tuf_store;

use berth_tests::{API, PREVIEW, RG_API, TestApp, both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};
