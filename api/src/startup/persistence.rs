//! The store: the private data directory, the database (its migrations run on open), the
//! key that seals secrets at rest, and the repositories over them.

use super::StartupError;
use berth_infra::config::Settings;
use berth_infra::persistence::{
    Database, SeaOrmActivityLog, SeaOrmOperationRepository, SeaOrmRegistryRepository,
    SeaOrmResourceGroupRepository, SeaOrmSubscriptionRepository,
};
use berth_infra::sealing::AesGcmBox;
use std::sync::Arc;

/// The opened store, and the repositories more than one builder shares.
pub(crate) struct Store {
    pub(crate) database: Database,
    pub(crate) sealing: Arc<AesGcmBox>,
    pub(crate) subscriptions: Arc<SeaOrmSubscriptionRepository>,
    pub(crate) groups: Arc<SeaOrmResourceGroupRepository>,
    pub(crate) registries: Arc<SeaOrmRegistryRepository>,
    pub(crate) operations: Arc<SeaOrmOperationRepository>,
    pub(crate) activity: Arc<SeaOrmActivityLog>,
}

impl Store {
    /// Makes the data directory owner-only (0700, files 0600) before anything is written
    /// into it, opens the database, and seals any secret still stored in plain text.
    ///
    /// # Errors
    /// `DataDir`, `Database`, or `Bootstrap` when the sealing key is unusable.
    pub(crate) async fn open(settings: &Settings) -> Result<Self, StartupError> {
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
        // Every write transaction from here on carries its request's activity records.
        let database = database.with_activity_chain(sealing.activity_chain_key());
        database
            .seal_migrated_chain_heads()
            .await
            .map_err(|e| StartupError::Bootstrap(e.to_string()))?;
        berth_infra::persistence::seal_secrets_at_rest(&database, &sealing)
            .await
            .map_err(|e| StartupError::Bootstrap(e.to_string()))?;
        Ok(Self {
            subscriptions: Arc::new(SeaOrmSubscriptionRepository::new(database.clone())),
            groups: Arc::new(SeaOrmResourceGroupRepository::new(database.clone())),
            registries: Arc::new(SeaOrmRegistryRepository::new(database.clone())),
            operations: Arc::new(SeaOrmOperationRepository::new(database.clone())),
            activity: Arc::new(SeaOrmActivityLog::new(database.clone())),
            database,
            sealing,
        })
    }
}
