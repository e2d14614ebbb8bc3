//! The data plane the login servers forward the registry API to: the embedded Distribution
//! registry, run as a supervised child on a unix socket in the data directory (the
//! default); an external Distribution at a URL, sent a token berthd mints for each request
//! (`BERTH_REGISTRY_BACKEND=https://...`); or none (`BERTH_REGISTRY_BACKEND=none`: Berth is
//! then the token server of registries run elsewhere). A missing `docker-registry` is said
//! once here, with the install command; the control plane still starts, and the login
//! servers answer 503 with the same message.

use crate::login_server::{
    Backend, DataPlane, DataPlaneCredentials, Grant, LocalStorage, Readiness,
};
use berth_domain::registry::RepositoryStorage;
use berth_domain::registry_token::{AccessEntry, RegistryTokenService};
use berth_infra::config::{RegistryBackend, Settings};
use berth_infra::distribution::{DataPlaneStatus, EmbeddedDistribution, Layout};
use berth_infra::remote_repositories::RemoteRepositories;
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

/// The data plane, and what the control plane reaches of its repositories.
pub(crate) struct DataPlaneParts {
    /// What the login servers forward to.
    pub(crate) plane: DataPlane,
    /// The embedded registry to keep alive while it serves (dropping it stops it).
    pub(crate) embedded: Option<Arc<EmbeddedDistribution>>,
    /// Removes a deleted registry's repositories, when the data plane is Berth's: the
    /// embedded registry's storage (there to clean even when its binary is missing or
    /// restarting), or an external registry's API.
    pub(crate) removes: Option<Arc<dyn RepositoryStorage>>,
    /// Lists tags and manifests with their times, for ACR's repository API: the embedded
    /// registry's storage only.
    pub(crate) lists: Option<Arc<dyn RepositoryStorage>>,
}

impl DataPlaneParts {
    fn only(plane: DataPlane) -> Self {
        Self {
            plane,
            embedded: None,
            removes: None,
            lists: None,
        }
    }
}

/// The HTTP client and base URL of an external Distribution, trusted with the CA in
/// `ca_file` when given.
fn external_client(
    url: &str,
    ca_file: Option<&std::path::Path>,
) -> Result<(reqwest::Client, reqwest::Url), String> {
    let mut client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(60));
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            format!(
                "cannot read BERTH_REGISTRY_BACKEND_CA {}: {e}",
                path.display()
            )
        })?;
        let ca = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("BERTH_REGISTRY_BACKEND_CA is not a PEM certificate: {e}"))?;
        client = client.add_root_certificate(ca);
    }
    let client = client
        .build()
        .map_err(|e| format!("cannot make the data plane's client: {e}"))?;
    let base = reqwest::Url::parse(url).map_err(|e| format!("BERTH_REGISTRY_BACKEND: {e}"))?;
    Ok((client, base))
}

/// The embedded registry's blob and manifest files.
struct LocalFiles(FilesystemRepositories);

impl LocalStorage for LocalFiles {
    fn blob(&self, backend_name: &str, digest: &str) -> Option<std::path::PathBuf> {
        self.0.blob_file(backend_name, digest)
    }

    fn manifest(
        &self,
        backend_name: &str,
        reference: &str,
    ) -> Option<(String, std::path::PathBuf)> {
        self.0.manifest_file(backend_name, reference)
    }
}

/// An external data plane: whether it serves is learnt from each request.
struct Reachable;

impl Readiness for Reachable {
    fn unready(&self) -> Option<String> {
        None
    }
}

/// Tokens for an external data plane, minted by the registry token server's keys.
struct MintedTokens {
    tokens: RegistryTokenService,
    service: String,
}

impl DataPlaneCredentials for MintedTokens {
    fn bearer(&self, grants: &[Grant]) -> Result<String, String> {
        let access = grants
            .iter()
            .map(|g| AccessEntry {
                kind: g.kind.to_owned(),
                name: g.name.clone(),
                actions: g.actions.iter().map(|a| (*a).to_owned()).collect(),
            })
            .collect();
        self.tokens
            .mint_for_data_plane(&self.service, access)
            .map_err(|e| e.to_string())
    }
}

/// An external Distribution at `url`, trusted with the CA in `ca_file` when given: one
/// client for the login servers' requests and the control plane's removals, each sent a
/// token minted for it.
fn external(
    url: &str,
    service: &str,
    ca_file: Option<&std::path::Path>,
    tokens: &RegistryTokenService,
) -> DataPlaneParts {
    match external_client(url, ca_file) {
        Ok((client, base)) => {
            let removes = RemoteRepositories::new(
                client.clone(),
                base.clone(),
                tokens.clone(),
                service.to_owned(),
            );
            let credentials = Arc::new(MintedTokens {
                tokens: tokens.clone(),
                service: service.to_owned(),
            });
            let backend =
                Backend::new(client, base, Arc::new(Reachable)).with_credentials(credentials);
            DataPlaneParts {
                plane: DataPlane::Backend(backend),
                embedded: None,
                removes: Some(Arc::new(removes)),
                lists: None,
            }
        }
        Err(why) => {
            tracing::error!("{why}");
            DataPlaneParts::only(DataPlane::Unavailable(why.into()))
        }
    }
}

/// The data plane `BERTH_REGISTRY_BACKEND` names, and its repositories' adapters.
pub(crate) async fn build(settings: &Settings, tokens: &RegistryTokenService) -> DataPlaneParts {
    match &settings.registry_backend {
        RegistryBackend::Embedded { binary } => {
            let files = FilesystemRepositories::new(&Layout::of(&settings.data_dir));
            let local: Arc<dyn RepositoryStorage> = Arc::new(files.clone());
            let (plane, embedded) = embedded(settings, binary, files).await;
            DataPlaneParts {
                plane,
                embedded,
                removes: Some(local.clone()),
                lists: Some(local),
            }
        }
        RegistryBackend::External {
            url,
            service,
            ca_file,
        } => external(url, service, ca_file.as_deref(), tokens),
        RegistryBackend::None => DataPlaneParts::only(DataPlane::None),
    }
}

/// The embedded registry started as a supervised child, and the login servers' backend on
/// its socket, reading blobs from `files`.
async fn embedded(
    settings: &Settings,
    binary: &str,
    files: FilesystemRepositories,
) -> (DataPlane, Option<Arc<EmbeddedDistribution>>) {
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
                DataPlane::Backend(
                    Backend::new(client, base, readiness)
                        .with_local_storage(Arc::new(LocalFiles(files))),
                ),
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
