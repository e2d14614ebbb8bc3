//! The embedded trust server: the Notary v1 HTTP API the `notary` CLI 0.6/0.7 and
//! `docker trust` speak, served by `berthd` on a listener of its own over
//! [`EmbeddedTrustServer`]. Requests are authenticated as notary-server authenticates them
//! (Distribution's token check): a bearer access token of Berth's token server for this
//! service, whose `access` must grant the route's actions on the GUN; otherwise a 401 with
//! a `Bearer realm=…,service=…,scope=…` challenge. Errors have Notary's shape
//! `{"errors":[{"code","message","detail"?}]}`.
//!
//! It is a foreign protocol, not part of the ARM API: its routes are not in the OpenAPI
//! document.

mod path;

pub use path::NotaryRoute;

use crate::error::notary::{self as notary_error, internal, not_found};
use crate::telemetry;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use berth_domain::clock::Clock;
use berth_domain::registry_token::{AccessClaims, RegistryTokenKeys};
use berth_domain::trust::TrustStore;
use berth_notary::{
    ChangefeedError, EmbeddedTrustServer, KeyError, PublishError, ReadError, RoleName,
    StoredTufFile, TufSelector, UploadedFile, encoding::go_time,
};
use serde_json::{Value, json};
use std::sync::Arc;
use time::format_description::well_known::Rfc2822;
use tower_http::trace::TraceLayer;

/// A request a login server forwards to the trust store it serves (`https://<loginServer>`,
/// as ACR serves Notary): its tokens are that login server's (`aud`), and its challenge
/// sends clients to that login server's token endpoint.
#[derive(Debug, Clone)]
pub struct AtLoginServer {
    /// The login server (the tokens' `aud`).
    pub service: String,
    /// `https://<loginServer>/oauth2/token`.
    pub realm: String,
    /// When its registry was made (unix seconds): a token issued before is an earlier
    /// registry's of the same name, and refused.
    pub issued_since: i64,
}

/// What the trust server's handlers reach.
#[derive(Clone)]
pub struct TrustServerState {
    /// The use cases.
    pub server: EmbeddedTrustServer,
    /// The counters `/metrics` shows (uploads by Notary error code).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Where repository events go.
    pub diagnostics: Arc<dyn berth_domain::diagnostics::DiagnosticSink>,
    /// Verifies access tokens.
    pub keys: Arc<dyn RegistryTokenKeys>,
    /// The tokens' `iss`.
    pub issuer: String,
    /// This server's `service` (the tokens' `aud`).
    pub service: String,
    /// The token endpoint clients are sent to (`<berthd>/oauth2/token`).
    pub realm: String,
    /// How far past `exp` (and before `nbf`) a token is still accepted, in seconds.
    pub leeway_secs: i64,
    /// The clock tokens are checked against.
    pub clock: Arc<dyn Clock>,
    /// The earliest `iat` accepted (unix seconds): at a login server, its registry's
    /// creation.
    pub issued_since: i64,
}

/// The trust server's router; uploads are limited to `max_upload_bytes`.
pub fn router(state: TrustServerState, max_upload_bytes: usize) -> Router {
    Router::new()
        .route("/_notary_server/health", axum::routing::get(health))
        .fallback(dispatch)
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_upload_bytes))
        .layer(TraceLayer::new_for_http().make_span_with(telemetry::request_span))
}

async fn health(State(state): State<TrustServerState>) -> Response {
    match state.server.health().await {
        Ok(()) => Json(json!({})).into_response(),
        Err(e) => {
            tracing::warn!(error.cause = %e, "trust server health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"storage": "unavailable"})),
            )
                .into_response()
        }
    }
}

/// Why a request was not authorized, as Distribution's token access controller says it.
enum Denied {
    /// No bearer token.
    NoToken,
    /// The token was refused (signature, issuer, audience, expiry, algorithm…).
    Invalid,
    /// The token does not grant what the route needs.
    InsufficientScope,
}

