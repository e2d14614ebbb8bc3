//! `Application`: config -> infra adapters -> domain services -> router -> listener.
//! `build` binds (port 0 works), `port` tells where, `run_until_stopped` serves until
//! SIGINT/SIGTERM and then drains.
//!
//! `build` only composes; each concern has a builder of its own: the store
//! (`persistence`), the resource use cases (`resources`), who may call (`identity`), the
//! registry token server (`tokens`), content trust's back end (`trust`), the login servers'
//! data plane (`data_plane`), the background work (`workers`) and the listeners (`serve`).

mod data_plane;
mod identity;
mod persistence;
mod resources;
mod serve;
mod tokens;
mod trust;
mod workers;

pub use identity::{BOOTSTRAP_OWNER_FILE, bootstrap_owner_file};
pub(crate) use persistence::Store;

use crate::login_server::LoginServerParts;
use crate::state::AppState;
use axum::Router;
use axum_server::Handle;
use berth_domain::authorization::BootstrapOwner;
use berth_domain::clock::{Clock, SystemClock};
use berth_domain::operation::{OperationService, OperationSignal};
use berth_domain::registry::Artifacts;
use berth_domain::subscription::Subscription;
use berth_infra::config::Settings;
use berth_infra::persistence::DatabaseError;
use identity::Identity;
use resources::Resources;
use serve::{Server, TrustListener, bind, router, rustls, serve_all, serve_on, shutdown_signal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokens::RegistryTokens;
use tokio::sync::Notify;
use trust::Trust;
use workers::{NotifySignal, WorkerGuard, prune_activity, refresh_snapshots, run_worker};

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

/// A built, bound, not yet serving `berthd`.
pub struct Application {
    port: u16,
    base_url: String,
    ca_file: Option<PathBuf>,
    subscription: Subscription,
    bootstrap_owner: Option<BootstrapOwner>,
    router: Router,
    server: Server,
    handle: Handle<SocketAddr>,
    trust: Option<TrustListener>,
    workers: [WorkerGuard; 3],
    /// The embedded data plane's registry, stopped when this goes.
    data_plane: Option<Arc<berth_infra::distribution::EmbeddedDistribution>>,
}

impl Application {
    /// Builds everything and binds the listeners.
    ///
    /// # Errors
    /// [`StartupError`] naming what failed.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let store = Store::open(&settings).await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let notify = Arc::new(Notify::new());
        let signal: Arc<dyn OperationSignal> = Arc::new(NotifySignal(notify.clone()));
        let mut resources = Resources::build(&settings, &store, &signal, &clock).await?;
        let tenant = resources.subscription.tenant_id;

        let (listener, local) = bind(settings.listen)?;
        let (tls, ca_file) = serve::tls_files(&settings)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        if settings.public_url.is_none() && !local.ip().is_loopback() {
            tracing::warn!(listen = %local, "BERTH_PUBLIC_URL is not set: tokens and absolute URLs name the listener's own address, which remote clients may not reach");
        }
        let base_url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{local}"));

        let identity = Identity::build(&settings, &store, tenant, &base_url, &clock).await?;
        let token_keys = RegistryTokens::keys(&settings, &store).await?;
        let trust = Trust::build(&settings, &store, &token_keys, &clock)?;
        let tokens = RegistryTokens::build(
            &settings,
            &store,
            token_keys,
            &identity,
            &resources.registries,
            &trust.catalog,
            tenant,
            &clock,
        );
        let mut operations = OperationService::new(
            store.operations.clone(),
            store.registries.clone(),
            resources.registries.clone(),
            store.groups.clone(),
            trust.wipe(&settings, &clock),
            clock.clone(),
            time::Duration::seconds(settings.trust.operation_lease_secs.into()),
        );
        let data_plane = data_plane::build(&settings, &tokens.service).await;
        // The portal reads repositories from the embedded storage, or else from what an
        // external registry's API tells (its catalog).
        let readable = data_plane
            .lists
            .clone()
            .or_else(|| data_plane.removes.clone());
        if let Some(removes) = data_plane.removes {
            operations = operations.with_repository_storage(removes);
        }
        if let Some(files) = data_plane.lists.clone() {
            // New registries start from a cleared namespace where clearing it needs no
            // running process (the embedded storage), so creating one never waits on the
            // data plane. Only this clone creates registries (the token server's reads).
            resources.registries = resources.registries.with_repository_storage(files);
        }
        let portal_sign_in = match settings.portal_sign_in.clone() {
            Some(sign_in) => Some(Arc::new(
                berth_infra::oidc_sign_in::OidcSignIn::new(sign_in)
                    .map_err(StartupError::Bootstrap)?,
            )
                as Arc<dyn berth_domain::session::ExternalSignIn>),
            None => None,
        };
        let artifacts = |storage: Arc<dyn berth_domain::registry::RepositoryStorage>| {
            let artifacts = Artifacts::new(storage);
            match &trust.store {
                Some(store) => artifacts.with_trust(store.clone(), trust.catalog.clone()),
                None => artifacts,
            }
        };
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let diagnostics: Arc<dyn berth_domain::diagnostics::DiagnosticSink> =
            match &settings.audit_sink {
                berth_infra::diagnostics::SinkTarget::Off => {
                    Arc::new(berth_domain::diagnostics::NoSink)
                }
                target => Arc::new(
                    berth_infra::diagnostics::JsonLinesSink::start(
                        target.clone(),
                        settings.audit_retention_days,
                    )
                    .map_err(StartupError::Bootstrap)?,
                ),
            };
        let state = AppState {
            artifacts: readable.map(artifacts),
            portal_sign_in,
            subscriptions: resources.subscriptions,
            groups: resources.groups,
            registries: resources.registries,
            operations: operations.clone(),
            rbac: identity.rbac.clone(),
            tokens: identity.tokens.clone(),
            directory: identity.directory.clone(),
            directory_admin: identity.directory_admin.clone(),
            authenticator: identity.authenticator.clone(),
            sessions: crate::portal::sessions(
                Arc::new(berth_infra::persistence::SeaOrmSessionStore::new(
                    store.database.clone(),
                )),
                identity.authenticator.clone(),
                clock.clone(),
            ),
            management_audience: settings.management_audience.clone(),
            registry_tokens: tokens.service,
            trust_catalog: trust.catalog.clone(),
            admin_users: tokens.admin_users,
            scope_maps: tokens.scope_maps,
            readiness: Arc::new(store.database.clone()),
            public_url: settings.public_url.clone(),
            scheme,
            local_authorities: crate::arm::LocalAuthorities::of(local),
            tenant_id: tenant.to_string(),
            acr_login_server_suffix: settings.login_servers.client_suffix(),
            trusted_proxies: Arc::new(settings.trusted_proxies.clone()),
            activity: store.activity.clone(),
            metrics: metrics.clone(),
            diagnostics: diagnostics.clone(),
            store_gauges: berth_infra::persistence::StoreGauges::new(store.database.clone()),
            metrics_allow: Arc::new(settings.metrics_allow.clone()),
        };
        // The embedded trust server answers on its own listener and at every login server.
        let trust_router = trust.embedded.as_ref().map(|(embedded, _)| {
            let state = trust::trust_server_state(
                &settings,
                embedded.clone(),
                &tokens.keys,
                &base_url,
                metrics.clone(),
                diagnostics.clone(),
            );
            crate::trust_server::router(state, settings.trust_server.max_upload_bytes)
        });
        let router = router(
            state,
            settings.max_body_bytes,
            LoginServerParts {
                data_plane: data_plane.plane,
                trust: trust_router.clone(),
                artifacts: data_plane.lists.map(artifacts),
            },
        );

        let handle = Handle::new();
        let rustls = rustls(tls.as_ref()).await?;
        let server = serve_on(listener, local, rustls.clone(), &handle)?;
        let trust = match (trust.embedded, trust_router) {
            (Some((_, (listener, addr))), Some(router)) => {
                let url = settings
                    .trust_server
                    .public_url
                    .clone()
                    .unwrap_or_else(|| format!("{scheme}://{addr}"));
                Some(TrustListener {
                    port: addr.port(),
                    url,
                    router,
                    server: serve_on(listener, addr, rustls, &handle)?,
                })
            }
            _ => None,
        };
        let refresher = WorkerGuard(tokio::spawn(refresh_snapshots(
            identity.rbac,
            identity.directory,
            identity.directory_admin,
            identity.signer,
            tokens.keys,
        )));
        let worker = WorkerGuard(tokio::spawn(run_worker(
            operations,
            notify,
            format!("berthd-{}", uuid::Uuid::new_v4()),
        )));
        let pruner = WorkerGuard(tokio::spawn(prune_activity(
            store.activity.clone(),
            settings.audit_retention_days,
        )));
        Ok(Self {
            port: local.port(),
            base_url,
            ca_file,
            subscription: resources.subscription,
            bootstrap_owner: identity.bootstrap_owner,
            router,
            server,
            handle,
            trust,
            workers: [worker, refresher, pruner],
            data_plane: data_plane.embedded,
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

    /// The deployment's subscription.
    #[must_use]
    pub fn subscription(&self) -> &Subscription {
        &self.subscription
    }

    /// The bootstrap owner this start made, when it was the deployment's first.
    #[must_use]
    pub fn bootstrap_owner(&self) -> Option<&BootstrapOwner> {
        self.bootstrap_owner.as_ref()
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
        let result = serve_all(self.server, self.router, self.trust).await;
        drop(self.workers);
        drop(self.data_plane);
        result
    }
}
