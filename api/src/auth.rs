//! Authentication and authorization of requests: a bearer token from the built-in issuer,
//! verified strictly, names the caller; the caller's role assignments (and its groups')
//! decide each action at each scope, from the in-memory index.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use berth_domain::arm::Actor;
use berth_domain::authorization::{AccessKind, Scope};
use berth_domain::identity::{TokenRejected, TokenUse};
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

fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "AuthenticationFailed", message).challenging()
}

fn invalid_token() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
        "The access token is invalid. It may be expired, malformed, or issued for another audience or by another issuer.",
    )
    .challenging()
}

/// Logs why a token was refused (never the token) and answers the generic 401.
fn refused(reason: TokenRejected) -> ApiError {
    tracing::info!(auth.reason = %reason.0, "bearer token refused");
    invalid_token()
}

/// The `iss` of a token, read before its signature is checked: it only picks which
/// issuer's keys verify the token, and that verification checks `iss` again.
fn unverified_issuer(token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Issuer {
        iss: String,
    }
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice::<Issuer>(&bytes).ok().map(|c| c.iss)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let Some(value) = value else {
            return Err(unauthenticated(
                "Authentication failed. The 'Authorization' header is missing.",
            ));
        };
        let token = match value.split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                token.trim()
            }
            _ => {
                return Err(unauthenticated(
                    "Authentication failed. The 'Authorization' header must be 'Bearer <token>'.",
                ));
            }
        };
        let audiences = if parts.uri.path().starts_with("/v1.0/") {
            &state.audiences.graph
        } else {
            &state.audiences.management
        };
        authenticate(state, token, audiences).await
    }
}

/// Verifies a bearer token for one of `audiences` (from the built-in issuer or a trusted
/// external provider) and names its caller: refused with 401 when the token fails any check
/// or its principal was deleted or disabled.
///
/// # Errors
/// 401 `InvalidAuthenticationToken`; 500 when the store fails.
pub async fn authenticate(
    state: &AppState,
    token: &str,
    audiences: &[String],
) -> Result<Caller, ApiError> {
    let issuer = unverified_issuer(token).ok_or_else(|| {
        tracing::info!(
            auth.reason = "malformed: no readable iss",
            "bearer token refused"
        );
        invalid_token()
    })?;
    let mut issued_at = None;
    let object_id = if issuer == state.audiences.issuer {
        let claims = state
            .tokens
            .signer()
            .verify(token, &state.audiences.issuer, audiences)
            .await
            .map_err(refused)?;
        if claims.token_use != TokenUse::Access {
            return Err(refused(TokenRejected("not an access token".to_owned())));
        }
        issued_at = Some(claims.iat);
        Uuid::parse_str(&claims.oid).map_err(|_| invalid_token())?
    } else if state.external.trusts(&issuer) {
        let who = state
            .external
            .verify(token, &issuer)
            .await
            .map_err(refused)?;
        state.directory.resolve_external(&who).await?
    } else {
        return Err(refused(TokenRejected(format!(
            "issuer '{issuer}' is not trusted"
        ))));
    };
    // A deleted or disabled principal's still-valid token is refused: deletion revokes.
    let Some(principal) = state.directory.principal(object_id).await? else {
        tracing::info!(auth.reason = "principal deleted or disabled", principal.id = %object_id, "bearer token refused");
        return Err(invalid_token());
    };
    // Removing one of its credentials revokes every token issued before (or in the same
    // second as) the removal, as the registry token server does with refresh tokens.
    if let (Some(iat), Some(after)) = (issued_at, principal.sessions_valid_after)
        && iat <= after.unix_timestamp()
    {
        tracing::info!(auth.reason = "issued before a credential was removed", principal.id = %object_id, "bearer token refused");
        return Err(invalid_token());
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

impl AppState {
    /// Whether the caller may perform `action` at `scope`.
    #[must_use]
    pub fn allows(&self, caller: &Caller, action: &str, scope: &str) -> bool {
        Scope::parse(scope).is_ok_and(|scope| {
            self.rbac
                .is_allowed(&caller.principals, action, AccessKind::Control, &scope)
        })
    }

    /// Refuses with ARM's `AuthorizationFailed` unless the caller may perform `action` at `scope`.
    ///
    /// # Errors
    /// 403 `AuthorizationFailed`.
    pub fn authorize(&self, caller: &Caller, action: &str, scope: &str) -> Result<(), ApiError> {
        if self.allows(caller, action, scope) {
            return Ok(());
        }
        Err(authorization_failed(caller, action, scope))
    }
}

/// ARM's `AuthorizationFailed` (403) for `caller`, `action` and `scope`.
#[must_use]
pub fn authorization_failed(caller: &Caller, action: &str, scope: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "AuthorizationFailed",
        format!(
            "The client '{}' with object id '{}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
            caller.name, caller.object_id
        ),
    )
}
