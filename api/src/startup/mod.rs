//! `Application`: config -> infra adapters -> domain services -> router -> listener.
//! `build` binds (port 0 works), `port` tells where, `run_until_stopped` serves until
//! SIGINT/SIGTERM and then drains.

use crate::arm::{normalize_layer, request_ids};
use crate::auth::RequestAudiences;
use crate::error::ApiError;
use crate::openapi;
use crate::state::AppState;
use crate::telemetry;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router, ServiceExt};
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use berth_domain::authorization::{AssignmentFilter, NewAssignment, RbacService};
use berth_domain::clock::{Clock, SystemClock};
use berth_domain::directory::{DirectoryAdmin, DirectoryService};
use berth_domain::identity::{IssuerSettings, TokenService};
use berth_domain::operation::{OperationService, OperationSignal};
use berth_domain::registry::RegistryService;
use berth_domain::registry::{AdminUsers, ScopeMaps};
use berth_domain::registry_token::{AccessSources, RegistryTokenService, TokenServerSettings};
use berth_domain::resource_group::ResourceGroupService;
use berth_domain::subscription::SubscriptionService;
use berth_domain::trust::tuf::EmbeddedTrustServer;
use berth_domain::trust::{TrustStore, TrustWipe, TrustedCollectionCatalog, WipeSettings};
use berth_infra::config::{Settings, TlsMode};
use berth_infra::jwt::JwtSigner;
use berth_infra::notary::{NotarySettings, NotaryTrustStore};
use berth_infra::oidc::OidcProviders;
use berth_infra::persistence::SeaOrmAdminPasswordRepository;
use berth_infra::persistence::{
    Database, DatabaseError, SeaOrmDirectoryRepository, SeaOrmDirectoryRoleRepository,
    SeaOrmOperationRepository, SeaOrmRbacRepository, SeaOrmRegistryRepository,
    SeaOrmResourceGroupRepository, SeaOrmSubscriptionRepository,
};
use berth_infra::persistence::{
    SeaOrmScopeMapRepository, SeaOrmTrustedCollectionCatalog, SeaOrmTufServerKeys, SeaOrmTufStore,
};
use berth_infra::registry_token::TokenServerKeys;
use berth_infra::sealing::AesGcmBox;
use berth_infra::secrets::Argon2Secrets;
use berth_infra::secrets::Sha256Hash;
use berth_infra::tuf_crypto::AwsLcTufCrypto;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tower::Layer;
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

