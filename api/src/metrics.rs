//! `GET /metrics`, in Prometheus' text format (0.0.4): requests by route template, method
//! and status with latency histograms, tokens issued and refused by grant, authorization
//! refusals, trust uploads by Notary error code, and what the store tells at each scrape
//! (content-trust wipes and what they have left, database pools, signing keys' ages).
//!
//! Labels carry bounded values only: route templates (never paths), methods of a fixed set,
//! status codes, grant and action names from the code. No id, name or token reaches one.
//!
//! Peers named by `BERTH_METRICS_ALLOW` scrape without a token; anyone else needs a token
//! that may read at the root scope (`Microsoft.Insights/metrics/read`, which Reader has).

use crate::auth::{Caller, bearer_token};
use crate::error::ApiError;
use crate::routes::token_server::ClientAddress;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_domain::identity::Audience;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// The action a token needs at `/` to scrape.
pub const READ_ACTION: &str = "Microsoft.Insights/metrics/read";

/// The latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

type Labels = Vec<(&'static str, String)>;

/// Counters of one name, by label set.
#[derive(Debug, Default)]
struct Counters {
    values: RwLock<BTreeMap<Labels, Arc<AtomicU64>>>,
}

impl Counters {
    fn add(&self, labels: Labels, n: u64) {
        if let Ok(values) = self.values.read()
            && let Some(v) = values.get(&labels)
        {
            v.fetch_add(n, Ordering::Relaxed);
            return;
        }
        if let Ok(mut values) = self.values.write() {
            values
                .entry(labels)
                .or_default()
                .fetch_add(n, Ordering::Relaxed);
        }
    }

    fn samples(&self) -> Vec<(Labels, u64)> {
        self.values.read().map_or_else(
            |_| Vec::new(),
            |v| {
                v.iter()
                    .map(|(l, c)| (l.clone(), c.load(Ordering::Relaxed)))
                    .collect()
            },
        )
    }
}

/// One histogram: counts per bucket (not cumulative), the sum in nanoseconds, the count.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

/// Histograms of one name, by label set.
#[derive(Debug, Default)]
struct Histograms {
    values: RwLock<BTreeMap<Labels, Arc<Histogram>>>,
}

impl Histograms {
    fn observe(&self, labels: Labels, seconds: f64) {
        let existing = self
            .values
            .read()
            .ok()
            .and_then(|v| v.get(&labels).cloned());
        let h = match existing {
            Some(h) => h,
            None => match self.values.write() {
                Ok(mut v) => v.entry(labels).or_default().clone(),
                Err(_) => return,
            },
        };
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            h.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a request's duration in nanoseconds fits in u64"
        )]
        h.sum_nanos
            .fetch_add((seconds * 1e9) as u64, Ordering::Relaxed);
        h.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// This replica's counters and histograms.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Counters,
    durations: Histograms,
    tokens_issued: Counters,
    tokens_refused: Counters,
    refusals: Counters,
    trust_uploads: Counters,
}

/// A method as a label: one of a fixed set.
fn method_label(method: &axum::http::Method) -> String {
    match method.as_str() {
        m @ ("GET" | "HEAD" | "PUT" | "PATCH" | "POST" | "DELETE" | "OPTIONS") => m.to_owned(),
        _ => "other".to_owned(),
    }
}

impl Metrics {
    /// Counts a token the token server (`server` `registry`) or the issuer (`issuer`)
    /// issued for `grant`.
    pub fn token_issued(&self, server: &'static str, grant: &str) {
        self.tokens_issued.add(
            vec![("server", server.to_owned()), ("grant", grant_label(grant))],
            1,
        );
    }

    /// Counts a token refused, with the OAuth or registry error code that said why.
    pub fn token_refused(&self, server: &'static str, grant: &str, code: &str) {
        self.tokens_refused.add(
            vec![
                ("server", server.to_owned()),
                ("grant", grant_label(grant)),
                ("code", bounded(code)),
            ],
            1,
        );
    }

    /// Counts an authorization refusal of `action` (a name from the code).
    pub fn refused(&self, action: &str) {
        self.refusals.add(vec![("action", bounded(action))], 1);
    }

    /// Counts a trust-data upload: accepted (`code` `""`) or refused with Notary's error code.
    pub fn trust_upload(&self, code: &str) {
        let (result, code) = if code.is_empty() {
            ("accepted", "none")
        } else {
            ("refused", code)
        };
        self.trust_uploads.add(
            vec![("result", result.to_owned()), ("code", bounded(code))],
            1,
        );
    }

