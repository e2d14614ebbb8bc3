//! Every registry's login server, `<name>.<suffix>[:<port>]`, answered by `berthd` on its
//! main listener and chosen by the request's host (`Host`, or the authority of an HTTP/2
//! request), as ACR answers `myregistry.azurecr.io`:
//! - `GET /v2/`: 401 with ACR's challenge, `Bearer realm="https://<loginServer>/oauth2/token",
//!   service="<loginServer>"`, the form Docker and the az CLI parse; 200 for an access token
//!   of this login server (signature, issuer, audience, expiry);
//! - `/oauth2/exchange` and `/oauth2/token`: the registry token server;
//! - a host under the suffix that is no registry's login server: 404.
//!
//! Errors have the registry's shape, `{"errors":[{"code","message"}]}`. It is a foreign
//! protocol, not part of the ARM API: its routes are not in the OpenAPI document.

use crate::auth::bearer_token;
use crate::error::registry;
use crate::routes::token_server;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use berth_domain::registry::LoginServerNaming;
use tower::ServiceExt;
use tower_http::trace::TraceLayer;

/// The login servers of every registry, and how their hosts are told from others.
#[derive(Clone)]
pub struct LoginServers {
    naming: LoginServerNaming,
    /// The control plane's own host (`BERTH_PUBLIC_URL`), which stays the control plane's
    /// even when it is under the suffix.
    control_plane: Option<String>,
    router: Router,
}

impl LoginServers {
    /// The login servers over `state`.
    #[must_use]
    pub fn new(state: AppState) -> Self {
        let naming = state.registries.naming().clone();
        let control_plane = state.public_url.as_deref().and_then(|url| {
            let uri: axum::http::Uri = url.parse().ok()?;
            Some(uri.authority()?.as_str().to_ascii_lowercase())
        });
        let (tokens, _) = token_server::router().split_for_parts();
        let router = Router::new()
            .route("/v2/", get(base))
            .route("/v2", get(base))
            .merge(tokens)
            .with_state(state)
            .fallback(not_served)
            .layer(TraceLayer::new_for_http().make_span_with(crate::telemetry::request_span));
        Self {
            naming,
            control_plane,
            router,
        }
    }
}

/// Routes a request for a login server's host to the login servers, and any other request
/// on to the control plane (before its ARM path normalization, which registry paths must
/// not see).
pub async fn dispatch(
    State(servers): State<LoginServers>,
    request: Request,
    next: Next,
) -> Response {
    match request_host(&request) {
        Some(host) if serves(&servers.naming, servers.control_plane.as_deref(), &host) => {
            match servers.router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
        _ => next.run(request).await,
    }
}

/// The host a request names, lowercased, with its port when it has one.
fn request_host(request: &Request) -> Option<String> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))?;
    Some(host.to_ascii_lowercase())
}

/// Whether a request for `host` goes to the login servers: it is under their suffix, and
/// not the control plane's own host.
fn serves(naming: &LoginServerNaming, control_plane: Option<&str>, host: &str) -> bool {
    under_suffix(naming, host) && control_plane != Some(host)
}

/// Whether `host` (`name[:port]`) is under the login servers' suffix.
fn under_suffix(naming: &LoginServerNaming, host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    name.strip_suffix(naming.suffix())
        .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1)
}

/// The 401 of a login server: the registry's envelope and ACR's `Bearer` challenge.
fn challenge(login_server: &str, message: &str) -> Response {
    let mut response =
        registry::error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message.to_owned());
    let value =
        format!("Bearer realm=\"https://{login_server}/oauth2/token\",service=\"{login_server}\"");
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// 404: no registry answers at this host.
fn unknown(host: &str) -> Response {
    registry::error(
        StatusCode::NOT_FOUND,
        "NAME_UNKNOWN",
        format!("no registry has the login server '{host}'"),
    )
}

/// `GET /v2/`: whether the caller holds an access token of this login server.
async fn base(State(state): State<AppState>, request: Request) -> Response {
    let Some(host) = request_host(&request) else {
        return unknown("");
    };
    let registries = &state.registries;
    let found = match registries.find_by_login_server(&host).await {
        Ok(found) => found.filter(|r| r.login_server.eq_ignore_ascii_case(&host)),
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let Some(registry) = found else {
        return unknown(&host);
    };
    let Some(token) = bearer_token(request.headers()) else {
        return challenge(&registry.login_server, "authentication required");
    };
    match state
        .registry_tokens
        .verify_access(token, &registry.login_server)
    {
        Ok(_) => versioned(Json(serde_json::json!({})).into_response()),
        Err(rejected) => {
            tracing::info!(token.rejected = %rejected.0, "login server refused a token");
            challenge(&registry.login_server, "authentication required")
        }
    }
}

/// Adds `Docker-Distribution-API-Version: registry/2.0`, which Docker checks.
fn versioned(mut response: Response) -> Response {
    response.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    response
}

/// Anything else at a login server.
async fn not_served(request: Request) -> Response {
    registry::error(
        StatusCode::NOT_FOUND,
        "UNSUPPORTED",
        format!(
            "'{}' is not served at this login server yet: its registry API (repositories, \
             manifests, blobs) is not connected to a data plane",
            request.uri().path()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_under_the_suffix_are_login_servers() {
        let naming =
            LoginServerNaming::new("registry.localhost", None).unwrap_or_else(|e| panic!("{e}"));
        assert!(under_suffix(&naming, "myregistry.registry.localhost"));
        assert!(under_suffix(&naming, "myregistry.registry.localhost:8443"));
        assert!(under_suffix(&naming, "x.registry.localhost"));
        assert!(!under_suffix(&naming, "registry.localhost"));
        assert!(!under_suffix(&naming, ".registry.localhost"));
        assert!(!under_suffix(&naming, "127.0.0.1:8443"));
        assert!(!under_suffix(&naming, "localhost"));
        assert!(!under_suffix(&naming, "evilregistry.localhost"));
    }

    #[test]
    fn the_control_planes_own_host_stays_the_control_planes() {
        let naming = LoginServerNaming::new("example.com", None).unwrap_or_else(|e| panic!("{e}"));
        let control_plane = Some("berth.example.com");
        assert!(!serves(&naming, control_plane, "berth.example.com"));
        assert!(serves(&naming, control_plane, "myregistry.example.com"));
        assert!(serves(&naming, None, "berth.example.com"));
    }
}