/// Why `berthd` could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// The bootstrap failed.
    #[error("bootstrap failed: {0}")]
    Bootstrap(String),
    /// TLS material could not be made or read.
    #[error("TLS: {0}")]
    Tls(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Wakes the operation worker.
struct NotifySignal(Arc<Notify>);

impl OperationSignal for NotifySignal {
    fn notify(&self) {
        self.0.notify_one();
    }
}

/// A built, bound, not yet serving `berthd`.
pub struct Application {
    port: u16,
    base_url: String,
    ca_file: Option<PathBuf>,
    router: Router,
    server: Server,
    handle: Handle<SocketAddr>,
    trust: Option<TrustListener>,
    workers: [WorkerGuard; 2],
}

/// The embedded trust server's listener (Notary v1 API), bound beside the main one.
struct TrustListener {
    port: u16,
    url: String,
    router: Router,
    server: Server,
}

/// Stops the operation worker when the application goes away (a dropped `JoinHandle` would
/// leave it running).
struct WorkerGuard(tokio::task::JoinHandle<()>);

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

enum Server {
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

impl Application {
    /// Builds everything and binds the listener.
    ///
    /// # Errors
    /// [`StartupError`] naming what failed.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        // Owner-only (0700, files 0600), made so before anything is written into it.
        berth_infra::files::prepare_private_dir(&settings.data_dir).map_err(|source| {
            StartupError::DataDir {
                path: settings.data_dir.clone(),
                source,
            }
        })?;
        let database = Database::open(&settings.database_target()).await?;
        let sealing = Arc::new(
            AesGcmBox::from_config(
                settings
                    .secrets_key
                    .as_ref()
                    .map(secrecy::ExposeSecret::expose_secret),
                &settings.data_dir,
            )
            .map_err(StartupError::Bootstrap)?,
        );
        berth_infra::persistence::seal_secrets_at_rest(&database, &sealing)
            .await
            .map_err(|e| StartupError::Bootstrap(e.to_string()))?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let notify = Arc::new(Notify::new());
        let signal: Arc<dyn OperationSignal> = Arc::new(NotifySignal(notify.clone()));
        let subscriptions_repo = Arc::new(SeaOrmSubscriptionRepository::new(database.clone()));
        let groups_repo = Arc::new(SeaOrmResourceGroupRepository::new(database.clone()));
        let registries_repo = Arc::new(SeaOrmRegistryRepository::new(database.clone()));
        let operations_repo = Arc::new(SeaOrmOperationRepository::new(database.clone()));

        let subscriptions = SubscriptionService::new(subscriptions_repo);
        let groups = ResourceGroupService::new(
            subscriptions.clone(),
            groups_repo.clone(),
            operations_repo.clone(),
            signal.clone(),
            clock.clone(),
        );
        let registries = RegistryService::new(
            groups.clone(),
            registries_repo.clone(),
            operations_repo.clone(),
            signal,
            clock.clone(),
            settings.login_servers.clone(),
            settings.notary.is_some() || settings.trust_server.listen.is_some(),
        );

        let existing = subscriptions
            .list()
            .await
            .map_err(|e| StartupError::Bootstrap(e.to_string()))?;
        let tenant = settings
            .tenant_id
            .or_else(|| existing.first().map(|s| s.tenant_id))
            .unwrap_or_else(uuid::Uuid::new_v4);
        let subscription = subscriptions
            .bootstrap(settings.subscription_id, tenant)
            .await
            .map_err(|e| StartupError::Bootstrap(e.to_string()))?;
        tracing::info!(subscription.id = %subscription.id, tenant.id = %subscription.tenant_id, "subscription ready");

        let directory = DirectoryService::new(
            Arc::new(SeaOrmDirectoryRepository::new(database.clone())),
            Arc::new(Argon2Secrets),
            clock.clone(),
        );
        let clock_for_tokens = clock.clone();
        let clock_for_registry_tokens = clock.clone();
        let clock_for_scope_maps = clock.clone();
        let clock_for_operations = clock.clone();
        let rbac = RbacService::new(
            Arc::new(SeaOrmRbacRepository::new(database.clone())),
            directory.clone(),
            clock,
            subscription.tenant_id.to_string(),
        );
        rbac.refresh()
            .await
            .map_err(|e| StartupError::Bootstrap(e.to_string()))?;
        report_unreadable_conditions(&rbac);

        let (listener, local) = bind(settings.listen)?;
        let (tls, ca_file) = match &settings.tls {
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
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        if settings.public_url.is_none() && !local.ip().is_loopback() {
            tracing::warn!(listen = %local, "BERTH_PUBLIC_URL is not set: tokens and absolute URLs name the listener's own address, which remote clients may not reach");
        }
        let base_url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{local}"));
        let management_audiences = vec![
            settings.management_audience.clone(),
            // What the Azure SDKs ask for unless told otherwise.
            "https://management.azure.com/".to_owned(),
            "https://management.core.windows.net/".to_owned(),
        ];
        let signer = Arc::new(
            JwtSigner::open(database.clone(), sealing.clone())
                .await
                .map_err(|e| StartupError::Bootstrap(e.to_string()))?,
        );
        let tokens = TokenService::new(
            IssuerSettings {
                base_url: base_url.clone(),
                tenant: subscription.tenant_id,
                resources: management_audiences
                    .iter()
                    .cloned()
                    // The directory (Graph) lives on this host; `az acr login` asks for the
                    // registry token service.
                    .chain([base_url.clone(), REGISTRY_AUDIENCE.to_owned()])
                    .collect(),
            },
            directory.clone(),
            signer.clone(),
            clock_for_tokens,
        );
        bootstrap_owner(&settings, subscription.tenant_id, &directory, &rbac).await?;
        let directory_admin = DirectoryAdmin::new(
            directory.clone(),
            rbac.clone(),
            Arc::new(SeaOrmDirectoryRoleRepository::new(database.clone())),
            Arc::new(SystemClock),
        );
        // A first start, or an upgrade from before directory roles: someone must hold one.
        let granted = directory_admin
            .ensure_global_administrator(settings.bootstrap_client_id)
            .await
            .map_err(|e| StartupError::Bootstrap(e.to_string()))?;
        for principal in granted {
            tracing::info!(principal.id = %principal, "no directory role was assigned: gave Global Administrator to the bootstrap owner");
        }

        let token_keys = Arc::new(
            TokenServerKeys::open(
                database.clone(),
                sealing.clone(),
                &settings.data_dir.join("registry-token-certs.pem"),
            )
            .await
            .map_err(|e| StartupError::Bootstrap(e.to_string()))?,
        );
        let admin_users = AdminUsers::new(
            registries.clone(),
            Arc::new(SeaOrmAdminPasswordRepository::new(database.clone())),
            sealing.clone(),
            Arc::new(Argon2Secrets),
        );
        let scope_maps = ScopeMaps::new(
            registries.clone(),
            Arc::new(SeaOrmScopeMapRepository::new(database.clone())),
            Arc::new(Argon2Secrets),
            Arc::new(Sha256Hash),
            clock_for_scope_maps,
        );
        let trust_catalog: Arc<dyn TrustedCollectionCatalog> =
            Arc::new(SeaOrmTrustedCollectionCatalog::new(database.clone()));
        let timing = settings.trust;
        let (trust_store, embedded) = match &settings.notary {
            Some(_) => (notary_trust_store(&settings, &token_keys)?, None),
            None => match settings.trust_server.listen {
                None => (None, None),
                Some(addr) => {
                    let crypto = Arc::new(AwsLcTufCrypto);
                    let server = EmbeddedTrustServer::new(
                        Arc::new(SeaOrmTufStore::new(database.clone())),
                        Arc::new(SeaOrmTufServerKeys::new(database.clone(), sealing.clone())),
                        crypto.clone(),
                        crypto,
                        clock_for_operations.clone(),
                    );
                    let store: Arc<dyn TrustStore> = Arc::new(server.clone());
                    (Some(store), Some((server, bind(addr)?)))
                }
            },
        };
        let operations = OperationService::new(
            operations_repo,
            registries_repo,
            registries.clone(),
            groups_repo,
            TrustWipe::new(
                trust_store,
                trust_catalog.clone(),
                clock_for_operations.clone(),
                WipeSettings {
                    parallelism: timing.wipe_parallelism as usize,
                    token_leeway: time::Duration::seconds(timing.token_leeway_secs.into()),
                },
            ),
            clock_for_operations,
            time::Duration::seconds(timing.operation_lease_secs.into()),
        );
        let registry_tokens = RegistryTokenService::new(
            TokenServerSettings {
                issuer: settings.registry_token_issuer.clone(),
                tenant: subscription.tenant_id.to_string(),
                refresh_lifetime: time::Duration::hours(3),
                access_lifetime: time::Duration::minutes(15),
                trust_push_lifetime: time::Duration::seconds(timing.push_token_secs.into()),
                trust_service: settings.notary_service.clone(),
                max_failures: 10,
                failure_window: time::Duration::minutes(1),
            },
            AccessSources {
                registries: registries.clone(),
                directory: directory.clone(),
                rbac: rbac.clone(),
                admin: admin_users.clone(),
                scope_maps: scope_maps.clone(),
                catalog: trust_catalog.clone(),
            },
            token_keys.clone(),
            clock_for_registry_tokens,
        );
        let snapshot_directory = directory.clone();
        let tokens_issuer = tokens.settings().issuer();
        let state = AppState {
            subscriptions,
            groups,
            registries,
            operations: operations.clone(),
            rbac: rbac.clone(),
            tokens,
            directory,
            directory_admin: directory_admin.clone(),
            management_audience: settings.management_audience.clone(),
            audiences: Arc::new(RequestAudiences::new(
                &tokens_issuer,
                &management_audiences,
                &base_url,
                REGISTRY_AUDIENCE,
            )),
            registry_tokens,
            trust_catalog,
            admin_users,
            scope_maps,
            database,
            public_url: settings.public_url.clone(),
            scheme,
            local_authorities: crate::arm::LocalAuthorities::of(local),
            tenant_id: subscription.tenant_id.to_string(),
            acr_login_server_suffix: settings.login_servers.client_suffix(),
            trusted_proxies: Arc::new(settings.trusted_proxies.clone()),
            external: Arc::new(
                OidcProviders::new(&settings.oidc_providers).map_err(StartupError::Bootstrap)?,
            ),
        };
        let router = router(state, settings.max_body_bytes);

        let handle = Handle::new();
        let rustls = match &tls {
            None => None,
            Some((cert, key)) => {
                Some(RustlsConfig::from_pem_file(cert, key).await.map_err(|e| {
                    StartupError::Tls(format!(
                        "cannot load {} / {}: {e}",
                        cert.display(),
                        key.display()
                    ))
                })?)
            }
        };
        let server = serve_on(listener, local, rustls.clone(), &handle)?;
        let trust = match embedded {
            None => None,
            Some((server, (listener, addr))) => {
                let url = settings
                    .trust_server
                    .public_url
                    .clone()
                    .unwrap_or_else(|| format!("{scheme}://{addr}"));
                let state = crate::trust_server::TrustServerState {
                    server,
                    keys: token_keys.clone(),
                    issuer: settings.registry_token_issuer.clone(),
                    service: settings
                        .notary_service
                        .clone()
                        .unwrap_or_else(|| berth_infra::config::EMBEDDED_TRUST_SERVICE.to_owned()),
                    realm: format!("{base_url}/oauth2/token"),
                    leeway_secs: timing.token_leeway_secs.into(),
                    clock: Arc::new(SystemClock),
                };
                tracing::info!(trust.url = %url, "embedded trust server (Notary v1) ready");
                Some(TrustListener {
                    port: addr.port(),
                    url,
                    router: crate::trust_server::router(
                        state,
                        settings.trust_server.max_upload_bytes,
                    ),
                    server: serve_on(listener, addr, rustls, &handle)?,
                })
            }
        };
        let refresher = WorkerGuard(tokio::spawn(refresh_snapshots(
            rbac,
            snapshot_directory,
            directory_admin,
            signer,
            token_keys,
        )));
        let worker = WorkerGuard(tokio::spawn(run_worker(
            operations,
            notify,
            format!("berthd-{}", uuid::Uuid::new_v4()),
        )));
        Ok(Self {
            port: local.port(),
            base_url,
            ca_file,
            router,
            server,
            handle,
            trust,
            workers: [worker, refresher],
        })
    }

    /// The bound port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL clients use.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The port of the embedded trust server, when it is served.
    #[must_use]
    pub fn trust_port(&self) -> Option<u16> {
        self.trust.as_ref().map(|t| t.port)
    }

    /// The URL Notary clients reach the embedded trust server by, when it is served.
    #[must_use]
    pub fn trust_url(&self) -> Option<&str> {
        self.trust.as_ref().map(|t| t.url.as_str())
    }

    /// The CA file of the generated development certificate, when one is used.
    #[must_use]
    pub fn ca_file(&self) -> Option<&PathBuf> {
        self.ca_file.as_ref()
    }

    /// Serves until SIGINT or SIGTERM, then drains requests for up to ten seconds.
    ///
    /// # Errors
    /// The server's I/O error.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.handle.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            handle.graceful_shutdown(Some(Duration::from_secs(10)));
        });
        let service = normalize_layer::<hyper::body::Incoming>()
            .layer(self.router)
            .into_make_service_with_connect_info::<SocketAddr>();
        let server = self.server;
        let main = async move { serve!(server, service) };
        let result = match self.trust {
            None => main.await,
            Some(trust) => {
                let router = trust
                    .router
                    .into_make_service_with_connect_info::<SocketAddr>();
                let server = trust.server;
                let trust = async move { serve!(server, router) };
                // Both stop on the same handle; the first error stops the process.
                let (main, trust) = tokio::join!(main, trust);
                main.and(trust)
            }
        };
        drop(self.workers);
        result
    }
}

