//! The data plane behind the login servers: each authorized registry API request is
//! forwarded to the one Distribution registry all registries share, with the registry's
//! prefix (`<registry>/<repo>`, see [`Namespace`]) added to what the client names and
//! taken off what the backend answers:
//! - the path, and a cross-repository mount's `from` (always inside the same registry);
//! - `Location` (Distribution is run with relative URLs) and `Link`;
//! - the catalog, filtered to the registry's repositories and paged by its own `Link`;
//! - the tags list's `name`, and names in error bodies.
//!
//! Bodies stream both ways: no blob is held whole, so chunked and monolithic uploads,
//! `Range` and `HEAD` pass through. Only a tags list or an error body (small JSON, capped)
//! is read whole, to rewrite its names.

use super::local::LocalStorage;
use crate::error::registry;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_domain::registry::Namespace;
use futures_util::TryStreamExt;
use http_body::Body as _;
use std::sync::Arc;

/// The largest JSON body read whole to rewrite its names (a tags list or an error).
const MAX_REWRITTEN_BODY: usize = 4 * 1024 * 1024;
/// Catalog entries a page holds when the client does not say.
const DEFAULT_PAGE: usize = 100;

/// What berthd presents to a data plane that checks tokens (an external Distribution):
/// a bearer token granting exactly what was authorized at the login server.
pub trait DataPlaneCredentials: Send + Sync {
    /// The token for `grants`, or why none could be made.
    ///
    /// # Errors
    /// A message for the log when no token can be signed.
    fn bearer(&self, grants: &[Grant]) -> Result<String, String>;
}

/// One resource and the actions a forwarded request needs on it, in backend names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `repository` or `registry`.
    pub kind: &'static str,
    /// The backend's name (`<registry>/<repo>`), or `catalog`.
    pub name: String,
    /// The actions.
    pub actions: Vec<&'static str>,
}

/// Whether the data plane can serve now, as its supervisor sees it.
pub trait Readiness: Send + Sync {
    /// `None` when it can; otherwise why not.
    fn unready(&self) -> Option<String>;
}

/// The data plane the login servers forward to.
#[derive(Clone)]
pub enum DataPlane {
    /// None is run: Berth is the token server of registries run elsewhere.
    None,
    /// It should run but cannot (the message says why and what to do).
    Unavailable(Arc<str>),
    /// A Distribution registry.
    Backend(Backend),
}

/// A Distribution registry reached over HTTP: the embedded one on its unix socket, or an
/// external one that takes berthd's tokens.
#[derive(Clone)]
pub struct Backend {
    client: reqwest::Client,
    base: reqwest::Url,
    readiness: Arc<dyn Readiness>,
    credentials: Option<Arc<dyn DataPlaneCredentials>>,
    local_storage: Option<Arc<dyn LocalStorage>>,
}

impl Backend {
    /// A backend reached with `client` at `base` (`http://data-plane`).
    #[must_use]
    pub fn new(client: reqwest::Client, base: reqwest::Url, readiness: Arc<dyn Readiness>) -> Self {
        Self {
            client,
            base,
            readiness,
            credentials: None,
            local_storage: None,
        }
    }

    /// The same backend, whose blobs and manifests are read from `storage` when they are
    /// there (see [`super::local`]).
    #[must_use]
    pub fn with_local_storage(mut self, storage: Arc<dyn LocalStorage>) -> Self {
        self.local_storage = Some(storage);
        self
    }

    /// The same backend, sent a token from `credentials` with every request.
    #[must_use]
    pub fn with_credentials(mut self, credentials: Arc<dyn DataPlaneCredentials>) -> Self {
        self.credentials = Some(credentials);
        self
    }
}

/// A request on its way to the backend: what the client sent, and where it goes there.
pub(crate) struct Forward {
    /// The method.
    pub(crate) method: Method,
    /// The backend path (`/v2/<registry>/<repo>/...`, or `/v2/_catalog`).
    pub(crate) path: String,
    /// The query pairs, rewritten.
    pub(crate) query: Vec<(String, String)>,
    /// The client's headers.
    pub(crate) headers: HeaderMap,
    /// The client's body.
    pub(crate) body: Body,
    /// What the request needs at the backend, for a backend that checks tokens.
    pub(crate) grants: Vec<Grant>,
}

/// What an answer's body needs done to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Streamed as it comes (an error body is still rewritten).
    Stream,
    /// A tags list: its `name` is rewritten.
    Tags,
}

/// Headers that belong to one connection, never forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn forwardable(name: &HeaderName) -> bool {
    !HOP_BY_HOP.contains(&name.as_str()) && name != header::HOST && name != header::AUTHORIZATION
}

/// Why the data plane cannot take a request now.
enum Unserved {
    /// None is run.
    NoPlane,
    /// It should run but cannot, or is starting.
    Unavailable(String),
}

impl IntoResponse for Unserved {
    fn into_response(self) -> Response {
        match self {
            Self::NoPlane => registry::error(
                StatusCode::NOT_FOUND,
                "UNSUPPORTED",
                "this Berth runs no data plane (BERTH_REGISTRY_BACKEND=none): it is the token \
                 server of registries served elsewhere"
                    .to_owned(),
            ),
            Self::Unavailable(why) => unavailable(why),
        }
    }
}

