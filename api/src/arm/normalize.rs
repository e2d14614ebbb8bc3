//! ARM compares resource ids without regard to case, and clients differ in how they spell
//! the fixed parts (`resourcegroups`, `resourceGroups`; `microsoft.containerregistry`).
//! Before routing, the fixed segments of an ARM path are rewritten to their canonical
//! spelling and a trailing slash is dropped. Names are left exactly as sent.

use axum::http::Request;
use axum::http::Uri;
use axum::http::uri::PathAndQuery;

const KEYS: &[&str] = &[
    "subscriptions",
    "resourceGroups",
    "providers",
    "resources",
    "registries",
    "operationResults",
    "operationStatuses",
    "checkNameAvailability",
    "locations",
    "roleAssignments",
    "roleDefinitions",
    "eventtypes",
    "values",
];

const NAMESPACES: &[&str] = &[
    "Microsoft.ContainerRegistry",
    "Microsoft.Resources",
    "Microsoft.Authorization",
    "Microsoft.Insights",
];

fn canonical(segment: &str, table: &[&'static str]) -> Option<&'static str> {
    table
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(segment))
}

/// Returns the canonical form of `path`.
#[must_use]
pub fn normalize_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    let mut segments: Vec<&str> = trimmed.split('/').skip(1).collect();
    let is_arm = segments.first().is_some_and(|s| {
        s.eq_ignore_ascii_case("subscriptions") || s.eq_ignore_ascii_case("providers")
    });
    if !is_arm {
        // Other paths are served as sent (the docs UI relies on its trailing slash).
        return path.to_owned();
    }
    enum Expect {
        Key,
        Namespace,
        Value,
    }
    let mut expect = Expect::Key;
    for segment in &mut segments {
        expect = match expect {
            Expect::Key => {
                let key = canonical(segment, KEYS);
                if let Some(key) = key {
                    *segment = key;
                }
                if key == Some("providers") {
                    Expect::Namespace
                } else {
                    Expect::Value
                }
            }
            Expect::Namespace => {
                if let Some(ns) = canonical(segment, NAMESPACES) {
                    *segment = ns;
                }
                Expect::Key
            }
            Expect::Value => Expect::Key,
        };
    }
    let mut out = String::with_capacity(path.len());
    for segment in segments {
        out.push('/');
        out.push_str(segment);
    }
    out
}

/// The scope an extension resource (`Microsoft.Authorization`) was addressed under: the
/// part of the path before `/providers/Microsoft.Authorization/`, as sent (`/` for none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopePrefix(pub String);

const EXTENSION: &str = "/providers/microsoft.authorization/";

/// Rewrites the request's URI path to its canonical form (query kept). An extension
/// resource under any scope (`{scope}/providers/Microsoft.Authorization/...`) is routed as
/// if at the root, with the scope handed over as a [`ScopePrefix`].
pub fn normalize_request<B>(mut req: Request<B>) -> Request<B> {
    let sent = req.uri().path();
    // A base URL with a trailing slash gives `//metadata/...` (az's cloud discovery):
    // empty segments mean nothing anywhere here, so runs of slashes become one.
    let full = if sent.contains("//") {
        let mut collapsed = String::with_capacity(sent.len());
        for c in sent.chars() {
            if !(c == '/' && collapsed.ends_with('/')) {
                collapsed.push(c);
            }
        }
        collapsed
    } else {
        sent.to_owned()
    };
    let (scope, path) = match full.to_ascii_lowercase().find(EXTENSION) {
        Some(at) => {
            let scope = full[..at].trim_end_matches('/');
            (
                Some(if scope.is_empty() {
                    "/".to_owned()
                } else {
                    scope.to_owned()
                }),
                &full[at..],
            )
        }
        None => (None, full.as_str()),
    };
    if let Some(scope) = scope {
        req.extensions_mut().insert(ScopePrefix(scope));
    }
    let normalized = normalize_path(path);
    if normalized != req.uri().path() {
        let path_and_query = match req.uri().query() {
            Some(q) => format!("{normalized}?{q}"),
            None => normalized,
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = path_and_query.parse::<PathAndQuery>() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

/// The layer that normalizes paths; it wraps the whole router, since a layer added inside
/// the router runs after routing.
pub type NormalizeArmPath<B> = tower::util::MapRequestLayer<fn(Request<B>) -> Request<B>>;

/// Builds the normalizing layer for requests with body `B`.
#[must_use]
pub fn layer<B>() -> NormalizeArmPath<B> {
    tower::util::MapRequestLayer::new(normalize_request::<B> as fn(Request<B>) -> Request<B>)
}

#[cfg(test)]
mod tests {
    use super::{Request, ScopePrefix, normalize_path, normalize_request};

    #[test]
    fn fixed_segments_are_canonical_and_names_keep_their_case() {
        assert_eq!(
            normalize_path(
                "/SUBSCRIPTIONS/S/resourcegroups/MyRg/providers/microsoft.containerregistry/REGISTRIES/MyReg/"
            ),
            "/subscriptions/S/resourceGroups/MyRg/providers/Microsoft.ContainerRegistry/registries/MyReg"
        );
    }

    #[test]
    fn a_name_that_looks_like_a_keyword_is_left_alone() {
        assert_eq!(
            normalize_path(
                "/subscriptions/s/resourcegroups/Registries/providers/Microsoft.ContainerRegistry/registries/Providers"
            ),
            "/subscriptions/s/resourceGroups/Registries/providers/Microsoft.ContainerRegistry/registries/Providers"
        );
    }

    #[test]
    fn extension_resources_are_routed_from_the_root_with_their_scope() {
        let scope =
            "/subscriptions/S/resourceGroups/RG/providers/Microsoft.ContainerRegistry/registries/R";
        let req = Request::builder()
            .uri(format!("{scope}/providers/microsoft.authorization/roleassignments/abc?api-version=2022-04-01"))
            .body(())
            .unwrap_or_default();
        let req = normalize_request(req);
        assert_eq!(
            req.uri().path(),
            "/providers/Microsoft.Authorization/roleAssignments/abc"
        );
        assert_eq!(req.uri().query(), Some("api-version=2022-04-01"));
        assert_eq!(
            req.extensions().get::<ScopePrefix>(),
            Some(&ScopePrefix(scope.to_owned()))
        );
        let root = normalize_request(
            Request::builder()
                .uri("/providers/Microsoft.Authorization/roleDefinitions")
                .body(())
                .unwrap_or_default(),
        );
        assert_eq!(
            root.extensions().get::<ScopePrefix>(),
            Some(&ScopePrefix("/".to_owned()))
        );
    }

    #[test]
    fn runs_of_slashes_are_one_slash() {
        for (sent, routed) in [
            (
                "//metadata/endpoints?api-version=2022-09-01",
                "/metadata/endpoints",
            ),
            (
                "//subscriptions//s/resourcegroups",
                "/subscriptions/s/resourceGroups",
            ),
        ] {
            let req = normalize_request(Request::builder().uri(sent).body(()).unwrap_or_default());
            assert_eq!(req.uri().path(), routed, "{sent}");
        }
    }

    #[test]
    fn other_paths_are_left_alone() {
        assert_eq!(normalize_path("/docs/"), "/docs/");
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("/Docs"), "/Docs");
    }
}
