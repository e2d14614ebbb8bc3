//! The pages' static files, built into the binary: the stylesheet, the icon, and htmx
//! (vendored from the `htmx.org` npm package, 0BSD, `static/vendor/htmx-LICENSE`). Nothing
//! is fetched from elsewhere. htmx's name carries its version, so it is cached for good;
//! a browser that takes gzip gets the copy compressed at vendoring time.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// Where the pages load htmx from (its version in the name: a new one is a new URL).
pub(crate) const HTMX_PATH: &str = "/portal/static/vendor/htmx-2.0.11.min.js";
const HTMX: &str = include_str!("../../static/vendor/htmx-2.0.11.min.js");
const HTMX_GZ: &[u8] = include_bytes!("../../static/vendor/htmx-2.0.11.min.js.gz");

/// `GET /portal/static/berth.css`: the pages' one stylesheet.
pub(crate) async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/berth.css"),
    )
        .into_response()
}

/// `GET /portal/static/portal.js`: the pages' own script (the copy buttons); the pages
/// work without it.
pub(crate) async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/portal.js"),
    )
        .into_response()
}

/// `GET /portal/static/icon.svg`: the pages' icon.
pub(crate) async fn icon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/icon.svg"),
    )
        .into_response()
}

/// `GET` [`HTMX_PATH`]: htmx, gzipped when the browser takes it.
pub(crate) async fn htmx(headers: HeaderMap) -> Response {
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.trim().split(';');
            parts.next().is_some_and(|c| c.eq_ignore_ascii_case("gzip"))
                && !parts.any(|p| p.trim().replace(' ', "") == "q=0")
        });
    let mut response = if gzip {
        HTMX_GZ.into_response()
    } else {
        HTMX.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}
