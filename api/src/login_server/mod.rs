//! Every registry's login server, `<name>.<suffix>[:<port>]`, answered by `berthd` on its
//! main listener and chosen by the request's host (`Host`, or the authority of an HTTP/2
//! request), as ACR answers `myregistry.azurecr.io`:
//! - `GET /v2/`: 401 with ACR's challenge, `Bearer realm="https://<loginServer>/oauth2/token",
//!   service="<loginServer>"`, the form Docker and the az CLI parse; 200 for an access token
//!   of this login server (signature, issuer, audience, expiry);
//! - `/oauth2/exchange` and `/oauth2/token`: the registry token server;
//! - `/acr/v1/...`: ACR's repository API over the data plane's storage ([`acr_api`]);
//! - every other `/v2/...`: the registry API, authorized per request against the token's
//!   `access` claims as Distribution does ([`route`]), then streamed to the data plane
//!   under the registry's prefix ([`proxy`]), or, for a blob or manifest read of the
//!   embedded data plane, answered from its storage as the registry would ([`local`]);
//! - a host under the suffix that is no registry's login server: 404.
//!
//! Errors have the registry's shape, `{"errors":[{"code","message"}]}`. It is a foreign
//! protocol, not part of the ARM API: its routes are not in the OpenAPI document.

mod acr_api;
mod cache;
mod local;
mod proxy;
mod route;

pub use local::LocalStorage;
pub use proxy::{Backend, DataPlane, DataPlaneCredentials, Grant, Readiness};

use crate::auth::bearer_token;
use crate::error::registry;
use crate::routes::token_server;
use crate::state::AppState;
use crate::trust_server::AtLoginServer;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use berth_domain::arm::ProvisioningState;
use berth_domain::registry::{Artifacts, LoginServerNaming, Namespace, Registry};
use berth_domain::registry_token::ACCESS_LEEWAY_SECS;
use cache::LoginCache;
use proxy::{Answer, Forward};
use route::{Refused, Resource, Route};
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::trace::TraceLayer;

/// What a login server forwards to, besides the token server.
pub struct LoginServerParts {
    /// The registry API's data plane.
    pub data_plane: DataPlane,
    /// The embedded trust server's router, when it is the trust store.
    pub trust: Option<Router>,
    /// ACR's repository API over the data plane's storage, when the data plane is Berth's.
    pub artifacts: Option<Artifacts>,
}

/// The embedded trust server, as the login servers reach it.
#[derive(Clone)]
struct TrustRouter(Option<Router>);

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
    /// The login servers over `state`, forwarding the registry API and the trust store to
    /// what `parts` names.
    #[must_use]
    pub fn new(state: AppState, parts: LoginServerParts) -> Self {
        let naming = state.registries.naming().clone();
        let control_plane = state.public_url.as_deref().and_then(|url| {
            let uri: axum::http::Uri = url.parse().ok()?;
            Some(uri.authority()?.as_str().to_ascii_lowercase())
        });
        let (tokens, _) = token_server::router().split_for_parts();
        let router = Router::new()
            .merge(tokens)
            .route("/acr/v1/{*path}", axum::routing::any(acr_api::handle))
            .fallback(registry_api)
            .with_state(state.clone())
            .layer(Extension(parts.data_plane))
            .layer(Extension(TrustRouter(parts.trust)))
            .layer(Extension(acr_api::AcrApi(parts.artifacts)))
            .layer(Extension(Arc::new(LoginCache::default())))
            .layer(axum::middleware::from_fn(limit_headers))
            .layer(axum::middleware::from_fn_with_state(
                state,
                crate::metrics::track_login,
            ))
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

/// The most header bytes a login-server request may carry: many times what Docker, the az
/// CLI or Notary send (a bearer token is a few KiB), and below what proxies allow.
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Refuses a request whose headers exceed [`MAX_HEADER_BYTES`], in the registry's shape.
async fn limit_headers(request: Request, next: Next) -> Response {
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if size > MAX_HEADER_BYTES {
        return registry::error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "UNSUPPORTED",
            format!("the request's headers are {size} bytes; at most {MAX_HEADER_BYTES} are taken"),
        );
    }
    next.run(request).await
}

/// Whether `host` (`name[:port]`) is under the login servers' suffix.
fn under_suffix(naming: &LoginServerNaming, host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    name.strip_suffix(naming.suffix())
        .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1)
}