/// The audience of tokens for the registry token service, as `az acr login` asks for it.
const REGISTRY_AUDIENCE: &str = "https://containerregistry.azure.net";

fn router(state: AppState, max_body_bytes: usize) -> Router {
    let (api, _) = openapi::api_router().split_for_parts();
    // The served document is the committed one's source, so the two cannot differ.
    let spec = openapi::document();
    let served = spec.clone();
    api.with_state(state)
        .route(
            "/openapi.json",
            get(move || std::future::ready(Json(served.clone()))),
        )
        .merge(SwaggerUi::new("/docs").url("/docs/openapi.json", spec.clone()))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                "The requested path is not served by Berth.",
            )
            .into_response()
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "The HTTP method is not allowed on this path.",
            )
            .into_response()
        })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TraceLayer::new_for_http().make_span_with(telemetry::request_span))
        .layer(axum::middleware::from_fn(request_ids))
}

/// Binds `addr` (port 0 picks a free port) and tells where it is bound.
fn bind(addr: SocketAddr) -> Result<(std::net::TcpListener, SocketAddr), StartupError> {
    let bind_error = |source| StartupError::Bind { addr, source };
    let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local))
}

/// A server on `listener`, with TLS when a configuration is given, stopped by `handle`.
fn serve_on(
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

/// The trust store content trust uses when a Notary server is configured.
fn notary_trust_store(
    settings: &Settings,
    keys: &Arc<TokenServerKeys>,
) -> Result<Option<Arc<dyn TrustStore>>, StartupError> {
    let (Some(notary), Some(service)) = (&settings.notary, &settings.notary_service) else {
        return Ok(None);
    };
    let ca_pem = notary
        .ca_file
        .as_ref()
        .map(|path| {
            std::fs::read(path).map_err(|e| {
                StartupError::Bootstrap(format!(
                    "cannot read BERTH_NOTARY_CA {}: {e}",
                    path.display()
                ))
            })
        })
        .transpose()?;
    let store = NotaryTrustStore::new(
        NotarySettings {
            url: notary.url.clone(),
            service: service.clone(),
            issuer: settings.registry_token_issuer.clone(),
            ca_pem,
        },
        keys.clone(),
    )
    .map_err(StartupError::Bootstrap)?;
    Ok(Some(Arc::new(store)))
}

/// Runs recorded operations: drains what is due, then waits for a signal or a tick (the
/// tick picks up retries, and work recorded by other replicas).
async fn run_worker(operations: OperationService, notify: Arc<Notify>, worker: String) {
    loop {
        loop {
            match operations.claim_next(&worker).await {
                Ok(Some(op)) => run_leased(&operations, &op, &worker).await,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error.cause = %e, "cannot claim an operation; retrying");
                    break;
                }
            }
        }
        let _ = tokio::time::timeout(Duration::from_millis(500), notify.notified()).await;
    }
}