    /// The text of a scrape: these metrics, then `gauges`.
    #[must_use]
    pub fn render(&self, gauges: &[berth_infra::persistence::GaugeSample]) -> String {
        let mut out = String::with_capacity(8192);
        counter_family(
            &mut out,
            "berth_http_requests_total",
            "HTTP requests answered, by route template, method and status.",
            &self.requests,
        );
        histogram_family(
            &mut out,
            "berth_http_request_duration_seconds",
            "Time to answer HTTP requests, by route template and method.",
            &self.durations,
        );
        counter_family(
            &mut out,
            "berth_tokens_issued_total",
            "Tokens issued, by server (registry token server or issuer) and grant.",
            &self.tokens_issued,
        );
        counter_family(
            &mut out,
            "berth_tokens_refused_total",
            "Token requests refused, by server, grant and error code.",
            &self.tokens_refused,
        );
        counter_family(
            &mut out,
            "berth_authorization_refusals_total",
            "Requests refused for want of a permission, by the action refused.",
            &self.refusals,
        );
        counter_family(
            &mut out,
            "berth_trust_uploads_total",
            "Trust-data uploads to the embedded trust server, by result and Notary error code.",
            &self.trust_uploads,
        );
        let mut by_name: BTreeMap<&str, Vec<&berth_infra::persistence::GaugeSample>> =
            BTreeMap::new();
        for g in gauges {
            by_name.entry(g.name).or_default().push(g);
        }
        for (name, samples) in by_name {
            let _ = writeln!(out, "# HELP {name} {}", samples[0].help);
            let _ = writeln!(out, "# TYPE {name} gauge");
            for s in samples {
                let _ = writeln!(out, "{name}{} {}", labels(&s.labels, None), s.value);
            }
        }
        out
    }
}

/// A grant name as a label: the grants Berth knows, or `other`.
fn grant_label(grant: &str) -> String {
    match grant {
        "password" | "refresh_token" | "access_token" | "client_credentials"
        | "authorization_code" | "basic" | "anonymous" => grant.to_owned(),
        _ => "other".to_owned(),
    }
}

/// A code-given name as a label, cut to a sane length and character set.
fn bounded(value: &str) -> String {
    value
        .chars()
        .take(96)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_./-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

fn labels(labels: &[(&'static str, String)], le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn counter_family(out: &mut String, name: &str, help: &str, counters: &Counters) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    for (l, v) in counters.samples() {
        let _ = writeln!(out, "{name}{} {v}", labels(&l, None));
    }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "nanosecond sums far below 2^52 s"
)]
fn histogram_family(out: &mut String, name: &str, help: &str, histograms: &Histograms) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    let Ok(values) = histograms.values.read() else {
        return;
    };
    for (l, h) in values.iter() {
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += h.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{} {cumulative}",
                labels(l, Some(&bound.to_string()))
            );
        }
        let count = h.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{} {count}", labels(l, Some("+Inf")));
        let sum = h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{} {sum}", labels(l, None));
        let _ = writeln!(out, "{name}_count{} {count}", labels(l, None));
    }
}

/// Counts and times every request of the control plane, by its route template.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    counted(&state, "control", route, req, next).await
}

/// Counts and times every request of the login servers (the registry API, the trust store,
/// the token server at a registry's host), by a route template of the registry API: a
/// repository, tag or digest never becomes a label.
pub async fn track_login(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = login_route(req.uri().path()).to_owned();
    counted(&state, "login", route, req, next).await
}

async fn counted(
    state: &AppState,
    server: &'static str,
    route: String,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let response = next.run(req).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();
    state.metrics.requests.add(
        vec![
            ("server", server.to_owned()),
            ("route", route.clone()),
            ("method", method.clone()),
            ("status", status),
        ],
        1,
    );
    state.metrics.durations.observe(
        vec![
            ("server", server.to_owned()),
            ("route", route),
            ("method", method),
        ],
        seconds,
    );
    response
}

/// The route template of a login server's request path.
fn login_route(path: &str) -> &'static str {
    match path {
        "/v2" | "/v2/" => return "/v2/",
        "/v2/_catalog" => return "/v2/_catalog",
        "/oauth2/token" => return "/oauth2/token",
        "/oauth2/exchange" => return "/oauth2/exchange",
        _ => {}
    }
    if path.starts_with("/acr/v1/") {
        return "/acr/v1/{path}";
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return "other";
    };
    // The repository name has slashes of its own: the template is told by what follows it.
    if rest.contains("/_trust/tuf/") {
        return "/v2/{name}/_trust/tuf/{file}";
    }
    let segments: Vec<&str> = rest.split('/').collect();
    match segments.as_slice() {
        [.., "tags", "list"] => "/v2/{name}/tags/list",
        [.., "blobs", "uploads", ""] => "/v2/{name}/blobs/uploads/",
        [.., "blobs", "uploads", _] => "/v2/{name}/blobs/uploads/{uuid}",
        [.., "blobs", _] => "/v2/{name}/blobs/{digest}",
        [.., "manifests", _] => "/v2/{name}/manifests/{reference}",
        [.., "referrers", _] => "/v2/{name}/referrers/{digest}",
        _ => "other",
    }
}

