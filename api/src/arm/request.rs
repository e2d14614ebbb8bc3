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
/// and `Host` of the request when that names this listener (loopback names and the bound
/// address, with its port), else the listener's own address. A forged `Host` never reaches
/// `Location`, `Azure-AsyncOperation` or `nextLink`, so a client following them does not
/// send its bearer token elsewhere.
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
            .and_then(|h| state.local_authorities.matching(h))
            .unwrap_or_else(|| state.local_authorities.primary());
        Ok(Self(format!("{}://{host}", state.scheme)))
    }
}

/// The `host:port` forms a request may name this listener by when no public URL is set.
#[derive(Debug, Clone)]
pub struct LocalAuthorities(Vec<String>);

impl LocalAuthorities {
    /// The bound address, and the loopback names for its port (all of them when bound to
    /// every interface, since the address itself is then no place to send a client).
    #[must_use]
    pub fn of(local: std::net::SocketAddr) -> Self {
        let port = local.port();
        let mut names = Vec::new();
        if !local.ip().is_unspecified() {
            names.push(local.to_string());
        }
        if local.ip().is_loopback() || local.ip().is_unspecified() {
            for loopback in ["127.0.0.1", "localhost", "[::1]"] {
                let name = format!("{loopback}:{port}");
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        Self(names)
    }

    /// The authority absolute URLs use when the request's `Host` is not one of ours.
    #[must_use]
    pub fn primary(&self) -> &str {
        self.0.first().map_or("127.0.0.1", String::as_str)
    }

    /// `host` when it names this listener (any case).
    #[must_use]
    pub fn matching<'a>(&'a self, host: &str) -> Option<&'a str> {
        self.0
            .iter()
            .find(|known| known.eq_ignore_ascii_case(host))
            .map(String::as_str)
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
/// `x-ms-correlation-request-id` header name.
pub const CORRELATION_ID: HeaderName = HeaderName::from_static("x-ms-correlation-request-id");
/// `x-ms-client-request-id` header name.
pub const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-client-request-id");

/// A header's text for a record (a log line, an event): at most 256 characters, empty when
/// absent or not text.
#[must_use]
pub fn header_text(headers: &axum::http::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(256)
        .collect()
}

/// The trace id of a `traceparent` (`00-<trace id>-<span id>-<flags>`).
#[must_use]
pub fn trace_id_of(traceparent: &str) -> Option<&str> {
    traceparent.split('-').nth(1)
}

/// W3C Trace Context's header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The trace a request belongs to: the `traceparent` it brought, continued with a span of
/// berthd's own, or a new trace (W3C Trace Context, version 00).
#[must_use]
pub fn continue_trace(received: Option<&HeaderValue>) -> String {
    let parsed = received.and_then(|v| v.to_str().ok()).and_then(|v| {
        let parts: Vec<&str> = v.trim().split('-').collect();
        let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        match parts.as_slice() {
            [version, trace, parent, flags]
                if hex(version, 2)
                    && *version != "ff"
                    && hex(trace, 32)
                    && hex(parent, 16)
                    && hex(flags, 2)
                    && trace.bytes().any(|b| b != b'0')
                    && parent.bytes().any(|b| b != b'0') =>
            {
                Some((trace.to_ascii_lowercase(), flags.to_ascii_lowercase()))
            }
            _ => None,
        }
    });
    let (trace, flags) =
        parsed.unwrap_or_else(|| (uuid::Uuid::new_v4().simple().to_string(), "01".to_owned()));
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace}-{span}-{flags}")
}

/// Gives every request an `x-ms-request-id` (set on the request, for the trace span, and on
/// the response), echoes `x-ms-correlation-request-id` (generated when absent) and
/// `x-ms-client-request-id`, and continues a W3C `traceparent` (or starts one): the request
/// carries berthd's own, so its log lines and records name the trace, and so does the answer.
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
    let trace = HeaderValue::from_str(&continue_trace(req.headers().get(&TRACEPARENT)))
        .unwrap_or(HeaderValue::from_static("-"));
    req.headers_mut().insert(TRACEPARENT.clone(), trace.clone());
    // Downstream (the activity log) reads the one answered.
    req.headers_mut()
        .insert(CORRELATION_ID.clone(), correlation.clone());
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(REQUEST_ID, id_value);
    headers.insert(CORRELATION_ID, correlation);
    headers.insert(TRACEPARENT, trace);
    if let Some(client) = client {
        headers.insert(CLIENT_REQUEST_ID, client);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::LocalAuthorities;

    #[test]
    fn a_received_traceparent_is_continued_and_a_bad_one_replaced() {
        let received = axum::http::HeaderValue::from_static(
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        );
        let next = super::continue_trace(Some(&received));
        assert!(
            next.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{next}"
        );
        assert!(
            !next.contains("00f067aa0ba902b7") && next.ends_with("-01"),
            "{next}"
        );
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-xyz-00f067aa0ba902b7-01",
        ] {
            let next = super::continue_trace(Some(&axum::http::HeaderValue::from_static(bad)));
            assert!(
                !next.contains("4bf92f3577b34da6a3ce929d0e0e4736") || bad.starts_with("ff"),
                "{bad}: {next}"
            );
            assert_eq!(next.len(), 55, "{next}");
        }
        assert_eq!(super::continue_trace(None).len(), 55);
    }

    #[test]
    fn only_names_of_the_listener_are_taken_from_host() {
        let loopback =
            LocalAuthorities::of("127.0.0.1:8443".parse().unwrap_or_else(|_| unreachable!()));
        assert_eq!(loopback.matching("LOCALHOST:8443"), Some("localhost:8443"));
        assert_eq!(loopback.matching("127.0.0.1:8443"), Some("127.0.0.1:8443"));
        assert_eq!(loopback.matching("attacker.example"), None);
        assert_eq!(loopback.matching("attacker.example:8443"), None);
        assert_eq!(loopback.matching("localhost:9999"), None, "another port");
        assert_eq!(loopback.primary(), "127.0.0.1:8443");
        let any = LocalAuthorities::of("0.0.0.0:8443".parse().unwrap_or_else(|_| unreachable!()));
        assert_eq!(any.primary(), "127.0.0.1:8443");
        assert_eq!(any.matching("0.0.0.0:8443"), None);
        let lan = LocalAuthorities::of("10.1.2.3:8443".parse().unwrap_or_else(|_| unreachable!()));
        assert_eq!(lan.matching("10.1.2.3:8443"), Some("10.1.2.3:8443"));
        assert_eq!(lan.matching("localhost:8443"), None);
    }
}