/// The 401 of a login server: the registry's envelope and ACR's `Bearer` challenge, with
/// the scope the request needs and, for a token that lacks it, `insufficient_scope`.
fn challenge(login_server: &str, scope: Option<&str>, insufficient: bool) -> Response {
    let mut response = registry::error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "authentication required".to_owned(),
    );
    let mut value =
        format!("Bearer realm=\"https://{login_server}/oauth2/token\",service=\"{login_server}\"");
    if let Some(scope) = scope {
        value.push_str(&format!(",scope=\"{scope}\""));
    }
    if insufficient {
        value.push_str(",error=\"insufficient_scope\"");
    }
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

/// `GET /v2/` for `registry`: 200 for any valid access token of its login server.
fn base(
    state: &AppState,
    cache: &LoginCache,
    registry: &Registry,
    method: &Method,
    headers: &HeaderMap,
) -> Response {
    if !matches!(*method, Method::GET | Method::HEAD) {
        return registry::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "/v2/ is only read".to_owned(),
        );
    }
    match authorize(state, cache, registry, headers, &[]) {
        None => versioned(Json(serde_json::json!({})).into_response()),
        Some(response) => response,
    }
}

/// The host a request names, and whether it only reads.
fn addressed(request: &Request) -> (Option<String>, bool) {
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    (request_host(request), reads)
}

/// The registry whose login server the request's host is, or the 404 saying none is (or
/// that it is being deleted). A read (GET, HEAD) may take the one remembered
/// in the last second; anything that writes reads the store, so that nothing is written
/// into a registry once its deletion has begun.
async fn served_registry(
    state: &AppState,
    cache: &LoginCache,
    (host, reads): (Option<String>, bool),
) -> Result<Registry, Response> {
    let Some(host) = host else {
        return Err(unknown(""));
    };
    let remembered = if reads { cache.registry(&host) } else { None };
    let registry = match remembered {
        Some(registry) => registry,
        None => {
            let found = match state.registries.find_by_login_server(&host).await {
                Ok(found) => found.filter(|r| r.login_server.eq_ignore_ascii_case(&host)),
                Err(e) => return Err(crate::error::ApiError::from(e).into_response()),
            };
            let registry = found.ok_or_else(|| unknown(&host))?;
            cache.remember_registry(&host, &registry);
            registry
        }
    };
    if registry.provisioning_state == ProvisioningState::Deleting {
        return Err(registry::error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            format!("the registry '{}' is being deleted", registry.id.name),
        ));
    }
    Ok(registry)
}

/// What a request needs its token to grant: `(type, name, action)`.
type Need<'a> = (&'static str, &'a str, &'static str);

/// A refused token: the challenge to answer with.
struct Denied {
    scope: Option<String>,
    insufficient: bool,
}