/// `GET /metrics`.
pub async fn scrape(State(state): State<AppState>, req: Request) -> Response {
    let peer = ClientAddress::of(req.extensions(), req.headers(), &state);
    let allowed_peer = peer
        .0
        .parse()
        .is_ok_and(|ip| state.metrics_allow.contains(ip));
    if !allowed_peer {
        let Some(token) = bearer_token(req.headers()) else {
            return ApiError::authentication_failed(
                "Authentication failed. /metrics needs a bearer token from this address.",
            )
            .into_response();
        };
        let caller: Caller =
            match crate::auth::authenticate(&state, token, Audience::Management).await {
                Ok(caller) => caller,
                Err(e) => return e.into_response(),
            };
        if let Err(e) = state.authorize(&caller, READ_ACTION, "/") {
            return e.into_response();
        }
    }
    let now_ms = i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or(i64::MAX);
    let gauges = match state.store_gauges.read(now_ms).await {
        Ok(g) => g,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut response = state.metrics.render(&gauges).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_server_paths_become_bounded_templates() {
        for (path, route) in [
            ("/v2/", "/v2/"),
            ("/v2", "/v2/"),
            ("/v2/_catalog", "/v2/_catalog"),
            (
                "/v2/team/app/manifests/v1",
                "/v2/{name}/manifests/{reference}",
            ),
            (
                "/v2/a/b/c/manifests/sha256:ab",
                "/v2/{name}/manifests/{reference}",
            ),
            ("/v2/app/blobs/sha256:ab", "/v2/{name}/blobs/{digest}"),
            ("/v2/team/app/blobs/uploads/", "/v2/{name}/blobs/uploads/"),
            (
                "/v2/team/app/blobs/uploads/5f1e",
                "/v2/{name}/blobs/uploads/{uuid}",
            ),
            ("/v2/team/app/tags/list", "/v2/{name}/tags/list"),
            (
                "/v2/team/app/referrers/sha256:ab",
                "/v2/{name}/referrers/{digest}",
            ),
            (
                "/v2/r.example/app/_trust/tuf/root.json",
                "/v2/{name}/_trust/tuf/{file}",
            ),
            (
                "/v2/r.example/app/_trust/tuf/",
                "/v2/{name}/_trust/tuf/{file}",
            ),
            ("/oauth2/token", "/oauth2/token"),
            ("/acr/v1/team/app/_tags", "/acr/v1/{path}"),
            ("/v2/team/app/anything", "other"),
            ("/secret-looking/path", "other"),
        ] {
            assert_eq!(login_route(path), route, "{path}");
        }
    }

    #[test]
    fn the_text_has_cumulative_buckets_and_escaped_labels() {
        let m = Metrics::default();
        m.durations.observe(vec![("route", "/a".to_owned())], 0.003);
        m.durations.observe(vec![("route", "/a".to_owned())], 20.0);
        m.token_issued("registry", "password");
        m.token_issued("registry", "password");
        m.token_refused("registry", "made-up grant", "UNAUTHORIZED");
        m.refused("x\"y");
        let text = m.render(&[]);
        assert!(
            text.contains(
                "berth_http_request_duration_seconds_bucket{route=\"/a\",le=\"0.005\"} 1"
            )
        );
        assert!(
            text.contains("berth_http_request_duration_seconds_bucket{route=\"/a\",le=\"10\"} 1")
        );
        assert!(
            text.contains("berth_http_request_duration_seconds_bucket{route=\"/a\",le=\"+Inf\"} 2")
        );
        assert!(text.contains("berth_http_request_duration_seconds_count{route=\"/a\"} 2"));
        assert!(
            text.contains("berth_tokens_issued_total{server=\"registry\",grant=\"password\"} 2")
        );
        assert!(
            text.contains("grant=\"other\",code=\"UNAUTHORIZED\""),
            "{text}"
        );
        assert!(text.contains("action=\"x_y\""), "{text}");
    }
}