impl TrustServerState {
    /// Checks the request's token against the route's required access.
    fn authorize(&self, headers: &HeaderMap, route: &NotaryRoute) -> Result<String, Denied> {
        let token = crate::auth::bearer_token(headers).ok_or(Denied::NoToken)?;
        let claims: AccessClaims = self
            .keys
            .verify_access(
                token,
                &self.issuer,
                &self.service,
                self.clock.now().unix_timestamp(),
                self.leeway_secs,
            )
            .map_err(|rejected| {
                tracing::info!(token.rejected = %rejected.0, "trust server refused a token");
                Denied::Invalid
            })?;
        if claims.iat < self.issued_since {
            tracing::info!("trust server refused a token issued before its registry was made");
            return Err(Denied::Invalid);
        }
        let granted = match route.gun() {
            Some(gun) => route
                .required_actions()
                .iter()
                .all(|action| claims.grants("repository", gun, action)),
            None => claims.grants("registry", "catalog", "*"),
        };
        if granted {
            Ok(claims.sub)
        } else {
            Err(Denied::InsufficientScope)
        }
    }

    /// The 401 with Distribution's challenge and Notary's body.
    fn challenge(&self, route: &NotaryRoute, denied: &Denied) -> Response {
        let (kind, name, actions) = match route.gun() {
            Some(gun) => ("repository", gun, route.required_actions()),
            None => ("registry", "catalog", &["*"][..]),
        };
        let mut challenge = format!(
            "Bearer realm={},service={},scope={}",
            quoted(&self.realm),
            quoted(&self.service),
            quoted(&format!("{kind}:{name}:{}", actions.join(",")))
        );
        match denied {
            Denied::NoToken => {}
            Denied::Invalid => challenge.push_str(",error=\"invalid_token\""),
            Denied::InsufficientScope => challenge.push_str(",error=\"insufficient_scope\""),
        }
        let detail: Vec<Value> = actions
            .iter()
            .map(|action| json!({"Type": kind, "Class": "", "Name": name, "Action": action}))
            .collect();
        let mut response = notary_error::answer(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "authentication required",
            Some(Value::Array(detail)),
        );
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// Go's `%q` for the characters a realm, service or scope can hold.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&c.escape_default().to_string()),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Every request but the health check: routed as notary-server routes, authorized, then
/// handed to its use case.
async fn dispatch(State(mut state): State<TrustServerState>, request: Request) -> Response {
    if let Some(at) = request.extensions().get::<AtLoginServer>() {
        state.service.clone_from(&at.service);
        state.realm.clone_from(&at.realm);
        state.issued_since = at.issued_since;
    }
    let path = match urlencoding::decode(request.uri().path()) {
        Ok(path) => path.into_owned(),
        Err(_) => return not_found(),
    };
    let route = NotaryRoute::parse(request.method(), &path);
    if route == NotaryRoute::MethodNotAllowed {
        return notary_error::answer(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "The operation is unsupported.",
            None,
        );
    }
    let subject = match state.authorize(request.headers(), &route) {
        Ok(subject) => subject,
        Err(denied) => return state.challenge(&route, &denied),
    };
    let facts = EventFacts::of(&request, subject);
    let query = request.uri().query().unwrap_or_default().to_owned();
    let head = request.method() == Method::HEAD;
    let response = match route {
        NotaryRoute::Base => Json(json!({})).into_response(),
        NotaryRoute::Update { gun } => {
            let response = update(&state, &gun, request).await;
            state.record("TrustDataPush", &gun, &facts, response.status());
            response
        }
        NotaryRoute::Metadata { gun, role, which } => metadata(&state, &gun, &role, &which).await,
        NotaryRoute::GetKey { gun, role } => key(&state, &gun, &role, false).await,
        NotaryRoute::RotateKey { gun, role } => key(&state, &gun, &role, true).await,
        NotaryRoute::Delete { gun } => {
            let response = match state.server.delete(&gun).await {
                Ok(_) => {
                    tracing::info!(trust.gun = %gun, "trust data deleted");
                    StatusCode::OK.into_response()
                }
                Err(e) => internal(&e),
            };
            state.record("TrustDataDelete", &gun, &facts, response.status());
            response
        }
        NotaryRoute::Changefeed { gun } => changefeed(&state, gun.as_deref(), &query).await,
        NotaryRoute::Other | NotaryRoute::MethodNotAllowed => not_found(),
    };
    if head {
        let (parts, _) = response.into_parts();
        return Response::from_parts(parts, Body::empty());
    }
    response
}

/// Who made a trust-data request, and its request side.
struct EventFacts {
    subject: String,
    request: crate::audit::EventFacts,
}

impl EventFacts {
    fn of(request: &Request, subject: String) -> Self {
        let client = request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
        Self {
            subject,
            request: crate::audit::EventFacts::of(request.headers(), client),
        }
    }
}

impl TrustServerState {
    /// Records a trust-data write or delete of `gun` (`<loginServer>/<repository>`) as a
    /// repository event.
    fn record(&self, operation: &str, gun: &str, facts: &EventFacts, status: StatusCode) {
        let (login_server, repository) = gun.split_once('/').unwrap_or(("", gun));
        let mut event = facts.request.event(
            berth_domain::diagnostics::REPOSITORY_EVENTS,
            operation,
            status,
            crate::audit::reason(status),
            facts.subject.clone(),
            login_server,
        );
        event.repository = Some(repository.to_owned());
        self.diagnostics.record(event);
    }
}

/// `POST /v2/<gun>/_trust/tuf/`: the multipart upload, validated and stored whole.
async fn update(state: &TrustServerState, gun: &str, request: Request) -> Response {
    let (response, code) = upload(state, gun, request).await;
    state.metrics.trust_upload(code);
    response
}

/// An upload's answer, and Notary's error code for it (empty when accepted).
async fn upload(state: &TrustServerState, gun: &str, request: Request) -> (Response, &'static str) {
    let malformed = |detail: Option<Value>| {
        notary_error::answer(
            StatusCode::BAD_REQUEST,
            "MALFORMED_UPLOAD",
            "The body of your request is malformed.",
            detail,
        )
    };
    let too_large = || {
        notary_error::answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            "MALFORMED_UPLOAD",
            "The body of your request is malformed.",
            Some(json!("the upload is larger than this server accepts")),
        )
    };
    const MALFORMED: &str = "MALFORMED_UPLOAD";
    let mut multipart = match Multipart::from_request(request, &()).await {
        Ok(multipart) => multipart,
        Err(_) => return (malformed(None), MALFORMED),
    };
    let mut files = Vec::new();
    loop {
        match multipart.next_field().await {
            Ok(None) => break,
            Ok(Some(field)) => {
                let filename = field.file_name().unwrap_or_default().to_owned();
                match field.bytes().await {
                    Ok(data) => files.push(UploadedFile {
                        filename,
                        data: data.to_vec(),
                    }),
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        return (too_large(), MALFORMED);
                    }
                    Err(_) => return (malformed(None), MALFORMED),
                }
            }
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return (too_large(), MALFORMED);
            }
            Err(_) => return (malformed(None), MALFORMED),
        }
    }
    match state.server.publish(gun, &files).await {
        Ok(()) => {
            tracing::info!(trust.gun = %gun, "trust data published");
            (StatusCode::OK.into_response(), "")
        }
        Err(PublishError::Refused(refused)) => {
            tracing::info!(trust.gun = %gun, error.code = refused.code(), "trust data update refused");
            (notary_error::refused(&refused), refused.code())
        }
        Err(PublishError::NotAccepted(_)) => {
            // The token was issued before content trust was turned off (or its wipe began):
            // answered as a scope that no longer suffices, so a client asks the token
            // server again and is told the same.
            tracing::info!(trust.gun = %gun, "trust data refused: the registry does not accept it now");
            let route = NotaryRoute::Update {
                gun: gun.to_owned(),
            };
            (
                state.challenge(&route, &Denied::InsufficientScope),
                "DENIED",
            )
        }
        Err(PublishError::Store(e)) => (internal(&e), "UNKNOWN"),
    }
}

