//! Tracing: one span per request carrying `x-ms-request-id`; never tokens or secrets.

use axum::http::Request;
use berth_infra::config::LogFormat;
use tracing::Span;
use tracing_subscriber::EnvFilter;

/// What is logged when `RUST_LOG` is unset: `info`, but the migrator's line per migration
/// (which `RUST_LOG=sea_orm_migration=info` shows).
const DEFAULT_FILTER: &str = "info,sea_orm_migration=warn";

/// Installs the global subscriber (`RUST_LOG` filters; [`DEFAULT_FILTER`] otherwise). A
/// second call is a no-op, so tests may call it freely.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// The span of one request: method, path (no query, which may carry secrets later), its id,
/// its correlation id and its W3C trace: every log line of the request carries them.
pub fn request_span<B>(req: &Request<B>) -> Span {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
    };
    let trace = header("traceparent");
    tracing::info_span!(
        "request",
        http.method = %req.method(),
        http.path = %req.uri().path(),
        request.id = %header("x-ms-request-id"),
        correlation.id = %header("x-ms-correlation-request-id"),
        trace.id = %crate::arm::trace_id_of(trace).unwrap_or("-"),
    )
}
