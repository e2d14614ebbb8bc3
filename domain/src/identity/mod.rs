//! The built-in identity provider, shaped like Microsoft Entra ID so that MSAL, the Azure
//! CLI and the Azure SDKs sign in to it unchanged: the claims it issues, the port that
//! signs and verifies them, and the OAuth 2.0 grants it serves.

mod authenticate;
mod authorization_code;
mod service;

pub use authenticate::{Audience, AuthenticationError, Authenticator, Caller, RequestAudiences};
pub use authorization_code::{
    Authorization, AuthorizationCodes, AuthorizeError, AuthorizeRequest, CODE_LIFETIME, CodeGrant,
    PORTAL_CALLBACK_PATH, PORTAL_CLIENT_ID,
};
pub use service::{IssuerSettings, OAuthError, TokenRequest, TokenResponse, TokenService};

use crate::store::StoreError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// What a token is for: an access token must never be accepted as a refresh token, or the
/// other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenUse {
    /// Presented to a resource.
    Access,
    /// Exchanged at the token endpoint for new access tokens.
    Refresh,
    /// Tells the client who signed in.
    Id,
}

/// The claims of every token the issuer signs (Entra ID v2 names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject (the object id).
    pub sub: String,
    /// Audience (the resource).
    pub aud: String,
    /// Expiry (unix seconds).
    pub exp: i64,
    /// Not before (unix seconds).
    pub nbf: i64,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Unique token id.
    pub jti: String,
    /// Object id of the principal.
    pub oid: String,
    /// Tenant id.
    pub tid: String,
    /// `app` for service principals, `user` for people.
    pub idtyp: String,
    /// Token format version.
    pub ver: String,
    /// What the token is for.
    pub token_use: TokenUse,
    /// The application id of a service principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// The client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// A user's principal name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// A user's sign-in name (id tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The client's `nonce` (id tokens of the authorization-code flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// Why a token was refused (the reason is for logs; callers get a generic answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token refused: {0}")]
pub struct TokenRejected(pub String);

/// Signs tokens with the issuer's current key, and verifies tokens it signed.
#[async_trait]
pub trait TokenSigner: Send + Sync {
    /// Signs `claims` with the newest key.
    ///
    /// # Errors
    /// [`StoreError`] when no key is usable.
    async fn sign(&self, claims: &TokenClaims) -> Result<String, StoreError>;

    /// Verifies signature (one of the issuer's keys, by `kid`; ES256 only), `iss`, `aud`
    /// (one of `audiences`), `exp` and `nbf` with a small leeway.
    ///
    /// # Errors
    /// [`TokenRejected`] naming the failed check.
    async fn verify(
        &self,
        token: &str,
        issuer: &str,
        audiences: &[String],
    ) -> Result<TokenClaims, TokenRejected>;

    /// The public keys, as a JWKS document's `keys`.
    async fn public_keys(&self) -> Vec<Jwk>;

    /// The `iss` a token claims, read *without* verifying anything: only to pick whose
    /// keys verify it. `None` for anything that is not a JWT with a string `iss`.
    fn claimed_issuer(&self, token: &str) -> Option<String>;
}

/// Who a trusted external OIDC provider says the caller is, after its token was verified
/// and its claims mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// The provider's issuer URL, exactly as the token's `iss`.
    pub issuer: String,
    /// The caller's stable id at that provider (`sub`, or `oid`, as the provider's claim
    /// mapping says); with the issuer, the key of its directory object.
    pub subject: String,
    /// The client id, when the token names an application acting for itself (client
    /// credentials) rather than a person.
    pub application: Option<String>,
    /// A sign-in name (`preferred_username`, `upn` or `email`), when the token has one. The
    /// person may choose it at many providers, so it is only ever shown, never a key or a
    /// principal name.
    pub username: Option<String>,
    /// A display name (`name`), when the token has one.
    pub display_name: Option<String>,
}

/// The external OIDC providers this deployment trusts, each found by discovery, its keys
/// cached and refetched (with a floor) when an unknown `kid` appears.
#[async_trait]
pub trait ExternalIssuers: Send + Sync {
    /// Whether tokens with this `iss` are verified here.
    fn trusts(&self, issuer: &str) -> bool;

    /// Verifies a token of a trusted issuer strictly (signature by `kid` against the
    /// provider's JWKS, the allowed algorithms, `iss`, `aud`, `exp`, `nbf`) and maps its
    /// claims.
    ///
    /// # Errors
    /// [`TokenRejected`] naming the failed check.
    async fn verify(&self, token: &str, issuer: &str) -> Result<ExternalIdentity, TokenRejected>;
}

/// An EC P-256 public key, as a JWKS document lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// `EC`.
    pub kty: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// Key id.
    pub kid: String,
    /// `ES256`.
    pub alg: String,
    /// `P-256`.
    pub crv: String,
    /// X coordinate, base64url.
    pub x: String,
    /// Y coordinate, base64url.
    pub y: String,
}