/// Notary's cache headers: consistent files (by version or checksum) for a year, current
/// ones for five minutes, revalidated (its defaults).
fn metadata_response(file: StoredTufFile, consistent: bool) -> Response {
    let cache = if consistent {
        "public, max-age=31536000, s-maxage=31536000"
    } else {
        "public, max-age=300, s-maxage=300, must-revalidate"
    };
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        file.data,
    )
        .into_response();
    if let Ok(modified) = file
        .stored_at
        .to_offset(time::UtcOffset::UTC)
        .format(&Rfc2822)
        .map(|d| d.replace("+0000", "GMT"))
        && let Ok(value) = HeaderValue::from_str(&modified)
    {
        response.headers_mut().insert(header::LAST_MODIFIED, value);
    }
    response
}

async fn metadata(
    state: &TrustServerState,
    gun: &str,
    role: &str,
    which: &TufSelector,
) -> Response {
    let Ok(role) = RoleName::parse(role) else {
        return not_found();
    };
    match state.server.metadata(gun, &role, which).await {
        Ok(Some(file)) => metadata_response(file, *which != TufSelector::Current),
        Ok(None) => not_found(),
        Err(ReadError::Refresh(e)) => internal(&e),
        Err(ReadError::Store(e)) => internal(&e),
    }
}