impl DataPlane {
    /// The backend, when it can serve now.
    fn backend(&self) -> Result<&Backend, Unserved> {
        match self {
            Self::None => Err(Unserved::NoPlane),
            Self::Unavailable(why) => Err(Unserved::Unavailable(why.to_string())),
            Self::Backend(backend) => match backend.readiness.unready() {
                Some(why) => Err(Unserved::Unavailable(why)),
                None => Ok(backend),
            },
        }
    }

    /// The data plane's files, when berthd can read them.
    pub(super) fn local_storage(&self) -> Option<Arc<dyn LocalStorage>> {
        match self {
            Self::Backend(backend) => backend.local_storage.clone(),
            _ => None,
        }
    }

    /// Forwards `request` for the registry of `namespace`, streaming, and rewrites the
    /// answer as [`Answer`] says.
    pub(crate) async fn forward(
        &self,
        namespace: &Namespace,
        request: Forward,
        answer: Answer,
    ) -> Response {
        let backend = match self.backend() {
            Ok(backend) => backend,
            Err(unserved) => return unserved.into_response(),
        };
        let reply = match send(backend, request).await {
            Ok(reply) => reply,
            Err(response) => return response,
        };
        let status = reply.status();
        let mut headers = HeaderMap::with_capacity(reply.headers().len());
        for (name, value) in reply.headers() {
            if !forwardable(name) {
                continue;
            }
            let value = if name == header::LOCATION || name == header::LINK {
                rewrite_url_header(namespace, value)
            } else {
                value.clone()
            };
            headers.append(name.clone(), value);
        }
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/json"));
        let rewrite = json
            && (status.is_client_error() || status.is_server_error() || answer == Answer::Tags);
        let body = if rewrite {
            headers.remove(header::CONTENT_LENGTH);
            match read_capped(reply).await {
                Some(bytes) => Body::from(rewrite_names(namespace, &bytes)),
                None => return bad_gateway("the data plane's answer was too large or cut off"),
            }
        } else {
            Body::from_stream(reply.bytes_stream())
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }

    /// The registry's page of the catalog: the backend's catalog from just before the
    /// registry's first repository (or after the client's `last`), its own entries only.
    pub(crate) async fn catalog(
        &self,
        namespace: &Namespace,
        n: Option<&str>,
        last: Option<&str>,
    ) -> Response {
        let n = match n.map(super::route::page_size) {
            None => DEFAULT_PAGE,
            Some(Ok(n)) => n,
            Some(Err(refused)) => return super::refusal(refused),
        };
        let after = match last {
            None | Some("") => namespace.prefix().to_owned(),
            Some(last) => match namespace.backend(last) {
                Ok(name) => name,
                Err(e) => {
                    return registry::error(StatusCode::BAD_REQUEST, "NAME_INVALID", e.to_string());
                }
            },
        };
        let backend = match self.backend() {
            Ok(backend) => backend,
            Err(unserved) => return unserved.into_response(),
        };
        let request = Forward {
            method: Method::GET,
            path: "/v2/_catalog".to_owned(),
            query: vec![("n".to_owned(), n.to_string()), ("last".to_owned(), after)],
            headers: HeaderMap::new(),
            body: Body::empty(),
            grants: vec![Grant {
                kind: "registry",
                name: "catalog".to_owned(),
                actions: vec!["*"],
            }],
        };
        let reply = match send(backend, request).await {
            Ok(reply) => reply,
            Err(response) => return response,
        };
        if !reply.status().is_success() {
            return bad_gateway(&format!(
                "the data plane's catalog answered {}",
                reply.status()
            ));
        }
        let Some(bytes) = read_capped(reply).await else {
            return bad_gateway("the data plane's catalog was too large or cut off");
        };
        let Ok(page) = serde_json::from_slice::<Catalog>(&bytes) else {
            return bad_gateway("the data plane's catalog is not JSON");
        };
        let full = page.repositories.len() == n;
        let mine: Vec<String> = page
            .repositories
            .iter()
            .map_while(|name| namespace.client(name).map(str::to_owned))
            .collect();
        let more = full && mine.len() == n;
        let mut response = axum::Json(Catalog {
            repositories: mine.clone(),
        })
        .into_response();
        if let (true, Some(last)) = (more, mine.last()) {
            let link = format!(
                "</v2/_catalog?last={}&n={n}>; rel=\"next\"",
                urlencoding::encode(last)
            );
            if let Ok(value) = HeaderValue::from_str(&link) {
                response.headers_mut().insert(header::LINK, value);
            }
        }
        response
    }
}

/// The catalog's body.
#[derive(serde::Serialize, serde::Deserialize)]
struct Catalog {
    repositories: Vec<String>,
}

/// Sends a request to the backend; an unreachable backend is a 503, another failure a 502.
async fn send(backend: &Backend, request: Forward) -> Result<reqwest::Response, Response> {
    let mut url = backend.base.clone();
    url.set_path(&request.path);
    if request.query.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(&request.query);
    }
    let mut headers = reqwest::header::HeaderMap::with_capacity(request.headers.len());
    for (name, value) in &request.headers {
        if forwardable(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    if let Some(credentials) = &backend.credentials {
        let token = credentials.bearer(&request.grants).map_err(|why| {
            tracing::error!(error.cause = %why, "cannot sign a token for the data plane");
            unavailable("berthd cannot sign a token for the data plane now".to_owned())
        })?;
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| bad_gateway("the data plane's token is not a header value"))?;
        headers.insert(header::AUTHORIZATION, value);
    }
    let mut outgoing = backend.client.request(request.method, url).headers(headers);
    if request.body.size_hint().exact() != Some(0) {
        outgoing = outgoing.body(reqwest::Body::wrap_stream(request.body.into_data_stream()));
    }
    let reply = outgoing.send().await.map_err(|e| {
        if e.is_connect() {
            tracing::warn!(error.cause = %e, "the data plane is unreachable");
            unavailable("the data plane is unreachable; retry in a moment".to_owned())
        } else {
            tracing::warn!(error.cause = %e, "the data plane failed a request");
            bad_gateway("the data plane failed the request")
        }
    })?;
    if reply.status() == StatusCode::UNAUTHORIZED {
        // Every request was authorized here; a refusal there is a misconfiguration.
        tracing::error!(
            challenge = ?reply.headers().get(header::WWW_AUTHENTICATE),
            "the data plane refused berthd's token: its auth.token must name the service \
             BERTH_REGISTRY_BACKEND_SERVICE, the issuer BERTH_REGISTRY_TOKEN_ISSUER, and berthd's \
             token certificates as rootcertbundle"
        );
        return Err(bad_gateway("the data plane refused berthd's credentials"));
    }
    Ok(reply)
}

/// Reads a body whole, up to [`MAX_REWRITTEN_BODY`].
async fn read_capped(reply: reqwest::Response) -> Option<Vec<u8>> {
    let mut stream = reply.bytes_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.try_next().await.ok()? {
        if bytes.len() + chunk.len() > MAX_REWRITTEN_BODY {
            return None;
        }
        bytes.extend_from_slice(&chunk);
    }
    Some(bytes)
}

/// Takes the registry's prefix off a `Location` or `Link` that names the backend's path
/// (`/v2/<registry>/...`, relative, or absolute on the backend's host); any other URL (a
/// redirect to object storage) is kept.
fn rewrite_url_header(namespace: &Namespace, value: &HeaderValue) -> HeaderValue {
    let Ok(text) = value.to_str() else {
        return value.clone();
    };
    let backend_path = format!("/v2/{}", namespace.prefix());
    let rewritten = text.replace(&backend_path, "/v2/");
    HeaderValue::from_str(&rewritten).unwrap_or_else(|_| value.clone())
}

/// Takes the registry's prefix off every string of a JSON body that starts with it; a body
/// that is not JSON is kept as it is.
fn rewrite_names(namespace: &Namespace, bytes: &[u8]) -> Vec<u8> {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return bytes.to_vec();
    };
    strip(namespace, &mut value);
    serde_json::to_vec(&value).unwrap_or_else(|_| bytes.to_vec())
}

