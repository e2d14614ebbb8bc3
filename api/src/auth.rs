//! Authentication and authorization of requests, as extractors over the domain: the
//! [`Authenticator`](berth_domain::identity::Authenticator) names the caller of a bearer
//! token; the caller's role assignments (and its groups') decide each action at each scope,
//! from the in-memory index. A handler names its action and gets the resource its path
//! names, resolved and authorized: [`AppState::authorized`] over a [`ResourcePath`].

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use berth_domain::authorization::{AccessKind, Scope};
pub use berth_domain::identity::Caller;
use berth_domain::identity::{Audience, AuthenticationError, TokenRejected};

/// Logs why a token was refused (never the token) and answers the generic 401.
fn refused(reason: TokenRejected) -> ApiError {
    tracing::info!(auth.reason = %reason.0, "bearer token refused");
    ApiError::invalid_token()
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
            return Err(ApiError::authentication_failed(
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
                return Err(ApiError::authentication_failed(
                    "Authentication failed. The 'Authorization' header must be 'Bearer <token>'.",
                ));
            }
        };
        let audience = if parts.uri.path().starts_with("/v1.0/") {
            Audience::Graph
        } else {
            Audience::Management
        };
        let caller = authenticate(state, token, audience).await?;
        // A write that fails before its authorization is still recorded by its caller.
        berth_infra::activity::note_caller(activity_caller(&caller));
        Ok(caller)
    }
}

/// Verifies a bearer token presented to `audience` (from the built-in issuer or a trusted
/// external provider) and names its caller, logging why a token was refused (never the
/// token).
///
/// # Errors
/// 401 `InvalidAuthenticationToken`; 500 when the store fails.
pub async fn authenticate(
    state: &AppState,
    token: &str,
    audience: Audience,
) -> Result<Caller, ApiError> {
    state
        .authenticator
        .authenticate(token, audience)
        .await
        .map_err(|e| match e {
            AuthenticationError::Rejected(reason) => refused(reason),
            AuthenticationError::Directory(e) => e.into(),
        })
}

/// The token of a request's `Authorization: Bearer <token>`, if it has one (not empty).
#[must_use]
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A request path that names one ARM resource (a resource group, a registry, one of a
/// registry's children): it resolves to that resource's id, the scope its actions are
/// authorized at.
pub trait ResourcePath: Sync {
    /// The resolved id.
    type Id: std::fmt::Display + Send;

    /// Resolves the path (an unknown subscription or group is the domain's error).
    fn resolve(
        &self,
        state: &AppState,
    ) -> impl std::future::Future<Output = Result<Self::Id, ApiError>> + Send;
}

impl AppState {
    /// Resolves the resource `path` names and refuses unless the caller may perform
    /// `action` on it: the prologue of every handler of a resource.
    ///
    /// # Errors
    /// The resolution's error (404 for an unknown subscription or group), or 403
    /// `AuthorizationFailed`.
    pub async fn authorized<P: ResourcePath>(
        &self,
        caller: &Caller,
        action: &str,
        path: &P,
    ) -> Result<P::Id, ApiError> {
        let id = path.resolve(self).await?;
        self.authorize(caller, action, &id.to_string())?;
        Ok(id)
    }

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
        let allowed = self.allows(caller, action, scope);
        note(caller, action, scope, allowed);
        if allowed {
            return Ok(());
        }
        self.metrics.refused(action);
        Err(authorization_failed(caller, action, scope))
    }

    /// Refuses unless the caller holds a directory role granting `action` (Graph's writes).
    ///
    /// # Errors
    /// 403 `Authorization_RequestDenied`.
    pub fn authorize_directory(&self, caller: &Caller, action: &str) -> Result<(), ApiError> {
        let decided = self.directory_admin.authorize(&caller.principals, action);
        note(caller, action, "/", decided.is_ok());
        if decided.is_err() {
            self.metrics.refused(action);
        }
        decided.map_err(ApiError::from)
    }
}

/// ARM's `AuthorizationFailed` (403) for `caller`, `action` and `scope`.
#[must_use]
pub fn authorization_failed(caller: &Caller, action: &str, scope: &str) -> ApiError {
    ApiError::authorization_failed(&caller.name, &caller.object_id, action, scope)
}

/// Tells the request's activity recording who asked for what, and whether it was allowed.
fn note(caller: &Caller, action: &str, scope: &str, allowed: bool) {
    berth_infra::activity::note_caller(activity_caller(caller));
    berth_infra::activity::note_action(action, scope, allowed);
}

/// The caller as the activity log names it.
#[must_use]
pub fn activity_caller(caller: &Caller) -> berth_domain::activity::ActivityCaller {
    berth_domain::activity::ActivityCaller {
        object_id: Some(caller.object_id),
        name: caller.name.clone(),
        kind: caller.kind.to_owned(),
    }
}
