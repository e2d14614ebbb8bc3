//! Serving: binding listeners (port 0 picks a free one), TLS (a configured certificate or
//! the generated development one), the main router with its OpenAPI document and fallbacks,
//! and the shutdown signal.

use super::StartupError;
use crate::arm::{normalize_layer, request_ids};
use crate::error::ApiError;
use crate::openapi;
use crate::state::AppState;
use crate::telemetry;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use berth_infra::config::{Settings, TlsMode};
use std::net::SocketAddr;
use std::path::PathBuf;
use tower::Layer;
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

/// A certificate chain file and its key file.
pub(crate) type CertAndKey = (PathBuf, PathBuf);

/// A bound listener and the address it is bound to.
pub(crate) type Bound = (std::net::TcpListener, SocketAddr);

/// The embedded trust server's listener (Notary v1 API), bound beside the main one.
pub(crate) struct TrustListener {
    pub(crate) port: u16,
    pub(crate) url: String,
    pub(crate) router: Router,
    pub(crate) server: Server,
}

pub(crate) enum Server {
    Plain(axum_server::Server<SocketAddr>),
    Tls(axum_server::Server<SocketAddr, axum_server::tls_rustls::RustlsAcceptor>),
}

/// Serves a make-service on a [`Server`] until its handle stops it (the two variants have
/// different acceptor types, hence a macro).
macro_rules! serve {
    ($server:expr, $service:expr) => {
        match $server {
            Server::Plain(server) => server.serve($service).await,
            Server::Tls(server) => server.serve($service).await,
        }
    };
}

/// Serves the main router (login servers, and the control plane behind its path
/// normalization) and the trust listener, if any,
/// until their shared handle stops them; the first error stops the process.
///
/// # Errors
/// The servers' I/O error.
pub(crate) async fn serve_all(
    server: Server,
    router: Router,
    trust: Option<TrustListener>,
) -> std::io::Result<()> {
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let main = async move { serve!(server, service) };
    match trust {
        None => main.await,
        Some(trust) => {
            let router = trust
                .router
                .into_make_service_with_connect_info::<SocketAddr>();
            let server = trust.server;
            let trust = async move { serve!(server, router) };
            let (main, trust) = tokio::join!(main, trust);
            main.and(trust)
        }
    }
}

/// The certificate and key to serve, and the CA file clients trust for a generated
/// development certificate.
///
/// # Errors
/// `Tls` when the development certificate cannot be made.
pub(crate) fn tls_files(
    settings: &Settings,
) -> Result<(Option<CertAndKey>, Option<PathBuf>), StartupError> {
    Ok(match &settings.tls {
        TlsMode::Off => (None, None),
        TlsMode::SelfSigned => {
            let cert = berth_infra::tls::ensure_dev_certificate(
                &settings.data_dir,
                settings.login_servers.suffix(),
            )
            .map_err(|e| StartupError::Tls(e.to_string()))?;
            (Some((cert.cert, cert.key)), Some(cert.ca))
        }
        TlsMode::Files { cert, key } => (Some((cert.clone(), key.clone())), None),
    })
}

/// Loads the certificate and key for rustls.
///
/// # Errors
/// `Tls` naming the files that could not be loaded.
pub(crate) async fn rustls(
    files: Option<&CertAndKey>,
) -> Result<Option<RustlsConfig>, StartupError> {
    let Some((cert, key)) = files else {
        return Ok(None);
    };
    RustlsConfig::from_pem_file(cert, key)
        .await
        .map(Some)
        .map_err(|e| {
            StartupError::Tls(format!(
                "cannot load {} / {}: {e}",
                cert.display(),
                key.display()
            ))
        })
}

/// The main listener's router: each registry's login server, chosen by host, and the
/// control plane (ARM, Graph, the issuer, the token server) behind ARM path normalization.
pub(crate) fn router(
    state: AppState,
    max_body_bytes: usize,
    login: crate::login_server::LoginServerParts,
) -> Router {
    let login_servers = crate::login_server::LoginServers::new(state.clone(), login);
    let control_plane =
        normalize_layer::<axum::body::Body>().layer(control_plane(state, max_body_bytes));
    Router::new()
        .fallback_service(control_plane)
        .layer(axum::middleware::from_fn_with_state(
            login_servers,
            crate::login_server::dispatch,
        ))
}

fn control_plane(state: AppState, max_body_bytes: usize) -> Router {
    let activity_state = state.clone();
    let metrics_state = state.clone();
    let (api, _) = openapi::api_router().split_for_parts();
    // The served document is the committed one's source, so the two cannot differ.
    let spec = openapi::document();
    let served = spec.clone();
    api.route(
        "/{tenant}/oauth2/v2.0/authorize",
        get(crate::routes::sign_in::authorize).post(crate::routes::sign_in::sign_in),
    )
    .merge(crate::portal::router())
    .with_state(state)
    .route(
        "/metrics",
        get(crate::metrics::scrape).with_state(metrics_state.clone()),
    )
    .route(
        "/openapi.json",
        get(move || std::future::ready(Json(served.clone()))),
    )
    .merge(SwaggerUi::new("/docs").url("/docs/openapi.json", spec.clone()))
    .fallback(|| async { ApiError::path_not_served().into_response() })
    .method_not_allowed_fallback(|| async { ApiError::method_not_allowed().into_response() })
    .layer(DefaultBodyLimit::max(max_body_bytes))
    .layer(axum::middleware::from_fn_with_state(
        activity_state,
        crate::activity::record,
    ))
    .layer(axum::middleware::from_fn_with_state(
        metrics_state,
        crate::metrics::track,
    ))
    .layer(TraceLayer::new_for_http().make_span_with(telemetry::request_span))
    .layer(axum::middleware::from_fn(request_ids))
}

/// Binds `addr` (port 0 picks a free port) and tells where it is bound.
pub(crate) fn bind(addr: SocketAddr) -> Result<Bound, StartupError> {
    let bind_error = |source| StartupError::Bind { addr, source };
    let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local))
}

/// A server on `listener`, with TLS when a configuration is given, stopped by `handle`.
pub(crate) fn serve_on(
    listener: std::net::TcpListener,
    addr: SocketAddr,
    tls: Option<RustlsConfig>,
    handle: &Handle<SocketAddr>,
) -> Result<Server, StartupError> {
    let bind_error = |source| StartupError::Bind { addr, source };
    Ok(match tls {
        None => Server::Plain(
            axum_server::from_tcp(listener)
                .map_err(bind_error)?
                .handle(handle.clone()),
        ),
        Some(config) => Server::Tls(
            axum_server::from_tcp_rustls(listener, config)
                .map_err(bind_error)?
                .handle(handle.clone()),
        ),
    })
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