/// Runs a step of a claimed operation while renewing its lease; stops the step if the lease
/// is lost (another worker has taken the operation over).
async fn run_leased(
    operations: &OperationService,
    op: &berth_domain::operation::Operation,
    worker: &str,
) {
    let every = Duration::from_millis(
        u64::try_from(operations.lease().whole_milliseconds() / 3).unwrap_or(1000),
    );
    let renew = async {
        loop {
            tokio::time::sleep(every).await;
            match operations.renew(op, worker).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(error.cause = %e, operation.id = %op.id, "cannot renew the lease")
                }
            }
        }
    };
    tokio::select! {
        outcome = operations.run(op, worker) => match outcome {
            Ok(None) => {}
            Ok(Some(failure)) => tracing::warn!(
                operation.id = %op.id,
                error.code = %failure.code,
                error.message = %failure.message,
                "operation step failed; it will be retried"
            ),
            Err(e) => tracing::warn!(operation.id = %op.id, error.cause = %e, "cannot record an operation's outcome; it will be retried"),
        },
        () = renew => tracing::warn!(operation.id = %op.id, "lost the lease of an operation; another worker runs it"),
    }
}

/// On first start (no role assignment at all), creates the bootstrap owner: a service
/// principal with the Owner role at the root scope. Its appId and secret come from the
/// configuration, or are generated, printed once, and written to a 0600 file.
async fn bootstrap_owner(
    settings: &Settings,
    tenant: uuid::Uuid,
    directory: &DirectoryService,
    rbac: &RbacService,
) -> Result<(), StartupError> {
    let fail = |e: &dyn std::fmt::Display| {
        StartupError::Bootstrap(format!("cannot create the bootstrap owner: {e}"))
    };
    if !rbac
        .list_assignments("/", &AssignmentFilter::default())
        .await
        .map_err(|e| fail(&e))?
        .is_empty()
    {
        return Ok(());
    }
    let app_id = settings
        .bootstrap_client_id
        .unwrap_or_else(uuid::Uuid::new_v4);
    let configured_secret = settings
        .bootstrap_client_secret
        .as_ref()
        .map(|s| secrecy::ExposeSecret::expose_secret(s).to_owned());
    let (sp, secret) = match directory
        .find_service_principal(&app_id.to_string())
        .await
        .map_err(|e| fail(&e))?
    {
        Some(sp) => (sp, None),
        None => directory
            .create_service_principal_with(
                "berth-bootstrap-owner",
                app_id,
                configured_secret.as_deref(),
                Some(10),
            )
            .await
            .map_err(|e| fail(&e))?,
    };
    rbac.create_assignment(NewAssignment {
        scope: "/".to_owned(),
        name: uuid::Uuid::new_v4().to_string(),
        role_definition_id: "/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635".to_owned(),
        principal_id: sp.object_id.to_string(),
        principal_type: Some("ServicePrincipal".to_owned()),
        description: Some("The bootstrap owner, made at first start.".to_owned()),
        condition: None,
        condition_version: None,
        created_by: None,
    })
    .await
    .map_err(|e| fail(&e))?;
    tracing::info!(app.id = %app_id, principal.id = %sp.object_id, "created the bootstrap owner (Owner at /)");
    if let (Some(secret), None) = (secret, configured_secret) {
        let path = settings.data_dir.join("bootstrap-owner.json");
        let document =
            serde_json::json!({"appId": app_id, "secret": secret.secret, "tenant": tenant});
        berth_infra::files::write_private(&path, document.to_string().as_bytes())
            .map_err(|e| fail(&e))?;
        // Printed once, on the console only: never through the log.
        println!(
            "berthd: bootstrap owner appId {app_id}, secret {} (also in {})",
            secret.secret,
            path.display()
        );
    }
    Ok(())
}

