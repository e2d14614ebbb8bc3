//! The data plane the login servers forward the registry API to: the embedded Distribution
//! registry, run as a supervised child on a unix socket in the data directory (the
//! default), or none (`BERTH_REGISTRY_BACKEND=none`: Berth is then the token server of
//! registries run elsewhere). A missing `docker-registry` is said once here, with the
//! install command; the control plane still starts, and the login servers answer 503 with
//! the same message.

use crate::login_server::{Backend, DataPlane, Readiness};
use berth_domain::registry::RepositoryStorage;
use berth_infra::config::{RegistryBackend, Settings};
use berth_infra::distribution::{DataPlaneStatus, EmbeddedDistribution, Layout};
use berth_infra::repository_storage::FilesystemRepositories;
use std::sync::Arc;
use std::time::Duration;

/// How long start-up waits for the embedded registry to accept connections.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// The embedded registry as the login servers ask it whether it serves.
struct Supervised(Arc<EmbeddedDistribution>);

impl Readiness for Supervised {
    fn unready(&self) -> Option<String> {
        match self.0.status() {
            DataPlaneStatus::Ready => None,
            DataPlaneStatus::Starting => {
                Some("the data plane is starting or restarting; retry in a moment".to_owned())
            }
        }
    }
}

/// The repositories the control plane removes (a deleted registry's, a deleted
/// repository), when the data plane is Berth's: the embedded registry's storage, which is
/// there to clean even when its binary is missing or restarting.
pub(crate) fn repository_storage(settings: &Settings) -> Option<Arc<dyn RepositoryStorage>> {
    match &settings.registry_backend {
        RegistryBackend::Embedded { .. } => Some(Arc::new(FilesystemRepositories::new(
            &Layout::of(&settings.data_dir),
        ))),
        RegistryBackend::None => None,
    }
}

/// The data plane, and the embedded registry to keep alive while it serves (dropping it
/// stops the registry).
pub(crate) async fn build(settings: &Settings) -> (DataPlane, Option<Arc<EmbeddedDistribution>>) {
    let RegistryBackend::Embedded { binary } = &settings.registry_backend else {
        return (DataPlane::None, None);
    };
    let embedded = match EmbeddedDistribution::start(&settings.data_dir, binary) {
        Ok(embedded) => Arc::new(embedded),
        Err(e) => {
            tracing::error!("{e}");
            return (DataPlane::Unavailable(e.to_string().into()), None);
        }
    };
    if !embedded.ready(READY_WITHIN).await {
        tracing::warn!(socket = %embedded.socket().display(), "the data plane's registry is not accepting connections yet; the login servers answer 503 until it does");
    }
    let client = reqwest::Client::builder()
        .unix_socket(embedded.socket())
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(60))
        .build();
    let base = reqwest::Url::parse("http://data-plane.berth.invalid/");
    match (client, base) {
        (Ok(client), Ok(base)) => {
            let readiness = Arc::new(Supervised(embedded.clone()));
            (
                DataPlane::Backend(Backend::new(client, base, readiness)),
                Some(embedded),
            )
        }
        (Err(e), _) => {
            tracing::error!(error.cause = %e, "cannot make the data plane's client");
            (
                DataPlane::Unavailable("the data plane's client could not be made".into()),
                None,
            )
        }
        (_, Err(e)) => {
            tracing::error!(error.cause = %e, "cannot make the data plane's URL");
            (
                DataPlane::Unavailable("the data plane's URL could not be made".into()),
                None,
            )
        }
    }
}
