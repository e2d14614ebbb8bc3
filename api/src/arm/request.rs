//! Per-request facts: the public base URL, ETag preconditions, and request ids.

use crate::state::AppState;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use berth_domain::arm::Precondition;
use std::convert::Infallible;

/// The base URL clients reach this server by: the configured public URL, else the scheme
/// and `Host` of the request.
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

impl FromRequestParts<AppState> for BaseUrl {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(url) = &state.public_url {
            return Ok(Self(url.clone()));
        }
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
            .map_or_else(|| state.local_authority.clone(), str::to_owned);
        Ok(Self(format!("{}://{host}", state.scheme)))
    }
}

/// `If-Match` / `If-None-Match`.
#[derive(Debug, Clone, Default)]
pub struct Conditional(pub Precondition);

impl<S: Send + Sync> FromRequestParts<S> for Conditional {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let get = |name: HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
        Ok(Self(Precondition::from_headers(
            get(header::IF_MATCH),
            get(header::IF_NONE_MATCH),
        )))
    }
}

/// `x-ms-request-id` header name.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-request-id");
const CORRELATION_ID: HeaderName = HeaderName::from_static("x-ms-correlation-request-id");
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-client-request-id");

/// Gives every request an `x-ms-request-id` (set on the request, for the trace span, and on
/// the response), and echoes `x-ms-correlation-request-id` (generated when absent) and
/// `x-ms-client-request-id`.
pub async fn request_ids(mut req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let id_value = HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("-"));
    let sane = |v: &HeaderValue| v.len() <= 128 && v.as_bytes().iter().all(u8::is_ascii_graphic);
    let correlation = req
        .headers()
        .get(&CORRELATION_ID)
        .filter(|v| sane(v))
        .cloned()
        .unwrap_or_else(|| id_value.clone());
    let client = req
        .headers()
        .get(&CLIENT_REQUEST_ID)
        .filter(|v| sane(v))
        .cloned();
    req.headers_mut().insert(REQUEST_ID, id_value.clone());
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(REQUEST_ID, id_value);
    headers.insert(CORRELATION_ID, correlation);
    if let Some(client) = client {
        headers.insert(CLIENT_REQUEST_ID, client);
    }
    response
}
