//! Who is calling: a bearer token, from the built-in issuer or a trusted external OIDC
//! provider, verified strictly (signature, issuer, audience, expiry, algorithm), names a
//! principal of the directory that still exists, is enabled, and has not had a credential
//! removed since the token was issued. Front ends (the ARM routes, the token server) only
//! take the token off the request and map the refusal.

use super::{ExternalIssuers, TokenRejected, TokenSigner, TokenUse};
use crate::arm::Actor;
use crate::directory::{DirectoryError, DirectoryService};
use std::sync::Arc;
use uuid::Uuid;

/// The issuer and audiences a bearer token must name: management tokens on ARM routes,
/// directory tokens on `/v1.0` routes. A token for the registry token service is neither.
#[derive(Debug, Clone)]
pub struct RequestAudiences {
    /// `iss`.
    pub issuer: String,
    /// Accepted `aud` on ARM routes.
    pub management: Vec<String>,
    /// Accepted `aud` on Graph routes.
    pub graph: Vec<String>,
    /// Accepted `aud` of a token exchanged for a registry refresh token: the registry token
    /// service's, and the management API's (ACR's `azureADAuthenticationAsArmPolicy`).
    pub registry: Vec<String>,
}

impl RequestAudiences {
    /// Each audience is accepted with and without its trailing slash: a token's `aud` is the
    /// resource as the client asked for it.
    #[must_use]
    pub fn new(issuer: &str, management: &[String], graph: &str, registry: &str) -> Self {
        let both = |a: &String| {
            let bare = a.trim_end_matches('/');
            [bare.to_owned(), format!("{bare}/")]
        };
        Self {
            issuer: issuer.to_owned(),
            management: management.iter().flat_map(both).collect(),
            graph: both(&graph.to_owned()).to_vec(),
            registry: std::iter::once(&registry.to_owned())
                .chain(management)
                .flat_map(both)
                .collect(),
        }
    }

    fn of(&self, audience: Audience) -> &[String] {
        match audience {
            Audience::Management => &self.management,
            Audience::Graph => &self.graph,
            Audience::Registry => &self.registry,
        }
    }
}

/// Which API a token is presented to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The ARM API.
    Management,
    /// The directory (`/v1.0`).
    Graph,
    /// The registry token service's exchange.
    Registry,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Object id.
    pub object_id: Uuid,
    /// The caller and every group it belongs to (transitively).
    pub principals: Vec<Uuid>,
    /// A name for `systemData` and error messages (appId or user principal name).
    pub name: String,
    /// `Application` or `User`.
    pub kind: &'static str,
    /// When its token was issued (unix seconds), when the issuer is the built-in one.
    pub issued_at: Option<i64>,
}

impl Caller {
    /// The caller as `systemData` records it.
    #[must_use]
    pub fn actor(&self) -> Actor {
        Actor {
            name: self.name.clone(),
            kind: self.kind.to_owned(),
        }
    }
}

/// Why a bearer token names no caller.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticationError {
    /// The token fails a check, or its principal is gone, disabled or revoked. The reason
    /// is for the log; the caller gets a generic answer.
    #[error(transparent)]
    Rejected(#[from] TokenRejected),
    /// The directory could not answer.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// Authenticates bearer tokens.
#[derive(Clone)]
pub struct Authenticator {
    audiences: Arc<RequestAudiences>,
    signer: Arc<dyn TokenSigner>,
    external: Arc<dyn ExternalIssuers>,
    directory: DirectoryService,
}

impl Authenticator {
    /// Builds the authenticator: `signer` verifies the built-in issuer's tokens, `external`
    /// those of trusted providers.
    #[must_use]
    pub fn new(
        audiences: RequestAudiences,
        signer: Arc<dyn TokenSigner>,
        external: Arc<dyn ExternalIssuers>,
        directory: DirectoryService,
    ) -> Self {
        Self {
            audiences: Arc::new(audiences),
            signer,
            external,
            directory,
        }
    }

    /// What tokens must name.
    #[must_use]
    pub fn audiences(&self) -> &RequestAudiences {
        &self.audiences
    }

    /// Verifies a bearer token presented to `audience` and names its caller.
    ///
    /// # Errors
    /// `Rejected` when the token fails any check or its principal was deleted, disabled,
    /// or had a credential removed since; `Directory` when the directory fails.
    pub async fn authenticate(
        &self,
        token: &str,
        audience: Audience,
    ) -> Result<Caller, AuthenticationError> {
        let audiences = self.audiences.of(audience);
        // Read before any signature check: it only picks whose keys verify the token, and
        // that verification checks `iss` again.
        let issuer = self
            .signer
            .claimed_issuer(token)
            .ok_or_else(|| TokenRejected("malformed: no readable iss".to_owned()))?;
        let mut issued_at = None;
        let object_id = if issuer == self.audiences.issuer {
            let claims = self
                .signer
                .verify(token, &self.audiences.issuer, audiences)
                .await?;
            if claims.token_use != TokenUse::Access {
                return Err(TokenRejected("not an access token".to_owned()).into());
            }
            issued_at = Some(claims.iat);
            Uuid::parse_str(&claims.oid)
                .map_err(|_| TokenRejected("malformed: oid is not a GUID".to_owned()))?
        } else if self.external.trusts(&issuer) {
            let who = self.external.verify(token, &issuer).await?;
            self.directory.resolve_external(&who).await?
        } else {
            return Err(TokenRejected(format!("issuer '{issuer}' is not trusted")).into());
        };
        self.caller(object_id, issued_at).await
    }

    /// The caller a person signed in to the portal is, looked up now: refused when the
    /// person was deleted or disabled since (a session ends with its person).
    ///
    /// # Errors
    /// `Rejected` for a deleted or disabled principal; `Directory` when the directory fails.
    pub async fn caller_of(&self, object_id: Uuid) -> Result<Caller, AuthenticationError> {
        self.caller(object_id, None).await
    }

    async fn caller(
        &self,
        object_id: Uuid,
        issued_at: Option<i64>,
    ) -> Result<Caller, AuthenticationError> {
        // A deleted or disabled principal's still-valid token is refused: deletion revokes.
        let Some(principal) = self.directory.principal(object_id).await? else {
            return Err(TokenRejected(format!("principal {object_id} deleted or disabled")).into());
        };
        // Removing one of its credentials revokes every token issued before (or in the same
        // second as) the removal, as the registry token server does with refresh tokens.
        if let (Some(iat), Some(after)) = (issued_at, principal.sessions_valid_after)
            && iat <= after.unix_timestamp()
        {
            return Err(TokenRejected(format!(
                "principal {object_id}: issued before a credential was removed"
            ))
            .into());
        }
        let kind = if principal.is_application {
            "Application"
        } else {
            "User"
        };
        let mut principals = principal.groups;
        principals.insert(0, object_id);
        Ok(Caller {
            object_id,
            principals,
            name: principal.name,
            kind,
            issued_at,
        })
    }
}