async fn key(state: &TrustServerState, gun: &str, role: &str, rotate: bool) -> Response {
    let Ok(role) = RoleName::parse(role) else {
        return not_found();
    };
    let result = if rotate {
        state.server.rotate_key(gun, &role).await
    } else {
        state.server.key(gun, &role).await
    };
    match result {
        Ok(key) => {
            if rotate {
                tracing::info!(trust.gun = %gun, trust.role = %role, "server key rotated");
            }
            Json(key.to_json()).into_response()
        }
        Err(KeyError::NotServerManaged(role)) => notary_error::answer(
            StatusCode::BAD_REQUEST,
            "INVALID_ROLE",
            "The role you are attempting to operate on is invalid.",
            Some(json!(role)),
        ),
        Err(KeyError::NotAccepted(_)) => {
            // As for a metadata update: a token issued before content trust was turned off
            // (or its wipe began) no longer suffices, and no key is made for the collection.
            tracing::info!(trust.gun = %gun, "server key refused: the registry does not accept trust data now");
            let route = NotaryRoute::Update {
                gun: gun.to_owned(),
            };
            state.challenge(&route, &Denied::InsufficientScope)
        }
        Err(KeyError::Store(e)) => internal(&e),
    }
}

async fn changefeed(state: &TrustServerState, gun: Option<&str>, query: &str) -> Response {
    let mut change_id = None;
    let mut records = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "change_id" if change_id.is_none() => change_id = Some(value.into_owned()),
            "records" if records.is_none() => records = Some(value.into_owned()),
            _ => {}
        }
    }
    match state
        .server
        .changefeed(gun, change_id.as_deref(), records.as_deref())
        .await
    {
        Ok(changes) => {
            let records: Vec<Value> = changes
                .iter()
                .map(|c| {
                    json!({
                        "ID": c.id.to_string(),
                        "CreatedAt": go_time(c.created_at),
                        "GUN": c.gun,
                        "Version": c.version,
                        "SHA256": c.sha256,
                        "Category": c.category.as_str(),
                    })
                })
                .collect();
            Json(json!({"count": records.len(), "records": records})).into_response()
        }
        Err(ChangefeedError::InvalidParameters(detail)) => notary_error::answer(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETERS",
            "The parameters provided are not valid.",
            Some(json!(detail)),
        ),
        Err(ChangefeedError::Store(e)) => internal(&e),
    }
}