/// Checks the caller's access token for this login server (signature, issuer, audience,
/// expiry) and that its `access` grants every need.
fn check(
    state: &AppState,
    cache: &LoginCache,
    registry: &Registry,
    headers: &HeaderMap,
    needs: &[Need<'_>],
) -> Result<String, Denied> {
    let scope = scope_of(needs);
    let Some(token) = bearer_token(headers) else {
        return Err(Denied {
            scope,
            insufficient: false,
        });
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let audience = registry.login_server.as_str();
    let remembered = cache.token(token, audience, now, ACCESS_LEEWAY_SECS);
    let verified = match remembered {
        Some(claims) => Ok(claims),
        None => state
            .registry_tokens
            .verify_access(token, audience)
            .inspect(|claims| cache.remember_token(token, audience, claims)),
    };
    let claims = match verified {
        Ok(claims) if registry.was_created_after(claims.iat) => {
            tracing::info!("login server refused a token issued before its registry was made");
            return Err(Denied {
                scope,
                insufficient: false,
            });
        }
        Ok(claims) => claims,
        Err(rejected) => {
            tracing::info!(token.rejected = %rejected.0, "login server refused a token");
            return Err(Denied {
                scope,
                insufficient: false,
            });
        }
    };
    if needs
        .iter()
        .all(|(kind, name, action)| claims.grants(kind, name, action))
    {
        Ok(claims.sub)
    } else {
        Err(Denied {
            scope,
            insufficient: true,
        })
    }
}

/// [`check`], with the 401 challenge as the answer to a refusal.
fn authorize(
    state: &AppState,
    cache: &LoginCache,
    registry: &Registry,
    headers: &HeaderMap,
    needs: &[Need<'_>],
) -> Option<Response> {
    authorized_subject(state, cache, registry, headers, needs)
        .err()
        .map(|challenge| *challenge)
}

/// [`check`]: whom the token names, or the 401 challenge that answers a refusal.
fn authorized_subject(
    state: &AppState,
    cache: &LoginCache,
    registry: &Registry,
    headers: &HeaderMap,
    needs: &[Need<'_>],
) -> Result<String, Box<Response>> {
    check(state, cache, registry, headers, needs).map_err(|denied| {
        Box::new(challenge(
            &registry.login_server,
            denied.scope.as_deref(),
            denied.insufficient,
        ))
    })
}

/// A manifest request at a login server, as its repository event tells it.
struct ManifestRequest<'a> {
    method: Method,
    /// Its client, user agent, request id and start.
    facts: crate::audit::EventFacts,
    registry: &'a Registry,
    repository: &'a str,
    /// The tag or digest addressed.
    reference: String,
    /// Whom the token names.
    subject: String,
}

/// Records a manifest's push, pull or delete as a repository event (`ACR`'s operation
/// names), once answered.
fn record_manifest(state: &AppState, request: &ManifestRequest<'_>, response: &Response) {
    let ManifestRequest {
        method,
        facts,
        registry,
        repository,
        reference,
        subject,
    } = request;
    let operation = match *method {
        Method::PUT => "Push",
        Method::GET => "Pull",
        Method::DELETE => "Delete",
        _ => return,
    };
    let status = response.status();
    let mut event = facts.event(
        berth_domain::diagnostics::REPOSITORY_EVENTS,
        operation,
        status,
        crate::audit::reason(status),
        subject.clone(),
        registry.login_server.as_str(),
    );
    event.digest = response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| reference.starts_with("sha256:").then(|| reference.clone()));
    event.tag = (!reference.contains(':')).then(|| reference.clone());
    event.repository = Some((*repository).to_owned());
    state.diagnostics.record(event);
}

/// The challenge's `scope`: `type:name:actions` a resource, space-separated.
fn scope_of(needs: &[Need<'_>]) -> Option<String> {
    let mut scopes: Vec<(String, Vec<&str>)> = Vec::new();
    for (kind, name, action) in needs {
        let resource = format!("{kind}:{name}");
        match scopes.iter_mut().find(|(r, _)| *r == resource) {
            Some((_, actions)) => actions.push(action),
            None => scopes.push((resource, vec![action])),
        }
    }
    (!scopes.is_empty()).then(|| {
        scopes
            .iter()
            .map(|(resource, actions)| format!("{resource}:{}", actions.join(",")))
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// The registry API at a login server (every path but the token server's): parsed,
/// authorized, and forwarded to the data plane under the registry's prefix, or to the
/// trust store.
async fn registry_api(
    State(state): State<AppState>,
    Extension(plane): Extension<DataPlane>,
    Extension(TrustRouter(trust)): Extension<TrustRouter>,
    Extension(cache): Extension<Arc<LoginCache>>,
    request: Request,
) -> Response {
    let registry = match served_registry(&state, &cache, addressed(&request)).await {
        Ok(registry) => registry,
        Err(response) => return response,
    };
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let route = match route::parse(&path) {
        Ok(route) => route,
        Err(refused) => return refusal(refused),
    };
    let namespace = Namespace::of(&registry.id.name);
    let query: Vec<(String, String)> =
        form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let param = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let response = match route {
        Route::Base => return base(&state, &cache, &registry, &parts.method, &parts.headers),
        Route::Trust { gun } => {
            return trust_store(&registry, gun, trust, Request::from_parts(parts, body)).await;
        }
        Route::Catalog => {
            if !matches!(parts.method, Method::GET | Method::HEAD) {
                return registry::error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "UNSUPPORTED",
                    "the catalog is only read".to_owned(),
                );
            }
            if let Some(response) = authorize(
                &state,
                &cache,
                &registry,
                &parts.headers,
                &[("registry", "catalog", "*")],
            ) {
                return response;
            }
            plane.catalog(&namespace, param("n"), param("last")).await
        }
        Route::Repository { name, resource } => {
            let backend_name = match namespace.backend(name) {
                Ok(backend_name) => backend_name,
                Err(e) => {
                    return registry::error(StatusCode::BAD_REQUEST, "NAME_INVALID", e.to_string());
                }
            };
            let actions = match route::actions(&parts.method) {
                Ok(actions) => actions,
                Err(refused) => return refusal(refused),
            };
            let mut needs: Vec<Need<'_>> =
                actions.iter().map(|a| ("repository", name, *a)).collect();
            let mut grants = vec![Grant {
                kind: "repository",
                name: backend_name.clone(),
                actions: actions.to_vec(),
            }];
            let mut forwarded = Vec::with_capacity(query.len());
            for (key, value) in &query {
                if key == "from" && matches!(resource, Resource::Upload(None)) {
                    match namespace.backend(value) {
                        Ok(from) => {
                            grants.push(Grant {
                                kind: "repository",
                                name: from.clone(),
                                actions: vec!["pull"],
                            });
                            forwarded.push((key.clone(), from));
                        }
                        Err(e) => {
                            return registry::error(
                                StatusCode::BAD_REQUEST,
                                "NAME_INVALID",
                                e.to_string(),
                            );
                        }
                    }
                    needs.push(("repository", value.as_str(), "pull"));
                } else {
                    forwarded.push((key.clone(), value.clone()));
                }
            }
            let subject =
                match authorized_subject(&state, &cache, &registry, &parts.headers, &needs) {
                    Ok(subject) => subject,
                    Err(response) => return *response,
                };
            let event = match &resource {
                Resource::Manifest(reference) => Some(ManifestRequest {
                    method: parts.method.clone(),
                    facts: crate::audit::EventFacts::of(
                        &parts.headers,
                        token_server::ClientAddress::of(&parts.extensions, &parts.headers, &state)
                            .0,
                    ),
                    registry: &registry,
                    repository: name,
                    reference: (*reference).to_owned(),
                    subject,
                }),
                _ => None,
            };
            let record = |response: &Response| {
                if let Some(event) = &event {
                    record_manifest(&state, event, response);
                }
            };
            let reads = matches!(parts.method, Method::GET | Method::HEAD);
            if reads && !parts.headers.contains_key(header::RANGE) {
                let head = parts.method == Method::HEAD;
                let local = match &resource {
                    Resource::Blob(digest) => plane.local_blob(&backend_name, digest, head).await,
                    Resource::Manifest(reference) => {
                        plane
                            .local_manifest(&backend_name, reference, &parts.headers, head)
                            .await
                    }
                    _ => None,
                };
                if let Some(response) = local {
                    record(&response);
                    return versioned(response);
                }
            }
            let tail = &path["/v2/".len() + name.len()..];
            let answer = if resource == Resource::Tags {
                Answer::Tags
            } else {
                Answer::Stream
            };
            let request = Forward {
                method: parts.method,
                path: format!("/v2/{backend_name}{tail}"),
                query: forwarded,
                headers: parts.headers,
                body,
                grants,
            };
            let response = plane.forward(&namespace, request, answer).await;
            record(&response);
            response
        }
    };
    versioned(response)
}

/// Adds `Docker-Distribution-API-Version: registry/2.0`, which Docker checks.
fn versioned(mut response: Response) -> Response {
    response.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    response
}

/// `/v2/<gun>/_trust/...` at a login server: the embedded trust server, for the GUNs of
/// this login server's registry only, with tokens of this login server.
async fn trust_store(
    registry: &Registry,
    gun: &str,
    trust: Option<Router>,
    mut request: Request,
) -> Response {
    let own = gun
        .strip_prefix(registry.login_server.as_str())
        .is_some_and(|rest| rest.starts_with('/'));
    if !own {
        let shown: String = gun.chars().take(128).collect();
        return registry::error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            format!(
                "'{shown}' is not a repository of this login server: its trust data is at \
                 /v2/{}/<repository>/_trust/",
                registry.login_server
            ),
        );
    }
    let Some(router) = trust else {
        return registry::error(
            StatusCode::NOT_FOUND,
            "UNSUPPORTED",
            "content trust uses the Notary server configured by BERTH_NOTARY_URL, not the \
             login server: point DOCKER_CONTENT_TRUST_SERVER at it"
                .to_owned(),
        );
    };
    request.extensions_mut().insert(AtLoginServer {
        service: registry.login_server.clone(),
        realm: format!("https://{}/oauth2/token", registry.login_server),
        issued_since: registry.creation_date.unix_timestamp(),
    });
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// A path or method refused before the backend.
fn refusal(refused: Refused) -> Response {
    registry::error(refused.status, refused.code, refused.message)
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
