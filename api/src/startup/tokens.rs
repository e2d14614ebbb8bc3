//! The registry token server (`/oauth2/exchange`, `/oauth2/token`): its signing keys and
//! what access claims are computed from (role assignments, admin users, scope maps, and the
//! catalog of trusted collections).

use super::StartupError;
use super::identity::Identity;
use super::persistence::Store;
use berth_domain::clock::Clock;
use berth_domain::registry::{AdminUsers, RegistryService, ScopeMaps};
use berth_domain::registry_token::{AccessSources, RegistryTokenService, TokenServerSettings};
use berth_domain::trust::TrustedCollectionCatalog;
use berth_infra::config::Settings;
use berth_infra::persistence::{SeaOrmAdminPasswordRepository, SeaOrmScopeMapRepository};
use berth_infra::registry_token::TokenServerKeys;
use berth_infra::secrets::{Argon2Secrets, Sha256Hash};
use std::sync::Arc;

/// The registry token server and the credentials it accepts.
pub(crate) struct RegistryTokens {
    pub(crate) keys: Arc<TokenServerKeys>,
    pub(crate) admin_users: AdminUsers,
    pub(crate) scope_maps: ScopeMaps,
    pub(crate) service: RegistryTokenService,
}

impl RegistryTokens {
    /// Opens the token server's keys; their certificate bundle, which registries and Notary
    /// trust, is written beside the database.
    ///
    /// # Errors
    /// `Bootstrap` when the keys cannot be read or made.
    pub(crate) async fn keys(
        settings: &Settings,
        store: &Store,
    ) -> Result<Arc<TokenServerKeys>, StartupError> {
        TokenServerKeys::open(
            store.database.clone(),
            store.sealing.clone(),
            &settings.data_dir.join("registry-token-certs.pem"),
        )
        .await
        .map(Arc::new)
        .map_err(|e| StartupError::Bootstrap(e.to_string()))
    }

    /// Builds the token server over its keys.
    #[expect(
        clippy::too_many_arguments,
        reason = "a composition step names what it composes"
    )]
    pub(crate) fn build(
        settings: &Settings,
        store: &Store,
        keys: Arc<TokenServerKeys>,
        identity: &Identity,
        registries: &RegistryService,
        catalog: &Arc<dyn TrustedCollectionCatalog>,
        tenant: uuid::Uuid,
        clock: &Arc<dyn Clock>,
    ) -> Self {
        let admin_users = AdminUsers::new(
            registries.clone(),
            Arc::new(SeaOrmAdminPasswordRepository::new(store.database.clone())),
            store.sealing.clone(),
            Arc::new(Argon2Secrets),
        );
        let scope_maps = ScopeMaps::new(
            registries.clone(),
            Arc::new(SeaOrmScopeMapRepository::new(store.database.clone())),
            Arc::new(Argon2Secrets),
            Arc::new(Sha256Hash),
            clock.clone(),
        );
        let timing = settings.trust;
        let service = RegistryTokenService::new(
            TokenServerSettings {
                issuer: settings.registry_token_issuer.clone(),
                tenant: tenant.to_string(),
                refresh_lifetime: time::Duration::hours(3),
                access_lifetime: time::Duration::minutes(15),
                trust_push_lifetime: time::Duration::seconds(timing.push_token_secs.into()),
                trust_service: settings.notary_service.clone(),
                max_failures: 10,
                failure_window: time::Duration::minutes(1),
            },
            AccessSources {
                registries: registries.clone(),
                directory: identity.directory.clone(),
                rbac: identity.rbac.clone(),
                admin: admin_users.clone(),
                scope_maps: scope_maps.clone(),
                catalog: catalog.clone(),
            },
            keys.clone(),
            clock.clone(),
        );
        Self {
            keys,
            admin_users,
            scope_maps,
            service,
        }
    }
}
