//! The registry token server, as ACR's: an Entra-style access token is exchanged for a
//! registry refresh token (`/oauth2/exchange`), and refresh tokens or Basic credentials are
//! exchanged for short-lived access tokens (`/oauth2/token`) that a Distribution registry
//! and a Notary server verify. The refresh token carries identity only; what an access token
//! grants is computed from the role assignments at the moment it is issued.

mod scope;
mod service;

pub use crate::limiter::FailureLimiter;
pub use crate::registry::is_repository_name;
pub use scope::{AccessEntry, MAX_SCOPE_LEN, MAX_SCOPES, ScopeRequest, parse_scopes};
pub use service::{
    ACCESS_LEEWAY_SECS, AccessSources, Credentials, DATA_PLANE_TOKEN_SECS, ImageAccess,
    IssuedToken, RegistryTokenService, TokenServerSettings,
};

use crate::identity::TokenRejected;
use crate::store::StoreError;
use serde::{Deserialize, Serialize};

/// The user name `docker login` is given with a refresh token as its password.
pub const REFRESH_TOKEN_USER: &str = "00000000-0000-0000-0000-000000000000";

/// Why a token request was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenServerError {
    /// A parameter is missing or malformed (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// The grant type is not one this server knows (400).
    #[error("unsupported grant_type '{0}'")]
    UnsupportedGrantType(String),
    /// The `service` is not a registry (or the trust service) of this deployment (400).
    #[error("the service '{0}' is not a registry of this deployment")]
    UnknownService(String),
    /// Credentials or a token are wrong, expired, revoked or for something else (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Too many failed attempts from this client (429).
    #[error("too many failed sign-in attempts; retry after {retry_after} seconds")]
    TooManyRequests {
        /// Seconds until the client may try again.
        retry_after: i64,
    },
    /// The store failed (500).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `permissions` of a refresh token (ACR's shape; it never grants anything by itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshPermissions {
    /// `["*"]`.
    pub actions: Vec<String>,
    /// `[]`.
    #[serde(rename = "notActions")]
    pub not_actions: Vec<String>,
}

/// The claims of a registry refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshClaims {
    /// Unique id.
    pub jti: String,
    /// The principal's name (user principal name or appId).
    pub sub: String,
    /// The principal's object id: what the token server looks up at every use.
    pub oid: String,
    /// Not before (unix seconds).
    pub nbf: i64,
    /// Expiry (unix seconds).
    pub exp: i64,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// The token server.
    pub iss: String,
    /// The registry's login server.
    pub aud: String,
    /// `1.0`.
    pub version: String,
    /// `refresh_token`.
    pub grant_type: String,
    /// The tenant.
    pub tenant: String,
    /// ACR's `permissions` block.
    pub permissions: RefreshPermissions,
    /// `[]`.
    pub roles: Vec<String>,
}

/// The claims of a registry access token, as Distribution and Notary read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Unique id.
    pub jti: String,
    /// The principal's name, or empty for an anonymous caller.
    pub sub: String,
    /// Not before (unix seconds).
    pub nbf: i64,
    /// Expiry (unix seconds).
    pub exp: i64,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// The token server (the registry's configured `issuer`).
    pub iss: String,
    /// The `service` (a string: Distribution refuses an array).
    pub aud: String,
    /// `1.0`.
    pub version: String,
    /// What is granted.
    pub access: Vec<AccessEntry>,
    /// `[]`.
    pub roles: Vec<String>,
    /// How the caller authenticated: `refresh_token`, `password` or `none`.
    pub grant_type: String,
}

impl AccessClaims {
    /// Whether the token grants `action` on the resource `kind:name`, as Distribution's
    /// token check reads `access` (an entry with the action, or with `*`).
    #[must_use]
    pub fn grants(&self, kind: &str, name: &str, action: &str) -> bool {
        self.access.iter().any(|entry| {
            entry.kind == kind
                && entry.name == name
                && entry.actions.iter().any(|a| a == action || a == "*")
        })
    }
}

/// The token server's keys: access tokens are signed ES256 with a key whose certificate the
/// registry and Notary trust (`kid` is its libtrust key id); refresh tokens are verified only
/// here, so they are MACed with a secret. Both live in memory: nothing here touches the store.
pub trait RegistryTokenKeys: Send + Sync {
    /// Signs an access token.
    ///
    /// # Errors
    /// [`StoreError`] when no key is usable.
    fn sign_access(&self, claims: &AccessClaims) -> Result<String, StoreError>;

    /// Makes a refresh token.
    ///
    /// # Errors
    /// [`StoreError`] when no key is usable.
    fn sign_refresh(&self, claims: &RefreshClaims) -> Result<String, StoreError>;

    /// Verifies a refresh token: MAC, `iss`, `exp`/`nbf`, and that it is a refresh token.
    /// The audience (the registry) is checked by the caller.
    ///
    /// # Errors
    /// [`TokenRejected`] naming the failed check.
    fn verify_refresh(&self, token: &str, issuer: &str) -> Result<RefreshClaims, TokenRejected>;

    /// Verifies an access token as a registry or a trust server must: ES256 only, a `kid`
    /// of one of this server's access keys (retired ones included while they are
    /// published), the signature, `iss` = `issuer`, `aud` = `audience`, and `nbf`/`exp`
    /// at `now` (unix seconds) within `leeway_secs`.
    ///
    /// # Errors
    /// [`TokenRejected`] naming the failed check.
    fn verify_access(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
        now: i64,
        leeway_secs: i64,
    ) -> Result<AccessClaims, TokenRejected>;

    /// The object id a refresh token claims (`oid`), read *without* verifying anything:
    /// only to pick a sign-in failure bucket, never to trust. `None` for anything that is
    /// not a JWT whose `oid` is a GUID, and for oversized input.
    fn claimed_principal(&self, token: &str) -> Option<String>;
}