fn strip(namespace: &Namespace, value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            if let Some(client) = namespace.client(s) {
                *s = client.to_owned();
            } else if s.contains(namespace.prefix()) {
                *s = s.replace(&format!(" {}", namespace.prefix()), " ");
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| strip(namespace, v)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| strip(namespace, v)),
        _ => {}
    }
}

/// 503 with the reason, and a hint to retry.
fn unavailable(message: String) -> Response {
    let mut response = registry::error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn bad_gateway(message: &str) -> Response {
    registry::error(StatusCode::BAD_GATEWAY, "UNAVAILABLE", message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_domain::registry::RegistryName;

    fn namespace() -> Namespace {
        Namespace::of(&RegistryName::parse("MyReg1").unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn locations_and_links_lose_the_prefix_and_storage_redirects_are_kept() {
        let ns = namespace();
        let header = |s: &str| HeaderValue::from_str(s).unwrap_or_else(|e| panic!("{e}"));
        let location = header("/v2/myreg1/team/app/blobs/uploads/abc?_state=x");
        assert_eq!(
            rewrite_url_header(&ns, &location),
            "/v2/team/app/blobs/uploads/abc?_state=x"
        );
        let storage = header("https://bucket.example/v2/blobs/sha256/ab?sig=1");
        assert_eq!(rewrite_url_header(&ns, &storage), storage);
    }

    #[test]
    fn names_in_json_bodies_lose_the_prefix() {
        let ns = namespace();
        let body =
            br#"{"name":"myreg1/app","tags":["v1"],"errors":[{"detail":{"name":"myreg1/x"}}]}"#;
        let out: serde_json::Value =
            serde_json::from_slice(&rewrite_names(&ns, body)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out["name"], "app");
        assert_eq!(out["errors"][0]["detail"]["name"], "x");
        assert_eq!(rewrite_names(&ns, b"not json"), b"not json");
    }
}
