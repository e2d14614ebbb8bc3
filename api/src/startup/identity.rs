//! Who may call: the directory, role assignments and their index, the built-in issuer and
//! its signing keys, trusted external providers, and the bootstrap owner of a first start.

use super::StartupError;
use super::persistence::Store;
use super::workers::report_unreadable_conditions;
use berth_domain::authorization::{BootstrapOwner, RbacService, bootstrap_owner};
use berth_domain::clock::{Clock, SystemClock};
use berth_domain::directory::{DirectoryAdmin, DirectoryService};
use berth_domain::identity::{Authenticator, IssuerSettings, RequestAudiences, TokenService};
use berth_infra::config::Settings;
use berth_infra::jwt::JwtSigner;
use berth_infra::oidc::OidcProviders;
use berth_infra::persistence::{
    SeaOrmAuthorizationCodes, SeaOrmDirectoryRepository, SeaOrmDirectoryRoleRepository,
    SeaOrmRbacRepository,
};
use berth_infra::secrets::Argon2Secrets;
use std::sync::Arc;

/// The audience of tokens for the registry token service, as `az acr login` asks for it.
pub(crate) const REGISTRY_AUDIENCE: &str = "https://containerregistry.azure.net";

/// The identity use cases.
pub(crate) struct Identity {
    pub(crate) directory: DirectoryService,
    pub(crate) rbac: RbacService,
    pub(crate) tokens: TokenService,
    pub(crate) signer: Arc<JwtSigner>,
    pub(crate) directory_admin: DirectoryAdmin,
    pub(crate) authenticator: Authenticator,
    /// The owner this start made, when it was the first.
    pub(crate) bootstrap_owner: Option<BootstrapOwner>,
}

impl Identity {
    /// Builds the identity use cases for the issuer at `base_url` of `tenant`, loads the
    /// authorization index, and makes the bootstrap owner on a first start.
    ///
    /// # Errors
    /// `Bootstrap` naming what failed.
    pub(crate) async fn build(
        settings: &Settings,
        store: &Store,
        tenant: uuid::Uuid,
        base_url: &str,
        clock: &Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let bootstrap = |e: &dyn std::fmt::Display| StartupError::Bootstrap(e.to_string());
        let directory = DirectoryService::new(
            Arc::new(SeaOrmDirectoryRepository::new(store.database.clone())),
            Arc::new(Argon2Secrets),
            clock.clone(),
        );
        let rbac = RbacService::new(
            Arc::new(SeaOrmRbacRepository::new(store.database.clone())),
            directory.clone(),
            clock.clone(),
            tenant.to_string(),
        );
        rbac.refresh().await.map_err(|e| bootstrap(&e))?;
        report_unreadable_conditions(&rbac);

        let management_audiences = vec![
            settings.management_audience.clone(),
            // What the Azure SDKs ask for unless told otherwise.
            "https://management.azure.com/".to_owned(),
            "https://management.core.windows.net/".to_owned(),
        ];
        let signer = Arc::new(
            JwtSigner::open(store.database.clone(), store.sealing.clone())
                .await
                .map_err(|e| bootstrap(&e))?,
        );
        let tokens = TokenService::new(
            IssuerSettings {
                base_url: base_url.to_owned(),
                tenant,
                resources: management_audiences
                    .iter()
                    .cloned()
                    // The directory (Graph) lives on this host; `az acr login` asks for the
                    // registry token service.
                    .chain([base_url.to_owned(), REGISTRY_AUDIENCE.to_owned()])
                    .collect(),
            },
            directory.clone(),
            signer.clone(),
            clock.clone(),
        )
        .with_authorization_codes(Arc::new(SeaOrmAuthorizationCodes::new(
            store.database.clone(),
        )));
        let bootstrap_owner = make_bootstrap_owner(settings, tenant, &directory, &rbac).await?;
        let directory_admin = DirectoryAdmin::new(
            directory.clone(),
            rbac.clone(),
            Arc::new(SeaOrmDirectoryRoleRepository::new(store.database.clone())),
            Arc::new(SystemClock),
        );
        // A first start, or an upgrade from before directory roles: someone must hold one.
        let granted = directory_admin
            .ensure_global_administrator(settings.bootstrap_client_id)
            .await
            .map_err(|e| bootstrap(&e))?;
        for principal in granted {
            tracing::info!(principal.id = %principal, "no directory role was assigned: gave Global Administrator to the bootstrap owner");
        }
        let authenticator = Authenticator::new(
            RequestAudiences::new(
                &tokens.settings().issuer(),
                &management_audiences,
                base_url,
                REGISTRY_AUDIENCE,
            ),
            signer.clone(),
            Arc::new(
                OidcProviders::new(&settings.oidc_providers).map_err(StartupError::Bootstrap)?,
            ),
            directory.clone(),
        );
        Ok(Self {
            directory,
            rbac,
            tokens,
            signer,
            directory_admin,
            authenticator,
            bootstrap_owner,
        })
    }
}

/// The bootstrap owner of a first start (the domain's use case), with a generated secret
/// written to a 0600 file beside the database.
async fn make_bootstrap_owner(
    settings: &Settings,
    tenant: uuid::Uuid,
    directory: &DirectoryService,
    rbac: &RbacService,
) -> Result<Option<BootstrapOwner>, StartupError> {
    let app_id = settings
        .bootstrap_client_id
        .unwrap_or_else(uuid::Uuid::new_v4);
    let configured = settings
        .bootstrap_client_secret
        .as_ref()
        .map(secrecy::ExposeSecret::expose_secret);
    let owner = bootstrap_owner(directory, rbac, app_id, configured)
        .await
        .map_err(|e| StartupError::Bootstrap(e.to_string()))?;
    if let Some(BootstrapOwner {
        generated_secret: Some(secret),
        ..
    }) = &owner
    {
        let document = serde_json::json!({"appId": app_id, "secret": secret, "tenant": tenant});
        berth_infra::files::write_private(
            &bootstrap_owner_file(settings),
            document.to_string().as_bytes(),
        )
        .map_err(|e| StartupError::Bootstrap(format!("cannot create the bootstrap owner: {e}")))?;
    }
    Ok(owner)
}

/// Where a generated bootstrap owner's credentials are written, in the data directory.
pub const BOOTSTRAP_OWNER_FILE: &str = "bootstrap-owner.json";

/// The file of a generated bootstrap owner's credentials, under `settings`' data directory.
#[must_use]
pub fn bootstrap_owner_file(settings: &Settings) -> std::path::PathBuf {
    settings.data_dir.join(BOOTSTRAP_OWNER_FILE)
}