/// Keeps the authorization index and the principal cache in step with writes made through
/// other replicas (within a second), and the signing keys with a rotation (within a minute).
async fn refresh_snapshots(
    rbac: RbacService,
    directory: DirectoryService,
    directory_admin: DirectoryAdmin,
    signer: Arc<JwtSigner>,
    token_keys: Arc<TokenServerKeys>,
) {
    for tick in 1u64.. {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if tick % 120 == 0 {
            if let Err(e) = signer.reload().await {
                tracing::warn!(error.cause = %e, "cannot reload the signing keys");
            }
            if let Err(e) = token_keys.reload().await {
                tracing::warn!(error.cause = %e, "cannot reload the registry token keys");
            }
        }
        match rbac.refresh().await {
            Ok(true) => report_unreadable_conditions(&rbac),
            Ok(false) => {}
            Err(e) => tracing::warn!(error.cause = %e, "cannot refresh the authorization index"),
        }
        if let Err(e) = directory.refresh().await {
            tracing::warn!(error.cause = %e, "cannot refresh the principal cache");
        }
        if let Err(e) = directory_admin.refresh().await {
            tracing::warn!(error.cause = %e, "cannot refresh the directory role assignments");
        }
    }
}

/// Logs every stored role assignment whose condition the index refused: it grants no data
/// action until an administrator deletes or rewrites it.
fn report_unreadable_conditions(rbac: &RbacService) {
    for (name, why) in rbac.unreadable_conditions() {
        tracing::warn!(
            role_assignment = %name,
            error.cause = %why,
            "a stored role assignment has a condition that cannot be read: it grants no data action until it is rewritten"
        );
    }
}

async fn shutdown_signal() {
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
